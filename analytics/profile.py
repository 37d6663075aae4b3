"""A vendor's profile across sites: the vendor documents it matches, linked identities, listings, prices,
turnover by week and the captures behind each fact. Read by ``sokhund vendor``, exports and the dossier."""

from __future__ import annotations

from typing import Any


# ---------------------------------------------------------------------------------------------- vendor
def _capture(doc: dict[str, Any]) -> dict[str, str]:
    return {"capture_id": str(doc.get("capture_id") or ""), "capture_sha256": str(doc.get("capture_sha256") or "")}


def find_vendors(backend: Any, name: str, site: str | None = None) -> list[dict[str, Any]]:
    """Vendors whose name (case-insensitive), normalised alias or id is ``name``."""
    from analytics.identity import normalise_alias
    from indexer.base import SearchFilters

    wanted, norm = name.casefold(), normalise_alias(name)
    direct = backend.get("vendor", name)
    if direct:
        return [direct]
    found = []
    fuzzy = []
    for doc in backend.iter_docs("vendor", SearchFilters(site=site) if site else None):
        if str(doc.get("name") or "").casefold() == wanted:
            found.append(doc)
        elif norm and normalise_alias(str(doc.get("name") or "")) == norm:
            fuzzy.append(doc)
    return found or fuzzy


def vendor_profile(backend: Any, name: str, site: str | None = None) -> dict[str, Any]:
    """Everything about a vendor and the vendors strongly/medium-linked to it, as one JSON-ready dict.
    Raises LookupError when no vendor matches."""
    from analytics.identity import link_vendors
    from analytics.turnover import aggregate, compute_turnover
    from indexer.base import SearchFilters

    matches = find_vendors(backend, name, site)
    if not matches:
        raise LookupError(f"no vendor named {name!r}{' on ' + site if site else ''} in the index "
                          f"(try `sokhund vendors` or `sokhund search --kind vendor {name}`)")
    links = link_vendors(backend, write=False)
    ids: list[str] = []
    identities: list[dict[str, Any]] = []
    for m in matches:
        if m["id"] not in ids:
            ids.append(m["id"])
        group = links.group_of(m["id"])
        if group is not None and group.id not in {i["id"] for i in identities}:
            identities.append(group.to_dict())
            ids += [v for v in group.vendors if v not in ids]
    candidates = [c.to_dict() for c in links.candidates if set(c.vendors) & set(ids)]
    vendors = [d for d in (backend.get("vendor", i) for i in ids) if d]
    vendor_rows = []
    for v in vendors:
        vendor_rows.append({k: v.get(k) for k in (
            "id", "site", "name", "url", "first_seen", "last_seen", "joined", "listings", "ships_from", "sales",
            "rating", "level", "swedish_score", "swedish_signals", "pgp_fingerprints", "contacts",
            "crypto_addresses")} | _capture(v))
    timeline: list[dict[str, Any]] = []
    for v in vendors:
        timeline.append({"date": v.get("first_seen"), "event": "vendor first seen", "site": v.get("site"),
                         "vendor": v.get("name")} | _capture(v))
        for obs in backend.iter_docs("vendor_observation", SearchFilters(extra={"vendor": v["id"]})):
            timeline.append({"date": obs.get("observed_at"), "event": "vendor observed", "site": obs.get("site"),
                             "vendor": obs.get("name"), "sales": obs.get("sales"), "rating": obs.get("rating")}
                            | _capture(obs))
    listings = []
    for vid in ids:
        for doc in backend.iter_docs("listing", SearchFilters(extra={"vendor_id": vid})):
            prices = []
            last_price: Any = None
            for obs in sorted(backend.iter_docs("listing_observation", SearchFilters(extra={"listing": doc["id"]})),
                              key=lambda o: str(o.get("observed_at"))):
                point = {k: obs.get(k) for k in ("observed_at", "price", "currency", "price_sek", "price_per_g_sek",
                                                  "sold", "stock")} | _capture(obs)
                prices.append(point)
                if last_price is not None and obs.get("price") != last_price:
                    timeline.append({"date": obs.get("observed_at"), "event": "price change", "site": doc.get("site"),
                                     "listing": doc.get("listing_id"), "from": last_price, "to": obs.get("price"),
                                     "currency": obs.get("currency")} | _capture(obs))
                last_price = obs.get("price")
            timeline.append({"date": doc.get("first_seen"), "event": "listing first seen", "site": doc.get("site"),
                             "listing": doc.get("listing_id"), "title": doc.get("title")} | _capture(doc))
            listings.append({k: doc.get(k) for k in (
                "id", "site", "listing_id", "title", "vendor", "substance", "substance_class", "quantity_g", "price",
                "currency", "price_sek", "price_per_g_sek", "ships_from", "sold", "feedback_count", "first_seen",
                "last_seen")} | _capture(doc) | {"prices": prices})
    timeline.sort(key=lambda e: (str(e.get("date") or ""), e["event"]))
    report = compute_turnover(backend)
    mine = set(ids)
    turnover = []
    for method in ("counter", "feedback", "feedback_corrected"):
        estimates = [e for e in report.estimates(method) if e.vendor_id in mine]
        turnover += [{"week": b.period, "method": b.method, "units": round(b.units, 2),
                      "value_sek": round(b.value_sek, 2), "unvalued_units": round(b.unvalued_units, 2)}
                     for b in aggregate(estimates, period="week")]
    turnover.sort(key=lambda r: (r["week"], r["method"]))
    seen = [str(v.get("first_seen") or "") for v in vendors if v.get("first_seen")]
    last = [str(v.get("last_seen") or "") for v in vendors if v.get("last_seen")]
    return {
        "query": name,
        "vendor_ids": ids,
        "first_seen": min(seen) if seen else None,
        "last_seen": max(last) if last else None,
        "sites": sorted({str(v.get("site")) for v in vendors}),
        "aliases": sorted({str(v.get("name")) for v in vendors}),
        "vendors": vendor_rows,
        "listings": listings,
        "turnover_by_week": turnover,
        "feedback_rates_applied": {s: {"rate": r, "source": src} for s, (r, src) in report.applied_rates.items()},
        "identities": identities,
        "candidates": candidates,
        "timeline": timeline,
    }
