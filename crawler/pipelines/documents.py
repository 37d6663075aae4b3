"""Item → documents: structural fields from the adapter, enriched by the extractor, normalised
(SEK at the observation date), with stable ids and a pointer to the capture behind each fact."""

from __future__ import annotations

import re
from typing import Any

from crawler.parsing import parse_number
from extractors.base import Extractor, ExtractRequest
from extractors.listing import read_listing
from extractors.normalise import country_code
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
    "btc": "BTC", "mbtc": "MBTC", "xmr": "XMR", "£": "GBP", "gbp": "GBP",
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
    if text:
        low = text.lower()
        for word, code in sorted(_CURRENCY_WORDS.items(), key=lambda kv: -len(kv[0])):
            if word in low:
                return code
    return default


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
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
        native = str(_first(f.get("listing_id"), item["url"]))
        doc_id = Listing.make_id(site, native)
        summary = self._merge_summary(results, ("title", "description"))
        capture_id, sha = self._capture(item)
        price_text = f.get("price")
        price = _float(price_text)
        currency = (f.get("currency") or "").upper() or currency_of(str(price_text or ""), default_cur)
        if price is None and summary.get("price"):
            price, currency = summary["price"].get("amount"), summary["price"].get("currency")
        price_sek = self.rates.convert(price, currency, "SEK", self.as_of) if price is not None and currency else None
        price_eur = self.rates.convert(price, currency, "EUR", self.as_of) if price is not None and currency else None
        reading = read_listing(results, f.get("category"), results.get("category"))
        quantity = reading.quantity or {}
        quantity_g = reading.quantity_g
        units = reading.units
        vendor = f.get("vendor")
        ships_from = self._country(f.get("ships_from")) or summary.get("ships_from")
        ships_to_raw = _as_list(f.get("ships_to"))
        ships_to = [c for c in (self._country(v) for v in ships_to_raw) if c] or (summary.get("ships_to") or [])
        shipping = [{"text": s} for s in _as_list(f.get("shipping"))] or [
            s if isinstance(s, dict) else {"text": s} for s in (summary.get("shipping") or [])
        ]
        listing = Listing(
            id=doc_id,
            site=site,
            listing_id=native,
            url=item["url"],
            title=f.get("title") or "",
            description=f.get("description") or "",
            vendor=vendor,
            vendor_id=Vendor.make_id(site, vendor) if vendor else None,
            category=f.get("category"),
            substance=reading.substance,
            substance_class=reading.substance_class or f.get("substance_class"),
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
            payment=summary.get("payment") or _as_list(f.get("payment")),
            escrow=f.get("escrow"),
            stock=_int(f.get("stock")),
            sold=_int(f.get("sold")),
            feedback_count=_int(f.get("feedback_count")),
            rating=_float(f.get("rating")),
            lang=summary.get("lang"),
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
            sales=_int(f.get("sales")),
            rating=_float(f.get("rating")),
            joined=f.get("joined"),
            ships_from=self._country(f.get("ships_from")) or summary.get("ships_from"),
            profile=f.get("profile") or "",
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
                first_seen=self._first_seen(Post.KIND, doc_id),
                last_seen=self.as_of,
                capture_id=capture_id,
                capture_sha256=sha,
            )
        ]


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
