"""Save rendered testbed pages and their expected field values for the adapter regression test.

Expected values come from the WORLD (the ground-truth objects), not from the adapters, so the test
``tests/crawler/test_adapters_testbed.py`` checks the adapters against the truth.

    .venv/bin/python -m testbed.tools.save_pages [--out tests/data/pages]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from testbed import catalog
from testbed.entities import SITE_FORUM, SITE_NB, SITE_SHOP, SITE_SV
from testbed.sites import flugsvamp, forum, nordbazaar, shop
from testbed.world import World, WorldConfig

ROOT = Path(__file__).resolve().parents[2]
SEED, DAY = 7, 1


def _ws(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _save(out: Path, site: str, name: str, url: str, body: bytes, expected: Any, index: dict) -> None:
    folder = out / site
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(body)
    index.setdefault(site, []).append({"file": name, "url": url, "expected": expected})


def build(out: Path) -> dict:
    world = World(WorldConfig(seed=SEED))
    world.advance(DAY)
    index: dict[str, list] = {}

    def page(mod: Any, url: str) -> bytes:
        path, _, query = url.partition("?")
        return mod.render(world, path, query).body

    # flugsvamp: a listing with feedback, its vendor, the vendor's 2nd feedback page, a category page
    lst = next(x for x in world.active_listings(SITE_SV) if world.listing_feedback(SITE_SV, x.listing_id))
    vendor = world.vendors[(SITE_SV, lst.vendor_id)]
    fbs = world.listing_feedback(SITE_SV, lst.listing_id)
    _save(out, SITE_SV, "listing.html", f"/annons/{lst.listing_id}", page(flugsvamp, f"/annons/{lst.listing_id}"), {
        "listing_id": lst.listing_id, "title": lst.title, "description": _ws(lst.description), "vendor": vendor.name,
        "category": catalog.classes()[lst.sclass]["sv"], "price": lst.price, "currency": "SEK",
        "quantity": lst.qty_text, "stock": lst.stock, "feedback_count": len(fbs),
        "ships_from": flugsvamp.country(lst.ships_from), "shipping_count": len(lst.shipping),
    }, index)
    sales, avg = world.vendor_stats(SITE_SV, vendor.vendor_id)
    ident = world.identities[vendor.identity_id]
    _save(out, SITE_SV, "vendor.html", f"/saljare/{vendor.vendor_id}", page(flugsvamp, f"/saljare/{vendor.vendor_id}"), {
        "vendor_id": vendor.vendor_id, "name": vendor.name, "joined": vendor.joined_date, "sales": sales,
        "rating": avg, "contacts": vendor.contacts, "pgp_fingerprint": ident.fingerprint,
        "pgp_key_ws": _ws(ident.armored or ""),
    }, index)
    vfb = world.vendor_feedback(SITE_SV, vendor.vendor_id)[20:40]
    url = f"/saljare/{vendor.vendor_id}/omdomen?sida=2"
    _save(out, SITE_SV, "feedback.html", url, page(flugsvamp, url), {"rows": [
        {"feedback_id": str(f.feedback_id), "listing_id": f.listing_id, "date": world.date_of(f.day),
         "rating": f.rating, "text": f.text, "buyer": f.buyer} for f in vfb]}, index)
    cat = world.active_listings(SITE_SV, "cocaine")
    _save(out, SITE_SV, "category.html", "/kategori/cocaine", page(flugsvamp, "/kategori/cocaine"), {
        "listings": [f"/annons/{x.listing_id}" for x in cat[: flugsvamp.PER_PAGE]],
        "next": "/kategori/cocaine?sida=2" if len(cat) > flugsvamp.PER_PAGE else None}, index)

    # nordbazaar
    nl = next(x for x in world.active_listings(SITE_NB) if world.listing_feedback(SITE_NB, x.listing_id))
    nv = world.vendors[(SITE_NB, nl.vendor_id)]
    url = f"/item?id={nl.listing_id}"
    nfb = world.listing_feedback(SITE_NB, nl.listing_id)
    _save(out, SITE_NB, "listing.html", url, page(nordbazaar, url), {
        "listing_id": nl.listing_id, "title": nl.title, "vendor": nv.name, "price": nl.price, "currency": "USD",
        "quantity": nl.qty_text, "stock": nl.stock, "sold": nl.sold, "ships_from": nordbazaar.country(nl.ships_from),
        "ships_to": nl.ships_to, "feedback_count": len(nfb), "category": catalog.classes()[nl.sclass]["en"],
    }, index)
    sales, avg = world.vendor_stats(SITE_NB, nv.vendor_id)
    nident = world.identities[nv.identity_id]
    _save(out, SITE_NB, "vendor.html", f"/u/{nv.vendor_id}", page(nordbazaar, f"/u/{nv.vendor_id}"), {
        "vendor_id": nv.vendor_id, "name": nv.name, "joined": nv.joined_date, "sales": sales, "rating": avg,
        "pgp_fingerprint": nident.fingerprint, "pgp_key_ws": _ws(nident.armored or ""),
    }, index)
    url = f"/u/{nv.vendor_id}/reviews"
    _save(out, SITE_NB, "feedback.html", url, page(nordbazaar, url), {"rows": [
        {"feedback_id": str(f.feedback_id), "listing_id": f.listing_id, "date": world.date_of(f.day),
         "rating": f.rating, "text": f.text, "buyer": f.buyer}
        for f in world.vendor_feedback(SITE_NB, nv.vendor_id)[: nordbazaar.REVIEWS_PER_PAGE]]}, index)

    # forum: the thread of the first vendor ad that names a contact
    ad = next(p for p in world.posts if p.identity_id)
    thread = world.threads[ad.thread_id]
    posts = world.thread_posts(thread.thread_id)[: forum.POSTS_PER_PAGE]
    _save(out, SITE_FORUM, "thread.html", f"/t{thread.thread_id}", page(forum, f"/t{thread.thread_id}"), {"rows": [
        {"post_id": str(p.post_id), "thread_id": str(thread.thread_id), "thread_title": thread.title,
         "author": p.author, "posted_at": forum.stamp(world, p.day, p.minute), "text": p.text} for p in posts]}, index)

    # shop: the shell (no products) and the API
    _save(out, SITE_SHOP, "index.html", "/", page(shop, "/"), {"product_count_api": len(world.active_listings(SITE_SHOP))},
          index)
    _save(out, SITE_SHOP, "api_products.json", "/api/products", page(shop, "/api/products"), {}, index)
    (out / "expected.json").write_text(json.dumps({"seed": SEED, "day": DAY, "pages": index}, ensure_ascii=False,
                                                  indent=1), encoding="utf-8")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate tests/data/pages from a seeded testbed world.")
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "pages")
    args = parser.parse_args(argv)
    index = build(args.out)
    print(f"saved {sum(len(v) for v in index.values())} pages under {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
