"""Entities of the simulated world (plain dataclasses; the world owns and mutates them)."""

from __future__ import annotations

from dataclasses import dataclass, field

SITE_SV = "flugsvamp"
SITE_NB = "nordbazaar"
SITE_FORUM = "snackis"
SITE_SHOP = "tillskott"
SITES = (SITE_SV, SITE_NB, SITE_FORUM, SITE_SHOP)


@dataclass
class WorldConfig:
    seed: int = 7
    start_date: str = "2026-09-01"
    new_swedish_vendor_day: int = 3
    prehistory_days: int = 30  # simulated history before day 0 (feedback, posts, counters)
    hostile: bool = True  # plant the hostile strings of testbed/data/hostile.yaml (testbed.hostile)


@dataclass
class Identity:
    identity_id: str
    fingerprint: str | None
    armored: str | None
    handle: str
    swedish: bool
    contacts: list[str] = field(default_factory=list)


@dataclass
class Vendor:
    site: str
    vendor_id: str  # url slug, unique per site
    name: str
    identity_id: str
    swedish: bool
    ships_from: str
    first_day: int
    joined_date: str  # shown on the profile (may be before the simulation)
    profile: str
    contacts: list[str] = field(default_factory=list)
    left_day: int | None = None
    sales_base: int = 0

    def active(self, day: int) -> bool:
        return self.first_day <= day and (self.left_day is None or day < self.left_day)


@dataclass
class Listing:
    site: str
    listing_id: str
    vendor_id: str
    substance_key: str
    canonical: str
    sclass: str
    qty: float
    unit: str
    dose_mg: float | None
    qty_text: str
    title: str
    description: str
    price: float
    currency: str
    stock: int
    ships_from: str
    ships_to: list[str]
    shipping: list[tuple[str, float]]
    first_day: int
    rate: float  # expected orders per day
    sold: int = 0  # public counter (base + simulated sales)
    last_day: int | None = None  # first day it is gone
    price_by_day: dict[int, float] = field(default_factory=dict)

    def active(self, day: int) -> bool:
        return self.first_day <= day and (self.last_day is None or day < self.last_day)


@dataclass
class Sale:
    site: str
    listing_id: str
    vendor_id: str
    day: int
    orders: int
    unit_price: float
    currency: str


@dataclass
class Feedback:
    site: str
    feedback_id: int
    listing_id: str
    vendor_id: str
    sale_day: int
    day: int
    rating: int
    text: str
    buyer: str


@dataclass
class Thread:
    thread_id: int
    section_id: int
    title: str
    author: str
    first_day: int


@dataclass
class Post:
    post_id: int
    thread_id: int
    author: str
    day: int
    minute: int  # minute of the day, for the shown time
    text: str
    identity_id: str | None = None
