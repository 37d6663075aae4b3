"""What the vendor page shows, assembled from the index and the analytics: one identity across sites
(the workbench's identity view, so analyst-confirmed candidates count), its links with their evidence,
the timeline, listings and prices, turnover per period and method, the Swedish score's signals and the
shipping methods its listings offer."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from analytics.identity import vendor_fingerprints
from analytics.trends import auto_period
from analytics.turnover import METHODS, aggregate
from dashboards.workbench import cached, identity_view
from dashboards.workbench.store import Store
from indexer.base import IndexBackend, SearchFilters

# Shown next to every turnover number: what the method is and what it is not.
METHOD_TEXT = {
    "counter": "site 'sold' counters: the rise between two crawls, valued at the observed price",
    "feedback": "one sale per feedback, at the price observed closest to it: a lower bound "
                "(not every buyer leaves feedback)",
    "feedback_corrected": "feedback divided by the feedback rate measured on sites that show both counters "
                          "and feedback (assumes buyers leave feedback at a similar rate everywhere)",
    "best": "counters where a listing has them, else corrected feedback, else the lower bound",
}


@dataclass
class VendorPage:
    vendor: dict[str, Any]
    members: list[dict[str, Any]]  # the vendor docs of the identity (this one first)
    group: identity_view.Group | None
    candidates: list[identity_view.Candidate]
    listings: list[dict[str, Any]]
    timeline: list[dict[str, Any]]
    period: str
    turnover: list[dict[str, Any]]  # period, method, units, value_sek, unvalued_units
    turnover_table: list[dict[str, Any]]  # period, then SEK and units (METHOD_units) per method
    turnover_totals: dict[str, float]
    applied_rates: dict[str, tuple[float, str]]
    shipping: list[dict[str, Any]]  # method, listings offering it, option texts
    shipping_terms: list[dict[str, Any]]  # kind, value, listings whose text mentions it
    view: identity_view.IdentityView
    signals: list[dict[str, str]] = field(default_factory=list)


def _signal(text: str) -> dict[str, str]:
    """``"swish: Swish"`` -> {name: swish, evidence: Swish}; negated signals say so."""
    name, _, evidence = str(text).partition(": ")
    negated = name.startswith("negated:")
    return {"name": name.removeprefix("negated:").replace("_", " "), "evidence": evidence,
            "negated": "yes" if negated else ""}


def _observations(backend: IndexBackend, listing_id: str) -> list[dict[str, Any]]:
    rows = list(backend.iter_docs("listing_observation", SearchFilters(extra={"listing": listing_id})))
    return sorted(rows, key=lambda o: str(o.get("observed_at") or ""))


def _classifier() -> Any:
    """The shipments estimator's option classifier (letter, registered_letter, tracked_parcel …) when this
    build has it; else None (the page then shows the options and the NLP's methods only)."""
    try:
        from analytics import shipments
    except ImportError:
        return None
    return getattr(shipments, "classify_option", None)


def shipping_methods(listings: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(per offered method: listings offering it and the options' own words; per shipping term the NLP
    found in the listings' text: kind, value, listings)."""
    classify = _classifier()
    offered: dict[str, set[str]] = defaultdict(set)
    texts: dict[str, Counter] = defaultdict(Counter)
    mentioned: dict[tuple[str, str], set[str]] = defaultdict(set)
    for lst in listings:
        for option in lst.get("shipping") or []:
            text = str(option.get("text") or option.get("value") or option.get("name") or "") \
                if isinstance(option, dict) else str(option)
            method = classify(option) if classify else "offered options"
            offered[method].add(lst["id"])
            texts[method][text] += 1
        for ent in (lst.get("entities") or {}).get("shipping") or []:
            if isinstance(ent, dict) and ent.get("kind") in ("method", "carrier", "stealth"):
                mentioned[(str(ent["kind"]), str(ent.get("value")))].add(lst["id"])
    rows = [{"method": m, "listings": len(ids), "options": [t for t, _ in texts[m].most_common(6)]}
            for m, ids in offered.items()]
    terms = [{"kind": k, "value": v, "listings": len(ids)} for (k, v), ids in mentioned.items()]
    return (sorted(rows, key=lambda r: (-r["listings"], r["method"])),
            sorted(terms, key=lambda t: (-t["listings"], t["kind"], t["value"])))


def build(backend: IndexBackend, store: Store, vendor_id: str) -> VendorPage | None:
    vendor = backend.get("vendor", vendor_id)
    if vendor is None:
        return None
    view = identity_view.build(backend, store)
    group = view.group_of(vendor_id)
    ids = [vendor_id, *[i for i in (group.vendors if group else []) if i != vendor_id]]
    members = [vendor, *[view.vendors[i] for i in ids[1:] if i in view.vendors]]
    for m in members:
        m["fingerprints_full"] = vendor_fingerprints(m)

    listings, timeline = [], []
    for m in members:
        timeline.append({"date": m.get("first_seen"), "event": "vendor first seen", "site": m.get("site"),
                         "what": m.get("name"), "capture_id": m.get("capture_id")})
        last_sales = None
        obs = sorted(backend.iter_docs("vendor_observation", SearchFilters(extra={"vendor": m["id"]})),
                     key=lambda o: str(o.get("observed_at") or ""))
        for o in obs:
            if o.get("sales") is not None and o.get("sales") != last_sales:
                change = "" if last_sales is None else f" ({int(o['sales']) - int(last_sales):+d})"
                timeline.append({"date": o.get("observed_at"), "event": "sales counter", "site": o.get("site"),
                                 "what": f"{o['sales']}{change}", "capture_id": o.get("capture_id")})
                last_sales = o.get("sales")
        timeline.append({"date": m.get("last_seen"), "event": "vendor last seen", "site": m.get("site"),
                         "what": m.get("name"), "capture_id": m.get("capture_id")})
        for lst in backend.iter_docs("listing", SearchFilters(extra={"vendor_id": m["id"]})):
            history = _observations(backend, lst["id"])
            prices = [o.get("price_sek") for o in history if o.get("price_sek") is not None]
            lst["price_first_sek"], lst["price_low_sek"], lst["price_high_sek"] = (
                (prices[0], min(prices), max(prices)) if prices else (None, None, None))
            lst["observations"] = len(history)
            listings.append(lst)
            timeline.append({"date": lst.get("first_seen"), "event": "listing first seen", "site": lst.get("site"),
                             "what": lst.get("title"), "listing": lst["id"], "capture_id": lst.get("capture_id")})
            for before, after in zip(history, history[1:], strict=False):
                if before.get("price") != after.get("price"):
                    timeline.append({"date": after.get("observed_at"), "event": "price change", "site": lst.get("site"),
                                     "what": f"{before.get('price')} → {after.get('price')} {after.get('currency') or ''}"
                                             f": {lst.get('title')}",
                                     "listing": lst["id"], "capture_id": after.get("capture_id")})
    timeline.sort(key=lambda e: (str(e.get("date") or ""), e["event"]))
    listings.sort(key=lambda x: (str(x.get("site")), str(x.get("title")).casefold()))

    report = cached.turnover_report(backend)
    period = auto_period(backend)
    mine = set(ids)
    turnover, totals = [], {}
    for method in (*METHODS, "best"):
        estimates = [e for e in report.estimates(method) if e.vendor_id in mine]
        buckets = aggregate(estimates, period=period)
        turnover += [{"period": b.period, "method": method, "units": b.units, "value_sek": b.value_sek,
                      "unvalued_units": b.unvalued_units} for b in buckets]
        totals[method] = sum(b.value_sek for b in buckets)
    turnover.sort(key=lambda r: (r["period"], r["method"]))
    table: dict[str, dict[str, Any]] = {}
    for r in turnover:  # one row per period, a column per method
        row = table.setdefault(r["period"], {"period": r["period"]})
        row[r["method"]] = r["value_sek"]
        row[r["method"] + "_units"] = r["units"]
    sites = {m.get("site") for m in members}
    shipping = shipping_methods(listings)
    return VendorPage(
        vendor=vendor, members=members, group=group,
        candidates=list({c.id: c for i in ids for c in view.candidates_of(i)}.values()),
        listings=listings, timeline=timeline, period=period, turnover=turnover,
        turnover_table=[table[k] for k in sorted(table)], turnover_totals=totals,
        applied_rates={s: r for s, r in report.applied_rates.items() if s in sites},
        shipping=shipping[0], shipping_terms=shipping[1], view=view,
        signals=[_signal(s) for s in vendor.get("swedish_signals") or []],
    )
