"""Hostile strings planted in the world (``testbed/data/hostile.yaml``): XSS payloads, RTL overrides, long words.

The planted vendors, listings, feedback and forum posts are added with their own random stream and kept
out of every draw of the ordinary simulation (:meth:`testbed.world.World.organic`), so every other
vendor, listing, sale, feedback and post is exactly what it was without them. Script payloads set
``window.__xss = 1`` and fetch ``<sentinel>/__xss_sentinel?p=ID``: the sentinel base URL comes from
``$SOKHUND_XSS_SENTINEL`` (default in the data file), and every testbed site counts hits on that path.
"""

from __future__ import annotations

import os
import re
from functools import cache
from typing import TYPE_CHECKING, Any

from testbed import catalog
from testbed.entities import SITE_FORUM, SITE_SV, Feedback, Identity, Listing, Post, Sale, Thread, Vendor

if TYPE_CHECKING:
    from testbed.world import World

SENTINEL_PATH = "/__xss_sentinel"
FEEDBACK_ID_BASE = 9_000_000  # own id space: ordinary feedback ids count up from 1
_PLACEHOLDER = re.compile(r"\{(?:(p|pgp):([a-z_]+)|(sentinel)|(long))\}")


@cache
def spec() -> dict[str, Any]:
    return catalog.load_yaml("hostile.yaml")


def sentinel() -> str:
    return os.environ.get(spec()["sentinel_env"]) or spec()["sentinel_default"]


def long_word() -> str:
    lw = spec()["long_word"]
    return lw["char"] * int(lw["length"])


def fill(template: str) -> str:
    """Resolve ``{p:ID}``, ``{pgp:KEY}``, ``{sentinel}`` and ``{long}`` (no str.format: payloads hold braces)."""
    def sub(m: re.Match[str]) -> str:
        if m.group(1) == "p":
            return fill(spec()["payloads"][m.group(2)])
        if m.group(1) == "pgp":
            return armored(m.group(2))
        return sentinel() if m.group(3) else long_word()
    return _PLACEHOLDER.sub(sub, template)


def payloads() -> dict[str, str]:
    return {key: fill(text) for key, text in spec()["payloads"].items()}


def armored(vendor_key: str) -> str:
    for v in spec()["vendors"]:
        if v["key"] == vendor_key:
            return fill(v["armored"])
    raise KeyError(vendor_key)


def plant(world: World) -> None:
    """Add the planted vendors (with their identities and listings) to a freshly built world."""
    d0 = -world.config.prehistory_days
    for v in spec()["vendors"]:
        ident = Identity(f"ident-planted-{v['key']}", v["fingerprint"], armored(v["key"]), fill(v["handle"]),
                         bool(v["swedish"]), [fill(c) for c in v["contacts"]])
        world.identities[ident.identity_id] = ident
        name = fill(v["name"])
        vendor = Vendor(v["site"], catalog.slug(name), name, ident.identity_id, bool(v["swedish"]), v["ships_from"],
                        d0, v["joined_date"], fill(v["profile"]), list(ident.contacts), sales_base=v["sales_base"])
        if (vendor.site, vendor.vendor_id) in world.vendors:
            raise ValueError(f"planted vendor {vendor.vendor_id} collides with a vendor of {vendor.site}")
        world.vendors[(vendor.site, vendor.vendor_id)] = vendor
        world.planted.add((vendor.site, vendor.vendor_id))
        lang = "sv" if vendor.site == SITE_SV else "en"
        for item in v["listings"]:
            sub = catalog.substance(item["substance"])
            qty = float(item["qty"])
            listing = Listing(
                vendor.site, item["id"], vendor.vendor_id, sub["key"], sub["canonical"], sub["class"], qty,
                sub["unit"], sub.get("dose_mg"), catalog.fmt_qty(qty, sub["unit"], sub.get("dose_mg"), lang),
                fill(item["title"]), fill(item["description"]), float(item["price"]),
                "SEK" if vendor.site == SITE_SV else "USD", 40, vendor.ships_from, list(item["ships_to"]),
                [(label, float(price)) for label, price in item["shipping"]], d0, rate=float(item["rate"]))
            if (listing.site, listing.listing_id) in world.listings:
                raise ValueError(f"planted listing {listing.listing_id} collides with a listing of {listing.site}")
            world.listings[(listing.site, listing.listing_id)] = listing
            world.planted.add((listing.site, listing.listing_id))


def simulate_day(world: World, d: int) -> None:
    """Sales and feedback of the planted listings, and the planted forum thread, from their own stream."""
    from testbed.world import poisson

    r = catalog.rng(world.seed, "planted", d)
    fb_spec = spec()["feedback"]
    buyers = catalog.names()["buyer_names"]
    for key in sorted(k for k in world.planted if k in world.listings):
        lst = world.listings[key]
        if not lst.active(d):
            continue
        lst.price_by_day[d] = lst.price
        orders = min(poisson(r, lst.rate), lst.stock)
        if orders:
            world.sales.append(Sale(lst.site, lst.listing_id, lst.vendor_id, d, orders, lst.price, lst.currency))
            lst.stock -= orders
            lst.sold += orders
            lang = catalog.text("sv" if lst.site == SITE_SV else "en")
            for _ in range(orders):
                if r.random() >= world.feedback_p[lst.site]:
                    continue
                text = (fill(r.choice(fb_spec["texts"])) if r.random() < fb_spec["probability"]
                        else r.choice(lang["feedback_good"]))
                buyer = r.choice(buyers)
                world.planted_feedback_seq += 1
                world.feedback.append(Feedback(lst.site, FEEDBACK_ID_BASE + world.planted_feedback_seq,
                                               lst.listing_id, lst.vendor_id, d, d, 5, text,
                                               f"{buyer[0]}***{buyer[-1]}"))
        if lst.stock <= 0:
            lst.stock = 40
    forum = spec()["forum"]
    t = forum["thread"]
    if d == t["day"]:
        authors = {f"vendor:{v['key']}": (fill(v["name"]), f"ident-planted-{v['key']}") for v in spec()["vendors"]}
        thread = Thread(t["id"], t["section"], fill(t["title"]), authors["vendor:fs"][0], d)
        world.threads[thread.thread_id] = thread
        world.planted.add((SITE_FORUM, str(thread.thread_id)))
        for p in forum["posts"]:
            author, ident = authors.get(p["author"], (fill(p["author"]), None))
            world.posts.append(Post(p["id"], thread.thread_id, author, d, p["minute"], fill(p["text"]), ident))


def truth_rows(world: World) -> list[dict[str, Any]]:
    """Where each planted string is: one row per (kind, site, id, field) with the payload ids it holds."""
    marks = payloads()
    rows: list[dict[str, Any]] = []

    def add(kind: str, site: str, ident: str, field: str, text: str) -> None:
        found = [k for k, p in marks.items() if p in text]
        if found:
            rows.append({"kind": kind, "site": site, "id": ident, "field": field, "payloads": ";".join(found),
                         "text": text})

    for key in sorted(world.planted):
        if key in world.vendors:
            v = world.vendors[key]
            add("vendor", v.site, v.vendor_id, "name", v.name)
            add("vendor", v.site, v.vendor_id, "profile", v.profile)
            for c in v.contacts:
                add("vendor", v.site, v.vendor_id, "contact", c)
            ident = world.identities[v.identity_id]
            add("vendor", v.site, v.vendor_id, "pgp_armored", ident.armored or "")
            add("vendor", v.site, v.vendor_id, "pgp_user_id", ident.handle)
        elif key in world.listings:
            lst = world.listings[key]
            add("listing", lst.site, lst.listing_id, "title", lst.title)
            add("listing", lst.site, lst.listing_id, "description", lst.description)
    for fb in world.feedback:
        if fb.feedback_id > FEEDBACK_ID_BASE:
            add("feedback", fb.site, str(fb.feedback_id), "text", fb.text)
    thread = world.threads.get(spec()["forum"]["thread"]["id"])
    if thread is not None:
        add("thread", SITE_FORUM, str(thread.thread_id), "title", thread.title)
        for p in world.thread_posts(thread.thread_id):
            add("post", SITE_FORUM, str(p.post_id), "author", p.author)
            add("post", SITE_FORUM, str(p.post_id), "text", p.text)
    return rows


def truth_meta() -> dict[str, Any]:
    return {"flag": spec()["flag"], "sentinel": sentinel(), "sentinel_path": SENTINEL_PATH,
            "payloads": payloads()}
