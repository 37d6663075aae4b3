"""Parity, measured: the same 3-day testbed world (every site, the rendered shop too) crawled (campaign per
day: crawl, roll-up, identities, alerts) into SQLite and into the real session Elasticsearch cluster; what
an analyst sees must be equal.

Documented differences (README, "Elasticsearch"): ranking order of hits (BM25 per shard vs FTS5 bm25) is
not compared, only hit *sets*; on a cluster with analysis-common the Swedish stemmer makes Elasticsearch
match more word forms than SQLite (the local cluster has none, see indexer/elastic.py), so there the
SQLite hits must be a subset; Swedish stopwords are not searchable on Elasticsearch (no query here is one).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from indexer.base import IndexBackend, SearchFilters
from tests.e2e_world import CampaignWorld

# up to two 3-day crawls (one per backend, session fixtures) in the first test's setup: longer than the
# default per-test timeout
pytestmark = [pytest.mark.slow, pytest.mark.es, pytest.mark.timeout(2400)]

# (query, filters): Swedish and English words, diacritics either way, phrases, prefixes, filters.
QUERIES: list[tuple[str | None, SearchFilters | None]] = [
    ("kokain", None),
    ("cocaine", None),
    ("Kokain", SearchFilters(ships_from="SE")),
    ("amfetamin", None),
    ("tjack*", None),
    ("koka*", None),
    ("hasch", None),
    ("gräs", None),
    ("gras", None),
    ("mdma", None),
    ("ecstasy", None),
    ('"snabb leverans"', None),
    ("cocaine", SearchFilters(substance_class="stimulant", price_min=100, price_max=5000)),
    (None, SearchFilters(substance="cocaine")),
    (None, SearchFilters(site="flugsvamp")),
    (None, SearchFilters(ships_from="SE", date_field="first_seen", date_from="2026-09-02")),
    ("kokain", SearchFilters(date_field="last_seen", date_to="2026-09-02")),
]
TERMS = [("listing", "vendor"), ("listing", "substance"), ("listing", "substance_class"), ("listing", "site"),
         ("listing", "ships_from"), ("vendor", "site"), ("listing_observation", "vendor"), ("alert", "rule")]
HISTOGRAMS = [("listing_observation", "observed_at", "day", "price_sek"), ("listing", "first_seen", "week", None),
              ("vendor", "first_seen", "day", None), ("feedback", "date", "month", None)]
COUNTED = ("listing", "vendor", "listing_observation", "vendor_observation", "feedback", "post", "alert",
           "vendor_identity")


@pytest.fixture(scope="module")
def worlds(campaign_world: CampaignWorld, campaign_world_es: CampaignWorld,
           tmp_path_factory: pytest.TempPathFactory) -> tuple[CampaignWorld, CampaignWorld]:
    """The session's campaign world (tests/fixtures_worlds.py) crawled into SQLite (a private copy here) and
    into Elasticsearch. Their alerts: the built-in rules (the world has one new Swedish vendor on day 1) plus
    watch-list keywords, whose matching runs through the backend's search."""
    return campaign_world.copy(tmp_path_factory.mktemp("parity") / "home"), campaign_world_es


@pytest.fixture(scope="module")
def backends(worlds: tuple[CampaignWorld, CampaignWorld]) -> Iterator[tuple[IndexBackend, IndexBackend]]:
    a, b = worlds[0].backend(), worlds[1].backend()
    yield a, b
    a.close()
    b.close()


def test_same_documents(backends: tuple[IndexBackend, IndexBackend]) -> None:
    sqlite, es = backends
    for kind in COUNTED:
        assert sqlite.count(kind) == es.count(kind), kind
    assert sqlite.count("listing") > 300 and sqlite.count("alert") > 0
    for kind in ("listing", "vendor", "feedback", "post", "alert", "vendor_identity"):
        assert [d["id"] for d in sqlite.iter_docs(kind)] == [d["id"] for d in es.iter_docs(kind)], kind
    # observation ids include the campaign run id (a timestamp): compare what was observed when
    for kind, key in (("listing_observation", "listing"), ("vendor_observation", "vendor")):
        def seen(b: IndexBackend, kind: str = kind, key: str = key) -> list[tuple[Any, ...]]:
            return sorted((d[key], d["observed_at"], d.get("price_sek")) for d in b.iter_docs(kind))
        assert seen(sqlite) == seen(es), kind


def test_same_hit_sets(backends: tuple[IndexBackend, IndexBackend]) -> None:
    sqlite, es = backends
    stemming = getattr(es, "analysis", "basic") == "full"
    empty = []
    for query, filters in QUERIES:
        want = {h.id for h in sqlite.search("listing", query, filters, limit=5000)}
        got = {h.id for h in es.search("listing", query, filters, limit=5000)}
        if not want:
            empty.append(query)
        if stemming:
            assert want <= got, (query, filters, sorted(want - got)[:5])
        else:
            assert want == got, (query, filters, sorted(want ^ got)[:5])
    assert len(empty) <= 3, f"queries without hits prove nothing: {empty}"
    for kind, query in (("vendor", None), ("post", "kokain"), ("feedback", None), ("post", None)):
        want = {h.id for h in sqlite.search(kind, query, None, limit=5000)}
        assert want == {h.id for h in es.search(kind, query, None, limit=5000)}, (kind, query)


def test_same_terms_and_histograms(backends: tuple[IndexBackend, IndexBackend]) -> None:
    sqlite, es = backends
    for kind, field in TERMS:
        want, got = sqlite.terms(kind, field, size=1000), es.terms(kind, field, size=1000)
        assert dict(want) == dict(got), (kind, field)
        assert [n for _, n in want] == [n for _, n in got], (kind, field)  # both most frequent first
    for kind, field, interval, total in HISTOGRAMS:
        want = sqlite.date_histogram(kind, field, interval, sum_field=total)
        got = es.date_histogram(kind, field, interval, sum_field=total)
        assert [(k, n) for k, n, _ in want] == [(k, n) for k, n, _ in got], (kind, field, interval)
        for (_, _, a), (_, _, b) in zip(want, got, strict=True):
            assert a == pytest.approx(b) if total else a is b is None


def test_same_turnover_identities_alerts(backends: tuple[IndexBackend, IndexBackend]) -> None:
    from analytics.turnover import compute_turnover, totals

    sqlite, es = backends
    reports = [compute_turnover(b) for b in (sqlite, es)]
    by_vendor = [totals([*r.counter, *r.feedback, *r.corrected], by="vendor") for r in reports]
    assert by_vendor[0] and set(by_vendor[0]) == set(by_vendor[1])
    for key, value in by_vendor[0].items():
        assert by_vendor[1][key] == pytest.approx(value), key
    assert {m for _, m in by_vendor[0]} >= {"counter"}

    def identities(b: IndexBackend) -> set[tuple[Any, ...]]:
        return {(d["id"], tuple(d["vendors"]), d["strength"], d["confidence"]) for d in b.iter_docs("vendor_identity")}

    def alerts(b: IndexBackend) -> set[tuple[Any, ...]]:
        return {(d["id"], d["rule"], d.get("title")) for d in b.iter_docs("alert")}

    assert identities(sqlite) == identities(es)
    assert alerts(sqlite) == alerts(es)
    assert {rule for _, rule, _ in alerts(sqlite)} >= {"new_swedish_vendor", "watchlist:keyword:tjack"}
