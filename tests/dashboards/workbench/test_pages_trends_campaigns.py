"""The trends page (turnover per site / vendor / substance and per method, prices, new vendors, Swedish
share, the domestic shipment estimate with its method and band) and the campaigns page (schedule, last
and next run, per-site stats, failures)."""

from __future__ import annotations

import sqlite3

import pytest

from dashboards.workbench.bands import BandSeries, band_chart
from tests.dashboards.workbench.conftest import Workbench
from tests.dashboards.workbench.hostile import IMG, SCRIPT, assert_inert
from tests.dashboards.workbench.pages_data import seeded


def test_trends_page_draws_the_overview_questions(workbench: Workbench) -> None:
    seeded(workbench)
    client = workbench.client("analyst")
    page = client.get("/trends").get_data(as_text=True)
    assert page.count('<svg class="chart"') >= 5
    for title in ("Turnover per day by site", "Turnover per day by method", "Median price per gram",
                  "New vendors per day", "Share of active vendors that are Swedish"):
        assert title in page, title
    assert "a lower bound" in page  # each method is named and explained
    assert "2\u202f750" in page  # feedback sales on flugsvamp: 2 x 900 SEK, then 950 SEK
    by_vendor = client.get("/trends?by=vendor&period=week").get_data(as_text=True)
    assert "Turnover per week by vendor" in by_vendor and SCRIPT not in by_vendor and IMG not in by_vendor
    assert "flugsvamp: Alfa" in by_vendor  # vendors by site and name, not by id
    assert_inert(by_vendor)


def test_trends_page_states_the_shipment_estimate_and_its_band(workbench: Workbench) -> None:
    pytest.importorskip("analytics.shipments", reason="the shipment estimator comes with the shipments branch")
    seeded(workbench)
    page = workbench.client("analyst").get("/trends").get_data(as_text=True)
    section = page[page.index('<section id="shipments"'):page.index("</section>", page.index('<section id="shipments"'))]
    assert "Method" in section and "Assumptions" in section and "low–high" in section
    assert "letter: estimate (low–high)" in section and "shipment-table" in section


def test_band_chart_draws_estimates_with_their_range() -> None:
    svg = str(band_chart([BandSeries("letter <b>", [("2026-08-31", 10, 4, 20), ("2026-09-07", 12, 5, 30)], "s1"),
                          BandSeries("parcel", [("2026-09-07", 3, 1, 6)], "s3")], "Shipments"))
    assert svg.count("<polygon") == 1  # a band needs two weeks; a single week still gets its whisker
    assert svg.count('class="whisker') == 3 and "letter &lt;b&gt;" in svg and "<b>" not in svg
    assert "no estimates" in str(band_chart([], "Shipments"))


def test_campaigns_page_shows_schedule_runs_sites_and_failures(workbench: Workbench) -> None:
    seeded(workbench)
    (workbench.home / "campaigns").mkdir(exist_ok=True)
    (workbench.home / "campaigns" / "mine.yaml").write_text(
        "name: mine\nsites: [nordbazaar]\nschedule: {interval_seconds: 3600}\n", encoding="utf-8")
    (workbench.home / "campaigns" / "broken.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    page = workbench.client("analyst").get("/campaigns").get_data(as_text=True)
    assert "sweden-daily" in page and "cron &#39;0 4 * * *&#39; (Europe/Stockholm)" in page  # shipped, with its schedule
    assert "mine" in page and "every 3600s" in page and "broken.yaml" in page
    assert "not scheduled" in page and "by its schedule, once served" in page
    assert "snackis: nothing fetched (connection refused)" in page  # the failure, per site
    assert "status-partial" in page and "/campaigns/run/pages-2" in page
    assert "listing 40" in page  # per-site items
    assert_inert(page)


def test_campaigns_page_reads_next_runs_from_the_scheduler_job_store(workbench: Workbench) -> None:
    seeded(workbench)
    (workbench.home / "campaigns").mkdir(exist_ok=True)
    db = sqlite3.connect(workbench.home / "campaigns" / "jobs.sqlite")  # APScheduler's SQLAlchemyJobStore table
    db.execute("CREATE TABLE apscheduler_jobs (id VARCHAR(191) PRIMARY KEY, next_run_time FLOAT, job_state BLOB)")
    db.execute("INSERT INTO apscheduler_jobs VALUES ('campaign:sweden-daily', 1790000000.0, x'00')")
    db.commit()
    db.close()
    page = workbench.client("analyst").get("/campaigns").get_data(as_text=True)
    assert "2026-09-21T14:13+00:00 (job store)" in page and ">scheduled<" in page


def test_a_campaign_run_page_and_unknown_runs(workbench: Workbench) -> None:
    seeded(workbench)
    client = workbench.client("analyst")
    page = client.get("/campaigns/run/pages-2").get_data(as_text=True)
    assert "partial" in page and "snackis" in page and "connection refused" in page
    assert client.get("/campaigns/run/nope").status_code == 404
