"""pytest plugin: crawled testbed worlds shared by the end-to-end tests (listed in tests/conftest.py
``pytest_plugins``). Crawling a world is the slowest thing the suite does, so each is crawled at most once
per test session, only when a test asks for it:

* ``campaign_world``    – :class:`tests.e2e_world.CampaignWorld` in SQLite: the testbed (seed 11, every site,
                          DDoS queue on, a week of prehistory, the new Swedish vendor on day 1) run as one
                          campaign per simulated day for 3 days (crawl, roll-up, identities, alerts with the
                          watch list :data:`tests.e2e_world.WATCHLIST_RULES`). Used by the e2e checks
                          against the truth and by the SQLite half of the parity test.
* ``campaign_world_es`` – the same world, crawled the same way into the session Elasticsearch cluster (its
                          own index prefix). Used by the Elasticsearch half of the parity test and the
                          Kibana panel tests.

Tests must not write to a shared world: take ``world.copy(tmp_path)`` for a private home (the index and
evidence are copied; Elasticsearch documents stay shared, so copies of the ES world are for reading).
"""

from __future__ import annotations

import pytest

from tests.e2e_world import CampaignWorld, campaign_days
from tests.es_world import new_prefix


@pytest.fixture(scope="session")
def campaign_world(tmp_path_factory: pytest.TempPathFactory) -> CampaignWorld:
    return campaign_days(tmp_path_factory.mktemp("world-sqlite"), {})


@pytest.fixture(scope="session")
def campaign_world_es(es_url: str, tmp_path_factory: pytest.TempPathFactory) -> CampaignWorld:
    return campaign_days(tmp_path_factory.mktemp("world-es"),
                         {"SOKHUND_INDEX_URL": es_url, "SOKHUND_ES_PREFIX": new_prefix("world")})
