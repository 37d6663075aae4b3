"""Item → documents: structural fields from the adapter, enriched by the extractor, normalised
(SEK at the observation date), with stable ids and a pointer to the capture behind each fact."""

from __future__ import annotations

import re
from dataclasses import fields as dataclass_fields
from typing import Any
from urllib.parse import urljoin

from crawler.parsing import parse_number
from extractors import structures
from extractors.base import Extractor, ExtractRequest
from extractors.listing import read_listing
from extractors.normalise import country_code, parse_price
from extractors.pgp import find_keys
from extractors.rates import RateTable
from extractors.text import normalise_alias
from indexer.models import (
    Capture,
    Document,
    Feedback,
    Listing,
    ListingObservation,
    Post,
    Vendor,
    VendorObservation,
)

_CURRENCY_WORDS = {
    "kr": "SEK", "sek": "SEK", ":-": "SEK", "$": "USD", "usd": "USD", "€": "EUR", "eur": "EUR",
    "btc": "BTC", "mbtc": "MBTC", "xmr": "XMR", "£": "GBP", "gbp": "GBP", "฿": "BTC", "ƀ": "BTC", "₿": "BTC",
    "ɱ": "XMR", "bch": "BCH", "ltc": "LTC",
}


# The texts of each item type that go through the extractor, as (field, extractor kind): only those whose
# results a handler below reads (a feedback comment's entities are never used, so it is not extracted).
EXTRACTED_SLOTS: dict[str, tuple[tuple[str, str], ...]] = {
    "listing": (("title", "title"), ("description", "description"), ("quantity", "title"), ("category", "title")),
    "vendor": (("profile", "profile"),),
    "post": (("text", "post"),),
}
EXTRACTED_SLOTS["product"] = EXTRACTED_SLOTS["listing"]


def _first(*values: Any) -> Any:
    for value in values:
        if value not in (None, "", []):
            return value
    return None


def _int(value: Any) -> int | None:
    number = value if isinstance(value, int | float) else parse_number(str(value)) if value is not None else None
    return int(number) if number is not None else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else parse_number(str(value)) if value is not None else None


def currency_of(text: str | None, default: str | None) -> str | None:
    """The currency of the leading price ('฿0.000787 (€7.28)' is BTC), else the first currency word or sign
    in the text, else ``default``."""
    if text:
        first = parse_price(text)
        if first is not None:
            return first.currency.upper()
        low = text.lower()
        hits = [(low.find(word), -len(word), code) for word, code in _CURRENCY_WORDS.items() if word in low]
        if hits:
            return min(hits)[2]
    return default


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):  # a list field keeps None where a row had no value: not an entry
        return [v for v in value if v not in (None, "")]
    return [v.strip() for v in re.split(r"[,;/]| och | and ", str(value)) if v.strip()]


class DocumentBuilder:
    def __init__(self, extractor: Extractor, rates: RateTable, run_id: str, as_of: str, lookup: Any) -> None:
        self.extractor = extractor
        self.rates = rates
        self.run_id = run_id
        self.as_of = as_of
        self.lookup = lookup  # (kind, id) -> existing doc dict or None, to keep first_seen
        self._countries = _country_normaliser()

    def build(self, items: list[dict[str, Any]], default_currency: dict[str, str | None], langs: dict[str, str],
              cache: Any = None) -> list[Document]:
        """Documents of a batch of items; ``cache`` (extractors.cache.ExtractCache) skips texts extracted
        before."""
        requests: list[ExtractRequest] = []
        slots: list[tuple[int, str]] = []
        date = self.as_of[:10]
        for index, item in enumerate(items):
            fields = item["fields"]
            lang = langs.get(item["site"])
            category = fields.get("category") if isinstance(fields.get("category"), str) else None
            for key, kind in EXTRACTED_SLOTS.get(item.get("type"), ()):
                text = fields.get(key)
                if key == "profile" and fields.get("contacts"):
                    # the profile's contact list ("Wickr: name") is read together with the profile text
                    text = "\n".join([text or "", *map(str, _as_list(fields["contacts"]))])
                if isinstance(text, str) and text.strip():
                    requests.append(ExtractRequest(text=text, lang=lang, date=date, kind=kind,
                                                   category=category if key != "category" else None))
                    slots.append((index, key))
        results: list[dict[str, Any]] = []
        if requests:
            results = self.extractor.extract(requests, cache=cache) if cache is not None else \
                self.extractor.extract(requests)
        extracted: dict[int, dict[str, dict[str, Any]]] = {}
        for (index, key), result in zip(slots, results, strict=True):
            extracted.setdefault(index, {})[key] = result
        docs: list[Document] = []
        for index, item in enumerate(items):
            handler = getattr(self, f"_{item['type']}", None)
            if handler is not None:
                docs.extend(handler(item, extracted.get(index, {}), default_currency.get(item["site"])))
        return docs

    # -- helpers ----------------------------------------------------------------------------------
    def _capture(self, item: dict[str, Any]) -> tuple[str, str]:
        capture: Capture | None = item.get("capture")
        return (capture.id, capture.sha256) if capture else ("", "")

    def _to_sek_eur(self, price: float | None, currency: str | None,
                    site: dict[str, float]) -> tuple[float | None, float | None, str | None]:
        """SEK and EUR values: with the site's own rates when it shows both currencies (what the buyer
        paid), else with the rates table at the observation date."""
        if price is None or not currency:
            return None, None, None
        if site and currency in site | {"BTC": 1.0}:
            sek = structures.convert_with_site_rates(price, currency, "SEK", site)
            eur = structures.convert_with_site_rates(price, currency, "EUR", site)
            if sek is not None:
                return sek, eur if eur is not None else self.rates.convert(price, currency, "EUR", self.as_of), "site"
        sek = self.rates.convert(price, currency, "SEK", self.as_of)
        eur = self.rates.convert(price, currency, "EUR", self.as_of)
        return sek, eur, "table" if sek is not None else None

    def _first_seen(self, kind: str, doc_id: str) -> str:
        existing = self.lookup(kind, doc_id)
        return (existing or {}).get("first_seen") or self.as_of

    def _country(self, value: Any) -> str | None:
        return self._countries(str(value)) if value else None

    @staticmethod
    def _merge_summary(results: dict[str, dict[str, Any]], order: tuple[str, ...]) -> dict[str, Any]:
        summary: dict[str, Any] = {}
        for key in order:
            for name, value in (results.get(key, {}).get("summary") or {}).items():
                if summary.get(name) in (None, [], "") and value not in (None, [], ""):
                    summary[name] = value
        langs = [results[k].get("lang") for k in order if k in results and results[k].get("lang")]
        summary["lang"] = langs[0] if langs else None
        return summary

    # -- item types ---------------------------------------------------------------------------------
    def _listing(self, item: dict[str, Any], results: dict[str, dict[str, Any]], default_cur: str | None) -> list[Document]:
        f = item["fields"]
        site = item["site"]
        # A row of a search or category page declares its own product link (`url`); a row without one
        # (a banner, an ad, the header row) is page furniture, not a listing.
        row_url = urljoin(item["url"], str(f["url"])) if f.get("url") else None
        if "url" in f and not row_url and not f.get("listing_id"):
            return []
        native = str(_first(f.get("listing_id"), row_url, item["url"]))
        doc_id = Listing.make_id(site, native)
        summary = self._merge_summary(results, ("title", "description"))
        capture_id, sha = self._capture(item)
        price_text = f.get("price")
        shown = _prices(f, default_cur)
        price = _float(price_text)
        currency = (f.get("currency") or "").upper() or currency_of(str(price_text or ""), default_cur)
        if isinstance(price_text, str) and shown and price_text.strip() and not f.get("currency"):
            # "฿0.000787 (€7.28)": the first (amount, currency) the price field shows
            first = structures.currency_amounts(price_text, default_cur)
            if first:
                price, currency = first[0]["amount"], first[0]["currency"]
        if price is None and summary.get("price"):
            price, currency = summary["price"].get("amount"), summary["price"].get("currency")
        rates = structures.site_rates(f.get("site_rates")) if f.get("site_rates") else {}
        price_sek, price_eur, rate_source = self._to_sek_eur(price, currency, rates)
        reading = read_listing(results, f.get("category"), results.get("category"))
        quantity = reading.quantity or {}
        quantity_g = reading.quantity_g
        units = reading.units
        vendor = f.get("vendor")
        ships_from = self._country(f.get("ships_from")) or summary.get("ships_from")
        ships_to_raw = _as_list(f.get("ships_to"))
        ships_to = [c for c in (self._country(v) for v in ships_to_raw) if c] or (summary.get("ships_to") or [])
        category_names = f.get("category_names")
        path = structures.category_path(category_names if isinstance(category_names, list) else _as_list(category_names),
                                        f.get("category_ids") or [])
        stock_text = f.get("stock")
        unlimited = structures.flag(stock_text, yes=("unlimited", "obegränsat", "∞")) if isinstance(stock_text, str) else None
        escrow_text = f.get("escrow")
        shipping = [{"text": s} for s in _as_list(f.get("shipping"))] or [
            s if isinstance(s, dict) else {"text": s} for s in (summary.get("shipping") or [])
        ]
        listing = Listing(
            id=doc_id,
            site=site,
            listing_id=native,
            url=row_url or item["url"],
            title=f.get("title") or "",
            description=f.get("description") or "",
            vendor=vendor,
            vendor_id=Vendor.make_id(site, vendor) if vendor else None,
            category=f.get("category") or (path[-1]["name"] if path else None),
            substance=reading.substance,
            substance_class=f.get("substance_class") or reading.substance_class,
            quantity=quantity.get("value"),
            quantity_unit=quantity.get("unit"),
            quantity_g=quantity_g,
            units=units,
            price=price,
            currency=currency,
            price_sek=round(price_sek, 2) if price_sek is not None else None,
            price_eur=round(price_eur, 2) if price_eur is not None else None,
            price_per_g_sek=round(price_sek, 2) if price_sek and f.get("price_per") == "g" else reading.per_g(price_sek),
            price_per_unit_sek=round(price_sek, 2) if price_sek and f.get("price_per") == "unit" else reading.per_unit(price_sek),
            ships_from=ships_from,
            ships_to=ships_to,
            shipping=shipping,
            # the page's own field is the fact; words in the description only fill a page without one
            payment=_as_list(f.get("payment")) or summary.get("payment") or [],
            escrow=escrow_text if isinstance(escrow_text, str) else None,
            stock=None if unlimited else _int(stock_text),
            sold=_int(f.get("sold")),
            feedback_count=_int(f.get("feedback_count")),
            rating=_float(f.get("rating")),
            lang=summary.get("lang"),
            listing_type=structures.listing_type(f.get("listing_type")),
            shipping_options=[o for o in (structures.shipping_option(t, default_cur) for t in _texts(f.get("shipping_options"))) if o],
            tier_prices=[t for t in (structures.tier_price(x, default_cur) for x in _texts(f.get("tier_prices"))) if t],
            min_order=_float(f.get("min_order")),
            stock_unlimited=unlimited if unlimited is not None else (False if _int(stock_text) is not None else None),
            auto_dispatch=structures.flag(f.get("auto_dispatch")) if f.get("auto_dispatch") is not None
            else (True if _int(f.get("auto_dispatch_stock")) else None),
            auto_dispatch_stock=_int(f.get("auto_dispatch_stock")),
            supports_escrow=_escrow_flag(f.get("supports_escrow", escrow_text)),
            finalize_early=_fe_flag(f.get("finalize_early", escrow_text)),
            expires_at=structures.expires_at(f.get("expires_at") or f.get("ends_in"), self.as_of),
            prices=shown,
            accepted_currencies=[c.upper() for c in _texts(f.get("accepted_currencies"))],
            site_rates=rates,
            rate_source=rate_source,
            category_path=path,
            category_ids=[p["id"] for p in path if p.get("id")],
            extra=(extra := _extra(f, LISTING_INPUTS)),
            extra_text=_extra_text(extra),
            entities={k: v for k, v in summary.items() if v not in (None, [], "")},
            first_seen=self._first_seen(Listing.KIND, doc_id),
            last_seen=self.as_of,
            capture_id=capture_id,
            capture_sha256=sha,
        )
        observation = ListingObservation(
            id=ListingObservation.make_id(doc_id, self.run_id),
            listing=doc_id,
            site=site,
            listing_id=native,
            vendor=vendor,
            vendor_id=listing.vendor_id,
            observed_at=self.as_of,
            run_id=self.run_id,
            price=price,
            currency=currency,
            price_sek=listing.price_sek,
            price_per_g_sek=listing.price_per_g_sek,
            price_per_unit_sek=listing.price_per_unit_sek,
            quantity_g=quantity_g,
            units=units,
            substance=listing.substance,
            substance_class=listing.substance_class,
            ships_from=ships_from,
            stock=listing.stock,
            sold=listing.sold,
            feedback_count=listing.feedback_count,
            rating=listing.rating,
            capture_id=capture_id,
            capture_sha256=sha,
        )
        # after the observation: it records what this page showed, the listing what is known
        _keep_unobserved(listing, self.lookup(Listing.KIND, doc_id), f, LISTING_SOURCES)
        return [listing, observation]

    _product = _listing

    def _vendor(self, item: dict[str, Any], results: dict[str, dict[str, Any]], default_cur: str | None) -> list[Document]:
        f = item["fields"]
        site = item["site"]
        name = f.get("name")
        if not name:
            return []
        doc_id = Vendor.make_id(site, name)
        summary = self._merge_summary(results, ("profile",))
        capture_id, sha = self._capture(item)
        fingerprints, key_block = _pgp(f.get("pgp_key"))
        contacts = summary.get("contacts") or []
        labels = _texts(f.get("external_rating_labels"))
        external = [r for r in (structures.external_rating(t, labels[i] if i < len(labels) else None)
                                for i, t in enumerate(_texts(f.get("external_ratings")))) if r]
        banned = f.get("banned")
        vendor = Vendor(
            id=doc_id,
            site=site,
            name=name,
            alias_norm=_alias_norm(name),
            url=item["url"],
            pgp_fingerprints=fingerprints or (summary.get("pgp_fingerprints") or []),
            pgp_key=key_block,
            contacts=contacts,
            crypto_addresses=summary.get("crypto_addresses") or [],
            level=f.get("level"),
            trust_level=f.get("trust_level"),
            sales=_int(f.get("sales")),
            orders=_int(f.get("orders")),
            disputes_won=_int(f.get("disputes_won")),
            disputes_lost=_int(f.get("disputes_lost")),
            fe_allowed=structures.flag(f.get("fe_allowed")),
            # a declared `banned` field that finds no marker means "not banned"
            banned=(structures.flag(banned, yes=("banned", "avstängd")) or False) if "banned" in f else None,
            last_login=f.get("last_login"),
            rating=_float(f.get("rating")),
            joined=f.get("joined"),
            ships_from=self._country(f.get("ships_from")) or summary.get("ships_from"),
            ships_to=[c for c in (self._country(v) for v in _as_list(f.get("ships_to"))) if c],
            external_ratings=external,
            site_rates=structures.site_rates(f.get("site_rates")) if f.get("site_rates") else {},
            terms=f.get("terms") or "",
            profile=f.get("profile") or "",
            extra=(extra := _extra(f, VENDOR_INPUTS)),
            extra_text=_extra_text(extra),
            swedish_score=summary.get("swedish_score"),
            swedish_signals=[_signal_text(x) for x in summary.get("swedish_signals") or []],
            first_seen=self._first_seen(Vendor.KIND, doc_id),
            last_seen=self.as_of,
            capture_id=capture_id,
            capture_sha256=sha,
        )
        observation = VendorObservation(
            id=VendorObservation.make_id(doc_id, self.run_id),
            vendor=doc_id,
            site=site,
            name=name,
            observed_at=self.as_of,
            run_id=self.run_id,
            sales=vendor.sales,
            rating=vendor.rating,
            level=vendor.level,
            swedish_score=vendor.swedish_score,
            capture_id=capture_id,
            capture_sha256=sha,
        )
        _keep_unobserved(vendor, self.lookup(Vendor.KIND, doc_id), f, VENDOR_SOURCES)
        return [vendor, observation]

    def _feedback(self, item: dict[str, Any], results: dict[str, dict[str, Any]], default_cur: str | None) -> list[Document]:
        f = item["fields"]
        site = item["site"]
        listing_id = f.get("listing_id")
        text = f.get("text") or ""
        date = f.get("date") or ""
        rating = _float(f.get("rating"))
        buyer = f.get("buyer") or ""
        doc_id = Feedback.make_id(site, listing_id, date, rating, text, buyer)
        capture_id, sha = self._capture(item)
        vendor = f.get("vendor")
        if not vendor and listing_id:  # an adapter without the page's vendor: the listing's, if indexed
            vendor = (self.lookup(Listing.KIND, Listing.make_id(site, str(listing_id))) or {}).get("vendor")
        existing = self.lookup(Feedback.KIND, doc_id)
        return [
            Feedback(
                id=doc_id,
                site=site,
                listing=Listing.make_id(site, str(listing_id)) if listing_id else None,
                listing_id=str(listing_id) if listing_id else None,
                vendor=vendor,
                vendor_id=Vendor.make_id(site, vendor) if vendor else None,
                date=date,
                rating=rating,
                text=text,
                buyer=buyer,
                extra=(extra := _extra(f, FEEDBACK_INPUTS)),
                extra_text=_extra_text(extra),
                first_seen=(existing or {}).get("first_seen") or self.as_of,
                capture_id=(existing or {}).get("capture_id") or capture_id,
                capture_sha256=(existing or {}).get("capture_sha256") or sha,
            )
        ]

    def _post(self, item: dict[str, Any], results: dict[str, dict[str, Any]], default_cur: str | None) -> list[Document]:
        f = item["fields"]
        site = item["site"]
        native = str(_first(f.get("post_id"), item["url"]))
        doc_id = Post.make_id(site, native)
        summary = self._merge_summary(results, ("text",))
        capture_id, sha = self._capture(item)
        return [
            Post(
                id=doc_id,
                site=site,
                post_id=native,
                thread_id=str(f.get("thread_id") or ""),
                thread_title=f.get("thread_title") or "",
                section=f.get("section") or "",
                author=f.get("author") or "",
                posted_at=f.get("posted_at"),
                url=item["url"],
                text=f.get("text") or "",
                lang=summary.get("lang"),
                entities={k: v for k, v in summary.items() if v not in (None, [], "")},
                extra=(extra := _extra(f, POST_INPUTS)),
                extra_text=_extra_text(extra),
                first_seen=self._first_seen(Post.KIND, doc_id),
                last_seen=self.as_of,
                capture_id=capture_id,
                capture_sha256=sha,
            )
        ]


# The adapter fields each item kind reads. Any other field is kept in the document's ``extra`` map
# (indexed, searchable): nothing an adapter extracts is dropped silently.
LISTING_INPUTS = frozenset({
    "listing_id", "url", "title", "description", "vendor", "category", "substance_class", "quantity", "price",
    "currency", "price_per", "ships_from", "ships_to", "shipping", "payment", "escrow", "stock", "sold",
    "feedback_count", "rating", "listing_type", "shipping_options", "tier_prices", "min_order", "auto_dispatch",
    "auto_dispatch_stock", "supports_escrow", "finalize_early", "ends_in", "expires_at", "prices",
    "accepted_currencies", "site_rates", "category_names", "category_ids",
})
VENDOR_INPUTS = frozenset({
    "name", "pgp_key", "contacts", "level", "trust_level", "sales", "orders", "disputes_won", "disputes_lost",
    "fe_allowed", "banned", "last_login", "rating", "joined", "ships_from", "ships_to", "external_ratings",
    "external_rating_labels", "site_rates", "terms", "profile",
})
FEEDBACK_INPUTS = frozenset({"listing_id", "text", "date", "rating", "buyer", "vendor"})
POST_INPUTS = frozenset({"post_id", "thread_id", "thread_title", "section", "author", "posted_at", "text"})
# Read by the builder for another purpose than a stored field of the same name (ids, links).
_STRUCTURAL = frozenset({"vendor_id", "vendor_url"})


# Merge rule. A page that does not declare a field did not observe it: a search row has no description
# or shipping options, a vendor's ratings tab no PGP key. Such a field keeps its stored value; a field the
# page declares and finds empty does overwrite (stock sold out, a key withdrawn). These are the adapter
# fields each stored field comes from (default: the field of the same name); fields the NLP reads from the
# free text are observed whenever the page declares the text they are read from.
_TEXT = ("title", "description")
LISTING_SOURCES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("currency", "price_sek", "price_eur", "price_per_g_sek", "price_per_unit_sek", "rate_source",
                     "prices"), ("price", "prices", "currency")),
    **dict.fromkeys(("substance", "quantity", "quantity_unit", "quantity_g", "units", "lang", "entities"), _TEXT),
    "substance_class": ("substance_class", *_TEXT), "shipping": ("shipping", "description"),
    "payment": ("payment", "description"), "ships_from": ("ships_from", "description"),
    "ships_to": ("ships_to", "description"), "category": ("category", "category_names"),
    "category_path": ("category_names", "category_ids"), "category_ids": ("category_names", "category_ids"),
    "stock_unlimited": ("stock",), "auto_dispatch": ("auto_dispatch", "auto_dispatch_stock"),
    "supports_escrow": ("escrow", "supports_escrow"), "finalize_early": ("escrow", "finalize_early"),
    "expires_at": ("expires_at", "ends_in"), "vendor_id": ("vendor",),
    # the extra map is only replaced by a page that shows the whole listing
    "extra": ("description",), "extra_text": ("description",),
}
VENDOR_SOURCES: dict[str, tuple[str, ...]] = {
    "pgp_fingerprints": ("pgp_key", "profile"), "contacts": ("contacts", "profile", "pgp_key"),
    "crypto_addresses": ("profile", "terms"), "external_ratings": ("external_ratings",),
    "swedish_score": ("profile", "terms"), "swedish_signals": ("profile", "terms"),
    "alias_norm": ("name",), "extra": ("profile", "pgp_key"), "extra_text": ("profile", "pgp_key"),
}
_ALWAYS_NEW = frozenset({"id", "site", "url", "first_seen", "last_seen", "capture_id", "capture_sha256", "listings"})


def _keep_unobserved(doc: Document, existing: dict[str, Any] | None, declared: dict[str, Any],
                     sources: dict[str, tuple[str, ...]]) -> None:
    """Fill the fields this page did not observe from the stored document (see the merge rule above)."""
    if not existing:
        return
    partial_extra = not any(src in declared for src in sources.get("extra", ()))
    if partial_extra and isinstance(existing.get("extra"), dict) and getattr(doc, "extra", None):
        # a row's own extra fields (views, sticky) join the full page's, key by key
        doc.extra = {**existing["extra"], **doc.extra}  # type: ignore[attr-defined]
        doc.extra_text = _extra_text(doc.extra)  # type: ignore[attr-defined]
    for field in dataclass_fields(doc):
        name = field.name
        if name in _ALWAYS_NEW or getattr(doc, name) not in (None, "", [], {}):
            continue
        if any(src in declared for src in sources.get(name, (name,))):
            continue
        if existing.get(name) not in (None, "", [], {}):
            setattr(doc, name, existing[name])


def _extra(fields: dict[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """The adapter fields this item kind has no place for (``price_xmr`` goes to ``prices`` instead)."""
    return {k: v for k, v in fields.items()
            if k not in known and k not in _STRUCTURAL and not _PRICE_FIELD.match(k) and v not in (None, "", [])}


def _extra_text(extra: dict[str, Any]) -> str:
    """'key words: value' lines, so the extra fields are found by full-text search on both backends. The
    key's underscores become spaces: the query parser splits ``origin_region`` into a phrase of two words,
    and Elasticsearch's standard tokenizer would keep an underscored key as one token nobody can find."""
    lines = []
    for key, value in extra.items():
        shown = "; ".join(map(str, value)) if isinstance(value, list) else str(value)
        lines.append(f"{key.replace('_', ' ')}: {shown}")
    return "\n".join(lines)


_PRICE_FIELD = re.compile(r"^price_(btc|bch|xmr|ltc|eth|usd|eur|sek|gbp)$")


def _prices(fields: dict[str, Any], default_cur: str | None) -> list[dict[str, Any]]:
    """Every (amount, currency) the listing shows: the price field, a ``prices`` field and ``price_<cur>``
    fields (``price_xmr: 1.2``), without repeats."""
    out: list[dict[str, Any]] = []
    for key in ("price", "prices"):
        for text in _texts(fields.get(key)):
            out += structures.currency_amounts(text, default_cur if key == "price" else None)
    for key, value in fields.items():
        m = _PRICE_FIELD.match(key)
        if m and value not in (None, ""):
            amount = _float(value)
            if amount is not None:
                out.append({"amount": amount, "currency": m.group(1).upper()})
    unique: list[dict[str, Any]] = []
    for p in out:
        if p not in unique:
            unique.append(p)
    return unique


def _texts(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v) for v in value if v not in (None, "")]
    return [str(value)]


def _escrow_flag(value: Any) -> bool | None:
    return structures.flag(value, yes=("escrow", "multisig"), no=("direct", "fe", "finalize early", "finalize"))


def _fe_flag(value: Any) -> bool | None:
    if value is None:
        return None
    low = str(value).strip().lower()
    if re.search(r"\b(fe|finali[sz]e early|direct|100% fe)\b", low):
        return True
    if re.search(r"escrow|multisig", low) or low in ("no", "nej", "false"):
        return False
    return structures.flag(value)


def _signal_text(signal: Any) -> str:
    """A Swedish-score signal as the readable string the data model stores ("swish: Swish")."""
    if isinstance(signal, dict):
        name = signal.get("signal") or signal.get("name") or "signal"
        evidence = signal.get("evidence")
        return f"{name}: {evidence}" if evidence else str(name)
    return str(signal)


def _alias_norm(name: str) -> str:
    return normalise_alias(name)


def _pgp(block: Any) -> tuple[list[str], str | None]:
    """Full fingerprints (primary and subkeys) of the armored key blocks published on a profile."""
    if not block or "BEGIN PGP PUBLIC KEY BLOCK" not in str(block):
        return [], None
    text = str(block)
    fingerprints: list[str] = []
    for _start, _end, key, _error in find_keys(text):
        if key:
            fingerprints += [key["fingerprint"], *key["subkeys"]]
    return list(dict.fromkeys(fingerprints)), text


def _country_normaliser() -> Any:
    return country_code
