"""Estimated domestic shipments per week by postal method (letter, registered letter, tracked parcel).

The estimator, in three factors per estimated sale (one listing, one day):

1. **Sales**: the turnover estimator's ``best`` sales (:mod:`analytics.turnover`): site counters where a
   listing has them, else feedback divided by the measured feedback rate, else the raw feedback count.
   Bounds: counters are taken as exact; corrected feedback lies between the raw feedback count (every
   buyer left feedback) and feedback / (rate × (1 - m)), where m is ``rate_margin`` or two binomial
   standard errors of the measured rate (few counter sales), whichever is larger; raw feedback alone
   between itself and feedback / ``min_feedback_rate``.
2. **Domestic share**: the listing must ship from ``country``; the share of its buyers living there
   comes from its destinations (home only = 1; home plus Nordic; wider regions; none = 0), a stated
   prior with a range (``analytics/data/shipping_methods.yaml``), because buyers' countries are not shown.
3. **Method split**: the listing's shipping options (or, when it shows none, the vendor's options on its
   other listings) are classified into methods. One method offered: all its sales go by it. Several: they
   split by a stated propensity prior (letters dominate, after the Swedish Police's estimate that drug
   post is "mainly letters"), and the bounds take each method's propensity at the low end of its range
   against the others at their high end (and the reverse).

``low`` and ``high`` multiply the three factors' bounds, so they are wide on purpose: they say what the
index and the stated priors allow, not a confidence interval. No extrapolation to national totals.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from analytics.turnover import (
    METHOD_CORRECTED,
    METHOD_COUNTER,
    TurnoverReport,
    compute_turnover,
    load_listings,
)
from indexer.base import IndexBackend

DATA = Path(__file__).parent / "data" / "shipping_methods.yaml"
METHODS = ("letter", "registered_letter", "tracked_parcel", "unknown")

METHOD_TEXT = (
    "estimated sales (turnover 'best': counters, else feedback / measured feedback rate) of listings shipping "
    "from {country}, times the share of buyers in {country} (by the listing's destinations), split over the "
    "postal methods the listing (else its vendor) offers by a stated propensity prior; low/high multiply "
    "the bounds of all three factors"
)


class ShipmentRow(NamedTuple):
    week_start: date  # Monday
    method: str  # one of METHODS
    estimate: float
    low: float
    high: float


@dataclass
class ShipmentEstimate:
    method: str
    rows: list[ShipmentRow] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    country: str = "SE"
    # what the estimate stands on: listings in the index, those shipping from the country, sales estimated
    basis: dict[str, int] = field(default_factory=dict)

    def why_empty(self) -> str | None:
        """Why there are no rows, in words (None when there are some)."""
        if self.rows:
            return None
        b = self.basis
        if not b.get("listings"):
            return "the index holds no listings"
        if not b.get("domestic_listings"):
            return f"none of the {b['listings']} listings ships from {self.country}"
        return (f"none of the {b['domestic_listings']} listings shipping from {self.country} has estimated "
                "sales (no sold counter that moved, no dated feedback) in the period")

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "country": self.country, "assumptions": list(self.assumptions),
                "basis": dict(self.basis),
                "rows": [{"week_start": r.week_start.isoformat(), "method": r.method, "estimate": r.estimate,
                          "low": r.low, "high": r.high} for r in self.rows]}

    def totals(self) -> dict[str, tuple[float, float, float]]:
        """method -> (estimate, low, high) summed over the weeks."""
        out: dict[str, list[float]] = {m: [0.0, 0.0, 0.0] for m in METHODS}
        for r in self.rows:
            acc = out[r.method]
            acc[0] += r.estimate
            acc[1] += r.low
            acc[2] += r.high
        return {m: (round(a, 2), round(b, 2), round(c, 2)) for m, (a, b, c) in out.items()}


class Bounds(NamedTuple):
    point: float
    low: float
    high: float


@cache
def config() -> dict[str, Any]:
    data = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    data["_rules"] = [(r["method"], re.compile(r["pattern"], re.I)) for r in data["classify"]]
    return data


def classify_option(option: Any) -> str:
    """A shipping option (a string, or a dict with name/text/label/value) -> one of METHODS."""
    if isinstance(option, dict):
        text = " ".join(str(option[k]) for k in ("name", "text", "label", "value", "method") if option.get(k))
    else:
        text = str(option or "")
    for method, rule in config()["_rules"]:
        if rule.search(text):
            return method
    return "unknown"


def offered_methods(listing: dict[str, Any]) -> set[str]:
    return {classify_option(o) for o in (listing.get("shipping") or [])}


def method_shares(offered: set[str]) -> dict[str, Bounds]:
    """Share of sales per offered method: the point prior, and each one's lowest and highest share."""
    if not offered:
        offered = {"unknown"}
    prior = config()["propensity"]
    total = sum(prior[m]["point"] for m in offered)
    out = {}
    for m in offered:
        others_high = sum(prior[o]["high"] for o in offered if o != m)
        others_low = sum(prior[o]["low"] for o in offered if o != m)
        out[m] = Bounds(prior[m]["point"] / total, prior[m]["low"] / (prior[m]["low"] + others_high),
                        prior[m]["high"] / (prior[m]["high"] + others_low))
    return out


def domestic_share(listing: dict[str, Any], country: str) -> Bounds:
    shares = config()["domestic_share"]
    dests = {str(c).upper() for c in (listing.get("ships_to") or [])}
    if not dests:
        kind = "unknown"
    elif dests == {country}:
        kind = "home_only"
    elif country in dests or dests & {r.upper() for r in config()["regions"]}:
        nordic = {c.upper() for c in config()["nordic"]}
        kind = "nordic" if dests <= nordic else "wider"
    else:
        kind = "abroad_only"
    s = shares[kind]
    return Bounds(s["point"], s["low"], s["high"])


def rate_margin(report: TurnoverReport, site: str, floor: float) -> float:
    """Relative uncertainty of the feedback rate applied to ``site``: at least ``floor``, more when it was
    measured on few counter sales (two binomial standard errors), at most 0.5."""
    measured = report.rates.get(site) or report.rates.get("*")
    rate = measured.rate if measured else None
    if not measured or not rate or not measured.counter_sales:
        return floor
    se = math.sqrt(rate * (1 - rate) / measured.counter_sales) if rate < 1 else 0.0
    return min(0.5, max(floor, 2 * se / rate))


def week_start(day: str) -> date:
    d = date.fromisoformat(day[:10])
    return d - timedelta(days=d.weekday())


def _iso(value: date | str | None) -> str | None:
    return value.isoformat() if isinstance(value, date) else value


def estimate_weekly_shipments(backend: IndexBackend, *, since: date | str | None = None,
                              until: date | str | None = None, country: str = "SE") -> ShipmentEstimate:
    cfg = config()
    country = country.upper()
    report = compute_turnover(backend, since=_iso(since), until=_iso(until))
    listings = load_listings(backend)
    vendor_methods: dict[str, set[str]] = defaultdict(set)
    for doc in listings.values():
        if doc.get("vendor_id"):
            vendor_methods[doc["vendor_id"]] |= offered_methods(doc) - {"unknown"}
    margin, min_rate = float(cfg["rate_margin"]), float(cfg["min_feedback_rate"])
    acc: dict[tuple[date, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    skipped = 0
    for est in report.best():
        doc = listings.get(est.listing)
        if doc is None:
            skipped += 1
            continue
        if str(doc.get("ships_from") or est.ships_from or "").upper() != country:
            continue
        if est.method == METHOD_COUNTER:
            sales = Bounds(est.units, est.units, est.units)
        elif est.method == METHOD_CORRECTED:
            rate = report.applied_rates.get(est.site, (None, ""))[0]
            raw = est.units * rate if rate else est.units
            sales = Bounds(est.units, raw, est.units / (1 - rate_margin(report, est.site, margin)))
        else:  # the feedback lower bound
            sales = Bounds(est.units, est.units, est.units / min_rate)
        dom = domestic_share(doc, country)
        offered = offered_methods(doc)
        if offered <= {"unknown"}:
            offered = vendor_methods.get(doc.get("vendor_id") or "", set()) or offered
        week = week_start(est.day)
        for method, share in method_shares(offered).items():
            row = acc[(week, method)]
            row[0] += sales.point * dom.point * share.point
            row[1] += sales.low * dom.low * share.low
            row[2] += sales.high * dom.high * share.high
    weeks = sorted({w for w, _ in acc})
    rows = [ShipmentRow(w, m, *(round(v, 2) for v in acc.get((w, m), (0.0, 0.0, 0.0))))
            for w in weeks for m in METHODS]
    prior = cfg["propensity"]
    assumptions = [
        "sales: turnover 'best' (counters exact; corrected feedback between the raw feedback count and "
        f"feedback / (rate x (1 - m)), m = {margin} or two standard errors of the measured rate if larger; "
        f"raw feedback up to feedback / {min_rate})",
        "domestic: listing ships from " + country + "; buyers in " + country + " by destinations: " + ", ".join(
            f"{k} {v['point']} [{v['low']}-{v['high']}]" for k, v in cfg["domestic_share"].items()),
        "method split by propensity among offered methods: " + ", ".join(
            f"{m} {v['point']} [{v['low']}-{v['high']}]" for m, v in prior.items())
        + " (prior after the Swedish Police: domestic drug post is mainly letters; parcels are traceable)",
        "a listing without shipping options takes its vendor's options on other listings, else 'unknown'",
        "a sale is dated by its feedback (or the counter interval), so a week's count can lag the post by days",
    ]
    if skipped:
        assumptions.append(f"{skipped} estimated sales of listings no longer in the index were left out")
    basis = {"listings": len(listings), "domestic_listings": sum(
        1 for d in listings.values() if str(d.get("ships_from") or "").upper() == country)}
    return ShipmentEstimate(METHOD_TEXT.format(country=country), rows, assumptions, country, basis)
