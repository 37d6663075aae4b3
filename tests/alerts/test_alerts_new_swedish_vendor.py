"""End to end (slow): the "new Swedish vendor" alert and the vendor-level Swedish score on a crawled world.

The REAL crawler crawls a seeded testbed world (flugsvamp + nordbazaar) for 3 days (baseline, the day the
new vendor appears, one more day to prove it does not fire again); after EACH crawl the vendors are rolled
up and the alert rules evaluated, as a campaign does. The world has exactly one new Swedish vendor (day 1). Asserts: exactly one ``new_swedish_vendor`` alert over the whole world, for that
vendor, fired by the first crawl that sees it; no false alert; and a floor on the vendor-level F1 of the
Swedish classification (measured with ``benchmarks/swedish_eval.py``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from indexer.models import Vendor

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DAYS = 3
NEW_DAY = 1
SITES = ["flugsvamp", "nordbazaar"]
# Measured F1 1.000 on this world (seed 7, 3 days: 88 vendors, 0 FP, 0 FN; Swedish vendors score >= 0.6,
# the others <= 0.17). The floor leaves room for one or two misclassified vendors, not for a regression
# like the market-driven false positives before the fix (F1 0.85 on the 6-day world).
MIN_F1 = 0.95


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from swedish_eval import crawl_and_alert, report

    saved = dict(os.environ)
    try:
        run = crawl_and_alert(tmp_path_factory.mktemp("swedish"), seed=7, days=DAYS, sites=SITES,
                              new_swedish_vendor_day=NEW_DAY, ddos=False)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return run, report(run)


def test_exactly_one_alert_for_the_new_swedish_vendor_on_the_first_crawl_that_sees_it(measured) -> None:  # noqa: ANN001
    run, _ = measured
    (new,) = [v for v in run.truth["vendors"] if v["is_new_swedish_vendor"]]
    assert new["first_day"] == NEW_DAY
    fired = [(c.index, c.world_day, a) for c in run.cycles for a in c.fired if a["rule"] == "new_swedish_vendor"]
    assert len(fired) == 1, [(i, a["title"]) for i, _, a in fired]
    cycle, world_day, alert = fired[0]
    assert alert["entity"] == Vendor.make_id(new["site"], new["vendor"])
    first_crawl_after = min(c.index for c in run.cycles if c.world_day >= NEW_DAY)
    assert (cycle, world_day) == (first_crawl_after, NEW_DAY)  # latency 0 crawl cycles
    assert alert["details"]["swedish_score"] >= alert["details"]["threshold"]
    assert any(s.startswith("ships_from_se") for s in alert["details"]["swedish_signals"])


def test_no_false_new_swedish_vendor_alerts(measured) -> None:  # noqa: ANN001
    _, rep = measured
    alerts = rep["alerts"]
    assert alerts["false_alerts"] == 0, alerts["false_alert_vendors"]
    assert alerts["recall"] == 1.0 and alerts["precision"] == 1.0 and alerts["max_latency_cycles"] == 0
    assert alerts["fired_exactly_once"]


def test_vendor_level_swedish_classification_f1_floor(measured) -> None:  # noqa: ANN001
    _, rep = measured
    cls = rep["classification"]["all"]
    assert cls["vendors"] >= 60  # both markets' vendors were crawled and rolled up
    assert cls["f1"] >= MIN_F1, rep["classification"]["errors"]
