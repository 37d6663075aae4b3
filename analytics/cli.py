"""CLI: ``sokhund vendor NAME`` (a vendor's profile timeline) and ``sokhund trends`` (market trends).

Both only read the index (identities are linked on the fly, not written) and work on any backend.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from typing import Any

from indexer.terminal import json_line, printable

BY_CHOICES = ("vendor", "site", "substance", "country")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "vendor", help="a vendor's profile timeline across sites, with turnover and linked identities",
        description="Show everything the index knows about a vendor: first and last seen, sites and aliases, "
        "listings and prices, turnover by week (with the method behind each number), identities linked by "
        "PGP fingerprint / contact / address (with evidence) and the captures (id + sha256) behind each fact.",
    )
    p.add_argument("name", help="vendor name as a site shows it (case-insensitive), or a Vendor id")
    p.add_argument("--site", help="only the vendor of this site (plus the identities linked to it)")
    p.add_argument("--index", help="index URL: sqlite:///path or http://elastic:9200 (default: embedded)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_vendor)

    p = sub.add_parser(
        "trends", help="turnover, prices, new vendors and Swedish share over time (tables, --plot PNG)",
        description="Turnover in SEK per period (counter method, feedback lower bound, feedback corrected by "
        "an estimated feedback rate), median price per gram per substance, new vendors and the share of "
        "Swedish vendors.",
    )
    p.add_argument("--by", choices=BY_CHOICES, help="group turnover by vendor, site, substance class or country")
    p.add_argument("--period", choices=("day", "week", "month"), default="week")
    p.add_argument("--since", help="turnover from this ISO date")
    p.add_argument("--until", help="turnover up to this ISO date (inclusive)")
    p.add_argument("--index", help="index URL (default: embedded SQLite)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", metavar="FILE.png", help="also write a four-panel PNG plot to FILE.png")
    p.set_defaults(func=cmd_trends)


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


def _table(rows: list[dict[str, Any]], cols: tuple[str, ...], out: Any) -> None:
    if not rows:
        print("  (none)", file=out)
        return
    text = [[_fmt(r.get(c)) for c in cols] for r in rows]
    widths = [min(48, max(len(c), *(len(t[i]) for t in text))) for i, c in enumerate(cols)]
    print("  " + "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)), file=out)
    for t in text:
        print("  " + "  ".join(v[:w].ljust(w) for v, w in zip(t, widths, strict=True)), file=out)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3f}"
    if isinstance(value, list):
        return ", ".join(_fmt(v) if not isinstance(v, dict) else printable(v.get("value", v)) for v in value)
    return printable(value)  # crawled text: control characters made visible


def print_profile(profile: dict[str, Any], out: Any = None) -> None:
    out = out or sys.stdout
    print(f"Vendor {printable(repr(profile['query']))}: {_fmt(profile['aliases'])} on {_fmt(profile['sites'])}",
          file=out)
    print(f"first seen {profile['first_seen']}, last seen {profile['last_seen']}", file=out)
    print("\nProfiles", file=out)
    _table(profile["vendors"], ("site", "name", "first_seen", "last_seen", "listings", "ships_from",
                                "swedish_score", "swedish_signals", "capture_id", "capture_sha256"), out)
    print("\nListings (latest state)", file=out)
    _table(profile["listings"], ("site", "listing_id", "title", "price", "currency", "price_sek",
                                 "price_per_g_sek", "sold", "last_seen", "capture_id"), out)
    print("\nTurnover by week (SEK; feedback = lower bound)", file=out)
    _table(profile["turnover_by_week"], ("week", "method", "units", "value_sek", "unvalued_units"), out)
    for site, applied in profile["feedback_rates_applied"].items():
        print(f"  feedback rate for {site}: {applied['rate']:.3f} ({applied['source']})", file=out)
    print("\nLinked identities", file=out)
    if not profile["identities"]:
        print("  (none)", file=out)
    for ident in profile["identities"]:
        print(f"  {ident['strength']} (confidence {ident['confidence']:.2f}): {_fmt(ident['names'])}", file=out)
        for ev in ident["evidence"]:
            caps = "; ".join(f"{c['site']}:{c['name']} {c['capture_id']} sha256={c['sha256'][:16]}"
                             for c in ev["captures"])
            print(printable(f"    {ev['strength']} {ev['type']} {ev['value']}  [{caps}]"), file=out)
    if profile["candidates"]:
        print("\nCandidate aliases (similar names only; NOT merged)", file=out)
        for cand in profile["candidates"]:
            print(f"  {_fmt(cand['names'])} (confidence {cand['confidence']:.2f})", file=out)
    print("\nTimeline", file=out)
    _table(profile["timeline"], ("date", "event", "site", "vendor", "listing", "capture_id", "capture_sha256"), out)


def cmd_vendor(args: argparse.Namespace) -> int:
    from indexer.base import open_backend

    backend = open_backend(args.index)
    try:
        try:
            profile = vendor_profile(backend, args.name, args.site)
        except LookupError as exc:
            print(f"sokhund vendor: {exc}", file=sys.stderr)
            return 1
    finally:
        backend.close()
    if args.json:
        print(json_line(profile, default=str))
    else:
        print_profile(profile)
    return 0


# ---------------------------------------------------------------------------------------------- trends
def cmd_trends(args: argparse.Namespace) -> int:
    from analytics.trends import compute_trends, plot_trends
    from indexer.base import open_backend

    backend = open_backend(args.index)
    try:
        trends = compute_trends(backend, by=args.by, period=args.period, since=args.since, until=args.until)
    finally:
        backend.close()
    data = trends.to_dict()
    if args.plot:
        data["plot"] = str(plot_trends(trends, args.plot))
    if args.json:
        print(json_line(data, default=str))
        return 0
    out = sys.stdout
    by = f" by {args.by}" if args.by else ""
    print(f"Turnover per {args.period}{by} (SEK; counter = site counters, feedback = lower bound, "
          "feedback_corrected = feedback / estimated feedback rate)", file=out)
    rows = [b | {"units": round(b["units"], 1)} for b in data["turnover"]]
    _table(rows, ("period", "key", "method", "units", "value_sek", "unvalued_units") if args.by
           else ("period", "method", "units", "value_sek", "unvalued_units"), out)
    totals: dict[str, float] = defaultdict(float)
    for b in data["turnover"]:
        totals[b["method"]] += b["value_sek"]
    for method, value in sorted(totals.items()):
        print(f"  total {method}: {value:,.0f} SEK", file=out)
    for site, rate in data["feedback_rates"].items():
        if rate["rate"] is not None:
            print(f"  measured feedback rate on {site}: {rate['rate']:.3f} "
                  f"({rate['feedback']} feedback / {rate['counter_sales']:.0f} counter sales)", file=out)
    for site, applied in data["applied_feedback_rates"].items():
        print(f"  correction for {site}: ÷ {applied['rate']:.3f} ({applied['source']})", file=out)
    print(f"\nMedian price per gram per {args.period} (SEK)", file=out)
    _table(data["price_per_g"], ("period", "substance", "median_sek_per_g", "listings"), out)
    print(f"\nNew vendors per {args.period}", file=out)
    _table([r | {"vendors": r["vendors"][:6]} for r in data["new_vendors"]], ("period", "count", "vendors"), out)
    print(f"\nShare of Swedish vendors per {args.period}", file=out)
    _table(data["swedish_share"], ("period", "active", "swedish", "share"), out)
    for note in data["notes"][:10]:
        print(f"note: {printable(note)}", file=out)
    if args.plot:
        print(f"\nplot written to {data['plot']}", file=out)
    return 0
