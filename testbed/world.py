"""The simulated world: vendors, listings, sales, feedback, forum posts, shop products — day by day.

Everything is a pure function of :class:`WorldConfig` and the current day: ``World(cfg)`` builds the
state at day 0 (after ``prehistory_days`` of simulated history) and :meth:`World.advance` simulates
the next day. Re-creating a world and advancing it N times gives exactly the same state, which is how
separate processes (``testbed serve`` / ``testbed advance``) agree.

Rules worth knowing for scoring:
- after day 0 vendors join (never Swedish) and leave; the only new Swedish vendor is the one added on
  ``new_swedish_vendor_day`` to flugsvamp (see :attr:`World.new_swedish_vendor`);
- each order leaves feedback with probability ``feedback_p[site]`` (0.65–0.75), dated the sale day or
  1–2 days later; the shop has no feedback.
"""

from __future__ import annotations

import math
import random
from datetime import date, timedelta
from typing import Any

from testbed import catalog, hostile, rates
from testbed.entities import (
    SITE_FORUM,
    SITE_NB,
    SITE_SHOP,
    SITE_SV,
    Feedback,
    Identity,
    Listing,
    Post,
    Sale,
    Thread,
    Vendor,
    WorldConfig,
)

SV_VENDORS = 44
NB_VENDORS = 42
SHARED = 10  # identities on both markets (same PGP key, different alias)
SHARED_SWEDISH = 7
MIN_SV_LISTINGS = 420
CURRENCY = {SITE_SV: "SEK", SITE_NB: "USD", SITE_SHOP: "SEK"}
SHOP_VENDOR = "tillskott-nordic"


def poisson(r: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= r.random()
        if p <= limit:
            return k
        k += 1


def nice_price(value: float, currency: str) -> float:
    if currency == "SEK":
        step = 10 if value >= 200 else 5
        return float(max(step, round(value / step) * step))
    return float(max(1, round(value)))


class World:
    def __init__(self, config: WorldConfig | None = None) -> None:
        self.config = config or WorldConfig()
        self.seed = self.config.seed
        self.start = date.fromisoformat(self.config.start_date)
        self.day = -self.config.prehistory_days
        self.identities: dict[str, Identity] = {}
        self.vendors: dict[tuple[str, str], Vendor] = {}
        self.listings: dict[tuple[str, str], Listing] = {}
        self.sales: list[Sale] = []
        self.feedback: list[Feedback] = []
        self.pending: list[Feedback] = []
        self.threads: dict[int, Thread] = {}
        self.posts: list[Post] = []
        self.active_log: dict[int, dict[str, dict[str, list[str]]]] = {}
        self.new_swedish_vendor: tuple[str, str] | None = None  # (site, vendor_id)
        self.feedback_p = {
            SITE_SV: catalog.rng(self.seed, "fbp", SITE_SV).uniform(0.65, 0.75),
            SITE_NB: catalog.rng(self.seed, "fbp", SITE_NB).uniform(0.65, 0.75),
        }
        self._keys = list(catalog.key_pool())
        catalog.rng(self.seed, "keys").shuffle(self._keys)
        self._seq = {"sv": 10000, "nb": 1, "fb": 1, "post": 500000, "thread": 70000}
        self._cache: dict[Any, Any] = {}
        self.planted: set[tuple[str, str]] = set()  # (site, id) of hostile vendors, listings, threads
        self.planted_feedback_seq = 0
        self._build()
        if self.config.hostile:
            hostile.plant(self)
        for d in range(-self.config.prehistory_days, 1):
            self.day = d
            self._simulate(d)

    # ---- the ordinary simulation never draws for planted (hostile) entities ----------------------
    def organic_vendors(self) -> list[Vendor]:
        return [v for k, v in self.vendors.items() if k not in self.planted]

    def organic_listings(self) -> list[Listing]:
        return [x for k, x in self.listings.items() if k not in self.planted]

    # ---- dates -------------------------------------------------------------------------------
    def date_of(self, day: int) -> str:
        return (self.start + timedelta(days=day)).isoformat()

    @property
    def today(self) -> str:
        return self.date_of(self.day)

    # ---- construction ------------------------------------------------------------------------
    def _take_key(self, swedish: bool) -> catalog.PgpKey:
        """The next unused key, preferring a Swedish-sounding user id for Swedish identities."""
        if not self._keys:
            raise RuntimeError("PGP key pool exhausted: generate more keys with testbed.tools.genkeys")
        parts = catalog.names()["sv_handle_parts"]
        for i, key in enumerate(self._keys):
            if any(p in key.handle.lower() for p in parts) == swedish:
                return self._keys.pop(i)
        return self._keys.pop(0)

    def _identity(self, swedish: bool, r: random.Random) -> Identity:
        key = self._take_key(swedish)
        tmpl = catalog.text("sv")["contact_templates"]
        contacts = []
        for t in r.sample(tmpl, r.randint(1, 2)):
            contacts.append(
                t.format(handle=catalog.slug(key.handle), hex=catalog.token(self.seed, "sess", key.index, length=64),
                         num=r.randint(10, 99))
            )
        ident = Identity(f"ident-{key.fingerprint[-16:].lower()}", key.fingerprint, key.armored, key.handle,
                         swedish, contacts)
        self.identities[ident.identity_id] = ident
        return ident

    def _alias(self, site: str, base: str) -> str:
        taken = {v.name for v in self.vendors.values() if v.site == site}
        name, n = base, 2
        while name in taken:
            name, n = f"{base}{n}", n + 1
        return name

    def _add_vendor(self, site: str, ident: Identity, name: str, ships_from: str, first_day: int,
                    r: random.Random, n_listings: int, classes: list[str] | None = None) -> Vendor:
        lang = "sv" if site == SITE_SV else "en"
        name = self._alias(site, name)
        vid = catalog.slug(name)
        joined = self.date_of(first_day if first_day > -self.config.prehistory_days else
                              -self.config.prehistory_days - r.randint(20, 700))
        contact = ident.contacts[0] if ident.contacts else "PM"
        profile = r.choice(catalog.text(lang)["vendor_profiles"]).format(
            contact=contact, country=catalog.text("en")["countries"].get(ships_from, ships_from))
        shown_contacts = ident.contacts if (site == SITE_SV or r.random() < 0.5) else []
        vendor = Vendor(site, vid, name, ident.identity_id, ident.swedish, ships_from, first_day, joined,
                        profile, list(shown_contacts), sales_base=r.randint(0, 900) if first_day < 0 else 0)
        self.vendors[(site, vid)] = vendor
        all_classes = list(catalog.classes())
        focus = classes or r.sample(all_classes, r.randint(1, 3))
        for _ in range(n_listings):
            self._add_listing(vendor, r.choice(focus), first_day, r)
        return vendor

    def _add_listing(self, vendor: Vendor, sclass: str, first_day: int, r: random.Random) -> Listing:
        site = vendor.site
        lang = "sv" if site == SITE_SV else "en"
        subs = [s for s in catalog.substances() if s["class"] == sclass]
        sub = r.choice(subs)
        qty = float(r.choice(sub["quantities"]))
        dose = sub.get("dose_mg")
        qty_text = catalog.fmt_qty(qty, sub["unit"], dose, lang)
        street = r.choice(sub[lang])
        txt = catalog.text(lang)
        bulk = 1.0 - 0.35 * min(1.0, math.log10(max(qty, 1)) / 2)
        sek = sub["sek_per_unit"] * qty * bulk * r.uniform(0.85, 1.2)
        currency = CURRENCY[site]
        if currency == "SEK":
            price = nice_price(sek, "SEK")
        else:
            price = nice_price(rates.convert(sek, "SEK", "USD", self.start.isoformat()) * 1.1, "USD")
        if site == SITE_SV:
            self._seq["sv"] += r.randint(1, 7)
            lid = str(self._seq["sv"])
            country = txt["countries_sv"].get(vendor.ships_from, vendor.ships_from)
            middle_key = "description_middles" if vendor.ships_from == "SE" else "description_middles_abroad"
            ships_to = list(r.choice(txt["ships_to_options"]))
            shipping = [(o["label"], float(o["price_sek"])) for o in txt["shipping_options"][: r.randint(1, 4)]]
        else:
            self._seq["nb"] += 1
            lid = f"{(self._seq['nb'] * 2654435761) % 16**6:06x}"
            country = txt["countries"].get(vendor.ships_from, vendor.ships_from)
            middle_key = "description_middles"
            ships_to = list(r.choice(txt["ships_to_options"]))
            shipping = [(o["label"], float(o["price_usd"])) for o in txt["shipping_options"][: r.randint(1, 3)]]
        contact = vendor.contacts[0] if vendor.contacts else "market PM"
        fill = {"name": street, "qty": qty_text, "country": country, "contact": contact}
        title = r.choice(txt["title_templates"]).format(**fill)
        description = " ".join(
            r.choice(txt[k]).format(**fill) for k in ("description_openers", middle_key, "description_closers")
        )
        listing = Listing(
            site, lid, vendor.vendor_id, sub["key"], sub["canonical"], sclass, qty, sub["unit"], dose, qty_text,
            title, description, price, currency, r.randint(5, 120), vendor.ships_from, ships_to, shipping,
            first_day, rate=math.exp(r.gauss(-1.6, 0.8)),
            sold=r.randint(0, 400) if (site == SITE_NB and first_day < 0) else 0,
        )
        self.listings[(site, lid)] = listing
        return listing

    def _build(self) -> None:
        r = catalog.rng(self.seed, "build")
        names = catalog.names()
        sv_alias = list(names["sv_aliases"])
        en_alias = list(names["en_aliases"])
        r.shuffle(sv_alias)
        r.shuffle(en_alias)
        d0 = -self.config.prehistory_days
        classes = list(catalog.classes())
        abroad = ["NL", "DE"]
        for i in range(SV_VENDORS):
            swedish = i < SHARED_SWEDISH or (i >= SHARED and r.random() < 0.85)
            ident = self._identity(swedish, r)
            ships_from = "SE" if swedish else r.choice(abroad)
            focus = [classes[i % len(classes)]] + r.sample(classes, r.randint(0, 2))
            self._add_vendor(SITE_SV, ident, ident.handle, ships_from, d0, r, r.randint(7, 13), focus)
            if i < SHARED:  # the same key, another alias on the international market
                self._add_vendor(SITE_NB, ident, en_alias.pop(), ships_from, d0, r, r.randint(4, 9),
                                 [classes[i % len(classes)]])
        while sum(1 for lst in self.listings.values() if lst.site == SITE_SV) < MIN_SV_LISTINGS:
            vendor = r.choice([v for v in self.vendors.values() if v.site == SITE_SV])
            self._add_listing(vendor, r.choice(classes), d0, r)
        countries = ["NL"] * 6 + ["DE"] * 5 + ["UK"] * 4 + ["US"] * 3 + ["SE"] * 2
        for i in range(NB_VENDORS - SHARED):
            country = r.choice(countries)
            ident = self._identity(country == "SE", r)
            self._add_vendor(SITE_NB, ident, ident.handle, country, d0, r, r.randint(5, 12),
                             [classes[i % len(classes)]] + r.sample(classes, r.randint(0, 2)))
        self._build_shop(d0)
        self._build_forum(d0, r)

    def _build_shop(self, d0: int) -> None:
        shop = catalog.forum_shop()["shop"]
        ident = Identity("ident-shop-tillskott", None, None, shop["name"], True, [])
        self.identities[ident.identity_id] = ident
        self.vendors[(SITE_SHOP, SHOP_VENDOR)] = Vendor(SITE_SHOP, SHOP_VENDOR, shop["name"], ident.identity_id,
                                                        True, "SE", d0, self.date_of(d0), shop["tagline"])
        r = catalog.rng(self.seed, "shop")
        for i, p in enumerate(shop["products"]):
            sub = catalog.substance(p["substance"])
            lid = f"p{101 + i}"
            self.listings[(SITE_SHOP, lid)] = Listing(
                SITE_SHOP, lid, SHOP_VENDOR, sub["key"], sub["canonical"], sub["class"], 0.0, sub["unit"],
                sub.get("dose_mg"), p["qty"], p["name"], shop["payment"], float(p["price_sek"]), "SEK",
                r.randint(10, 80), "SE", ["SE"], [("PostNord", 49.0)], d0, rate=r.uniform(0.2, 1.5))

    def _build_forum(self, d0: int, r: random.Random) -> None:
        fs = catalog.forum_shop()
        for section in fs["forum_sections"]:
            for title in fs["forum_thread_titles"][str(section["id"])]:
                self._new_thread(section["id"], title, d0, r)

    def _new_thread(self, section_id: int, title: str, day: int, r: random.Random,
                    author: str | None = None) -> Thread:
        self._seq["thread"] += r.randint(1, 40)
        sub = r.choice(catalog.substances())
        title = title.format(name=r.choice(sub["sv"]))
        thread = Thread(self._seq["thread"], section_id, title,
                        author or r.choice(catalog.names()["forum_users"]), day)
        self.threads[thread.thread_id] = thread
        return thread

    # ---- simulation --------------------------------------------------------------------------
    def advance(self, days: int = 1) -> None:
        for _ in range(days):
            self.day += 1
            self._simulate(self.day)
        self._cache.clear()

    def _simulate(self, d: int) -> None:
        r = catalog.rng(self.seed, "day", d)
        if d > 0:
            self._churn(d, r)
        if d == self.config.new_swedish_vendor_day:
            self._add_new_swedish_vendor(d)
        if d > -self.config.prehistory_days:
            self._drift(d, r)
        self._sell(d, r)
        self._forum_day(d, r)
        if self.config.hostile:
            hostile.simulate_day(self, d)
        self._log_active(d)
        self._cache.clear()

    def _churn(self, d: int, r: random.Random) -> None:
        names = catalog.names()
        for site, abroad in ((SITE_SV, ["NL", "DE"]), (SITE_NB, ["NL", "DE", "UK", "US"])):
            if r.random() < 0.3:
                ident = self._identity(False, r)
                pool = names["sv_aliases"] if site == SITE_SV else names["en_aliases"]
                name = ident.handle if r.random() < 0.6 else r.choice(pool)
                self._add_vendor(site, ident, name, r.choice(abroad), d, r, r.randint(3, 8))
            if r.random() < 0.12:
                candidates = [v for v in self.organic_vendors() if v.site == site and v.active(d)
                              and v.first_day < d and (site, v.vendor_id) != self.new_swedish_vendor]
                if candidates:
                    gone = r.choice(candidates)
                    gone.left_day = d
                    for lst in self.listings.values():
                        if lst.site == site and lst.vendor_id == gone.vendor_id and lst.last_day is None:
                            lst.last_day = d
        classes = list(catalog.classes())
        for vendor in [v for v in self.organic_vendors() if v.site in (SITE_SV, SITE_NB) and v.active(d)]:
            if r.random() < 0.04:
                self._add_listing(vendor, r.choice(classes), d, r)
        for lst in self.organic_listings():
            if lst.site != SITE_SHOP and lst.active(d) and lst.first_day < d and r.random() < 0.005:
                lst.last_day = d

    def _add_new_swedish_vendor(self, d: int) -> None:
        r = catalog.rng(self.seed, "new-swedish", d)
        ident = self._identity(True, r)
        vendor = self._add_vendor(SITE_SV, ident, ident.handle, "SE", d, r, 6,
                                  ["cannabis", "cocaine", "benzodiazepines"])
        self.new_swedish_vendor = (SITE_SV, vendor.vendor_id)
        fs = catalog.forum_shop()
        thread = self._new_thread(102, "[SE] {name} billigt, skickar brev", d, r, author=vendor.name)
        sub = catalog.substance("cannabis_flower")
        text = fs["vendor_ad_templates"][2].format(name=sub["sv"][0], qty="10 g", price=950,
                                                   contact=ident.contacts[0], vendor=vendor.name)
        self._post(thread, vendor.name, d, 9 * 60 + 5, text, ident.identity_id)

    def _drift(self, d: int, r: random.Random) -> None:
        for lst in self.organic_listings():
            if lst.active(d) and r.random() < 0.08:
                lst.price = nice_price(lst.price * math.exp(r.gauss(0, 0.05)), lst.currency)

    def _sell(self, d: int, r: random.Random) -> None:
        txt = {"sv": catalog.text("sv"), "en": catalog.text("en")}
        buyers = catalog.names()["buyer_names"]
        for lst in self.organic_listings():
            if not lst.active(d):
                continue
            lst.price_by_day[d] = lst.price
            orders = min(poisson(r, lst.rate), lst.stock)
            if orders:
                self.sales.append(Sale(lst.site, lst.listing_id, lst.vendor_id, d, orders, lst.price, lst.currency))
                lst.stock -= orders
                lst.sold += orders
                if lst.site in self.feedback_p:
                    lang = txt["sv" if lst.site == SITE_SV else "en"]
                    for _ in range(orders):
                        if r.random() >= self.feedback_p[lst.site]:
                            continue
                        delay = r.choices([0, 1, 2], [0.5, 0.3, 0.2])[0]
                        rating = r.choices([5, 4, 3, 2, 1], [0.78, 0.12, 0.04, 0.03, 0.03])[0]
                        bucket = "feedback_good" if rating >= 4 else "feedback_mixed" if rating == 3 else "feedback_bad"
                        buyer = r.choice(buyers)
                        self.pending.append(Feedback(lst.site, 0, lst.listing_id, lst.vendor_id, d, d + delay,
                                                     rating, r.choice(lang[bucket]), f"{buyer[0]}***{buyer[-1]}"))
            if lst.stock <= 0 and r.random() < 0.5:
                lst.stock = r.randint(10, 150)
        due = [f for f in self.pending if f.day <= d]
        self.pending = [f for f in self.pending if f.day > d]
        for fb in due:
            fb.feedback_id = self._seq["fb"]
            self._seq["fb"] += 1
            self.feedback.append(fb)

    def _forum_day(self, d: int, r: random.Random) -> None:
        fs = catalog.forum_shop()
        users = catalog.names()["forum_users"]
        sellers = [v for v in self.organic_vendors() if v.site == SITE_SV and v.swedish and v.active(d)]
        threads = [t for t in self.threads.values() if (SITE_FORUM, str(t.thread_id)) not in self.planted]
        if d > -self.config.prehistory_days and r.random() < 0.25:
            section = r.choice(fs["forum_sections"])
            threads.append(self._new_thread(section["id"], r.choice(fs["forum_thread_titles"][str(section["id"])]),
                                            d, r))
        for _ in range(r.randint(6, 14)):
            thread = r.choice(threads)
            minute = r.randint(0, 24 * 60 - 1)
            sub = r.choice(catalog.substances())
            if thread.section_id in (102, 103) and sellers and r.random() < 0.4:
                seller = r.choice(sellers)
                ident = self.identities[seller.identity_id]
                author = seller.name if r.random() < 0.5 else f"{seller.name[:6]}_se"
                text = r.choice(fs["vendor_ad_templates"]).format(
                    name=r.choice(sub["sv"]), qty=catalog.fmt_qty(float(r.choice(sub["quantities"])), sub["unit"],
                                                                  sub.get("dose_mg"), "sv"),
                    price=int(nice_price(sub["sek_per_unit"] * r.choice(sub["quantities"]), "SEK")),
                    contact=r.choice(ident.contacts) if ident.contacts else "PM", vendor=seller.name)
                self._post(thread, author, d, minute, text, ident.identity_id)
            else:
                vendor = r.choice(sellers).name if sellers else "någon"
                text = r.choice(fs["chatter"]).format(vendor=vendor, name=r.choice(sub["sv"]))
                self._post(thread, r.choice(users), d, minute, text)

    def _post(self, thread: Thread, author: str, d: int, minute: int, text: str, ident: str | None = None) -> None:
        self._seq["post"] += 1
        self.posts.append(Post(self._seq["post"], thread.thread_id, author, d, minute, text, ident))

    def _log_active(self, d: int) -> None:
        log: dict[str, dict[str, list[str]]] = {}
        for (site, vid), vendor in self.vendors.items():
            if vendor.active(d):
                log.setdefault(site, {"vendors": [], "listings": []})["vendors"].append(vid)
        for (site, lid), lst in self.listings.items():
            if lst.active(d):
                log.setdefault(site, {"vendors": [], "listings": []})["listings"].append(lid)
        self.active_log[d] = log

    # ---- queries used by the renderers (cached per day) --------------------------------------
    def cached(self, key: Any, build: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def active_vendors(self, site: str) -> list[Vendor]:
        return self.cached(("av", site), lambda: sorted(
            (v for v in self.vendors.values() if v.site == site and v.active(self.day)), key=lambda v: v.name.lower()))

    def active_listings(self, site: str, sclass: str | None = None, vendor_id: str | None = None) -> list[Listing]:
        def build() -> list[Listing]:
            items = [lst for lst in self.listings.values() if lst.site == site and lst.active(self.day)
                     and (sclass is None or lst.sclass == sclass) and (vendor_id is None or lst.vendor_id == vendor_id)]
            return sorted(items, key=lambda lst: (-lst.first_day, lst.listing_id))
        return self.cached(("al", site, sclass, vendor_id), build)

    def vendor_feedback(self, site: str, vendor_id: str) -> list[Feedback]:
        return self.cached(("vf", site, vendor_id), lambda: sorted(
            (f for f in self.feedback if f.site == site and f.vendor_id == vendor_id),
            key=lambda f: -f.feedback_id))

    def listing_feedback(self, site: str, listing_id: str) -> list[Feedback]:
        return self.cached(("lf", site, listing_id), lambda: sorted(
            (f for f in self.feedback if f.site == site and f.listing_id == listing_id),
            key=lambda f: -f.feedback_id))

    def thread_posts(self, thread_id: int) -> list[Post]:
        def build() -> dict[int, list[Post]]:
            out: dict[int, list[Post]] = {}
            for p in self.posts:
                out.setdefault(p.thread_id, []).append(p)
            for lst in out.values():
                lst.sort(key=lambda p: (p.day, p.minute, p.post_id))
            return out
        return self.cached("posts", build).get(thread_id, [])

    def vendor_stats(self, site: str, vendor_id: str) -> tuple[int, float | None]:
        """(sales counter shown, average rating) for a vendor."""
        def build() -> tuple[int, float | None]:
            vendor = self.vendors[(site, vendor_id)]
            fbs = self.vendor_feedback(site, vendor_id)
            sold = vendor.sales_base + sum(s.orders for s in self.sales if s.site == site and s.vendor_id == vendor_id)
            avg = round(sum(f.rating for f in fbs) / len(fbs), 2) if fbs else None
            return sold, avg
        return self.cached(("vs", site, vendor_id), build)
