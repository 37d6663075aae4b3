"""The trends page's numbers: the Kibana overview's questions (turnover per site, vendor or substance;
median price per gram and per unit/dose; new vendors per period; the Swedish share) from
analytics.trends, plus the estimated domestic shipments per week by postal method (analytics.shipments,
when this build has it)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from analytics.trends import auto_period, best_estimates, new_vendors, price_per_gram, swedish_share
from analytics.turnover import METHODS, aggregate, bucket_start
from dashboards.workbench import cached
from indexer.base import IndexBackend

BY = ("site", "vendor", "substance")
TOP = 4  # lines per chart (the chart classes s1 … s4); the tables hold every row


def price_per_unit(backend: IndexBackend, period: str) -> list[dict[str, Any]]:
    """Median SEK per unit (pill, blotter, dose) per period and substance, each listing once per period
    (its latest observation there): the per-dose counterpart of analytics.trends.price_per_gram."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for obs in backend.iter_docs("listing_observation"):
        when = str(obs.get("observed_at") or "")
        if obs.get("price_per_unit_sek") is None or not when:
            continue
        key = (bucket_start(when, period), str(obs.get("listing")))
        if key not in latest or when > str(latest[key]["observed_at"]):
            latest[key] = obs
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    for (start, _), obs in latest.items():
        values[(start, str(obs.get("substance") or obs.get("substance_class") or "unknown"))].append(
            float(obs["price_per_unit_sek"]))
    return [{"period": p, "substance": s, "median_sek_per_unit": round(statistics.median(v), 2), "listings": len(v)}
            for (p, s), v in sorted(values.items())]


def top_keys(rows: list[dict[str, Any]], key: str, weight: str, n: int = TOP) -> list[str]:
    """The ``n`` keys with the largest total ``weight`` ("unknown" only when nothing else is known)."""
    totals: dict[str, float] = defaultdict(float)
    for r in rows:
        totals[str(r[key])] += float(r[weight] or 0)
    if len(totals) > 1:
        totals.pop("unknown", None)
    return sorted(totals, key=lambda k: (-totals[k], k))[:n]


def turnover(backend: IndexBackend, by: str, period: str) -> dict[str, Any]:
    report = cached.turnover_report(backend)
    names = {v["id"]: f"{v.get('site')}: {v.get('name')}" for v in backend.iter_docs("vendor")} if by == "vendor" else {}
    grouped = [{"period": b.period, "key": names.get(str(b.key), str(b.key)), "units": b.units, "value_sek": b.value_sek,
                "unvalued_units": b.unvalued_units}
               for b in aggregate(best_estimates(report), by=by, period=period)]
    per_method = []
    for method in METHODS:
        per_method += [{"period": b.period, "method": method, "units": b.units, "value_sek": b.value_sek}
                       for b in aggregate(report.estimates(method), period=period)]
    per_method += [{"period": b.period, "method": "best", "units": b.units, "value_sek": b.value_sek}
                   for b in aggregate(best_estimates(report), period=period)]
    totals: dict[str, dict[str, Any]] = {}
    for r in grouped:  # the table: one row per site, vendor or substance over the whole period
        row = totals.setdefault(r["key"], {"key": r["key"], "units": 0.0, "value_sek": 0.0, "periods": 0})
        row["units"] += r["units"]
        row["value_sek"] += r["value_sek"]
        row["periods"] += 1
    return {"grouped": grouped, "totals": sorted(totals.values(), key=lambda r: (-r["value_sek"], r["key"])),
            "per_method": per_method, "applied_rates": report.applied_rates, "notes": report.notes}


def shipments(backend: IndexBackend) -> Any:
    """The weekly domestic shipment estimate, or None when analytics.shipments is not on this build."""
    try:
        from analytics.shipments import estimate_weekly_shipments
    except ImportError:
        return None
    return cached.memo("shipments", backend, lambda: estimate_weekly_shipments(backend))


def build(backend: IndexBackend, by: str, period: str | None) -> dict[str, Any]:
    period = period or auto_period(backend)
    return {
        "period": period, "by": by,
        "turnover": turnover(backend, by, period),
        "price_per_g": price_per_gram(backend, period),
        "price_per_unit": price_per_unit(backend, period),
        "new_vendors": new_vendors(backend, period),
        "swedish_share": swedish_share(backend, period),
        "shipments": shipments(backend),
    }
