"""The unchanged-text cache (extractors/cache.py) changes nothing but the work: documents built from cached
extractions equal those built by extracting every text, on the day the cache was filled and on a later
day (exchange rates and summaries are recomputed), after the cache was reopened by another process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crawler.pipelines.documents import DocumentBuilder
from extractors.cache import ExtractCache
from extractors.pipeline import SpacyExtractor
from extractors.rates import RateTable
from testbed import catalog
from testbed.entities import WorldConfig
from testbed.world import World

LANGS = {"flugsvamp": "sv", "tillskott": "sv", "nordbazaar": "en", "snackis": "sv"}


@pytest.fixture(scope="module")
def items() -> list[dict[str, Any]]:
    world = World(WorldConfig(seed=7, prehistory_days=3))
    out: list[dict[str, Any]] = []
    for lst in list(world.listings.values())[:120]:
        lang = LANGS[lst.site]
        out.append({"type": "listing", "site": lst.site, "url": f"http://127.0.0.1/{lst.listing_id}", "fields": {
            "listing_id": lst.listing_id, "title": lst.title, "description": lst.description, "price": lst.price,
            "currency": lst.currency, "quantity": lst.qty_text,
            "category": catalog.classes().get(lst.sclass, {}).get(lang)}})
    for vendor in list(world.vendors.values())[:30]:
        out.append({"type": "vendor", "site": vendor.site, "url": "http://127.0.0.1/v",
                    "fields": {"name": vendor.name, "profile": vendor.profile}})
    posts = [p for thread in list(world.threads.values())[:10] for p in world.thread_posts(thread.thread_id)]
    for post in posts[:40]:
        out.append({"type": "post", "site": "snackis", "url": "http://127.0.0.1/t",
                    "fields": {"post_id": post.post_id, "text": post.text}})
    out += out[:10]  # the same texts twice in one batch
    return out


def _docs(items: list[dict[str, Any]], as_of: str, cache: ExtractCache | None) -> list[dict[str, Any]]:
    builder = DocumentBuilder(SpacyExtractor(), RateTable.default(), "run", as_of, lambda *_: None)
    return [d.to_dict() for d in builder.build(items, {}, LANGS, cache=cache)]


def test_cached_extractions_give_the_same_documents(items: list[dict[str, Any]], tmp_path: Path) -> None:
    path = tmp_path / "cache" / "flugsvamp.sqlite"
    day0, day1 = "2026-09-01T12:00:00+00:00", "2026-09-20T12:00:00+00:00"
    plain0 = _docs(items, day0, None)
    cache = ExtractCache(path, seen=day0)
    assert _docs(items, day0, cache) == plain0
    texts = _texts(items)
    assert cache.hits + cache.misses == len(texts) and 0 < cache.misses <= len(texts) - 10  # repeats: once
    cache.close()

    reopened = ExtractCache(path, seen=day1)  # a later crawl, another process
    cached1 = _docs(items, day1, reopened)
    assert reopened.misses == 0 and reopened.hits == len(texts)
    assert cached1 == _docs(items, day1, None)
    assert cached1 != plain0  # the later day's rates and last_seen, not a replay of day 0
    reopened.close()


def _texts(items: list[dict[str, Any]]) -> list[str]:
    from crawler.pipelines.documents import EXTRACTED_SLOTS

    return [item["fields"][key] for item in items for key, _ in EXTRACTED_SLOTS.get(item["type"], ())
            if isinstance(item["fields"].get(key), str) and item["fields"][key].strip()]


def test_changed_text_is_extracted_again_and_old_rows_are_pruned(tmp_path: Path) -> None:
    from extractors.base import ExtractRequest

    path = tmp_path / "c.sqlite"
    extractor = SpacyExtractor()
    cache = ExtractCache(path, seen="2026-01-01", keep_days=30)
    extractor.extract([ExtractRequest("5g kokain 500 kr", lang="sv", kind="description")], cache=cache)
    cache.close()
    cache = ExtractCache(path, seen="2026-01-10", keep_days=30)
    [result] = extractor.extract([ExtractRequest("5g amfetamin 500 kr", lang="sv", kind="description")], cache=cache)
    assert (cache.hits, cache.misses) == (0, 1) and result["summary"]["substance"] == "amphetamine"
    cache.close()
    cache = ExtractCache(path, seen="2026-02-05", keep_days=30)  # the kokain row is unused since 01-01
    assert cache.count() == 2
    cache.close()
    cache = ExtractCache(path, seen="2026-02-05", keep_days=30)
    assert cache.count() == 1


def test_unusable_cache_file_is_switched_off(tmp_path: Path) -> None:
    from extractors.base import ExtractRequest

    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    cache = ExtractCache(bad)
    [result] = SpacyExtractor().extract([ExtractRequest("10 st xanax 2mg", kind="title")], cache=cache)
    assert not cache.enabled and result["summary"]["substance"]
