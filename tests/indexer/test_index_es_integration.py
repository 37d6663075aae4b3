"""The shared behaviour suite against a real Elasticsearch: the session cluster of ``tests/es_cluster.py``
(skipped, with the reason, only where java or mvn is missing). Every test uses its own index prefix and
removes what the cluster lets it remove afterwards (data streams stay: not every cluster has the
``_data_stream`` API, and the session cluster is thrown away at the end)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.elastic import ElasticBackend
from tests.index_behaviour import BackendBehaviour

pytestmark = pytest.mark.es


def es_cleanup(b: ElasticBackend) -> None:
    """Best effort: plain indices, then the templates no data stream uses."""
    pattern = f"{b.prefix}-*"
    for call in (
        lambda: b.client.indices.delete(index=pattern, allow_no_indices=True, expand_wildcards="open,closed"),
        lambda: b.client.indices.delete_index_template(name=pattern),
    ):
        try:
            call()
        except Exception:  # noqa: BLE001 - best effort cleanup
            pass


def new_backend(url: str, tmp_path: Path, **kw: object) -> ElasticBackend:
    kw = {"refresh": True, "spool_dir": tmp_path / "spool", "retries": 1, "backoff": 0.2, **kw}
    return ElasticBackend(url, prefix=f"sokhund-test-{uuid.uuid4().hex[:10]}", **kw)  # type: ignore[arg-type]


class TestElasticBehaviour(BackendBehaviour):
    @pytest.fixture()
    def backend(self, es_url: str, tmp_path: Path) -> Iterator[ElasticBackend]:
        b = new_backend(es_url, tmp_path)
        yield b
        assert b.spool_files() == [], "nothing may be left in the spool against a healthy cluster"
        es_cleanup(b)
        b.close()


def test_swedish_analyzer_on_cluster(es_url: str, tmp_path: Path) -> None:
    """The analyzer follows what the cluster can run: stemming and folding with analysis-common, else
    lowercase and Swedish stopwords (the local integ-test-zip has no analysis-common)."""
    b = new_backend(es_url, tmp_path)
    try:
        b.init()
        tokens = b.client.indices.analyze(
            index=b.index("listing"), analyzer="sokhund_swedish", text="Högsta kvalitén och pris"
        )["tokens"]
        terms = {t["token"] for t in tokens}
        nodes = list(b.client.nodes.info(metric="plugins")["nodes"].values())
        assert nodes and all(n["modules"] for n in nodes)
        has_common = all(any(m["name"] == "analysis-common" for m in n["modules"]) for n in nodes)
        assert b.analysis == ("full" if has_common else "basic")  # detected, not assumed
        if b.analysis == "full":
            assert any(t.startswith("högst") for t in terms) and any(t.startswith("hogst") for t in terms)
        else:
            assert terms == {"högsta", "kvalitén", "pris"}  # lowercased, "och" is a stopword
    finally:
        es_cleanup(b)
        b.close()


def test_basic_mode_folds_in_python_and_returns_documents_unchanged(es_url: str, tmp_path: Path) -> None:
    """Without analysis-common the writer adds folded copies; reads never show them."""
    from tests.index_behaviour import corpus

    b = new_backend(es_url, tmp_path, analysis="basic")
    try:
        docs = corpus()
        assert b.upsert(docs) == len(docs)
        raw = b.client.get(index=b.index("listing"), id=docs[0].id)["_source"]
        assert raw["title__fold"] == "kokain hogsta kvalite"
        assert b.get("listing", docs[0].id) == docs[0].to_dict()
        assert [h.doc for h in b.search("listing", "KVALITE")] == [docs[0].to_dict()]
        assert {h.id for h in b.search("listing", '"hogsta kvalité"')} == {docs[0].id}
    finally:
        es_cleanup(b)
        b.close()


def test_delete_from_a_data_stream_without_delete_by_query(es_url: str, tmp_path: Path) -> None:
    """The observation is deleted from its backing index (found by search): no _delete_by_query needed."""
    from indexer.models import ListingObservation

    b = new_backend(es_url, tmp_path)
    try:
        obs = [ListingObservation(id=ListingObservation.make_id("lst-a", f"run-{i}"), listing="lst-a", site="s",
                                  observed_at=f"2024-03-0{i + 1}T06:00:00Z", run_id=f"run-{i}") for i in range(3)]
        assert b.upsert(obs) == 3
        backing = b.client.search(index=b.index("listing_observation"), size=1)["hits"]["hits"][0]["_index"]
        assert backing.startswith(".ds-")  # a real data stream, created by the first write
        b.delete("listing_observation", obs[1].id)
        b.delete("listing_observation", "lobs-missing")
        assert b.get("listing_observation", obs[1].id) is None
        assert sorted(d["id"] for d in b.iter_docs("listing_observation")) == sorted([obs[0].id, obs[2].id])
    finally:
        es_cleanup(b)
        b.close()
