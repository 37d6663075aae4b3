"""ListingObservation.turnover_sek: the best turnover estimate carried by the observation that saw it."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.observation_turnover import fill_observation_turnover
from analytics.rollup import rollup
from analytics.turnover import compute_turnover
from indexer.models import ListingObservation
from tests.analytics_data import at, backend, feedback, listing, observation, rates


def _turnover(idx: object) -> dict[str, float | None]:
    return {o["run_id"][-10:] + ":" + o["listing_id"]: o["turnover_sek"]
            for o in idx.iter_docs(ListingObservation.KIND)}  # type: ignore[attr-defined]


def test_counter_sales_land_on_the_observation_that_saw_them(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    lst = listing("nb", "L1", "acme", price=10.0, currency="USD", n_last=4)
    idx.upsert([lst, *(observation(lst, n, sold=s) for n, s in ((1, 10), (2, 12), (3, 12), (4, 15)))])
    report = compute_turnover(idx, rates=rates())
    assert fill_observation_turnover(idx, report) == 4
    assert _turnover(idx) == {"2026-09-01:L1": 0.0, "2026-09-02:L1": 200.0, "2026-09-03:L1": 0.0,
                              "2026-09-04:L1": 300.0}
    assert fill_observation_turnover(idx, report) == 0, "a second run changes nothing"


def test_feedback_sales_and_the_sum_equals_the_best_total(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    lst = listing("fs", "F1", "bob", price=20.0, currency="USD", n_first=2, n_last=4)
    idx.upsert([lst, observation(lst, 2), observation(lst, 4)])
    # one feedback from before we watched (lands on the first observation), two up to the second crawl
    idx.upsert([feedback(lst, "2026-09-01", buyer="a", seen=2), feedback(lst, "2026-09-03", buyer="b", seen=4),
                feedback(lst, "2026-09-04", buyer="c", seen=4)])
    report = compute_turnover(idx, rates=rates(), feedback_rate=0.5)
    fill_observation_turnover(idx, report)
    values = _turnover(idx)
    assert values == {"2026-09-02:F1": 400.0, "2026-09-04:F1": 800.0}  # 200 SEK per sale / rate 0.5
    best = sum(e.value_sek or 0.0 for e in report.best())
    assert sum(v or 0.0 for v in values.values()) == pytest.approx(best)


def test_rollup_writes_turnover_sek(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    lst = listing("nb", "L2", "acme", price=100.0, currency="SEK", n_last=2)
    idx.upsert([lst, observation(lst, 1, sold=1), observation(lst, 2, sold=4)])
    assert all(v is None for v in _turnover(idx).values()), "nothing writes it before the roll-up"
    rollup(idx)
    assert _turnover(idx)[at(2)[:10] + ":L2"] == 300.0
