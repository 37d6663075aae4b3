"""Ground truth of the world up to its current day, as tables (lists of dicts) and as JSONL + CSV files.

Tables: ``sales`` (per listing per day: orders, unit price, currency, SEK), ``shipments`` (per sale: the
shipping option each order chose, its postal method, the buyer's country, ``domestic``; see
:mod:`testbed.shipping`), ``listings`` (canonical
substance and class), ``vendors`` (identity, Swedish, first/left day), ``identities`` (PGP fingerprint
→ aliases across sites), ``active`` (listings and vendors active each day), ``feedback`` (visible
feedback with its sale day), ``posts`` (forum posts, with the identity of vendor posts), ``hostile`` (where
each planted hostile string is: kind, site, id, field, payload ids, text; see :mod:`testbed.hostile`) and
``meta`` (``meta.hostile``: the payloads, the ``window.__xss`` flag and the sentinel URL).
SEK values use :mod:`testbed.rates` (the product's rate table when present; ``meta.rates_source``).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from testbed import catalog, hostile, rates, shipping
from testbed.world import World


def build(world: World) -> dict[str, Any]:
    d = world.date_of
    vendors = world.vendors
    sales = []
    for s in world.sales:
        lst = world.listings[(s.site, s.listing_id)]
        unit_sek = round(rates.to_sek(s.unit_price, s.currency, d(s.day)), 2)
        sales.append({
            "site": s.site, "listing_id": s.listing_id, "vendor_id": s.vendor_id,
            "vendor": vendors[(s.site, s.vendor_id)].name,
            "identity_id": vendors[(s.site, s.vendor_id)].identity_id, "day": s.day, "date": d(s.day),
            "orders": s.orders, "unit_price": s.unit_price, "currency": s.currency, "unit_price_sek": unit_sek,
            "value_sek": round(unit_sek * s.orders, 2), "substance": lst.canonical, "substance_class": lst.sclass,
        })
    shipments = []
    for s in world.sales:
        lst = world.listings[(s.site, s.listing_id)]
        for (label, buyer), orders in sorted(shipping.choices(world.seed, s, lst).items()):
            shipments.append({
                "site": s.site, "listing_id": s.listing_id, "vendor_id": s.vendor_id, "day": s.day, "date": d(s.day),
                "ships_from": lst.ships_from, "buyer_country": buyer, "option": label,
                "method": shipping.method_of(label), "orders": orders,
                "domestic": lst.ships_from == "SE" and buyer == "SE",
            })
    listings = [{
        "site": x.site, "listing_id": x.listing_id, "vendor_id": x.vendor_id, "vendor": vendors[(x.site, x.vendor_id)].name,
        "title": x.title, "substance": x.canonical, "substance_key": x.substance_key, "substance_class": x.sclass,
        "quantity": x.qty, "unit": x.unit, "dose_mg": x.dose_mg, "quantity_text": x.qty_text, "currency": x.currency,
        "price_today": x.price, "ships_from": x.ships_from, "first_day": x.first_day, "first_date": d(x.first_day),
        "last_day": x.last_day, "sold_counter": x.sold,
    } for x in world.listings.values()]
    new = world.new_swedish_vendor
    vendor_rows = [{
        "site": v.site, "vendor_id": v.vendor_id, "vendor": v.name, "identity_id": v.identity_id,
        "pgp_fingerprint": world.identities[v.identity_id].fingerprint, "swedish": v.swedish,
        "ships_from": v.ships_from, "first_day": v.first_day, "first_date": d(v.first_day),
        "left_day": v.left_day, "left_date": d(v.left_day) if v.left_day is not None else None,
        "contacts": "; ".join(v.contacts), "is_new_swedish_vendor": (v.site, v.vendor_id) == new,
    } for v in vendors.values()]
    identities = []
    for ident in world.identities.values():
        mine = [v for v in vendors.values() if v.identity_id == ident.identity_id]
        identities.append({
            "identity_id": ident.identity_id, "pgp_fingerprint": ident.fingerprint, "key_handle": ident.handle,
            "swedish": ident.swedish, "first_day": min(v.first_day for v in mine) if mine else None,
            "sites": ";".join(sorted({v.site for v in mine})),
            "aliases": ";".join(f"{v.site}:{v.name}" for v in mine), "contacts": "; ".join(ident.contacts),
        })
    active = [
        {"day": day, "date": d(day), "site": site, "kind": kind[:-1], "id": ident}
        for day, by_site in sorted(world.active_log.items())
        for site, kinds in sorted(by_site.items())
        for kind in ("vendors", "listings")
        for ident in kinds[kind]
    ]
    feedback = [{
        "site": f.site, "feedback_id": f.feedback_id, "listing_id": f.listing_id, "vendor_id": f.vendor_id,
        "sale_day": f.sale_day, "day": f.day, "date": d(f.day), "rating": f.rating, "buyer": f.buyer, "text": f.text,
    } for f in world.feedback]
    posts = [{
        "post_id": p.post_id, "thread_id": p.thread_id, "section_id": world.threads[p.thread_id].section_id,
        "author": p.author, "day": p.day, "date": d(p.day), "identity_id": p.identity_id,
    } for p in world.posts]
    meta = {
        "seed": world.seed, "start_date": world.config.start_date, "day": world.day, "today": world.today,
        "prehistory_days": world.config.prehistory_days, "rates_source": rates.source(),
        "feedback_probability": {k: round(v, 4) for k, v in world.feedback_p.items()},
        "new_swedish_vendor": None if new is None else {
            "site": new[0], "vendor_id": new[1], "vendor": vendors[new].name, "identity_id": vendors[new].identity_id,
            "day": vendors[new].first_day, "date": d(vendors[new].first_day)},
        "substance_classes": list(catalog.classes()),
        "hostile": hostile.truth_meta(),
    }
    return {"meta": meta, "sales": sales, "listings": listings, "vendors": vendor_rows, "identities": identities,
            "active": active, "feedback": feedback, "posts": posts, "hostile": hostile.truth_rows(world),
            "shipments": shipments}


def write(world: World, out_dir: str | Path) -> list[Path]:
    """Write ``<table>.jsonl`` and ``<table>.csv`` per table plus ``meta.json``; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = build(world)
    written = [out / "meta.json"]
    written[0].write_text(json.dumps(tables.pop("meta"), ensure_ascii=False, indent=1), encoding="utf-8")
    for name, rows in tables.items():
        jsonl = out / f"{name}.jsonl"
        with jsonl.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        path_csv = out / f"{name}.csv"
        with path_csv.open("w", encoding="utf-8", newline="") as fh:
            if rows:
                writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
        written += [jsonl, path_csv]
    return written
