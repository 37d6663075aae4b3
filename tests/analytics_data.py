"""Synthetic index documents for the analytics tests, built from the data model (indexer.models)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from extractors.rates import RateTable
from indexer.models import Feedback, Listing, ListingObservation, Vendor
from indexer.sqlite import SQLiteBackend

START = date(2026, 9, 1)


def day(n: int) -> str:
    """ISO date of simulated day ``n`` (day 1 = 2026-09-01)."""
    return (START + timedelta(days=n - 1)).isoformat()


def at(n: int) -> str:
    return f"{day(n)}T12:00:00+00:00"


def rates(usd: dict[int, float] | None = None, days: int = 60) -> RateTable:
    """A rate table with USD = 10 SEK every day unless ``usd`` says otherwise for a day."""
    table: dict[tuple[str, str], float] = {}
    for n in range(1, days + 1):
        table[(day(n), "USD")] = (usd or {}).get(n, 10.0)
        table[(day(n), "EUR")] = 11.0
    return RateTable(table)


def backend(tmp_path: Path) -> SQLiteBackend:
    return SQLiteBackend(tmp_path / "index.sqlite")


def listing(site: str, lid: str, vendor: str, *, price: float, currency: str, n_first: int = 1, n_last: int = 1,
            substance_class: str = "stimulants", ships_from: str = "SE", sold: int | None = None,
            **extra: Any) -> Listing:
    return Listing(
        id=Listing.make_id(site, lid), site=site, listing_id=lid, url=f"http://127.0.0.1/{site}/{lid}",
        title=extra.pop("title", f"{substance_class} {lid}"), description=extra.pop("description", ""),
        vendor=vendor, vendor_id=Vendor.make_id(site, vendor), substance=extra.pop("substance", substance_class),
        substance_class=substance_class, price=price, currency=currency, ships_from=ships_from,
        first_seen=at(n_first), last_seen=at(n_last), sold=sold, capture_id=f"cap-{site}-{lid}",
        capture_sha256="ab" * 32, **extra,
    )


def observation(lst: Listing, n: int, *, price: float | None = None, sold: int | None = None,
                price_sek: float | None = None, price_per_g_sek: float | None = None) -> ListingObservation:
    run = f"run-{day(n)}"
    return ListingObservation(
        id=ListingObservation.make_id(lst.id, run), listing=lst.id, site=lst.site, listing_id=lst.listing_id,
        vendor=lst.vendor, vendor_id=lst.vendor_id, observed_at=at(n), run_id=run,
        price=lst.price if price is None else price, currency=lst.currency, price_sek=price_sek,
        price_per_g_sek=price_per_g_sek, substance=lst.substance, substance_class=lst.substance_class,
        ships_from=lst.ships_from, sold=sold, capture_id=f"cap-{lst.listing_id}-{n}", capture_sha256="cd" * 32,
    )


def feedback(lst: Listing, date_text: str, *, rating: float = 5.0, text: str = "bra grejer", buyer: str = "a***b",
             seen: int = 1) -> Feedback:
    return Feedback(
        id=Feedback.make_id(lst.site, lst.listing_id, date_text, rating, text, buyer), site=lst.site,
        listing=lst.id, listing_id=lst.listing_id, vendor=lst.vendor, vendor_id=lst.vendor_id, date=date_text,
        rating=rating, text=text, buyer=buyer, first_seen=at(seen), capture_id=f"cap-fb-{seen}",
        capture_sha256="ef" * 32,
    )


def vendor(site: str, name: str, *, fingerprints: list[str] | None = None, contacts: list[dict[str, str]] | None = None,
           addresses: list[str] | None = None, profile: str = "", first: int = 1, last: int = 1,
           **extra: Any) -> Vendor:
    return Vendor(
        id=Vendor.make_id(site, name), site=site, name=name, alias_norm=name.casefold(),
        pgp_fingerprints=fingerprints or [], contacts=contacts or [], crypto_addresses=addresses or [],
        profile=profile, first_seen=at(first), last_seen=at(last), capture_id=f"cap-v-{site}-{name}",
        capture_sha256="12" * 32, **extra,
    )
