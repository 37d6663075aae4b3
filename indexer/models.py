"""The data model: every entity Sökhund stores, in one place.

Ids are derived from ``(kind, site, native id)`` so re-indexing the same fact is idempotent.
Every fact carries ``capture_id`` / ``capture_sha256`` pointing at the WARC evidence behind it.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar


def stable_id(kind: str, *parts: object) -> str:
    """Deterministic id: ``kind`` plus a sha1 of the parts (site, native id, …)."""
    raw = "\x1f".join("" if p is None else str(p) for p in parts)
    return f"{kind}-{hashlib.sha1(raw.encode('utf-8')).hexdigest()[:20]}"


@dataclass
class Document:
    """Base for indexed documents. ``KIND`` names the index/table; ``id`` is deterministic."""

    KIND: ClassVar[str] = "document"
    id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Document:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Capture(Document):
    """One HTTP response as evidence: where it is stored (WARC file + offset) and its body hash."""

    KIND: ClassVar[str] = "capture"
    url: str = ""
    site: str = ""
    fetched_at: str = ""  # real wall-clock UTC ISO time of the fetch
    observed_at: str = ""  # the crawl's as-of time (simulated date in the testbed)
    status: int = 0
    sha256: str = ""  # of the payload as served (= the WARC-Payload-Digest)
    warc_file: str = ""  # relative to $SOKHUND_HOME (older data: absolute)
    warc_offset: int = 0
    length: int = 0
    page_type: str | None = None  # listing, vendor, feedback, category, thread, product …
    invalid_kind: str | None = None  # ddos, captcha, login, ban, rate_limit — never indexed as content
    parse_error: str | None = None  # broken HTML, truncated body …
    truncated: bool = False
    screenshot: str | None = None  # PNG evidence for rendered pages (path relative to $SOKHUND_HOME)
    campaign_run: str | None = None
    network: str | None = None  # tor | clearnet: how the page was fetched
    content_encoding: str | None = None  # as served (gzip, br …): the sha256 is of these bytes

    @staticmethod
    def make_id(site: str, url: str, sha256: str, fetched_at: str) -> str:
        return stable_id("cap", site, url, sha256, fetched_at)


@dataclass
class Listing(Document):
    """Latest known state of a listing (one row per site + native listing id)."""

    KIND: ClassVar[str] = "listing"
    site: str = ""
    listing_id: str = ""
    url: str = ""
    title: str = ""
    description: str = ""
    vendor: str | None = None
    vendor_id: str | None = None
    category: str | None = None
    substance: str | None = None
    substance_class: str | None = None
    quantity: float | None = None
    quantity_unit: str | None = None
    quantity_g: float | None = None
    units: float | None = None
    price: float | None = None
    currency: str | None = None
    price_sek: float | None = None
    price_eur: float | None = None
    price_per_g_sek: float | None = None
    price_per_unit_sek: float | None = None
    ships_from: str | None = None
    ships_to: list[str] = field(default_factory=list)
    shipping: list[dict[str, Any]] = field(default_factory=list)
    payment: list[str] = field(default_factory=list)
    escrow: str | None = None  # the site's own payment wording ("Escrow", "FE", "Multisig")
    stock: int | None = None
    sold: int | None = None
    feedback_count: int | None = None
    rating: float | None = None
    lang: str | None = None
    # What real market pages show (issue 15). Structures are plain dicts so both backends store them as is.
    listing_type: str | None = None  # physical | digital
    # [{"name", "price", "currency", "days", "per"}]: one per shipping option the buyer can pick
    shipping_options: list[dict[str, Any]] = field(default_factory=list)
    # [{"min_qty", "max_qty", "price", "currency", "prices"}]: bulk/tier prices per unit from min_qty on
    tier_prices: list[dict[str, Any]] = field(default_factory=list)
    min_order: float | None = None  # smallest quantity one may order
    stock_unlimited: bool | None = None  # "Quantity left: Unlimited" (then stock is None)
    auto_dispatch: bool | None = None  # digital goods sent automatically
    auto_dispatch_stock: int | None = None  # "12 items available for auto-dispatch"
    supports_escrow: bool | None = None
    finalize_early: bool | None = None  # FE / direct pay: the buyer pays before delivery
    expires_at: str | None = None  # "ends in 3 days" as a UTC ISO time; None for "Never"
    prices: list[dict[str, Any]] = field(default_factory=list)  # every [{"amount", "currency"}] shown
    accepted_currencies: list[str] = field(default_factory=list)  # BTC, BCH, XMR, LTC …
    # The site's own exchange rates as it shows them: units of each currency per 1 BTC.
    site_rates: dict[str, float] = field(default_factory=dict)
    rate_source: str | None = None  # "site" when price_sek came from site_rates, "table" from the rates table
    category_path: list[dict[str, Any]] = field(default_factory=list)  # [{"name", "id", "level"}], top first
    category_ids: list[str] = field(default_factory=list)  # the site's ids along the path (filterable)
    # Adapter fields the model has no place for: kept, indexed (extra_text is full text) and searchable.
    extra: dict[str, Any] = field(default_factory=dict)
    extra_text: str = ""
    entities: dict[str, Any] = field(default_factory=dict)  # extractor summary
    first_seen: str = ""
    last_seen: str = ""
    capture_id: str = ""
    capture_sha256: str = ""

    @staticmethod
    def make_id(site: str, listing_id: str) -> str:
        return stable_id("lst", site, listing_id)


@dataclass
class ListingObservation(Document):
    """One crawl's view of a listing: the time series behind prices and turnover."""

    KIND: ClassVar[str] = "listing_observation"
    listing: str = ""  # Listing.id
    site: str = ""
    listing_id: str = ""
    vendor: str | None = None
    vendor_id: str | None = None
    observed_at: str = ""
    run_id: str = ""
    price: float | None = None
    currency: str | None = None
    price_sek: float | None = None
    price_per_g_sek: float | None = None
    price_per_unit_sek: float | None = None  # pills, blotters, pellets: SEK per unit/dose (issue 11)
    quantity_g: float | None = None
    units: float | None = None
    substance: str | None = None
    substance_class: str | None = None
    ships_from: str | None = None
    stock: int | None = None
    sold: int | None = None
    feedback_count: int | None = None
    rating: float | None = None
    # Sales value (SEK) since the previous observation (sold delta or new feedback x price), set by
    # analytics; None when unknown. Summed by the Kibana turnover panel.
    turnover_sek: float | None = None
    capture_id: str = ""
    capture_sha256: str = ""

    @staticmethod
    def make_id(listing: str, run_id: str) -> str:
        # One observation per listing per crawl run: a resumed run never duplicates it.
        return stable_id("lobs", listing, run_id)


@dataclass
class Vendor(Document):
    KIND: ClassVar[str] = "vendor"
    site: str = ""
    name: str = ""
    alias_norm: str = ""
    url: str = ""
    pgp_fingerprints: list[str] = field(default_factory=list)
    pgp_key: str | None = None  # armored public key block as published
    contacts: list[dict[str, str]] = field(default_factory=list)
    crypto_addresses: list[str] = field(default_factory=list)
    level: str | None = None  # vendor level as the site shows it ("Level 5")
    trust_level: str | None = None  # the site's separate trust level ("Trust level 4")
    sales: int | None = None
    orders: int | None = None  # orders as the site counts them, where it shows them apart from sales
    disputes_won: int | None = None
    disputes_lost: int | None = None
    fe_allowed: bool | None = None  # the market lets this vendor take finalize-early orders
    banned: bool | None = None
    last_login: str | None = None  # UTC ISO time
    rating: float | None = None
    joined: str | None = None
    ships_from: str | None = None
    ships_to: list[str] = field(default_factory=list)
    # Ratings the vendor imports from other markets: [{"market", "rating", "sales", "positive", "neutral",
    # "negative"}]. A claim to be the same person elsewhere: identity evidence of its own kind.
    external_ratings: list[dict[str, Any]] = field(default_factory=list)
    site_rates: dict[str, float] = field(default_factory=dict)
    terms: str = ""  # terms and conditions
    profile: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    extra_text: str = ""
    swedish_score: float | None = None
    swedish_signals: list[str] = field(default_factory=list)
    listings: int = 0
    first_seen: str = ""
    last_seen: str = ""
    # First seen on its site's first crawl day (there before we watched, so not "new"); set by the roll-up.
    baseline: bool | None = None
    capture_id: str = ""
    capture_sha256: str = ""

    @staticmethod
    def make_id(site: str, name: str) -> str:
        return stable_id("ven", site, name.casefold())


@dataclass
class VendorObservation(Document):
    KIND: ClassVar[str] = "vendor_observation"
    vendor: str = ""  # Vendor.id
    site: str = ""
    name: str = ""
    observed_at: str = ""
    run_id: str = ""
    sales: int | None = None
    rating: float | None = None
    level: str | None = None
    listings: int | None = None
    swedish_score: float | None = None
    capture_id: str = ""
    capture_sha256: str = ""

    @staticmethod
    def make_id(vendor: str, run_id: str) -> str:
        return stable_id("vobs", vendor, run_id)


@dataclass
class VendorIdentity(Document):
    """Vendors linked across sites, with evidence (strong = shared PGP, medium = contact/address)."""

    KIND: ClassVar[str] = "vendor_identity"
    vendors: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    strength: str = ""  # strong | medium | candidate
    confidence: float = 0.0
    evidence: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Feedback(Document):
    KIND: ClassVar[str] = "feedback"
    site: str = ""
    listing: str | None = None  # Listing.id
    listing_id: str | None = None
    vendor: str | None = None
    vendor_id: str | None = None
    date: str = ""
    rating: float | None = None
    text: str = ""
    buyer: str = ""  # masked as the site shows it (e.g. "a***b")
    extra: dict[str, Any] = field(default_factory=dict)
    extra_text: str = ""
    first_seen: str = ""
    capture_id: str = ""
    capture_sha256: str = ""

    @staticmethod
    def make_id(site: str, listing_id: str | None, date: str, rating: object, text: str, buyer: str) -> str:
        text_hash = hashlib.sha1(text.strip().encode("utf-8")).hexdigest()
        return stable_id("fb", site, listing_id, date, rating, text_hash, buyer)


@dataclass
class Post(Document):
    KIND: ClassVar[str] = "post"
    site: str = ""
    post_id: str = ""
    thread_id: str = ""
    thread_title: str = ""
    section: str = ""
    author: str = ""
    posted_at: str | None = None
    url: str = ""
    text: str = ""
    lang: str | None = None
    entities: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    extra_text: str = ""
    first_seen: str = ""
    last_seen: str = ""
    capture_id: str = ""
    capture_sha256: str = ""

    @staticmethod
    def make_id(site: str, post_id: str) -> str:
        return stable_id("post", site, post_id)


@dataclass
class Alert(Document):
    KIND: ClassVar[str] = "alert"
    rule: str = ""
    entity: str = ""  # id of the vendor/listing/post that fired it
    entity_kind: str = ""
    fired_at: str = ""
    title: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    evidence: list[dict[str, Any]] = field(default_factory=list)  # captures: id + sha256
    acknowledged: bool = False
    campaign_run: str | None = None

    @staticmethod
    def make_id(rule: str, entity: str) -> str:
        # Fires once per (rule, entity).
        return stable_id("alert", rule, entity)


@dataclass
class CampaignRun(Document):
    KIND: ClassVar[str] = "campaign_run"
    campaign: str = ""
    started_at: str = ""
    finished_at: str | None = None
    as_of: str | None = None
    status: str = "running"  # running | ok | failed
    error: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)


ALL_KINDS: dict[str, type[Document]] = {
    cls.KIND: cls
    for cls in (
        Capture,
        Listing,
        ListingObservation,
        Vendor,
        VendorObservation,
        VendorIdentity,
        Feedback,
        Post,
        Alert,
        CampaignRun,
    )
}
