"""The vendor, identities, alerts, trends and campaigns pages on the Elasticsearch backend (a real local
8.19 cluster), over the same small index as the SQLite page tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboards.workbench import users
from dashboards.workbench.app import create_app
from dashboards.workbench.config import WorkbenchConfig
from tests.dashboards.workbench.conftest import PASSWORD, login, page_csrf
from tests.dashboards.workbench.hostile import SCRIPT, assert_inert
from tests.dashboards.workbench.pages_data import FP, Ids, seed

pytestmark = pytest.mark.es


@pytest.fixture()
def es_pages(es_url: str, sokhund_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple]:
    from indexer.elastic import ElasticBackend
    from tests.indexer.test_index_es_integration import es_cleanup

    prefix = f"sokhund-test-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("SOKHUND_ES_PREFIX", prefix)
    writer = ElasticBackend(es_url, prefix=prefix, refresh=True, spool_dir=sokhund_home / "spool")
    ids = seed(writer)
    app = create_app(WorkbenchConfig(index_url=es_url, testing=True))
    users.add(app.extensions["sokhund_store"], "anna", "analyst", PASSWORD)
    yield app, ids, writer
    es_cleanup(writer)
    writer.close()


def test_pages_on_elasticsearch(es_pages: tuple) -> None:
    app, ids, writer = es_pages
    ids: Ids
    client = login(app.test_client(), "anna")
    vendor = client.get(f"/vendor/{ids.a}").get_data(as_text=True)
    assert "AlfaIntl" in vendor and vendor.count(FP) >= 3 and SCRIPT not in vendor and "1\u202f800" in vendor
    assert_inert(vendor)
    identities = client.get("/identities").get_data(as_text=True)
    assert f"/vendor/{ids.c}" in identities and 'value="confirm"' in identities
    assert "2 of 2 alerts" in client.get("/alerts").get_data(as_text=True)
    done = client.post("/alerts/bulk", data={"ids": [ids.alert_new], "action": "ack", "csrf_token": page_csrf(client)})
    assert done.status_code == 303
    assert writer.get("alert", ids.alert_new)["acknowledged"] is True  # mirrored on the cluster
    assert "1 of 2 alerts" in client.get("/alerts").get_data(as_text=True)
    trends = client.get("/trends").get_data(as_text=True)
    assert trends.count('<svg class="chart"') >= 5 and "2\u202f750" in trends
    campaigns = client.get("/campaigns").get_data(as_text=True)
    assert "snackis: nothing fetched (connection refused)" in campaigns
