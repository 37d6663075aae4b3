"""Turnover estimates scored against the testbed's true sales.

Crawls the testbed once per simulated day (fresh world, private data directory), rolls up vendors, then
compares the estimated sales value per site and method with the truth over the same window: sales dated
after the first crawl day up to the last crawl day (the first crawl is the counters' baseline).

Targets: counter method within ±2 % of the truth, corrected feedback within ±10 %, the feedback lower
bound never above the truth.

    .venv/bin/python benchmarks/turnover_eval.py [--days 8] [--seed 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analytics.turnover import METHOD_CORRECTED, METHOD_COUNTER, METHOD_FEEDBACK, SaleEstimate  # noqa: E402

TARGETS: dict[str, tuple[str, float]] = {
    METHOD_COUNTER: ("abs", 0.02),
    METHOD_CORRECTED: ("abs", 0.10),
    METHOD_FEEDBACK: ("upper", 0.0),  # a lower bound: never above the truth
}
MARKETS = ("flugsvamp", "nordbazaar")


def score_turnover(
    estimates: Iterable[SaleEstimate],
    truth_sales: Iterable[dict[str, Any]],
    *,
    since: str | None = None,
    until: str | None = None,
    observed: Iterable[str] | None = None,
) -> list[dict[str, Any]]:
    """Per (site, method): estimated and true SEK over [since, until], the relative error and whether the
    method meets its target. ``truth_sales`` are the testbed's ``sales`` rows (site, listing_id, date,
    orders, value_sek). With ``observed`` (Listing ids the crawl saw), each row also compares with the
    truth of those listings only, which separates the method's error from the crawl's coverage.

    ``feedback_corrected`` on a site that has counters only covers the listings without counters, so it
    gets no target there; the ``best`` method (if given) is scored like ``feedback_corrected``."""
    from indexer.models import Listing

    seen = set(observed) if observed is not None else None
    est: dict[tuple[str, str], float] = defaultdict(float)
    units: dict[tuple[str, str], float] = defaultdict(float)
    for e in estimates:
        if (since and e.day < since[:10]) or (until and e.day > until[:10]):
            continue
        est[(e.site, e.method)] += e.value_sek or 0.0
        units[(e.site, e.method)] += e.units
    counter_sites = {site for site, method in est if method == METHOD_COUNTER}
    truth: dict[str, float] = defaultdict(float)
    truth_seen: dict[str, float] = defaultdict(float)
    truth_units: dict[str, float] = defaultdict(float)
    for row in truth_sales:
        day = str(row["date"])[:10]
        if (since and day < since[:10]) or (until and day > until[:10]):
            continue
        truth[row["site"]] += float(row["value_sek"])
        truth_units[row["site"]] += float(row["orders"])
        if seen is not None and Listing.make_id(row["site"], str(row["listing_id"])) in seen:
            truth_seen[row["site"]] += float(row["value_sek"])
    rows = []
    for (site, method), value in sorted(est.items()):
        true = truth.get(site, 0.0)
        error = value / true - 1 if true else None
        kind, bound = TARGETS.get(method, ("abs", 0.10) if method == "best" else ("none", 0.0))
        if method == METHOD_CORRECTED and site in counter_sites:
            kind = "none"
        if error is None or kind == "none":
            ok = None
        elif kind == "abs":
            ok = abs(error) <= bound
        else:
            ok = value <= true + 1e-6
        row: dict[str, Any] = {
            "site": site, "method": method, "estimate_sek": round(value, 2), "truth_sek": round(true, 2),
            "error": round(error, 4) if error is not None else None, "estimate_units": round(units[(site, method)], 2),
            "truth_units": truth_units.get(site, 0.0),
            "target": f"±{bound:.0%}" if kind == "abs" else "≤ truth" if kind == "upper" else "-", "ok": ok,
        }
        if seen is not None:
            observed_true = truth_seen.get(site, 0.0)
            row["truth_observed_sek"] = round(observed_true, 2)
            row["error_observed"] = round(value / observed_true - 1, 4) if observed_true else None
        rows.append(row)
    return rows


def crawl_testbed(days: int, seed: int, home: Path, sites: Iterable[str] = MARKETS) -> tuple[str, dict[str, Any], list[str]]:
    """Crawl a fresh testbed world once per simulated day into ``home``; roll up after each crawl.
    Returns (index URL, truth tables, crawl as-of dates)."""
    os.environ["SOKHUND_HOME"] = str(home)
    from analytics.rollup import rollup
    from cli.demo import _site_env
    from crawler.adapters import load_all
    from crawler.runner import run_crawl
    from indexer.base import open_backend
    from testbed.server import Testbed

    index_url = f"sqlite:///{home / 'index.sqlite'}"
    dates: list[str] = []
    with Testbed(seed=seed, state_dir=home / "testbed", rate_limit=None, ddos=False, resume=False) as testbed:
        adapters = load_all()
        names = [s for s in sites if s in adapters and s in testbed.urls]
        if not names:
            raise SystemExit(f"no site adapters for {', '.join(sites)} yet (crawler/sites/*.yaml)")
        os.environ.update(_site_env(testbed.urls, testbed.session_cookies))
        for day in range(days):
            as_of = f"{testbed.today}T12:00:00+00:00"
            started = time.monotonic()
            result = run_crawl(names, as_of=as_of, run_id=f"eval-{testbed.today}", index_url=index_url,
                               settings={"AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0})
            backend = open_backend(index_url)
            try:
                rollup(backend)
            finally:
                backend.close()
            print(f"crawled {testbed.today}: {result.pages} pages in {time.monotonic() - started:.0f}s "
                  f"({', '.join(names)})", file=sys.stderr)
            dates.append(testbed.today)
            if day < days - 1:
                testbed.advance()
        truth = testbed.truth()
    (home / "truth.json").write_text(json.dumps({**truth, "crawl_dates": dates}), encoding="utf-8")
    return index_url, truth, dates


def load_crawl(home: Path) -> tuple[str, dict[str, Any], list[str]]:
    """Reuse a crawl made by :func:`crawl_testbed` (its index and the truth saved beside it)."""
    truth = json.loads((home / "truth.json").read_text(encoding="utf-8"))
    return f"sqlite:///{home / 'index.sqlite'}", truth, truth["crawl_dates"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=8, help="simulated days to crawl (default 8)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--home", help="data directory (default: a new temporary one)")
    parser.add_argument("--reuse", action="store_true", help="score the crawl already in --home (no new crawl)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    home = Path(args.home or tempfile.mkdtemp(prefix="sokhund-turnover-"))
    if args.reuse:
        index_url, truth, dates = load_crawl(home)
    else:
        index_url, truth, dates = crawl_testbed(args.days, args.seed, home)

    from analytics.turnover import compute_turnover, load_observations
    from indexer.base import open_backend

    since = (date.fromisoformat(dates[0]) + timedelta(days=1)).isoformat()
    until = dates[-1]
    backend = open_backend(index_url)
    try:
        report = compute_turnover(backend, since=since, until=until)
        observations = load_observations(backend)
    finally:
        backend.close()
    best = [replace(e, method="best") for e in report.best()]
    observed = {lid for lid, obs in observations.items() if obs}
    rows = score_turnover(report.counter + report.feedback + report.corrected + best, truth["sales"],
                          since=since, until=until, observed=observed)
    rates = {s: {"feedback": r.feedback, "counter_sales": r.counter_sales, "rate": r.rate} for s, r in report.rates.items()}
    result = {"window": [since, until], "rows": rows, "measured_feedback_rates": rates,
              "applied_feedback_rates": report.applied_rates,
              "true_feedback_probability": truth["meta"].get("feedback_probability"), "notes": report.notes[:20]}
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"window {since} .. {until} ({len(dates)} crawls, seed {args.seed})")
        for r in rows:
            flag = {True: "OK", False: "MISS", None: "-"}[r["ok"]]
            err = f"{r['error']:+.2%}" if r["error"] is not None else "n/a"
            seen = f"{r['error_observed']:+.2%}" if r.get("error_observed") is not None else "n/a"
            print(f"{r['site']:12} {r['method']:19} est {r['estimate_sek']:>12,.0f} SEK  truth {r['truth_sek']:>12,.0f} "
                  f"SEK  error {err:>8}  target {r['target']:8} {flag:4}  (vs truth of crawled listings {seen})")
        print(f"feedback rates measured: {rates}; true: {result['true_feedback_probability']}")
        for note in result["notes"]:
            print(f"note: {note}")
    return 0 if all(r["ok"] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
