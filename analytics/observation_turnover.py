"""``ListingObservation.turnover_sek``: the best turnover estimate (see :mod:`analytics.turnover`) spread
onto the observations, so Kibana can sum it per day, site or vendor without re-deriving sales.

Each estimated sale of a listing (one day, one method of ``TurnoverReport.best``) belongs to the first
observation of that listing on or after the sale day: the crawl that saw it. Sales dated before the first
observation (feedback left before we watched) land on that first observation; a sale after the last one
(feedback dated later than the last crawl of the listing) on the last. So the sum of ``turnover_sek`` over
all observations equals the ``best`` total of ``sokhund turnover``. An observation without any estimated
sale gets 0.0; ``None`` stays only where sales were estimated but none could be valued (no price/rate).
"""

from __future__ import annotations

import bisect
from typing import Any

from analytics.turnover import SaleEstimate, TurnoverReport, compute_turnover, load_observations
from analytics.write_back import set_fields
from indexer.base import IndexBackend
from indexer.models import ListingObservation


def observation_turnover(
    estimates: list[SaleEstimate], observations: dict[str, list[dict[str, Any]]]
) -> dict[str, float | None]:
    """Observation id -> SEK sold since the previous observation of its listing (oldest-first lists)."""
    out: dict[str, float | None] = {o["id"]: 0.0 for items in observations.values() for o in items}
    unvalued: set[str] = set()
    days = {listing: [str(o["observed_at"])[:10] for o in items] for listing, items in observations.items()}
    for est in estimates:
        items = observations.get(est.listing)
        if not items:
            continue  # a sale of a listing never observed (feedback only): no observation to carry it
        pos = min(bisect.bisect_left(days[est.listing], est.day), len(items) - 1)
        obs_id = items[pos]["id"]
        if est.value_sek is None:
            unvalued.add(obs_id)
        else:
            out[obs_id] = (out[obs_id] or 0.0) + est.value_sek
    for obs_id in unvalued:
        if not out[obs_id]:
            out[obs_id] = None
    return {k: None if v is None else round(v, 2) for k, v in out.items()}


def fill_observation_turnover(backend: IndexBackend, report: TurnoverReport | None = None) -> int:
    """Write ``turnover_sek`` on every listing observation whose value changed; returns how many."""
    observations = load_observations(backend)
    if not observations:
        return 0
    report = report or compute_turnover(backend)
    values = observation_turnover(report.best(), observations)
    by_id = {o["id"]: o for items in observations.values() for o in items}
    changed = {i: v for i, v in values.items() if by_id[i].get("turnover_sek") != v}
    if not changed:
        return 0
    return set_fields(backend, ListingObservation, by_id, {i: {"turnover_sek": v} for i, v in changed.items()})
