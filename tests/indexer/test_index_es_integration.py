"""The shared behaviour suite against a real Elasticsearch (8.x or 9.x).

Runs only when ``SOKHUND_ES_URL`` is set (e.g. ``http://127.0.0.1:9200``); every test uses its own
index prefix and removes its indices, data streams and templates afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.elastic import ElasticBackend
from tests.index_behaviour import BackendBehaviour

ES_URL = os.environ.get("SOKHUND_ES_URL", "")

pytestmark = [
    pytest.mark.es,
    pytest.mark.skipif(not ES_URL, reason="SOKHUND_ES_URL not set: no Elasticsearch cluster to test against"),
]


def _cleanup(b: ElasticBackend) -> None:
    pattern = f"{b.prefix}-*"
    for call in (
        lambda: b.client.indices.delete_data_stream(name=pattern),
        lambda: b.client.indices.delete(index=pattern, allow_no_indices=True, expand_wildcards="all"),
        lambda: b.client.indices.delete_index_template(name=pattern),
    ):
        try:
            call()
        except Exception:  # noqa: BLE001 - best effort cleanup
            pass


class TestElasticBehaviour(BackendBehaviour):
    @pytest.fixture()
    def backend(self, tmp_path: Path) -> Iterator[ElasticBackend]:
        b = ElasticBackend(
            ES_URL,
            prefix=f"sokhund-test-{uuid.uuid4().hex[:10]}",
            refresh=True,
            spool_dir=tmp_path / "spool",
            retries=1,
            backoff=0.2,
        )
        yield b
        assert b.spool_files() == [], "nothing may be left in the spool against a healthy cluster"
        _cleanup(b)
        b.close()


def test_swedish_analyzer_on_cluster(tmp_path: Path) -> None:
    b = ElasticBackend(ES_URL, prefix=f"sokhund-test-{uuid.uuid4().hex[:10]}", spool_dir=tmp_path)
    try:
        b.count("listing")  # installs templates and creates the indices
        tokens = b.client.indices.analyze(
            index=b.index("listing"), analyzer="sokhund_swedish", text="Högsta kvalitén"
        )["tokens"]
        terms = {t["token"] for t in tokens}
        assert any(t.startswith("högst") for t in terms) and any(t.startswith("hogst") for t in terms)
    finally:
        _cleanup(b)
        b.close()
