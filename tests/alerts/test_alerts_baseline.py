"""The new-vendor baseline is a complete crawl (coverage per run), and a join date older than the baseline
means "missed before", not "new"."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.evaluate import evaluate_alerts, parse_join_date, site_baselines
from crawler.coverage import record_run, site_coverage
from indexer.base import open_backend
from indexer.models import Vendor
from tests.alerts_support import crawl_docs

DAYS = [f"2024-03-0{d}T06:00:00+00:00" for d in range(1, 6)]
SWEDISH = {"swedish_score": 0.9, "swedish_signals": ["ships_from_se"]}


@pytest.fixture()
def backend(sokhund_home: Path):
    path = sokhund_home / "alerts" / "rules.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("channels:\n  - {name: stdout, enabled: false}\n", encoding="utf-8")
    b = open_backend()
    yield b
    b.close()


def _crawl(backend, run_id: str, as_of: str, names: list[str], *, complete: bool, **extra) -> None:
    """One crawl of flugsvamp seeing ``names``, recorded with its coverage as the runner records it."""
    crawl_docs(backend, "flugsvamp", run_id, as_of, vendors=[{"name": n, **SWEDISH, **extra.get(n, {})} for n in names])
    stats = {"pages": 50, "errors": 0, "finish_reason": "finished" if complete else "closespider_pagecount"}
    record_run(backend, run_id, as_of=as_of, sites=["flugsvamp"], site_stats={"flugsvamp": stats},
               coverage={"flugsvamp": site_coverage(stats, page_budget=50, max_depth=10)})


def test_partial_first_crawls_are_no_baseline(backend):
    old = ["alpha", "bravo", "charlie", "delta"]
    _crawl(backend, "p1", DAYS[0], old[:1], complete=False)  # --page-budget 50: saw one of four vendors
    assert evaluate_alerts(backend, "p1") == []
    _crawl(backend, "p2", DAYS[1], old[:3], complete=False)  # again partial: two more old vendors
    assert evaluate_alerts(backend, "p2") == []  # the old code took p1 as the baseline and fired twice here
    assert site_baselines(backend) == {}  # no complete crawl yet
    _crawl(backend, "full", DAYS[2], old, complete=True)
    assert evaluate_alerts(backend, "full") == []
    assert site_baselines(backend)["flugsvamp"].run_id == "full"
    _crawl(backend, "next", DAYS[3], [*old, "echo"], complete=False)  # a vendor new since the complete crawl
    fired = evaluate_alerts(backend, "next")
    assert [a.entity for a in fired] == [Vendor.make_id("flugsvamp", "echo")]
    assert fired[0].details["baseline_complete"] is True


def test_join_date_older_than_baseline_is_not_new(backend):
    _crawl(backend, "r1", DAYS[0], ["alpha"], complete=True)
    joined = {"veteran": {"joined": "2024-01-15"}, "rookie": {"joined": "2024-03-02"}}
    _crawl(backend, "r2", DAYS[1], ["alpha", "veteran", "rookie"], complete=True, **joined)
    fired = evaluate_alerts(backend, "r2")
    assert [a.entity for a in fired] == [Vendor.make_id("flugsvamp", "rookie")]
    assert fired[0].details["joined"] == "2024-03-02"


def test_coverage_reasons():
    assert site_coverage({"pages": 9, "finish_reason": "finished"}, page_budget=50, max_depth=5)["complete"]
    cut = site_coverage({"pages": 50, "finish_reason": "closespider_pagecount"}, page_budget=50, max_depth=5)
    assert not cut["complete"] and "page budget of 50" in cut["reason"]
    deep = site_coverage({"pages": 9, "finish_reason": "finished", "depth_limited": 3}, page_budget=50, max_depth=5)
    assert not deep["complete"] and "3 links beyond the depth limit 5" in deep["reason"]
    assert not site_coverage({"pages": 0, "finish_reason": "finished"}, page_budget=50, max_depth=5)["complete"]


@pytest.mark.parametrize("text, expected", [
    ("2024-03-02", (2024, 3, 2)), ("Medlem sedan: 2024-03-02", (2024, 3, 2)), ("02.03.2024", (2024, 3, 2)),
    ("Member since 2 March 2024", (2024, 3, 2)), ("mars 2024", (2024, 3, 1)), ("3 månader", None), ("", None),
])
def test_parse_join_date(text, expected):
    parsed = parse_join_date(text)
    assert (parsed.timetuple()[:3] if parsed else None) == expected
