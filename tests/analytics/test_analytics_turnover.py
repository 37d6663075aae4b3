"""Turnover on the real SQLite backend: counter deltas, feedback lower bound, correction, bucketing."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from analytics.turnover import (
    METHOD_CORRECTED,
    METHOD_COUNTER,
    METHOD_FEEDBACK,
    SaleEstimate,
    aggregate,
    compute_turnover,
    counter_sales,
    feedback_sales,
)
from benchmarks.turnover_eval import score_turnover
from tests.analytics_data import at, backend, day, feedback, listing, observation, rates


def _by_day(estimates: list[SaleEstimate]) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for e in estimates:
        units, value = out.get(e.day, (0.0, 0.0))
        out[e.day] = (units + e.units, value + (e.value_sek or 0.0))
    return out


def test_counter_deltas_valued_at_observed_price_and_that_days_rate(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    lst = listing("nb", "L1", "acme", price=10.0, currency="USD", n_last=4)
    idx.upsert([lst, *(observation(lst, n, sold=s) for n, s in ((1, 10), (2, 12), (3, 12), (4, 15)))])
    estimates, notes = counter_sales(idx, rates=rates(usd={4: 11.0}))
    assert notes == []
    assert _by_day(estimates) == {day(2): (2.0, 200.0), day(4): (3.0, 330.0)}
    assert {e.method for e in estimates} == {METHOD_COUNTER}
    assert estimates[0].evidence == ("cap-L1-1", "cap-L1-2")


def test_counter_reset_is_not_a_sale_and_a_removed_listing_stops_counting(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    reset = listing("nb", "L2", "acme", price=10.0, currency="USD", n_last=4)
    gone = listing("nb", "L3", "acme", price=20.0, currency="USD", n_last=2)
    idx.upsert([reset, *(observation(reset, n, sold=s) for n, s in ((1, 50), (2, 55), (3, 3), (4, 6)))])
    idx.upsert([gone, observation(gone, 1, sold=7), observation(gone, 2, sold=9)])
    estimates, notes = counter_sales(idx, rates=rates())
    per_listing: dict[str, dict[str, tuple[float, float]]] = {}
    for e in estimates:
        per_listing.setdefault(e.listing, {})[e.day] = (e.units, e.value_sek or 0.0)
    assert per_listing[reset.id] == {day(2): (5.0, 500.0), day(4): (3.0, 300.0)}
    assert per_listing[gone.id] == {day(2): (2.0, 400.0)}
    assert len(notes) == 1 and "reset" in notes[0] and "L2" in notes[0]


def test_counter_gap_spread_over_days_at_closest_price(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    lst = listing("nb", "L4", "acme", price=10.0, currency="USD", n_last=4)
    idx.upsert([lst, observation(lst, 1, sold=0, price=10.0), observation(lst, 4, sold=6, price=13.0)])
    estimates, _ = counter_sales(idx, rates=rates())
    assert _by_day(estimates) == {day(2): (2.0, 200.0), day(3): (2.0, 260.0), day(4): (2.0, 260.0)}


def test_feedback_deduplicated_across_crawls(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    lst = listing("fs", "F1", "kalle", price=100.0, currency="SEK")
    idx.upsert([lst, observation(lst, 1)])
    first = feedback(lst, day(2), seen=2)
    idx.upsert([first])
    idx.upsert([feedback(lst, day(2), seen=2)])  # the next crawl reads the same feedback again
    same_other_format = feedback(lst, f"{day(2)}T00:00:00", seen=3)  # same feedback, date written differently
    assert same_other_format.id != first.id
    other_buyer = feedback(lst, day(2), buyer="x***y", seen=3)
    idx.upsert([same_other_format, other_buyer])
    assert idx.count("feedback") == 3
    estimates, _ = feedback_sales(idx, rates=rates())
    assert sum(e.units for e in estimates) == 2
    assert sum(e.value_sek or 0 for e in estimates) == 200.0
    assert all(e.method == METHOD_FEEDBACK for e in estimates)


def test_feedback_valued_at_closest_observed_price(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    lst = listing("fs", "F2", "kalle", price=160.0, currency="SEK", n_last=6)
    idx.upsert([lst, observation(lst, 1, price=100.0), observation(lst, 3, price=130.0),
                observation(lst, 6, price=160.0)])
    idx.upsert([feedback(lst, day(2), buyer="a***1"),  # tie d1/d3: the earlier price (the sale came first)
                feedback(lst, day(3), buyer="a***2"),  # same day
                feedback(lst, day(5), buyer="a***3"),  # d6 is closer than d3
                feedback(lst, day(9), buyer="a***4")])  # after the last observation
    estimates, _ = feedback_sales(idx, rates=rates())
    assert sorted((e.day, e.value_sek) for e in estimates) == [
        (day(2), 100.0), (day(3), 130.0), (day(5), 160.0), (day(9), 160.0)]


def test_feedback_in_foreign_currency_uses_the_feedback_days_rate(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    lst = listing("nb", "U1", "acme", price=10.0, currency="USD")
    idx.upsert([lst, observation(lst, 1), feedback(lst, day(2))])
    estimates, _ = feedback_sales(idx, rates=rates(usd={1: 10.0, 2: 12.0}))
    assert [(e.day, e.value_sek) for e in estimates] == [(day(2), 120.0)]


def test_week_and_month_buckets() -> None:
    def sale(d: str, value: float, vendor: str) -> SaleEstimate:
        return SaleEstimate(d, "fs", "lst-1", f"ven-{vendor}", vendor, "cannabis", "SE", 1.0, value, METHOD_FEEDBACK)

    sales = [sale("2026-09-06", 100, "a"), sale("2026-09-07", 50, "a"), sale("2026-09-13", 25, "b"),
             sale("2026-09-30", 10, "b"), sale("2026-10-01", 5, "a")]
    weeks = {(b.period, b.key): b.value_sek for b in aggregate(sales, by="vendor", period="week")}
    assert weeks == {("2026-08-31", "ven-a"): 100, ("2026-09-07", "ven-a"): 50, ("2026-09-07", "ven-b"): 25,
                     ("2026-09-28", "ven-b"): 10, ("2026-09-28", "ven-a"): 5}
    months = {b.period: (b.units, b.value_sek) for b in aggregate(sales, period="month")}
    assert months == {"2026-09-01": (4.0, 185.0), "2026-10-01": (1.0, 5.0)}
    days = aggregate(sales, by="country", period="day")
    assert len(days) == 5 and {b.key for b in days} == {"SE"}
    with pytest.raises(ValueError, match="group"):
        aggregate(sales, by="colour")


def test_correction_factor_estimated_on_counter_site_and_borrowed(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    cnt = listing("nb", "C1", "acme", price=10.0, currency="USD", n_last=5)
    idx.upsert([cnt, observation(cnt, 1, sold=100), observation(cnt, 5, sold=110)])
    fbs = [feedback(cnt, day(n), buyer=f"b***{i}") for i, n in enumerate((2, 2, 3, 4, 4, 5, 5))]
    fbs += [feedback(cnt, day(1), buyer="early"), feedback(cnt, day(6), buyer="late")]  # outside the window
    sv = listing("fs", "S1", "kalle", price=200.0, currency="SEK", n_last=5)
    fbs += [feedback(sv, day(2 + i % 4), buyer=f"s***{i}") for i in range(14)]
    idx.upsert([sv, observation(sv, 1), *fbs])
    report = compute_turnover(idx, rates=rates())
    assert report.rates["nb"].rate == pytest.approx(0.7)
    assert report.rates["*"].rate == pytest.approx(0.7)
    assert "fs" not in report.rates  # no counters there
    rate, source = report.applied_rates["fs"]
    assert rate == pytest.approx(0.7) and "borrowed" in source and "nb" in source
    corrected = [e for e in report.corrected if e.site == "fs"]
    assert sum(e.units for e in corrected) == pytest.approx(20.0)
    assert sum(e.value_sek or 0 for e in corrected) == pytest.approx(4000.0)
    # the corrected series covers every feedback, on the counter site with its own measured rate …
    assert sorted(e.day for e in report.corrected if e.listing == cnt.id) == sorted(
        [day(1), day(6), *(day(n) for n in (2, 2, 3, 4, 4, 5, 5))])
    # … while "best" lets the counters speak inside their window
    assert "measured on nb" in report.applied_rates["nb"][1]
    best = report.best()
    assert {(e.method, e.day) for e in best if e.site == "nb" and e.method != METHOD_COUNTER} == {
        (METHOD_CORRECTED, day(1)), (METHOD_CORRECTED, day(6))}
    assert sum(e.units for e in best if e.site == "nb" and e.method == METHOD_COUNTER) == 10
    assert {e.method for e in best if e.site == "fs"} == {METHOD_CORRECTED}
    assert compute_turnover(idx, rates=rates(), feedback_rate=0.5).applied_rates["fs"][0] == 0.5


def _simulate(idx: object, seed: int, days: int = 20, p_feedback: float = 0.7) -> list[dict[str, object]]:
    """A small market world written as crawls would write it; returns the true sales rows."""
    r = random.Random(seed)
    table = rates({n: 9.5 + 0.1 * n for n in range(1, 40)})
    truth: list[dict[str, object]] = []
    docs: list[object] = []
    for site, currency, counters in (("nb", "USD", True), ("fs", "SEK", False)):
        for i in range(50):
            price = r.choice([20.0, 45.0, 90.0]) if currency == "USD" else r.choice([200.0, 450.0, 900.0])
            lst = listing(site, f"{site}{i}", f"v{i % 5}", price=price, currency=currency, n_last=days)
            docs.append(lst)
            sold = r.randint(0, 300)
            for n in range(1, days + 1):
                if n > 1 and r.random() < 0.1:
                    price = round(price * r.uniform(0.9, 1.1), 0)
                orders = r.choice([0, 0, 1, 1, 2, 3])
                sold += orders
                if orders:
                    truth.append({"site": site, "date": day(n), "orders": orders,
                                  "value_sek": orders * (table.convert(price, currency, "SEK", day(n)) or 0)})
                    for k in range(orders):
                        if r.random() < p_feedback:
                            fb_day = n + r.choice([0, 0, 1])
                            if fb_day <= days:  # later feedback was never crawled
                                docs.append(feedback(lst, day(fb_day), buyer=f"{n}-{k}", seen=fb_day))
                docs.append(observation(lst, n, price=price, sold=sold if counters else None))
    idx.upsert(docs)  # type: ignore[attr-defined]
    return truth


@pytest.mark.parametrize("seed", [1, 2])
def test_lower_bound_never_above_truth_and_estimates_meet_targets(tmp_path: Path, seed: int) -> None:
    idx = backend(tmp_path)
    truth = _simulate(idx, seed)
    table = rates({n: 9.5 + 0.1 * n for n in range(1, 40)})
    since, until = day(2), day(20)
    report = compute_turnover(idx, since=since, until=until, rates=table)
    rows = {(r["site"], r["method"]): r for r in score_turnover(
        report.counter + report.feedback + report.corrected, truth, since=since, until=until)}
    assert rows[("nb", METHOD_COUNTER)]["error"] == pytest.approx(0.0, abs=1e-4)
    for site in ("nb", "fs"):
        lower = rows[(site, METHOD_FEEDBACK)]
        assert lower["estimate_sek"] <= lower["truth_sek"] and lower["ok"] is True
    assert abs(rows[("fs", METHOD_CORRECTED)]["error"]) <= 0.10
    # on the counter site, feedback corrected by its own measured rate tracks the truth too
    assert abs(rows[("nb", METHOD_CORRECTED)]["error"]) <= 0.10
    assert 0.6 <= (report.rates["nb"].rate or 0) <= 0.8


def test_score_turnover_flags_a_lower_bound_above_truth() -> None:
    est = [SaleEstimate(day(2), "fs", "l", None, None, None, None, 1.0, 150.0, METHOD_FEEDBACK),
           SaleEstimate(day(2), "nb", "m", None, None, None, None, 1.0, 103.0, METHOD_COUNTER)]
    truth = [{"site": "fs", "date": day(2), "orders": 1, "value_sek": 100.0},
             {"site": "nb", "date": day(2), "orders": 1, "value_sek": 100.0}]
    rows = {r["site"]: r for r in score_turnover(est, truth)}
    assert rows["fs"]["ok"] is False and rows["nb"]["ok"] is False
    assert rows["nb"]["error"] == pytest.approx(0.03)
    assert at(1).startswith(day(1))
