"""Market trends from the index (IndexBackend API only): turnover over time per method, median price per
gram per substance, new vendors per period and the share of Swedish vendors; tables and PNG plots.

"New vendors" leaves out vendors first seen on the first crawl day of their site: those were already
there when we started watching. A vendor is "active" in a period when its first_seen..last_seen span
overlaps it; it counts as Swedish when its roll-up score is at least ``SWEDISH_THRESHOLD``.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from analytics.rollup import SWEDISH_THRESHOLD, is_baseline, site_first_days
from analytics.turnover import (
    METHODS,
    SaleEstimate,
    TurnoverBucket,
    TurnoverReport,
    aggregate,
    bucket_start,
    check_interval,
    compute_turnover,
)
from indexer.base import IndexBackend

MAX_SERIES = 8  # lines per plot; the rest are folded into "other" or left out (said in the legend)


@dataclass
class Trends:
    period: str
    by: str | None
    turnover: list[TurnoverBucket] = field(default_factory=list)  # per method, grouped by ``by``
    price_per_g: list[dict[str, Any]] = field(default_factory=list)  # period, substance, median, n
    new_vendors: list[dict[str, Any]] = field(default_factory=list)  # period, count, vendors
    swedish_share: list[dict[str, Any]] = field(default_factory=list)  # period, active, swedish, share
    report: TurnoverReport | None = None
    names: dict[str, str] = field(default_factory=dict)  # by vendor: vendor id -> "name (site)"

    def to_dict(self) -> dict[str, Any]:
        rep = self.report
        return {
            "period": self.period,
            "by": self.by,
            "turnover": [b.to_dict() | ({"name": self.names.get(str(b.key), b.key)} if self.by == "vendor" else {})
                         for b in self.turnover],
            "feedback_rates": {
                s: {"feedback": r.feedback, "counter_sales": r.counter_sales, "listings": r.listings,
                    "rate": r.rate}
                for s, r in (rep.rates.items() if rep else [])
            },
            "applied_feedback_rates": {s: {"rate": r, "source": src} for s, (r, src) in
                                       (rep.applied_rates.items() if rep else [])},
            "price_per_g": self.price_per_g,
            "new_vendors": self.new_vendors,
            "swedish_share": self.swedish_share,
            "notes": list(rep.notes) if rep else [],
        }


def _period_end(start: str, period: str) -> str:
    day = date.fromisoformat(start)
    if period == "day":
        return start
    if period == "week":
        return (day + timedelta(days=6)).isoformat()
    nxt = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (nxt - timedelta(days=1)).isoformat()


def _periods(first: str, last: str, period: str) -> list[str]:
    out: list[str] = []
    cur = bucket_start(first, period)
    while cur <= last[:10]:
        out.append(cur)
        cur = (date.fromisoformat(_period_end(cur, period)) + timedelta(days=1)).isoformat()
    return out


def price_per_gram(backend: IndexBackend, period: str = "week", top: int | None = None) -> list[dict[str, Any]]:
    """Median SEK per gram of the listings observed in each period, per substance (canonical name,
    else its class). Each listing counts once per period (its latest observation there)."""
    check_interval(period)
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for obs in backend.iter_docs("listing_observation"):
        ppg, when = obs.get("price_per_g_sek"), str(obs.get("observed_at") or "")
        if ppg is None or not when:
            continue
        key = (bucket_start(when, period), str(obs.get("listing")))
        if key not in latest or when > str(latest[key]["observed_at"]):
            latest[key] = obs
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    for (start, _), obs in latest.items():
        substance = obs.get("substance") or obs.get("substance_class") or "unknown"
        values[(start, str(substance))].append(float(obs["price_per_g_sek"]))
    rows = [{"period": p, "substance": s, "median_sek_per_g": round(statistics.median(v), 2), "listings": len(v)}
            for (p, s), v in sorted(values.items())]
    if top:
        counts: dict[str, int] = defaultdict(int)
        for r in rows:
            counts[r["substance"]] += r["listings"]
        keep = set(sorted(counts, key=lambda s: (-counts[s], s))[:top])
        rows = [r for r in rows if r["substance"] in keep]
    return rows


def new_vendors(backend: IndexBackend, period: str = "week") -> list[dict[str, Any]]:
    check_interval(period)
    vendors = list(backend.iter_docs("vendor"))
    first_crawl = site_first_days(vendors)
    if not first_crawl:
        return []
    buckets: dict[str, list[str]] = defaultdict(list)
    for v in vendors:
        if v.get("first_seen") and not is_baseline(v, first_crawl):
            buckets[bucket_start(str(v["first_seen"])[:10], period)].append(f"{v.get('site')}:{v.get('name')}")
    first = min(first_crawl.values())
    last = max(str(v.get("last_seen") or v.get("first_seen") or first)[:10] for v in vendors)
    return [{"period": p, "count": len(buckets.get(p, [])), "vendors": sorted(buckets.get(p, []))}
            for p in _periods(first, last, period)]


def swedish_share(backend: IndexBackend, period: str = "week", threshold: float = SWEDISH_THRESHOLD) -> list[dict[str, Any]]:
    check_interval(period)
    spans = []
    for v in backend.iter_docs("vendor"):
        first, last = str(v.get("first_seen") or "")[:10], str(v.get("last_seen") or v.get("first_seen") or "")[:10]
        if first:
            spans.append((first, last or first, (v.get("swedish_score") or 0.0) >= threshold))
    if not spans:
        return []
    rows = []
    for p in _periods(min(s[0] for s in spans), max(s[1] for s in spans), period):
        end = _period_end(p, period)
        active = [s for s in spans if s[0] <= end and s[1] >= p]
        swedish = sum(1 for s in active if s[2])
        rows.append({"period": p, "active": len(active), "swedish": swedish,
                     "share": round(swedish / len(active), 4) if active else 0.0})
    return rows


def best_estimates(report: TurnoverReport) -> list[SaleEstimate]:
    """The report's best estimate (counters, else corrected feedback, else the lower bound) labelled
    ``best``: the one line that covers every site. Its parts keep their own labels in the other rows."""
    return [replace(e, method="best") for e in report.best()]


def compute_trends(
    backend: IndexBackend,
    *,
    by: str | None = None,
    period: str = "week",
    since: str | None = None,
    until: str | None = None,
    report: TurnoverReport | None = None,
) -> Trends:
    check_interval(period)
    report = report or compute_turnover(backend, since=since, until=until)
    buckets = []
    for method in METHODS:
        buckets += aggregate(report.estimates(method), by=by, period=period)
    buckets += aggregate(best_estimates(report), by=by, period=period)
    buckets.sort(key=lambda b: (b.period, b.method, str(b.key)))
    return Trends(
        period=period,
        by=by,
        turnover=buckets,
        price_per_g=price_per_gram(backend, period),
        new_vendors=new_vendors(backend, period),
        swedish_share=swedish_share(backend, period),
        report=report,
        names=vendor_names(backend) if by == "vendor" else {},
    )


def vendor_names(backend: IndexBackend) -> dict[str, str]:
    """Vendor id -> ``name (site)``: how an analyst recognises a vendor in a table or a plot legend."""
    return {str(v["id"]): f"{v.get('name') or v['id']} ({v.get('site')})" for v in backend.iter_docs("vendor")}


def top_keys(trends: Trends, n: int, method: str = "best") -> list[str]:
    """The ``n`` groups with the highest total ``method`` turnover (all of them for ``n`` <= 0)."""
    totals: dict[str, float] = defaultdict(float)
    for b in trends.turnover:
        if b.method == method:
            totals[str(b.key)] += b.value_sek
    ranked = sorted(totals, key=lambda k: (-totals[k], k))
    return ranked if n <= 0 else ranked[:n]


# ---------------------------------------------------------------------------------------------- plots
def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _dates(keys: list[str]) -> list[date]:
    return [date.fromisoformat(k) for k in keys]


def _plot_turnover(ax: Any, trends: Trends) -> None:
    series: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    if trends.by:
        totals: dict[str, float] = defaultdict(float)
        for b in trends.turnover:
            totals[f"{trends.names.get(str(b.key), b.key)} ({b.method})"] += b.value_sek
        keep = set(sorted(totals, key=lambda k: -totals[k])[:MAX_SERIES])
        for b in trends.turnover:
            label = f"{trends.names.get(str(b.key), b.key)} ({b.method})"
            if label in keep:
                series[label][b.period] += b.value_sek
        ax.set_title(f"Turnover per {trends.period} by {trends.by} (SEK; method in brackets)")
    else:
        for b in trends.turnover:
            series[b.method][b.period] += b.value_sek
        ax.set_title(f"Turnover per {trends.period} by method (SEK; feedback = lower bound, best = all sites)")
    for label, points in sorted(series.items()):
        keys = sorted(points)
        ax.plot(_dates(keys), [points[k] for k in keys], marker="o", label=label)
    if series:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no turnover data yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylabel("SEK")


def _plot_prices(ax: Any, trends: Trends) -> None:
    counts: dict[str, int] = defaultdict(int)
    for r in trends.price_per_g:
        counts[r["substance"]] += r["listings"]
    keep = sorted(counts, key=lambda s: (-counts[s], s))[:MAX_SERIES]
    for substance in keep:
        rows = [r for r in trends.price_per_g if r["substance"] == substance]
        ax.plot(_dates([r["period"] for r in rows]), [r["median_sek_per_g"] for r in rows], marker=".", label=substance)
    if keep:
        ax.legend(fontsize=7)
        ax.set_yscale("log")
    else:
        ax.text(0.5, 0.5, "no per-gram prices yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(f"Median price per gram per {trends.period} (SEK, top {len(keep)} substances)")


def _plot_new_vendors(ax: Any, trends: Trends) -> None:
    rows = trends.new_vendors
    ax.bar(_dates([r["period"] for r in rows]), [r["count"] for r in rows],
           width=0.8 if trends.period == "day" else 5)
    ax.set_title(f"New vendors per {trends.period} (after the first crawl of each site)")
    ax.set_ylabel("vendors")


def _plot_swedish(ax: Any, trends: Trends) -> None:
    rows = trends.swedish_share
    ax.plot(_dates([r["period"] for r in rows]), [100 * r["share"] for r in rows], marker="o", color="tab:blue")
    ax.set_ylim(0, 100)
    ax.set_title(f"Share of Swedish vendors among active vendors (score ≥ {SWEDISH_THRESHOLD})")
    ax.set_ylabel("%")


def plot_trends(trends: Trends, path: Path | str) -> Path:
    """One PNG with four panels: turnover, price per gram, new vendors, Swedish share."""
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(2, 2, figsize=(14, 9))
    _plot_turnover(axes[0][0], trends)
    _plot_prices(axes[0][1], trends)
    _plot_new_vendors(axes[1][0], trends)
    _plot_swedish(axes[1][1], trends)
    for ax in axes.flat:
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    _save(plt, fig, path)
    return path


def _save(plt: Any, fig: Any, path: Path) -> None:
    """The PNG whole or not at all (a full disk leaves no broken image that looks like a plot)."""
    import io

    from indexer.outfiles import write_whole

    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, dpi=80, format="png")
    finally:
        plt.close(fig)
    write_whole(path, buffer.getvalue())


def _single(path: Path, draw: Any, trends: Trends) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 5))
    draw(ax, trends)
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    _save(plt, fig, path)
    return path


def auto_period(backend: IndexBackend) -> str:
    """day for up to 6 weeks of observations, week up to a year, month beyond."""
    days = [h[0] for h in backend.date_histogram("listing_observation", "observed_at", "day")]
    if not days:
        return "day"
    span = (date.fromisoformat(days[-1]) - date.fromisoformat(days[0])).days
    return "day" if span <= 42 else "week" if span <= 366 else "month"


def write_trend_plots(backend: IndexBackend, out_dir: Path | str, period: str | None = None) -> list[Path]:
    """The demo's closing plots: turnover by method, turnover by site, median price per gram, new
    vendors and the Swedish share, plus the four-panel overview. Returns the PNG paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    period = period or auto_period(backend)
    report = compute_turnover(backend)
    by_method = compute_trends(backend, period=period, report=report)
    by_site = Trends(period, "site", report=report,
                     turnover=aggregate(best_estimates(report), by="site", period=period))
    return [
        plot_trends(by_method, out / "trends_overview.png"),
        _single(out / "turnover_by_method.png", _plot_turnover, by_method),
        _single(out / "turnover_by_site.png", _plot_turnover, by_site),
        _single(out / "price_per_gram.png", _plot_prices, by_method),
        _single(out / "new_vendors.png", _plot_new_vendors, by_method),
        _single(out / "swedish_share.png", _plot_swedish, by_method),
    ]
