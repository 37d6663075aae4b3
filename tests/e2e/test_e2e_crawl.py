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
from indexer.base import IndexBackend, open_backend
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

    hits = index.search("listing", "kokain", SearchFilters(site="flugsvamp"), limit=50)
    assert hits and all("kokain" in (h.doc["title"] + h.doc["description"]).lower() for h in hits)


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
