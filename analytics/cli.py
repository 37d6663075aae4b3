"""CLI: ``sokhund vendor NAME`` (a vendor's profile timeline) and ``sokhund trends`` (market trends).

Both only read the index (identities are linked on the fly, not written) and work on any backend.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from typing import Any

from analytics.profile import vendor_profile
from indexer.terminal import cell_text, json_line, printable

BY_CHOICES = ("vendor", "site", "substance", "country")


TRENDS_EXAMPLES = """examples:
  sokhund trends --by substance --period week
  sokhund trends --by vendor --top 5
  sokhund trends --by site --period month --since 2024-01-01
"""


def _iso_date(text: str) -> str:
    from indexer.query import iso_date

    try:
        return iso_date(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub: Any) -> None:
    p = sub.add_parser(
        "vendor", help="a vendor's profile timeline across sites, with turnover and linked identities",
        description="Show everything the index knows about a vendor: first and last seen, sites and aliases, "
        "listings and prices, turnover by week (with the method behind each number), identities linked by "
        "PGP fingerprint / contact / address (with evidence) and the captures (id + sha256) behind each fact.",
    )
    p.add_argument("name", help="vendor name as a site shows it (case-insensitive), or a Vendor id")
    p.add_argument("--site", help="only the vendor of this site (plus the identities linked to it)")
    p.add_argument("--index", help="index URL: sqlite:///path or http://elastic:9200 (default: embedded); must exist")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_vendor)

    p = sub.add_parser(
        "trends", help="turnover, prices, new vendors and Swedish share over time (tables, --plot PNG)",
        description="Turnover in SEK per period (counter method, feedback lower bound, feedback corrected by "
        "an estimated feedback rate), median price per gram per substance, new vendors and the share of "
        "Swedish vendors.",
        epilog=TRENDS_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("view", nargs="?", choices=("shipments",),
                   help="shipments: estimated domestic shipments per week by postal method (letter, registered "
                   "letter, tracked parcel), with low/high bounds and the estimator's assumptions")
    p.add_argument("--weeks", type=int, metavar="N", help="shipments: only the last N weeks")
    p.add_argument("--country", default="SE", help="shipments: the home country (default SE)")
    p.add_argument("--by", choices=BY_CHOICES, help="group turnover by vendor, site, substance class or country")
    p.add_argument("--top", type=int, default=10, metavar="N",
                   help="with --by: the N groups with the highest turnover (default 10, 0 = all)")
    p.add_argument("--period", choices=("day", "week", "month"), default="week")
    p.add_argument("--since", type=_iso_date, help="turnover from this ISO date, e.g. 2024-03-01")
    p.add_argument("--until", type=_iso_date, help="turnover up to this ISO date (inclusive)")
    p.add_argument("--index", help="index URL or path (default: the embedded index in $SOKHUND_HOME); must exist")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", metavar="FILE.png", help="also write a four-panel PNG plot to FILE.png")
    p.set_defaults(func=cmd_trends)


def _table(rows: list[dict[str, Any]], cols: tuple[str, ...], out: Any) -> None:
    if not rows:
        print("  (none)", file=out)
        return
    # Full values: hashes and ids are never cut; only long free text (titles) ends in a visible "…".
    text = [[_fmt(r.get(c), c) for c in cols] for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in text)) for i, c in enumerate(cols)]
    print("  " + "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip(), file=out)
    for t in text:
        print("  " + "  ".join(v.ljust(w) for v, w in zip(t, widths, strict=True)).rstrip(), file=out)


TITLE_CHARS = 60


def _fmt(value: Any, column: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3f}"
    if isinstance(value, list | dict):
        return cell_text(value)  # contacts as kind:value, signals as text
    text = printable(value)  # crawled text: control characters made visible
    if column == "title" and len(text) > TITLE_CHARS:
        return text[: TITLE_CHARS - 1] + "…"
    return text


def print_profile(profile: dict[str, Any], out: Any = None) -> None:
    out = out or sys.stdout
    print(f"Vendor {printable(profile['query'])}: {_fmt(profile['aliases'])} on {_fmt(profile['sites'])}",
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
            caps = "; ".join(f"{c['site']}:{c['name']} {c['capture_id']} sha256={c['sha256']}"
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

    backend = open_backend(args.index, must_exist=True)
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
    from analytics.trends import compute_trends, plot_trends, top_keys
    from indexer.base import open_backend

    if args.view == "shipments":
        return cmd_shipments(args)

    backend = open_backend(args.index, must_exist=True)
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
    if args.by:
        keys = top_keys(trends, args.top)
        shown = set(keys)
        label = "vendor" if args.by == "vendor" else args.by
        rows = [r | {label: r.get("name", r["key"])} for r in rows if str(r["key"]) in shown]
        rows.sort(key=lambda r: (r["period"], keys.index(str(r["key"])), r["method"]))
        groups = len({str(b["key"]) for b in data["turnover"]})
        if len(keys) < groups:
            print(f"  top {len(keys)} of {groups} by best-estimate turnover (--top 0 shows all)", file=out)
        _table(rows, ("period", label, "method", "units", "value_sek", "unvalued_units"), out)
    else:
        _table(rows, ("period", "method", "units", "value_sek", "unvalued_units"), out)
    totals: dict[str, float] = defaultdict(float)
    for b in data["turnover"]:
        totals[b["method"]] += b["value_sek"]
    for method, value in sorted(totals.items()):
        print(f"  total {method}: {value:,.0f} SEK", file=out)
    for site, rate in data["feedback_rates"].items():
        if rate["rate"] is not None:
            where = "pooled over the counter sites" if site == "*" else f"on {site}"
            print(f"  measured feedback rate {where}: {rate['rate']:.3f} "
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


def cmd_shipments(args: argparse.Namespace) -> int:
    from analytics.shipments import METHODS, estimate_weekly_shipments
    from indexer.base import open_backend

    if args.weeks is not None and args.weeks < 1:
        print("sokhund trends shipments: --weeks must be at least 1", file=sys.stderr)
        return 2
    backend = open_backend(args.index, must_exist=True)
    try:
        est = estimate_weekly_shipments(backend, since=args.since, until=args.until, country=args.country)
    finally:
        backend.close()
    if args.weeks:
        keep = sorted({r.week_start for r in est.rows})[-args.weeks:]
        est.rows = [r for r in est.rows if r.week_start in keep]
    data = est.to_dict()
    data["totals"] = {m: dict(zip(("estimate", "low", "high"), v, strict=True)) for m, v in est.totals().items()}
    if args.json:
        print(json_line(data, default=str))
        return 0
    out = sys.stdout
    print(f"Estimated domestic shipments per week by method ({est.country})", file=out)
    print(f"method: {est.method}", file=out)
    by_week: dict[str, dict[str, Any]] = defaultdict(dict)
    for r in data["rows"]:
        by_week[r["week_start"]][r["method"]] = f"{r['estimate']:.1f} [{r['low']:.1f}-{r['high']:.1f}]"
    rows = [{"week": w, **{m: v.get(m, "-") for m in METHODS}} for w, v in sorted(by_week.items())]
    empty = est.why_empty()
    if empty:  # not a table of zeros that reads like a measured "no letters"
        print(f"  no estimate: {empty}", file=out)
    else:
        _table(rows, ("week", *METHODS), out)
        for m, (point, low, high) in est.totals().items():
            print(f"  total {m}: {point:,.1f} [{low:,.1f}-{high:,.1f}]", file=out)
    print("assumptions:", file=out)
    for a in est.assumptions:
        print(f"  - {a}", file=out)
    return 0
