"""Contract tests for the Elasticsearch backend against a recording fake on 127.0.0.1: exactly what we
send (templates, bulk NDJSON, query DSL, aggregations) and that a cluster outage loses nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.base import IndexError_, SearchFilters, open_backend
from indexer.elastic import ANALYZER, ElasticBackend, index_templates
from indexer.models import ALL_KINDS, Listing, ListingObservation
from tests.fake_http import FakeServer
from tests.index_behaviour import corpus


@pytest.fixture()
def es() -> Iterator[FakeServer]:
    server = FakeServer("es").start()
    yield server
    server.stop()


@pytest.fixture()
def backend(es: FakeServer, tmp_path: Path) -> Iterator[ElasticBackend]:
    b = ElasticBackend(es.url, spool_dir=tmp_path / "spool", retries=2, backoff=0.01, timeout=2)
    yield b
    b.close()


def observation(lst: Listing, run: str, day: int) -> ListingObservation:
    return ListingObservation(
        id=ListingObservation.make_id(lst.id, run),
        listing=lst.id,
        site=lst.site,
        listing_id=lst.listing_id,
        vendor=lst.vendor,
        observed_at=f"2024-03-{day:02d}T06:00:00Z",
        run_id=run,
        price_sek=lst.price_sek,
    )


# ---------------------------------------------------------------------- setup: templates
def test_open_backend_http_url(es: FakeServer) -> None:
    b = open_backend(es.url)
    assert isinstance(b, ElasticBackend) and b.url == es.url
    b.close()


def test_templates_indices_and_data_streams(es: FakeServer, backend: ElasticBackend) -> None:
    backend.upsert(corpus()[:1])
    puts = {r.path: r for r in es.state.requests if r.method == "PUT"}
    expected = index_templates("sokhund")
    for name, body in expected.items():
        assert puts[f"/_index_template/{name}"].json() == body
    assert set(expected) == {f"sokhund-{k}" for k in ALL_KINDS}
    # no _data_stream API and no index creation: the first bulk write creates both from the templates
    assert not any(p.startswith("/_data_stream/") for p in es.state.paths())
    assert set(puts) - {"/_bulk"} == {f"/_index_template/{name}" for name in expected}

    listing_tpl = puts["/_index_template/sokhund-listing"].json()
    settings = listing_tpl["template"]["settings"]
    assert settings["analysis"]["analyzer"][ANALYZER] == {
        "type": "custom",
        "tokenizer": "standard",
        "filter": ["lowercase", "sokhund_folding", "sokhund_sv_stemmer"],
    }
    assert settings["analysis"]["filter"] == {
        "sokhund_folding": {"type": "asciifolding", "preserve_original": True},
        "sokhund_sv_stemmer": {"type": "stemmer", "language": "swedish"},
    }
    props = listing_tpl["template"]["mappings"]["properties"]
    assert props["title"] == {
        "type": "text",
        "analyzer": ANALYZER,
        "fields": {"keyword": {"type": "keyword", "ignore_above": 512}},
    }
    assert props["description"]["analyzer"] == ANALYZER
    for kw in ("site", "vendor", "substance", "substance_class", "ships_from", "ships_to", "id"):
        assert props[kw]["type"] == "keyword", kw
    assert props["price_sek"] == {"type": "double"}
    assert props["last_seen"] == {"type": "date", "ignore_malformed": True}
    assert props["entities"] == {"type": "object", "enabled": False}
    assert listing_tpl["template"]["mappings"]["dynamic"] is False
    assert listing_tpl["index_patterns"] == ["sokhund-listing"] and "data_stream" not in listing_tpl

    obs_tpl = puts["/_index_template/sokhund-listing_observation"].json()
    assert obs_tpl["data_stream"] == {}
    assert obs_tpl["template"]["lifecycle"] == {"data_retention": "730d"}
    assert "lifecycle" not in listing_tpl["template"]
    assert obs_tpl["template"]["mappings"]["properties"]["@timestamp"] == {"type": "date"}


def test_compatibility_headers_and_setup_once(es: FakeServer, backend: ElasticBackend) -> None:
    backend.upsert(corpus()[:1])
    backend.upsert(corpus()[1:2])
    accept = es.state.requests[0].headers["accept"]
    assert "compatible-with=8" in accept
    assert len([p for p in es.state.paths("PUT") if p.startswith("/_index_template/")]) == len(ALL_KINDS)


# ---------------------------------------------------------------------- bulk
def test_bulk_ndjson_lines(es: FakeServer, backend: ElasticBackend) -> None:
    lst = corpus()[0]
    obs = observation(lst, "run-1", 4)
    assert backend.upsert([lst, obs]) == 2
    bulk = [r for r in es.state.requests if r.path == "/_bulk"]
    assert len(bulk) == 1
    assert bulk[0].headers["content-type"].startswith("application/vnd.elasticsearch+x-ndjson")
    assert bulk[0].ndjson() == [
        {"index": {"_index": "sokhund-listing", "_id": lst.id}},
        lst.to_dict(),
        {"create": {"_index": "sokhund-listing_observation", "_id": obs.id}},
        {"@timestamp": "2024-03-04T06:00:00Z", **obs.to_dict()},
    ]


def test_resent_observation_409_counts_as_done(
    es: FakeServer, backend: ElasticBackend, tmp_path: Path
) -> None:
    obs = observation(corpus()[0], "run-1", 4)
    assert backend.upsert([obs]) == 1
    assert backend.upsert([obs]) == 1  # 409 from the data stream: already stored
    assert es.state.bulk_ops == [("create", "sokhund-listing_observation", obs.id)]
    assert backend.spool_files() == []


def test_retryable_item_is_retried(es: FakeServer, backend: ElasticBackend) -> None:
    docs = corpus()
    es.state.item_status[docs[2].id] = 429  # once
    assert backend.upsert(docs) == 6
    bulks = [r.ndjson() for r in es.state.requests if r.path == "/_bulk"]
    assert len(bulks) == 2 and bulks[1] == [
        {"index": {"_index": "sokhund-listing", "_id": docs[2].id}},
        docs[2].to_dict(),
    ]
    assert len(es.state.docs["sokhund-listing"]) == 6


def test_mapping_rejection_is_kept_aside_not_retried(es: FakeServer, backend: ElasticBackend) -> None:
    docs = corpus()
    es.state.item_status[docs[0].id] = 400
    assert backend.upsert(docs) == 5
    assert len([r for r in es.state.requests if r.path == "/_bulk"]) == 1
    assert backend.spool_files() == []
    rejected = backend.spool_dir / "rejected-sokhund.jsonl"
    assert docs[0].id in rejected.read_text()


def test_refresh_option(es: FakeServer, tmp_path: Path) -> None:
    b = ElasticBackend(es.url, spool_dir=tmp_path, refresh=True, prefix="t1")
    b.upsert(corpus()[:1])
    bulk = [r for r in es.state.requests if r.path == "/_bulk"][0]
    assert bulk.query == {"refresh": ["wait_for"]}
    assert bulk.ndjson()[0] == {"index": {"_index": "t1-listing", "_id": corpus()[0].id}}
    b.close()


# ---------------------------------------------------------------------- search DSL
FIELDS = ["title^4", "description", "extra_text^0.5", "title__fold^4", "description__fold", "extra_text__fold^0.5"]


def last_search(es: FakeServer) -> dict:
    return [r for r in es.state.requests if r.path.endswith("/_search")][-1].json()


def test_search_dsl(es: FakeServer, backend: ElasticBackend) -> None:
    filters = SearchFilters(
        site="svmarket",
        vendor="NordiskKvalitet",
        substance="cocaine",
        substance_class="stimulant",
        ships_from="SE",
        price_min=100,
        price_max=1000,
        date_from="2024-03-01",
        date_to="2024-03-10",
        extra={"ships_to": ["SE", "NO"], "escrow": None, "title": "x"},
    )
    backend.search("listing", '"Kokain" "högsta kvalité" tjack* col:val', filters, limit=5)  # quoted: literal
    req = [r for r in es.state.requests if r.path.endswith("/_search")][-1]
    assert req.path == "/sokhund-listing/_search" and req.method == "POST"
    assert req.json() == {
        "query": {
            "bool": {
                "must": [
                    {"multi_match": {"query": "kokain", "fields": FIELDS, "type": "best_fields"}},
                    {"multi_match": {"query": "hogsta kvalite", "fields": FIELDS, "type": "phrase"}},
                    {
                        "multi_match": {
                            "query": "tjack",
                            "fields": FIELDS,
                            "type": "phrase_prefix",
                            "max_expansions": 200,
                        }
                    },
                    {"multi_match": {"query": "col val", "fields": FIELDS, "type": "phrase"}},
                ],
                "filter": [
                    {"term": {"site": "svmarket"}},
                    {"term": {"vendor": "NordiskKvalitet"}},
                    {"term": {"substance": "cocaine"}},
                    {"term": {"substance_class": "stimulant"}},
                    {"term": {"ships_from": "SE"}},
                    {"terms": {"ships_to": ["SE", "NO"]}},
                    {"term": {"title.keyword": "x"}},
                    {"range": {"price_sek": {"gte": 100.0, "lte": 1000.0}}},
                    {"range": {"last_seen": {"gte": "2024-03-01", "lt": "2024-03-11"}}},
                ],
                "must_not": [{"exists": {"field": "escrow"}}],
            }
        },
        "size": 5,
        "sort": [{"_score": "desc"}, {"id": "asc"}],
        "track_total_hits": False,
    }


def test_search_dsl_substance_expansion(es: FakeServer, backend: ElasticBackend) -> None:
    backend.search("listing", "koks")
    (clause,) = last_search(es)["query"]["bool"]["must"]
    text, substance = clause["bool"]["should"]
    assert clause["bool"]["minimum_should_match"] == 1 and substance == {"terms": {"substance": ["cocaine"]}}
    words = {m["multi_match"]["query"] for m in text["bool"]["should"]}
    assert {"kokain", "koks", "cocaine", "coke", "nose candy"} <= words and "vitt" not in words
    assert {m["multi_match"]["query"] for m in text["bool"]["must_not"]} >= {"pink cocaine", "crack cocaine"}


def test_search_without_query_and_hostile_queries(es: FakeServer, backend: ElasticBackend) -> None:
    backend.search("listing", None)
    assert last_search(es) == {
        "query": {"match_all": {}},
        "size": 20,
        "sort": [{"id": "asc"}],
        "track_total_hits": False,
    }
    backend.search("listing", '" AND OR * ( ) ~ ^ \\')
    must = last_search(es)["query"]["bool"]["must"]
    assert [m["multi_match"]["query"] for m in must] == ["and", "or"]
    backend.search(
        "listing",
        '"',
        SearchFilters(
            date_from="2024-03-01T10:00:00Z", date_to="2024-03-02T10:00:00Z", date_field="first_seen"
        ),
    )
    assert last_search(es)["query"] == {
        "bool": {
            "filter": [
                {"range": {"first_seen": {"gte": "2024-03-01T10:00:00Z", "lte": "2024-03-02T10:00:00Z"}}}
            ]
        }
    }
    # observations: last_seen falls back to observed_at
    backend.search("listing_observation", None, SearchFilters(date_from="2024-03-01"))
    assert last_search(es)["query"]["bool"]["filter"] == [{"range": {"observed_at": {"gte": "2024-03-01"}}}]


def test_search_parses_hits(es: FakeServer, backend: ElasticBackend) -> None:
    doc = corpus()[0].to_dict()
    es.state.search_response = {
        "hits": {"hits": [{"_index": "sokhund-listing", "_id": doc["id"], "_score": 2.5, "_source": doc}]}
    }
    hits = backend.search("listing", "kokain")
    assert len(hits) == 1 and hits[0].id == doc["id"] and hits[0].score == 2.5 and hits[0].doc == doc
    assert hits[0].kind == "listing"


def test_terms_dsl_and_parse(es: FakeServer, backend: ElasticBackend) -> None:
    es.state.search_response = {
        "hits": {"hits": []},
        "aggregations": {
            "terms": {"buckets": [{"key": "SE", "doc_count": 4}, {"key": "NL", "doc_count": 2}]}
        },
    }
    assert backend.terms("listing", "ships_from", SearchFilters(site="svmarket"), size=5) == [
        ("SE", 4),
        ("NL", 2),
    ]
    assert last_search(es) == {
        "query": {"bool": {"filter": [{"term": {"site": "svmarket"}}]}},
        "size": 0,
        "aggs": {
            "terms": {
                "terms": {"field": "ships_from", "size": 5, "order": [{"_count": "desc"}, {"_key": "asc"}]}
            }
        },
    }
    backend.terms("vendor", "name")
    assert last_search(es)["aggs"]["terms"]["terms"]["field"] == "name.keyword"


def test_histogram_dsl_and_parse(es: FakeServer, backend: ElasticBackend) -> None:
    es.state.search_response = {
        "hits": {"hits": []},
        "aggregations": {
            "histogram": {
                "buckets": [
                    {
                        "key_as_string": "2024-03-04",
                        "key": 1709510400000,
                        "doc_count": 2,
                        "sum": {"value": 2400.0},
                    },
                    {
                        "key_as_string": "2024-03-11",
                        "key": 1710115200000,
                        "doc_count": 1,
                        "sum": {"value": 0.0},
                    },
                ]
            }
        },
    }
    out = backend.date_histogram(
        "listing_observation", "observed_at", "week", SearchFilters(ships_from="SE"), sum_field="price_sek"
    )
    assert out == [("2024-03-04", 2, 2400.0), ("2024-03-11", 1, 0.0)]
    req = [r for r in es.state.requests if r.path.endswith("/_search")][-1]
    assert req.path == "/sokhund-listing_observation/_search"
    assert req.json() == {
        "query": {"bool": {"filter": [{"term": {"ships_from": "SE"}}]}},
        "size": 0,
        "aggs": {
            "histogram": {
                "date_histogram": {
                    "field": "observed_at",
                    "calendar_interval": "week",
                    "min_doc_count": 1,
                    "format": "yyyy-MM-dd",
                    "time_zone": "UTC",
                },
                "aggs": {"sum": {"sum": {"field": "price_sek"}}},
            }
        },
    }
    with pytest.raises(ValueError):
        backend.date_histogram("listing", "last_seen", "year")


def test_get_and_count(es: FakeServer, backend: ElasticBackend) -> None:
    lst = corpus()[0]
    backend.upsert([lst])
    assert backend.get("listing", lst.id) == lst.to_dict()
    assert backend.get("listing", "lst-missing") is None
    assert backend.count("listing") == 1
    assert [r.path for r in es.state.requests][-3:] == [
        f"/sokhund-listing/_doc/{lst.id}",
        "/sokhund-listing/_doc/lst-missing",
        "/sokhund-listing/_count",
    ]


# ---------------------------------------------------------------------- outage: spool and replay
def test_cluster_down_spools_and_replays(
    es: FakeServer, backend: ElasticBackend, caplog: pytest.LogCaptureFixture
) -> None:
    docs = corpus()
    obs1 = [observation(d, "run-1", 4) for d in docs]
    assert backend.upsert(docs[:3] + obs1[:3]) == 6

    es.stop()  # the cluster goes away
    changed = docs[0]
    changed.title = "Kokain, nytt pris"
    batch = [changed, *docs[3:], *obs1]  # overlaps what the cluster already has
    with caplog.at_level(logging.WARNING, logger="sokhund.indexer.elastic"):
        assert backend.upsert(batch) == 0
    assert es.url in caplog.text and "spooled" in caplog.text
    assert len(backend.spool_files()) == 1 and backend.spooled == len(batch)
    with pytest.raises(IndexError_, match=es.url.replace(".", r"\.")):
        backend.count("listing")

    es.start()  # back on the same port
    obs2 = [observation(d, "run-2", 5) for d in docs]
    assert backend.upsert(obs2) == 6
    assert backend.spool_files() == []
    listings = es.state.docs["sokhund-listing"]
    assert sorted(listings) == sorted(d.id for d in docs)
    assert listings[changed.id]["title"] == "Kokain, nytt pris"
    stream = es.state.docs["sokhund-listing_observation"]
    assert sorted(stream) == sorted(o.id for o in obs1 + obs2)
    creates = [i for op, _, i in es.state.bulk_ops if op == "create"]
    assert len(creates) == len(set(creates)) == 12  # none duplicated


def test_cluster_down_mid_write(es: FakeServer, tmp_path: Path) -> None:
    """The connection drops after the first bulk chunk: the rest is spooled, then replayed."""
    b = ElasticBackend(es.url, spool_dir=tmp_path, retries=1, backoff=0.01, timeout=2)
    many = [
        Listing(id=Listing.make_id("s", str(i)), site="s", listing_id=str(i), title=f"t {i}")
        for i in range(4500)
    ]
    b.upsert(many[:1])
    server = es._server
    assert server is not None
    original = server._bulk
    calls = {"n": 0}

    def bulk_then_die(req):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        out = original(req)
        if calls["n"] == 1:  # the first chunk of the big batch is stored, then the cluster dies
            server.stopped = True
        return out

    server._bulk = bulk_then_die  # type: ignore[method-assign]
    assert b.upsert(many) == 2000
    assert len(b.spool_files()) == 1
    assert sum(1 for _ in b.spool_files()[0].open()) == 2500
    server.stopped = False
    b.upsert([])  # nothing to write: no replay trigger
    assert len(b.spool_files()) == 1
    b.count("listing")  # reads never write: the spool stays
    assert len(b.spool_files()) == 1
    assert b.flush_spool() == 0  # the writer replays
    assert b.spool_files() == []
    assert len(es.state.docs["sokhund-listing"]) == 4500
    b.close()


def test_down_from_the_start(tmp_path: Path) -> None:
    server = FakeServer("es").start()
    port = server.port
    server.stop()
    b = ElasticBackend(f"http://127.0.0.1:{port}", spool_dir=tmp_path, retries=1, backoff=0.01, timeout=1)
    assert b.upsert(corpus()) == 0
    assert len(b.spool_files()) == 1
    with pytest.raises(IndexError_, match=f"127.0.0.1:{port}"):
        b.search("listing", "kokain")
    server = FakeServer("es", port=port).start()
    assert b.count("listing") == 0  # reads never write: nothing installed, nothing replayed
    assert server.state.paths("PUT") == [] and len(b.spool_files()) == 1
    assert b.upsert([]) == 0 and b.flush_spool() == 0  # the writer installs templates and replays
    assert b.count("listing") == 6
    assert b.spool_files() == []
    assert any(p.startswith("/_index_template/") for p in server.state.paths("PUT"))
    server.stop()
    b.close()
