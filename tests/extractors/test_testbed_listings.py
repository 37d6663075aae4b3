"""Every testbed listing, read through the crawl pipeline as the adapters deliver it, gets the right
substance and the price per gram / per unit of the testbed's ground truth (testbed/truth.py)."""

from __future__ import annotations

from benchmarks.testbed_extract_eval import evaluate


def test_every_testbed_listing_gets_its_substance_and_unit_price() -> None:
    scores = evaluate(seed=7)
    assert set(scores) == {"flugsvamp", "nordbazaar", "tillskott"}
    for site, row in scores.items():
        assert row["with substance"] == 1.0 and row["right substance"] == 1.0, (site, row)
        for key in ("price/g right", "price/unit right"):
            right, total = map(int, row[key].split("/"))
            assert right == total > 0, (site, key, row)
        assert row["price/g set on unit listings"] == 0, (site, row)
