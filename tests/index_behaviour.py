"""Backend-independent behaviour of :class:`indexer.base.IndexBackend`.

Not collected by itself: ``tests/indexer/test_index_sqlite.py`` and ``tests/indexer/test_index_es_integration.py``
subclass :class:`BackendBehaviour` and provide a ``backend`` fixture (an empty index whose writes are
visible to the next read).
"""

from __future__ import annotations

from typing import Any

import pytest

from indexer.base import IndexBackend, SearchFilters
from indexer.models import Listing, ListingObservation, Vendor


def listing(native: str, **kw: Any) -> Listing:
    site = kw.pop("site", "svmarket")
    return Listing(id=Listing.make_id(site, native), site=site, listing_id=native, **kw)


def corpus() -> list[Listing]:
    return [
        listing(
            "1",
            title="Kokain högsta kvalité",
            description="Ren flake, snabb leverans med PostNord",
            vendor="NordiskKvalitet",
            substance="cocaine",
            substance_class="stimulant",
            ships_from="SE",
            ships_to=["SE"],
            escrow="FE",
            price_sek=900.0,
            first_seen="2024-03-01T08:00:00Z",
            last_seen="2024-03-04T10:00:00Z",  # Monday
        ),
        listing(
            "2",
            title="Tjack amfetamin 10g",
            description="Billigt tjack, skickas diskret i brev",
            vendor="Stockholmsbaren",
            substance="amphetamine",
            substance_class="stimulant",
            ships_from="SE",
            ships_to=["SE", "NO"],
            price_sek=1500.0,
            first_seen="2024-03-02T08:00:00Z",
            last_seen="2024-03-10T23:59:00Z",  # Sunday, same ISO week as the Monday above
        ),
        listing(
            "3",
            site="intlmarket",
            title="Cocaine 90% pure",
            description="Worldwide shipping from NL. Kokain, fishscale.",
            vendor="DutchDirect",
            substance="cocaine",
            substance_class="stimulant",
            ships_from="NL",
            ships_to=["SE", "DE", "NO"],
            price_sek=1200.0,
            first_seen="2024-03-03T08:00:00Z",
            last_seen="2024-03-11T00:00:00Z",  # Monday: next week
        ),
        listing(
            "4",
            title="Hasch Marocko",
            description="Gött hasch, hämtas i Göteborg",
            vendor="GöteborgsGröna",
            substance="cannabis",
            substance_class="cannabis",
            ships_from="SE",
            ships_to=["SE"],
            price_sek=300.0,
            first_seen="2024-02-20T08:00:00Z",
            last_seen="2024-02-29T12:00:00Z",  # leap day, end of February
        ),
        listing(
            "5",
            title="Tjackpipa i glas",
            description="Tillbehör",
            vendor="Stockholmsbaren",
            ships_from="SE",
            price_sek=None,
            first_seen="2024-03-05T08:00:00Z",
            last_seen="2024-03-31T23:00:00Z",  # last hour of March
        ),
        listing(
            "6",
            site="intlmarket",
            title="MDMA pills 200mg",
            description="Dutch quality ecstasy",
            vendor="DutchDirect",
            substance="mdma",
            substance_class="entactogen",
            ships_from="NL",
            ships_to=["DE"],
            price_sek=150.0,
            first_seen="2024-03-06T08:00:00Z",
            last_seen="2024-04-01T00:30:00Z",  # first hour of April
        ),
    ]


def ids(hits: list[Any]) -> list[str]:
    return [h.doc["listing_id"] for h in hits]


HOSTILE = [
    '"',
    '""',
    "AND OR",
    "OR",
    "NOT",
    "*",
    "**",
    "col:val",
    "title:kokain",
    "NEAR(a b)",
    "(kokain",
    "kokain)",
    "'; DROP TABLE listing; --",
    "^kokain",
    "-kokain",
    "+kokain",
    "kokain~2",
    "a\\b",
    "{}[]",
    "\x00",
    "日本語 ✓ 🙂",
    "ÅÄÖ åäö",
    "\u0301",
    "kokain AND",
    '"kokain',
    "k*o*k",
    "." * 500,
]


class BackendBehaviour:
    """Subclasses provide a ``backend`` fixture yielding an empty IndexBackend."""

    @pytest.fixture()
    def loaded(self, backend: IndexBackend) -> IndexBackend:
        assert backend.upsert(corpus()) == 6
        return backend

    # -------------------------------------------------------------- writes
    def test_protocol(self, backend: IndexBackend) -> None:
        assert isinstance(backend, IndexBackend)

    def test_upsert_is_idempotent(self, loaded: IndexBackend) -> None:
        loaded.upsert(corpus())
        loaded.upsert(corpus())
        assert loaded.count("listing") == 6
        assert len(list(loaded.iter_docs("listing"))) == 6

    def test_upsert_replaces_by_id(self, loaded: IndexBackend) -> None:
        changed = corpus()[0]
        changed.title = "Snö extra ren"
        changed.price_sek = 950.0
        loaded.upsert([changed])
        assert loaded.count("listing") == 6
        doc = loaded.get("listing", changed.id)
        assert doc is not None and doc["title"] == "Snö extra ren" and doc["price_sek"] == 950.0
        assert ids(loaded.search("listing", "snö")) == ["1"]
        assert "1" not in ids(loaded.search("listing", "högsta"))

    def test_get_missing_and_delete(self, loaded: IndexBackend) -> None:
        assert loaded.get("listing", "lst-nope") is None
        first = corpus()[0]
        loaded.delete("listing", first.id)
        assert loaded.get("listing", first.id) is None
        assert loaded.count("listing") == 5
        assert "1" not in ids(loaded.search("listing", "kokain"))

    def test_round_trip_keeps_lists_and_dicts(self, backend: IndexBackend) -> None:
        doc = listing(
            "x", title="t", ships_to=["SE", "FI"], shipping=[{"carrier": "PostNord"}], entities={"a": 1}
        )
        backend.upsert([doc])
        assert backend.get("listing", doc.id) == doc.to_dict()

    def test_iter_docs_in_id_order_with_filters(self, loaded: IndexBackend) -> None:
        all_ids = [d["id"] for d in loaded.iter_docs("listing")]
        assert all_ids == sorted(all_ids) and len(all_ids) == 6
        nl = list(loaded.iter_docs("listing", SearchFilters(ships_from="NL")))
        assert sorted(d["listing_id"] for d in nl) == ["3", "6"]

    # -------------------------------------------------------------- search
    def test_ranking_title_beats_description(self, loaded: IndexBackend) -> None:
        hits = loaded.search("listing", '"kokain"')  # the word (listing 3 has "Cocaine" in its title)
        assert ids(hits)[:2] == ["1", "3"]
        assert hits[0].score >= hits[1].score
        assert hits[0].kind == "listing" and hits[0].id == corpus()[0].id

    def test_search_with_filters(self, loaded: IndexBackend) -> None:
        assert ids(loaded.search("listing", "kokain", SearchFilters(ships_from="SE"))) == ["1"]
        assert ids(loaded.search("listing", "kokain", SearchFilters(site="intlmarket"))) == ["3"]
        assert ids(loaded.search("listing", "kokain", SearchFilters(vendor="DutchDirect"))) == ["3"]
        assert ids(loaded.search("listing", "kokain", SearchFilters(substance="amphetamine"))) == []
        assert sorted(ids(loaded.search("listing", None, SearchFilters(substance_class="stimulant")))) == [
            "1",
            "2",
            "3",
        ]
        assert ids(loaded.search("listing", None, SearchFilters(extra={"escrow": "FE"}))) == ["1"]
        # list field: any element matches
        assert sorted(ids(loaded.search("listing", None, SearchFilters(extra={"ships_to": "NO"})))) == [
            "2",
            "3",
        ]
        # several values: any of them
        assert sorted(
            ids(loaded.search("listing", None, SearchFilters(extra={"substance": ["mdma", "cannabis"]})))
        ) == [
            "4",
            "6",
        ]

    def test_search_without_query_lists_in_id_order(self, loaded: IndexBackend) -> None:
        hits = loaded.search("listing", None, SearchFilters(ships_from="SE"), limit=10)
        assert [h.id for h in hits] == sorted(h.id for h in hits)
        assert sorted(ids(hits)) == ["1", "2", "4", "5"]
        assert len(loaded.search("listing", "", limit=2)) == 2

    def test_price_range_is_inclusive_on_price_sek(self, loaded: IndexBackend) -> None:
        f = SearchFilters(price_min=300, price_max=1200)
        assert sorted(ids(loaded.search("listing", None, f))) == ["1", "3", "4"]
        assert loaded.count("listing", f) == 3
        assert sorted(ids(loaded.search("listing", None, SearchFilters(price_min=1201)))) == ["2"]
        assert sorted(ids(loaded.search("listing", None, SearchFilters(price_max=150)))) == ["6"]

    def test_date_range(self, loaded: IndexBackend) -> None:
        # a date-only date_to includes that whole day (listing 2 is seen at 23:59)
        f = SearchFilters(date_from="2024-03-04", date_to="2024-03-10")
        assert sorted(ids(loaded.search("listing", None, f))) == ["1", "2"]
        f = SearchFilters(date_from="2024-03-01", date_to="2024-03-31", date_field="first_seen")
        assert sorted(ids(loaded.search("listing", None, f))) == ["1", "2", "3", "5", "6"]
        assert loaded.count("listing", SearchFilters(date_from="2024-04-01")) == 1

    def test_swedish_text(self, loaded: IndexBackend) -> None:
        for q in ("högsta", "HÖGSTA", "hogsta", "kvalité", "kvalite"):
            assert ids(loaded.search("listing", q)) == ["1"], q
        for q in ("göteborg", "Göteborg", "goteborg", "gött", "hämtas"):
            assert ids(loaded.search("listing", q)) == ["4"], q
        assert ids(loaded.search("listing", "högsta kvalité", SearchFilters(vendor="NordiskKvalitet"))) == [
            "1"
        ]
        assert ids(loaded.search("listing", None, SearchFilters(vendor="GöteborgsGröna"))) == ["4"]

    def test_phrases(self, loaded: IndexBackend) -> None:
        assert ids(loaded.search("listing", '"högsta kvalité"')) == ["1"]
        assert ids(loaded.search("listing", '"kvalité högsta"')) == []
        assert ids(loaded.search("listing", '"snabb leverans" kokain')) == ["1"]

    def test_prefix(self, loaded: IndexBackend) -> None:
        assert sorted(ids(loaded.search("listing", "tjack*"))) == ["2", "5"]
        assert sorted(ids(loaded.search("listing", "Tjackp*"))) == ["5"]
        assert ids(loaded.search("listing", "tjackx*")) == []

    def test_all_words_must_match(self, loaded: IndexBackend) -> None:
        # "flake" names cocaine too, so it is quoted to mean the word (listing 3 says "fishscale")
        assert ids(loaded.search("listing", 'kokain "flake"')) == ["1"]
        assert ids(loaded.search("listing", "kokain marocko")) == []

    @pytest.mark.parametrize("query", HOSTILE)
    def test_hostile_queries_never_fail(self, loaded: IndexBackend, query: str) -> None:
        hits = loaded.search("listing", query, SearchFilters(site="svmarket"))
        assert isinstance(hits, list)
        assert all(h.doc["site"] == "svmarket" for h in hits)

    @pytest.mark.timeout(120)  # a hang guard, not a speed check: the expansion was cubic in the words
    def test_long_and_wide_queries(self, loaded: IndexBackend) -> None:
        # an analyst pasting a page: 10 kB of words, one 10k-letter word, 300 substance names at once
        assert sorted(ids(loaded.search("listing", "kokain " * 1500))) == ["1", "3"]
        assert loaded.count("listing", None, "kokain " * 1500) == 2
        assert ids(loaded.search("listing", "k" * 10000)) == []
        many = " ".join(["koks", "speed", "mdma", "heroin", "lsd", "weed", "hasch", "meth", "ketamine"] * 30)
        assert ids(loaded.search("listing", many)) == []
        assert loaded.count("listing", None, many) == 0

    def test_synonym_with_a_phrase(self, loaded: IndexBackend) -> None:
        assert ids(loaded.search("listing", 'koks "högsta kvalité"')) == ["1"]
        assert ids(loaded.search("listing", 'cocaine "worldwide shipping"')) == ["3"]

    def test_invisible_characters_in_a_pasted_query(self, loaded: IndexBackend) -> None:
        # soft hyphens and zero-width spaces come along when a title is copied from a page
        for q in ("ko\u00adkain", "ko\u200bkain", "\ufeffkokain", "koka\u2060in"):
            assert sorted(ids(loaded.search("listing", q))) == ["1", "3"], repr(q)

    def test_punctuation_is_plain_text(self, loaded: IndexBackend) -> None:
        assert ids(loaded.search("listing", "title:kokain")) == []  # no field syntax: "title" AND "kokain"
        assert ids(loaded.search("listing", "(kokain")) == ids(loaded.search("listing", "kokain"))
        assert ids(loaded.search("listing", "kokain AND")) == []  # "and" is just a word
        assert ids(loaded.search("listing", '"kokain')) == ids(loaded.search("listing", "kokain"))

    # -------------------------------------------------------------- substance synonyms, vendor names
    def test_substance_names_match_across_languages(self, loaded: IndexBackend) -> None:
        for q in ("kokain", "koks", "cocaine", "coke", "Cocaine", "kokaín", "nose candy"):
            assert sorted(ids(loaded.search("listing", q))) == ["1", "3"], q
            assert loaded.count("listing", None, q) == 2, q
        for q in ("amfetamin", "speed", "amphetamine"):
            assert ids(loaded.search("listing", q)) == ["2"], q  # not "Tjackpipa" (no substance, other word)
        assert ids(loaded.search("listing", "ecstasy", SearchFilters(site="intlmarket"))) == ["6"]
        assert ids(loaded.search("listing", "koks", SearchFilters(ships_from="NL"))) == ["3"]

    def test_canonical_substance_matches_without_a_synonym_in_the_text(self, loaded: IndexBackend) -> None:
        loaded.upsert([listing("7", title="Flak 5 g", description="Bästa", substance="cocaine", ships_from="SE")])
        assert sorted(ids(loaded.search("listing", "koks"))) == ["1", "3", "7"]
        assert ids(loaded.search("listing", "koks", limit=3))[-1] == "7"  # no text match: ranked last
        assert ids(loaded.search("listing", '"koks"')) == []

    def test_expansion_is_precise(self, loaded: IndexBackend) -> None:
        loaded.upsert([
            listing("8", title="Pink Cocaine 2C-B 10 pills", description="Tusi", substance="2c-b"),
            listing("9", title="Crack cocaine rocks", description="", substance="crack"),
            listing("10", title="Vitt 10 g", description="Is och snö", substance=None),
        ])
        hits = loaded.search("listing", "koks", limit=50)
        assert sorted(ids(hits)) == ["1", "3"]  # the names of 2C-B and crack that hold "cocaine" do not count
        assert {h.doc["substance"] for h in hits} == {"cocaine"}
        assert sorted(ids(loaded.search("listing", '"cocaine"'))) == ["3", "8", "9"]  # quoted: the word
        assert ids(loaded.search("listing", "vitt")) == ["10"]  # a weak street word is just a word
        assert ids(loaded.search("listing", "koks*")) == []  # a prefix is never expanded
        assert ids(loaded.search("listing", '"kokain högsta"')) == ["1"]  # nor a phrase (3 is Cocaine)

    def test_vendor_names_are_free_text(self, loaded: IndexBackend) -> None:
        loaded.upsert([Vendor(id=Vendor.make_id(s, n), site=s, name=n, profile="koks och tjack")
                       for s, n in (("intlmarket", "DutchDirect"), ("svmarket", "GöteborgsGröna"))])
        assert sorted(ids(loaded.search("listing", "dutchdirect"))) == ["3", "6"]
        assert sorted(ids(loaded.search("listing", "DUTCHDIR*"))) == ["3", "6"]
        assert loaded.count("listing", None, "dutchdirect") == 2
        assert ids(loaded.search("listing", "goteborgsgrona")) == ["4"]
        assert ids(loaded.search("listing", "kokain dutchdirect")) == ["3"]  # substance and vendor by field
        assert ids(loaded.search("listing", "dutchdirect pills")) == ["6"]
        assert ids(loaded.search("listing", "tjack goteborgsgrona")) == []  # a profile is not a name

    def test_limit(self, loaded: IndexBackend) -> None:
        assert len(loaded.search("listing", None, limit=3)) == 3
        assert len(loaded.search("listing", "kokain", limit=1)) == 1

    def test_other_kinds(self, backend: IndexBackend) -> None:
        v = Vendor(
            id=Vendor.make_id("svmarket", "NordiskKvalitet"),
            site="svmarket",
            name="NordiskKvalitet",
            profile="Vi skickar med PostNord varje dag. Swish ej.",
            ships_from="SE",
            last_seen="2024-03-04T10:00:00Z",
        )
        backend.upsert([v])
        assert [h.id for h in backend.search("vendor", "postnord")] == [v.id]
        assert backend.terms("vendor", "ships_from") == [("SE", 1)]

    # -------------------------------------------------------------- aggregations
    def test_terms(self, loaded: IndexBackend) -> None:
        assert loaded.terms("listing", "ships_from") == [("SE", 4), ("NL", 2)]
        assert loaded.terms("listing", "substance_class") == [
            ("stimulant", 3),
            ("cannabis", 1),
            ("entactogen", 1),
        ]
        assert loaded.terms("listing", "vendor", size=2) == [("DutchDirect", 2), ("Stockholmsbaren", 2)]
        assert loaded.terms("listing", "vendor", SearchFilters(ships_from="SE")) == [
            ("Stockholmsbaren", 2),
            ("GöteborgsGröna", 1),
            ("NordiskKvalitet", 1),
        ]

    def test_terms_on_list_field(self, loaded: IndexBackend) -> None:
        assert loaded.terms("listing", "ships_to") == [("SE", 4), ("DE", 2), ("NO", 2)]

    def test_histogram_day(self, loaded: IndexBackend) -> None:
        buckets = loaded.date_histogram("listing", "last_seen", "day", SearchFilters(site="intlmarket"))
        assert buckets == [("2024-03-11", 1, None), ("2024-04-01", 1, None)]

    def test_histogram_week_starts_monday(self, loaded: IndexBackend) -> None:
        buckets = loaded.date_histogram("listing", "last_seen", "week", sum_field="price_sek")
        assert buckets == [
            ("2024-02-26", 1, 300.0),  # Thu 29 Feb -> Monday 26 Feb
            ("2024-03-04", 2, 2400.0),  # Mon 4 Mar and Sun 10 Mar 23:59
            ("2024-03-11", 1, 1200.0),  # Mon 11 Mar 00:00
            ("2024-03-25", 1, 0.0),  # Sun 31 Mar; no price -> sum 0
            ("2024-04-01", 1, 150.0),
        ]

    def test_histogram_month(self, loaded: IndexBackend) -> None:
        buckets = loaded.date_histogram("listing", "last_seen", "month", sum_field="price_sek")
        assert buckets == [("2024-02-01", 1, 300.0), ("2024-03-01", 4, 3600.0), ("2024-04-01", 1, 150.0)]
        filtered = loaded.date_histogram("listing", "last_seen", "month", SearchFilters(ships_from="NL"))
        assert filtered == [("2024-03-01", 1, None), ("2024-04-01", 1, None)]

    def test_histogram_bad_interval(self, loaded: IndexBackend) -> None:
        with pytest.raises(ValueError):
            loaded.date_histogram("listing", "last_seen", "fortnight")

    def test_observations_time_series(self, backend: IndexBackend) -> None:
        lst = corpus()[0]
        obs = [
            ListingObservation(
                id=ListingObservation.make_id(lst.id, f"run-{day}"),
                listing=lst.id,
                site=lst.site,
                listing_id=lst.listing_id,
                vendor=lst.vendor,
                observed_at=f"2024-03-{day:02d}T06:00:00Z",
                run_id=f"run-{day}",
                price_sek=900.0 + day,
                substance="cocaine",
                sold=day,
            )
            for day in (3, 4, 5, 11)
        ]
        backend.upsert(obs)
        backend.upsert(obs[:2])  # a resumed run re-sends: no duplicates
        assert backend.count("listing_observation") == 4
        weekly = backend.date_histogram("listing_observation", "observed_at", "week", sum_field="price_sek")
        assert weekly == [("2024-02-26", 1, 903.0), ("2024-03-04", 2, 1809.0), ("2024-03-11", 1, 911.0)]
        # date filters fall back to the kind's own date field (observed_at) when last_seen is absent
        f = SearchFilters(date_from="2024-03-04", date_to="2024-03-05")
        assert backend.count("listing_observation", f) == 2
        assert backend.terms("listing_observation", "vendor") == [("NordiskKvalitet", 4)]
