"""Swedish-vendor score and the "new Swedish vendor" alert, measured on a crawled testbed world.

Crawls a seeded testbed world with the REAL crawler (``tests.e2e_world.crawl_days``) day by day and, after
EACH day's crawl (one crawl cycle, as a campaign does), runs ``analytics.rollup.rollup`` and
``alerts.evaluate.evaluate_alerts``. Then reports, against the world's truth:

(a) vendor-level Swedish classification (``swedish_score >= SWEDISH_THRESHOLD``) vs truth ``swedish``, over the
    indexed vendors of the crawled markets: precision, recall, F1, confusion counts (overall and per site),
    and the misclassified vendors with their signals;
(b) the ``new_swedish_vendor`` alert: recall and precision over the world's true new Swedish vendor(s), the
    latency in crawl cycles (0 = fired by the first crawl on/after the day the vendor appeared), how many
    times it fired for the true vendor (must be exactly once) and the false "new Swedish vendor" alerts.

Targets: zero false alerts, alert recall 1.0, latency 0; vendor-level F1 >= 0.9.

    .venv/bin/python benchmarks/swedish_eval.py [--seed 7] [--days 6] [--new-day 3] [--json]
        [--partial-days 2 [--partial-budget 50]]   the first crawls stop at a page budget (partial)
        [--keep DIR]     keep the crawl (per-day index snapshots, taken before each roll-up) in DIR
        [--replay DIR]   re-score a kept crawl without crawling again (roll-up + alerts per day snapshot)
        [--no-ships-from] ablation (with --replay): score without the structured ships_from field, to see
                          what the text, payment, carrier and destination signals achieve on their own
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RULE = "new_swedish_vendor"
DEFAULT_SITES = ["flugsvamp", "nordbazaar", "snackis"] + (["tillskott"] if shutil.which("chromium") else [])
QUIET_RULES = "channels:\n  - {name: stdout, enabled: false}\n"


@dataclass
class Cycle:
    """One crawl cycle: the crawl's index (run id ``day{n}``), the testbed day it saw, the alerts it fired."""

    index: int
    world_day: int
    fired: list[dict[str, Any]] = field(default_factory=list)
    rollup_seconds: float = 0.0
    alert_seconds: float = 0.0


@dataclass
class SwedishRun:
    cycles: list[Cycle]
    truth: dict[str, Any]
    vendors: list[dict[str, Any]]  # the index's Vendor docs after the last roll-up
    sites: list[str]
    crawl_seconds: float = 0.0


def _snapshot(src: Path, dst: Path) -> None:
    """A consistent copy of a SQLite index (the backup API; the index may be in WAL mode)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(str(src)) as a, sqlite3.connect(str(dst)) as b:
        a.backup(b)


def _without_ships_from(texts: list[str], ships_from: str | None, ships_to: list[str], **kw: Any) -> Any:
    from extractors.swedish import swedish_score

    return swedish_score(texts, None, ships_to, **kw)


def _evaluate_cycle(cycle: Cycle, ablate_ships_from: bool = False) -> None:
    from alerts.evaluate import evaluate_alerts
    from analytics.identity import link_vendors
    from analytics.rollup import rollup, rollup_vendors
    from indexer.base import open_backend

    backend = open_backend()
    try:
        started = time.monotonic()
        if ablate_ships_from:
            rollup_vendors(backend, scorer=_without_ships_from)
            link_vendors(backend, write=True)
        else:
            rollup(backend)
        cycle.rollup_seconds = time.monotonic() - started
        started = time.monotonic()
        cycle.fired = [a.to_dict() for a in evaluate_alerts(backend, f"day{cycle.index}", deliver=False)]
        cycle.alert_seconds = time.monotonic() - started
    finally:
        backend.close()


def _final_vendors() -> list[dict[str, Any]]:
    from indexer.base import open_backend

    backend = open_backend()
    try:
        return list(backend.iter_docs("vendor"))
    finally:
        backend.close()


def _quiet_alerts(home: Path) -> None:
    (home / "alerts").mkdir(parents=True, exist_ok=True)
    (home / "alerts" / "rules.yaml").write_text(QUIET_RULES, encoding="utf-8")


def crawl_and_alert(home: Path, *, seed: int = 7, days: int = 6, sites: list[str] | None = None,
                    new_swedish_vendor_day: int = 3, ddos: bool = False, keep: Path | None = None,
                    partial_days: int = 0, partial_budget: int = 50) -> SwedishRun:
    """Crawl ``days`` days of a seeded world into ``home``; roll up and evaluate alerts after each crawl."""
    from crawler.paths import index_path
    from testbed.server import Testbed
    from tests.e2e_world import crawl_days

    sites = sites or DEFAULT_SITES
    _quiet_alerts(home)
    cycles: list[Cycle] = []

    def after_crawl(day: int, result: Any, testbed: Testbed) -> None:
        if keep is not None:
            _snapshot(index_path(), keep / f"day{day}.sqlite")
        cycle = Cycle(day, testbed.day)
        _evaluate_cycle(cycle)
        cycles.append(cycle)

    started = time.monotonic()
    world = crawl_days(home, seed, days, sites=sites, after_crawl=after_crawl, rate_limit=None, ddos=ddos,
                       new_swedish_vendor_day=new_swedish_vendor_day, partial_days=partial_days,
                       partial_budget=partial_budget)
    elapsed = time.monotonic() - started
    for result in world.results:
        if not result.ok:
            raise RuntimeError(f"crawl failed: {result.finish_reasons}")
    if keep is not None:
        (keep / "meta.json").write_text(json.dumps({
            "seed": seed, "days": days, "sites": sites, "cycles": [[c.index, c.world_day] for c in cycles]}))
        (keep / "truth.json").write_text(json.dumps(world.truth, default=str))
    return SwedishRun(cycles, world.truth, _final_vendors(), sites, elapsed)


def replay(kept: Path, home: Path, ablate_ships_from: bool = False) -> SwedishRun:
    """Roll up and evaluate alerts on a kept crawl's per-day index snapshots (no crawling): for tuning."""
    meta = json.loads((kept / "meta.json").read_text())
    truth = json.loads((kept / "truth.json").read_text())
    os.environ["SOKHUND_HOME"] = str(home)
    _quiet_alerts(home)
    from crawler.paths import index_path

    cycles = []
    for index, world_day in meta["cycles"]:
        shutil.copyfile(kept / f"day{index}.sqlite", index_path())
        for suffix in ("-wal", "-shm"):
            Path(str(index_path()) + suffix).unlink(missing_ok=True)
        cycle = Cycle(index, world_day)
        _evaluate_cycle(cycle, ablate_ships_from)
        cycles.append(cycle)
    return SwedishRun(cycles, truth, _final_vendors(), meta["sites"])


# ----------------------------------------------------------------------------------------- metrics
def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f, 3)}


def classification(vendors: list[dict[str, Any]], truth_vendors: list[dict[str, Any]], sites: list[str],
                   threshold: float | None = None) -> dict[str, Any]:
    """Vendor-level Swedish classification at ``threshold`` vs truth ``swedish``, over the indexed vendors of
    ``sites`` that the truth knows (matched by ``Vendor.make_id(site, name)``)."""
    from analytics.rollup import SWEDISH_THRESHOLD
    from indexer.models import Vendor

    threshold = SWEDISH_THRESHOLD if threshold is None else threshold
    truth = {Vendor.make_id(r["site"], str(r["vendor"])): r for r in truth_vendors}
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"tp": 0, "fp": 0, "fn": 0, "tn": 0})
    errors, unmatched = [], 0
    scores: dict[bool, list[float]] = {True: [], False: []}
    for v in vendors:
        if v.get("site") not in sites:
            continue
        row = truth.get(v["id"])
        if row is None:
            unmatched += 1
            continue
        score = float(v.get("swedish_score") or 0.0)
        pred, gold = score >= threshold, bool(row["swedish"])
        scores[gold].append(score)
        cell = {(True, True): "tp", (True, False): "fp", (False, True): "fn", (False, False): "tn"}[(pred, gold)]
        for key in ("all", str(v["site"])):
            counts[key][cell] += 1
        if pred != gold:
            errors.append({"site": v["site"], "vendor": v.get("name"), "error": cell, "score": score,
                           "truth_ships_from": row.get("ships_from"), "ships_from": v.get("ships_from"),
                           "signals": v.get("swedish_signals")})
    out: dict[str, Any] = {"threshold": threshold, "unmatched_vendors": unmatched, "errors": errors,
                           "min_score_swedish": min(scores[True], default=None),
                           "max_score_not_swedish": max(scores[False], default=None)}
    for key, c in sorted(counts.items()):
        out[key] = {**c, **_prf(c["tp"], c["fp"], c["fn"]), "vendors": sum(c.values())}
    return out


def alert_metrics(cycles: list[Cycle], truth_vendors: list[dict[str, Any]], sites: list[str]) -> dict[str, Any]:
    """The new-Swedish-vendor alert per crawl cycle vs the world's true new Swedish vendor(s)."""
    from indexer.models import Vendor

    new = {Vendor.make_id(r["site"], str(r["vendor"])): r for r in truth_vendors
           if r.get("is_new_swedish_vendor") and r["site"] in sites}
    fired: dict[str, list[int]] = defaultdict(list)
    label: dict[str, str] = {}
    for c in cycles:
        for a in c.fired:
            if a["rule"] == RULE:
                fired[a["entity"]].append(c.index)
                details = a.get("details") or {}
                label[a["entity"]] = (f"{details.get('site')}:{details.get('vendor')} "
                                      f"(score {details.get('swedish_score')}, cycle {c.index})")
    false_alerts = sorted(label[e] for e in fired if e not in new)
    per_vendor = []
    for vid, row in new.items():
        due = next((c.index for c in cycles if c.world_day >= int(row["first_day"])), None)
        when = fired.get(vid, [])
        per_vendor.append({"vendor": row["vendor"], "site": row["site"], "appeared_day": row["first_day"],
                           "due_cycle": due, "fired_cycles": when,
                           "latency_cycles": (when[0] - due) if when and due is not None else None})
    observable = [p for p in per_vendor if p["due_cycle"] is not None]
    hits = [p for p in observable if p["fired_cycles"]]
    true_alerts = sum(len(p["fired_cycles"]) for p in per_vendor)
    return {
        "true_new_swedish_vendors": len(observable),
        "recall": round(len(hits) / len(observable), 3) if observable else None,
        "precision": round(true_alerts / (true_alerts + len(false_alerts)), 3) if true_alerts + len(false_alerts)
        else None,
        "max_latency_cycles": max((p["latency_cycles"] for p in hits), default=None),
        "fired_exactly_once": all(len(p["fired_cycles"]) == 1 for p in observable),
        "false_alerts": len(false_alerts),
        "false_alert_vendors": false_alerts,
        "per_vendor": per_vendor,
        "alerts_per_cycle": [sum(1 for a in c.fired if a["rule"] == RULE) for c in cycles],
    }


def report(run: SwedishRun) -> dict[str, Any]:
    return {"classification": classification(run.vendors, run.truth["vendors"], run.sites),
            "alerts": alert_metrics(run.cycles, run.truth["vendors"], run.sites),
            "crawl_seconds": round(run.crawl_seconds, 1),
            "rollup_seconds": [round(c.rollup_seconds, 1) for c in run.cycles],
            "alert_seconds": [round(c.alert_seconds, 1) for c in run.cycles]}


def _print(rep: dict[str, Any]) -> None:
    cls, al = rep["classification"], rep["alerts"]
    print(f"(a) vendor-level Swedish classification at score >= {cls['threshold']} vs truth `swedish`")
    for key in ["all", *sorted(k for k in cls if isinstance(cls[k], dict) and "tp" in cls[k] and k != "all")]:
        if key in cls:
            c = cls[key]
            print(f"    {key:<11} n={c['vendors']:>3}  TP={c['tp']:>3} FP={c['fp']:>3} FN={c['fn']:>3} TN={c['tn']:>3}"
                  f"  P={c['precision']:.3f} R={c['recall']:.3f} F1={c['f1']:.3f}")
    print(f"    margin: lowest score of a Swedish vendor {cls['min_score_swedish']}, "
          f"highest of a non-Swedish one {cls['max_score_not_swedish']}")
    if cls["unmatched_vendors"]:
        print(f"    ({cls['unmatched_vendors']} indexed vendors not in the truth)")
    for e in cls["errors"]:
        print(f"    {e['error'].upper()} {e['site']}:{e['vendor']} score={e['score']:.3f} "
              f"ships_from={e['ships_from']} (truth {e['truth_ships_from']})  {e['signals']}")
    print("(b) new-Swedish-vendor alert (rule new_swedish_vendor), evaluated after every crawl cycle")
    print(f"    true new Swedish vendors: {al['true_new_swedish_vendors']}  recall={al['recall']}  "
          f"precision={al['precision']}  max latency={al['max_latency_cycles']} cycle(s)  "
          f"exactly once={al['fired_exactly_once']}  false alerts={al['false_alerts']}")
    for p in al["per_vendor"]:
        print(f"    {p['site']}:{p['vendor']} appeared day {p['appeared_day']}, due cycle {p['due_cycle']}, "
              f"fired in cycle(s) {p['fired_cycles']}")
    if al["false_alert_vendors"]:
        print(f"    false alerts for: {al['false_alert_vendors']}")
    print(f"    alerts per cycle: {al['alerts_per_cycle']}")
    if rep.get("crawl_seconds"):
        print(f"crawl + roll-up + alerts: {rep['crawl_seconds']} s")
    print(f"roll-up per cycle: {rep['rollup_seconds']} s; alert evaluation per cycle: {rep['alert_seconds']} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--days", type=int, default=6)
    ap.add_argument("--new-day", type=int, default=3, help="testbed day the new Swedish vendor appears")
    ap.add_argument("--sites", nargs="+", default=DEFAULT_SITES)
    ap.add_argument("--ddos", action="store_true", help="keep the markets' DDoS gates on (slower)")
    ap.add_argument("--partial-days", type=int, default=0,
                    help="the first N crawls are partial (--page-budget): they must not become the baseline")
    ap.add_argument("--partial-budget", type=int, default=50, help="page budget per site of the partial crawls")
    ap.add_argument("--keep", type=Path, help="keep per-day index snapshots + truth here (for --replay)")
    ap.add_argument("--replay", type=Path, help="re-score a kept crawl instead of crawling")
    ap.add_argument("--no-ships-from", action="store_true", help="ablation (with --replay): ignore ships_from")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="swedish-eval-") as tmp:
        if args.replay:
            run = replay(args.replay, Path(tmp), args.no_ships_from)
        else:
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
            run = crawl_and_alert(Path(tmp), seed=args.seed, days=args.days, sites=args.sites,
                                  new_swedish_vendor_day=args.new_day, ddos=args.ddos, keep=args.keep,
                                  partial_days=args.partial_days, partial_budget=args.partial_budget)
        rep = report(run)
    if args.json:
        print(json.dumps(rep, indent=1, default=str))
    else:
        _print(rep)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
