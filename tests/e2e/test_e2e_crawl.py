"""End to end: a real Scrapy crawl of a 3-day testbed world over HTTP on 127.0.0.1 (a campaign run per day,
the session's shared ``campaign_world``), checked against the world's ground truth: ≥99% of the listings
and 100% of the vendors active each day are indexed."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.adapters import load_adapter
from crawler.paths import resolve_data_path
from crawler.warc import read_record
from indexer.base import IndexBackend, SearchFilters, open_backend
from tests.e2e_world import WORLD_DAYS as DAYS
from tests.e2e_world import CampaignWorld

# the shared world's 3-day crawl runs in the first test's setup: longer than the default per-test timeout
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]


@pytest.fixture(scope="module")
def world(campaign_world: CampaignWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CampaignWorld]:
    """A private copy of the session's campaign world (tests/fixtures_worlds.py), active for the module."""
    world = campaign_world.copy(tmp_path_factory.mktemp("e2e") / "home")
    with world.active():
        yield world


@pytest.fixture()
def index(world: CampaignWorld) -> Iterator[IndexBackend]:
    backend = open_backend()
    yield backend
    backend.close()


def _by_day(rows: list[dict], kind: str) -> dict[tuple[int, str], set[str]]:
    out: dict[tuple[int, str], set[str]] = defaultdict(set)
    for row in rows:
        if row["kind"] == kind and row["day"] >= 0:
            out[(row["day"], row["site"])].add(str(row["id"]))
    return out


def test_every_crawl_finished(world: CampaignWorld) -> None:
    for result in world.results:
        assert result.ok, result.finish_reasons
        assert set(result.finish_reasons.values()) == {"finished"}


def test_listings_active_each_day_are_indexed(world: CampaignWorld, index: IndexBackend) -> None:
    seen: dict[tuple[int, str], set[str]] = defaultdict(set)
    day_of_run = world.day_of_run
    for obs in index.iter_docs("listing_observation"):
        seen[(day_of_run[obs["run_id"]], obs["site"])].add(str(obs["listing_id"]))
    truth = _by_day(world.truth["active"], "listing")
    assert truth, "the world has no active listings"
    for key, expected in truth.items():
        coverage = len(expected & seen[key]) / len(expected)
        assert coverage >= 0.99, f"day {key[0]} {key[1]}: {coverage:.3f} of {len(expected)} listings indexed"


def test_vendors_active_each_day_are_indexed(world: CampaignWorld, index: IndexBackend) -> None:
    """A market vendor is observed on its profile page; a shop has no profile page, so its products'
    observations (which name the vendor) are what observe it that day."""
    names = {(v["site"], str(v["vendor_id"])): v["vendor"] for v in world.truth["vendors"]}
    seen: dict[tuple[int, str], set[str]] = defaultdict(set)
    day_of_run = world.day_of_run
    for obs in index.iter_docs("vendor_observation"):
        seen[(day_of_run[obs["run_id"]], obs["site"])].add(obs["name"])
    shops = {site for site in world.sites if load_adapter(site).kind == "shop"}
    for obs in index.iter_docs("listing_observation"):
        if obs["site"] in shops and obs["vendor"]:
            seen[(day_of_run[obs["run_id"]], obs["site"])].add(obs["vendor"])
    truth = _by_day(world.truth["active"], "vendor")
    assert {site for _, site in truth} >= {"flugsvamp", "nordbazaar"}
    for (day, site), ids in truth.items():
        expected = {names[(site, i)] for i in ids}
        missing = expected - seen[(day, site)]
        assert not missing, f"day {day} {site}: vendors not indexed: {sorted(missing)[:5]}"


def test_prices_and_vendors_match_truth(world: CampaignWorld, index: IndexBackend) -> None:
    truth = {(x["site"], str(x["listing_id"])): x for x in world.truth["listings"]}
    last = world.runs[-1].id
    checked = wrong = 0
    for obs in index.iter_docs("listing_observation"):
        if obs["run_id"] != last:
            continue
        expected = truth[(obs["site"], str(obs["listing_id"]))]
        checked += 1
        if obs["price"] != pytest.approx(expected["price_today"], rel=1e-6) or obs["currency"] != expected["currency"]:
            wrong += 1
    assert checked > 400 and wrong / checked <= 0.01, f"{wrong} of {checked} prices differ from the truth"


def test_every_listing_points_to_its_evidence(world: CampaignWorld, index: IndexBackend) -> None:
    captures = {c["id"]: c for c in index.iter_docs("capture")}
    listings = list(index.iter_docs("listing"))
    for listing in listings[:: max(1, len(listings) // 40)]:
        capture = captures[listing["capture_id"]]
        url, body = read_record(capture["warc_file"], capture["warc_offset"])
        assert url == listing["url"]
        assert hashlib.sha256(body).hexdigest() == listing["capture_sha256"]


def test_invalid_pages_are_never_indexed_as_content(world: CampaignWorld, index: IndexBackend) -> None:
    invalid = {c["id"] for c in index.iter_docs("capture") if c["invalid_kind"]}
    assert invalid, "the testbed's DDoS queue should have produced invalid captures"
    for kind in ("listing", "vendor", "post", "feedback"):
        assert not [d for d in index.iter_docs(kind) if d.get("capture_id") in invalid]


def test_forum_posts_are_indexed(world: CampaignWorld, index: IndexBackend) -> None:
    posts = world.truth.get("posts") or []
    if not posts:
        pytest.skip("the world has no forum")
    indexed = {str(p["post_id"]) for p in index.iter_docs("post") if p["site"] == "snackis"}
    expected = {str(p["post_id"]) for p in posts if p["day"] <= DAYS - 1}
    assert len(expected & indexed) / len(expected) >= 0.99


def test_search_finds_swedish_listings(world: CampaignWorld, index: IndexBackend) -> None:
    from indexer.base import SearchFilters

    hits = index.search("listing", '"kokain"', SearchFilters(site="flugsvamp"), limit=50)  # quoted: the word
    assert hits and all("kokain" in (h.doc["title"] + h.doc["description"]).lower() for h in hits)


def test_substance_names_find_the_same_listings_in_both_languages(world: CampaignWorld, index: IndexBackend) -> None:
    """"kokain", "koks", "cocaine", "coke": the same cocaine listings, nordbazaar's English ones for the
    Swedish words and flugsvamp's Swedish ones for the English words, and nothing else."""
    cocaine = {d["id"] for d in index.iter_docs("listing") if d["substance"] == "cocaine"}
    assert {d["site"] for d in index.iter_docs("listing") if d["id"] in cocaine} >= {"flugsvamp", "nordbazaar"}
    for query in ("kokain", "koks", "cocaine", "coke"):
        hits = index.search("listing", query, limit=1000)
        assert {h.id for h in hits} == cocaine, query  # all of them; no listing of another substance
        assert index.count("listing", None, query) == len(cocaine)
    english = index.search("listing", "kokain", SearchFilters(site="nordbazaar"), limit=1000)
    assert english and not any("kokain" in (h.doc["title"] + h.doc["description"]).lower() for h in english)
    swedish = index.search("listing", "cocaine", SearchFilters(site="flugsvamp"), limit=1000)
    assert swedish and not any("cocaine" in (h.doc["title"] + h.doc["description"]).lower() for h in swedish)


def test_vendor_names_find_their_listings(world: CampaignWorld, index: IndexBackend) -> None:
    names = {v["name"] for v in index.iter_docs("vendor", SearchFilters(site="flugsvamp"))}
    name = next(d["vendor"] for d in index.iter_docs("listing", SearchFilters(site="flugsvamp")) if d["vendor"] in names)
    theirs = {d["id"] for d in index.iter_docs("listing", SearchFilters(vendor=name))}
    hits = index.search("listing", name.lower(), limit=1000)  # as typed, in lower case
    assert theirs and theirs <= {h.id for h in hits}


def test_feedback_carries_its_vendor(world: CampaignWorld, index: IndexBackend) -> None:
    vendors = {v["id"]: v["name"] for v in index.iter_docs("vendor")}
    feedback = [f for f in index.iter_docs("feedback") if f["site"] in ("flugsvamp", "nordbazaar")]
    assert feedback and all(f["vendor"] and vendors.get(f["vendor_id"]) == f["vendor"] for f in feedback)


def test_demo_data_dir_is_private(world: CampaignWorld) -> None:
    home = Path(world.results[0].log_file).parents[2]
    assert (home / "index.sqlite").exists() and (home / "warc").is_dir() and (home / "jobs").is_dir()


def test_vendor_pgp_fingerprints_match_truth(world: CampaignWorld, index: IndexBackend) -> None:
    truth = {(v["site"], v["vendor"]): v["pgp_fingerprint"] for v in world.truth["vendors"]}
    vendors = [v for v in index.iter_docs("vendor") if (v["site"], v["name"]) in truth]
    assert len(vendors) >= 80
    for vendor in vendors:
        expected = truth[(vendor["site"], vendor["name"])]
        if expected is None:  # the shop: no profile page, no key; the roll-up's vendor document claims none
            assert vendor["pgp_fingerprints"] == [], vendor["name"]
        else:
            assert expected in vendor["pgp_fingerprints"], vendor["name"]
    assert sum(1 for v in vendors if v["contacts"]) >= len(vendors) // 2


def test_js_shop_products_indexed_with_screenshots(world: CampaignWorld, index: IndexBackend) -> None:
    """The shop renders its products client-side: they are indexed (via chromium) and every rendered
    product page left a PNG screenshot as evidence."""
    shop = [d for d in index.iter_docs("listing") if d["site"] == "tillskott"]
    products = {str(p["listing_id"]) for p in world.truth["listings"] if p["site"] == "tillskott"}
    assert products and {d["listing_id"] for d in shop} == products
    captures = {c["id"]: c for c in index.iter_docs("capture")}
    for listing in shop:
        shot = captures[listing["capture_id"]]["screenshot"]
        assert shot and resolve_data_path(shot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _words(text: str) -> str:
    return " ".join(text.split())


def test_planted_hostile_strings_are_indexed_as_text(world: CampaignWorld, index: IndexBackend) -> None:
    """The testbed's hostile strings (testbed/data/hostile.yaml) go through crawl, extraction and index as
    literal text: a vendor named with an <img onerror> is still a vendor with its listings and its key."""
    rows = world.truth["hostile"]
    vendors = {(v["site"], v["name"]): v for v in index.iter_docs("vendor")}
    listings = {(x["site"], str(x["listing_id"])): x for x in index.iter_docs("listing")}
    posts = {str(p["post_id"]): p for p in index.iter_docs("post")}
    planted = {(v["site"], v["vendor_id"]): v for v in world.truth["vendors"]
               if v["identity_id"].startswith("ident-planted-")}
    for row in rows:
        if row["kind"] == "vendor" and row["field"] == "name":
            doc = vendors[(row["site"], row["text"])]
            assert planted[(row["site"], row["id"])]["pgp_fingerprint"] in doc["pgp_fingerprints"]
            assert any(x["vendor"] == row["text"] and x["vendor_id"] == doc["id"] for x in listings.values())
        elif row["kind"] == "listing" and row["field"] in ("title", "description"):
            assert _words(row["text"]) in _words(listings[(row["site"], row["id"])][row["field"]])
        elif row["kind"] == "post" and row["field"] == "text":  # the forum shows a post's lines as one
            assert _words(row["text"]) in _words(posts[row["id"]]["text"])
    assert any(r["kind"] == "post" for r in rows) and any(r["kind"] == "listing" for r in rows)
    for (site, _), v in planted.items():
        assert all(x["vendor"] == v["vendor"] for x in listings.values()
                   if x["site"] == site and x["listing_id"] in {r["id"] for r in rows if r["kind"] == "listing"})


def test_planted_vendors_are_not_linked_to_anyone(world: CampaignWorld, index: IndexBackend) -> None:
    from analytics.identity import link_vendors

    result = link_vendors(index, write=False)
    planted = {v["vendor"] for v in world.truth["vendors"] if v["identity_id"].startswith("ident-planted-")}
    for ident in result.identities + result.candidates:
        names = {n.split(":", 1)[1] for n in ident.names}
        assert not names & planted, f"a planted vendor was linked: {ident.names}"
    assert result.identities, "the real shared identities are still linked"
