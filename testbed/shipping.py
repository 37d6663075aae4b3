"""True shipping choices of the testbed's sales: per order, the option the buyer picked and the buyer's country.

Drawn from an own random stream per sale (``catalog.rng(seed, "ship", site, listing, day)``), so adding this
changed nothing else in the world. Weights and buyer countries: ``testbed/data/shipping_truth.yaml``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from testbed import catalog
from testbed.entities import Listing, Sale


def spec() -> dict[str, Any]:
    return catalog.load_yaml("shipping_truth.yaml")


def method_of(label: str) -> str:
    entry = spec()["methods"].get(label)
    return entry["method"] if entry else "unknown"


def buyer_in_se_probability(ships_to: list[str]) -> float:
    s = spec()
    dests = set(ships_to)
    if dests == {"SE"}:
        return s["buyer_in_se"]["se_only"]
    if "SE" in dests and dests <= set(s["nordic"]):
        return s["buyer_in_se"]["nordic"]
    if "SE" in dests or dests & set(s["wider"]):
        return s["buyer_in_se"]["wider"]
    return s["buyer_in_se"]["none"]


def choices(seed: int, sale: Sale, listing: Listing) -> Counter[tuple[str, str]]:
    """(option label, buyer country) -> orders, for one sale; buyer country is "SE" or "abroad"."""
    r = catalog.rng(seed, "ship", sale.site, sale.listing_id, sale.day)
    labels = [label for label, _ in listing.shipping] or ["unknown"]
    weights = [spec()["methods"].get(label, {"weight": 1.0})["weight"] for label in labels]
    p_se = buyer_in_se_probability(listing.ships_to)
    out: Counter[tuple[str, str]] = Counter()
    for _ in range(sale.orders):
        label = r.choices(labels, weights)[0]
        out[(label, "SE" if r.random() < p_se else "abroad")] += 1
    return out
