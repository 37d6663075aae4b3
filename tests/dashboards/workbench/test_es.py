"""The workbench on the Elasticsearch backend (a real local 8.19 cluster): search with facets and "N of
M", the listing page with its observations, exactly as on the embedded index."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboards.workbench import users
from dashboards.workbench.app import create_app
from dashboards.workbench.config import WorkbenchConfig
from indexer.models import Listing, ListingObservation
from tests.dashboards.workbench.conftest import PASSWORD, login
from tests.dashboards.workbench.hostile import SCRIPT, assert_inert

pytestmark = pytest.mark.es


@pytest.fixture()
def es_app(es_url: str, sokhund_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple]:
    from indexer.elastic import ElasticBackend
    from tests.indexer.test_index_es_integration import es_cleanup

    prefix = f"sokhund-test-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("SOKHUND_ES_PREFIX", prefix)
    writer = ElasticBackend(es_url, prefix=prefix, refresh=True, spool_dir=sokhund_home / "spool")
    docs: list = []
    for i in range(25):
        site = "flugsvamp" if i % 5 else "nordbazaar"
        lid = Listing.make_id(site, str(i))
        docs.append(Listing(id=lid, site=site, listing_id=str(i), title=f"Kokain {i} g" if i != 3 else f"Kokain {SCRIPT}",
                            vendor=f"Säljare{i % 3}", vendor_id=f"ven-{i % 3}", substance="cocaine",
                            substance_class="stimulant", ships_from="SE" if i % 2 else "NL", price_sek=500.0 + i,
                            last_seen="2026-09-02T12:00:00+00:00"))
        docs.extend(ListingObservation(id=ListingObservation.make_id(lid, f"day{d}"), listing=lid, site=site,
                                       listing_id=str(i), observed_at=f"2026-09-0{d + 1}T12:00:00+00:00",
                                       run_id=f"day{d}", price_sek=500.0 + i + d, sold=10 + d) for d in range(2))
    writer.upsert(docs)
    app = create_app(WorkbenchConfig(index_url=es_url, testing=True))
    users.add(app.extensions["sokhund_store"], "anna", "analyst", PASSWORD)
    yield app, docs
    es_cleanup(writer)
    writer.close()


def test_search_facets_and_listing_page_on_elasticsearch(es_app: tuple) -> None:
    app, docs = es_app
    client = login(app.test_client(), "anna")
    page = client.get("/search?q=kokain").get_data(as_text=True)
    assert "1–20 of 25 listings" in page
    assert ">flugsvamp</a> <span class=\"n\">20</span>" in page and ">nordbazaar</a> <span class=\"n\">5</span>" in page
    both = page + client.get("/search?q=kokain&page=2").get_data(as_text=True)
    assert ">Säljare1</a>" in both and "&lt;script&gt;" in both, both[both.find("result-count"):][:3000]
    assert_inert(page)
    page = client.get("/search?q=kokain&site=nordbazaar&ships_from=se").get_data(as_text=True)
    assert "of 2 listings" in page  # nordbazaar listings 5 and 15 ship from SE
    assert "21–25 of 25" in client.get("/search?q=kokain&page=2").get_data(as_text=True)
    listing = docs[0]
    page = client.get(f"/listing/{listing.id}").get_data(as_text=True)
    assert "Observations (2)" in page and "<svg" in page and "polyline" in page
