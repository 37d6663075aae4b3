"""Domestic shipments per week by method, scored against the testbed's true shipping choices.

Two crawls (day 0 and day 1) of both markets: feedback pages reach back over the 30 prehistory days, so
the estimate covers about five weeks. The true count per week and method (``truth["shipments"]``, domestic =
ships from SE and buyer in SE) must lie within [low, high] for most (week, method) cells (measured: 12 of
12), and the total estimated letters, registered letters and parcels must be near the truth.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from analytics.shipments import ShipmentEstimate, estimate_weekly_shipments
from indexer.base import open_backend
from tests.e2e_world import CrawledWorld, crawl_days

pytestmark = pytest.mark.slow

POSTAL = ("letter", "registered_letter", "tracked_parcel")


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CrawledWorld, ShipmentEstimate]]:
    home = tmp_path_factory.mktemp("shipments")
    world = crawl_days(home, seed=7, days=2, sites=["flugsvamp", "nordbazaar"], ddos=False, rate_limit=None)
    backend = open_backend()
    try:
        yield world, estimate_weekly_shipments(backend)
    finally:
        backend.close()


def _true_weekly(world: CrawledWorld) -> dict[tuple[date, str], int]:
    out: dict[tuple[date, str], int] = defaultdict(int)
    for row in world.truth["shipments"]:
        if row["domestic"] and row["site"] in world.sites:
            d = date.fromisoformat(row["date"])
            out[(d - timedelta(days=d.weekday()), row["method"])] += row["orders"]
    return out


def _full_weeks(est: ShipmentEstimate, first_day: date, last_day: date) -> list[date]:
    """Weeks wholly inside the simulated history (the first and the current week are partial)."""
    return sorted({r.week_start for r in est.rows if r.week_start >= first_day
                   and r.week_start + timedelta(days=6) <= last_day})


def test_true_weekly_shipments_lie_within_the_bounds(crawled: tuple[CrawledWorld, ShipmentEstimate]) -> None:
    world, est = crawled
    true = _true_weekly(world)
    last_day = date.fromisoformat(world.truth["meta"]["today"])
    first_day = min(date.fromisoformat(s["date"]) for s in world.truth["sales"])
    full_weeks = _full_weeks(est, first_day, last_day)
    assert len(full_weeks) >= 4
    cells = [r for r in est.rows if r.week_start in full_weeks and r.method in POSTAL]
    inside = [r for r in cells if r.low <= true[(r.week_start, r.method)] <= r.high]
    report = [(r.week_start.isoformat(), r.method, true[(r.week_start, r.method)], r.low, r.estimate, r.high)
              for r in cells]
    print("week, method, true, low, estimate, high:", *report, sep="\n  ")
    assert len(inside) / len(cells) >= 0.8, report
    assert all(r.method != "unknown" or r.estimate == 0 for r in est.rows if r.week_start in full_weeks)


def test_total_error_per_method_is_bounded(crawled: tuple[CrawledWorld, ShipmentEstimate]) -> None:
    world, est = crawled
    true = _true_weekly(world)
    last_day = date.fromisoformat(world.truth["meta"]["today"])
    first_day = min(date.fromisoformat(s["date"]) for s in world.truth["sales"])
    weeks = set(_full_weeks(est, first_day, last_day))
    errors = {}
    for method in POSTAL:
        t = sum(v for (w, m), v in true.items() if m == method and w in weeks)
        e = sum(r.estimate for r in est.rows if r.method == method and r.week_start in weeks)
        errors[method] = (t, round(e, 1), round(abs(e - t) / t, 3))
    all_true = sum(t for t, _, _ in errors.values())
    all_est = sum(e for _, e, _ in errors.values())
    print("method: (true, estimate, relative error)", errors, "all:", all_true, round(all_est, 1))
    # measured (seed 7, two crawls): all +14.7 %, letters +14.9 %, registered -0.6 %, parcels +25.6 %; the
    # feedback rate measured on one day of counter sales (0.64; true 0.70 / 0.74) accounts for most of it
    assert abs(all_est - all_true) / all_true <= 0.2, errors
    assert errors["letter"][2] <= 0.2, errors
    assert errors["letter"][1] > errors["tracked_parcel"][1] > errors["registered_letter"][1] > 0
