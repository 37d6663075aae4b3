"""Documents a real cluster refuses (a string where a number belongs, a mapping conflict) are reported
one by one with the cluster's reason, kept aside, and never stop the crawl's writer."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from crawler.sink import IndexSink
from indexer.models import Listing, Vendor
from tests.index_behaviour import corpus
from tests.indexer.test_index_es_integration import es_cleanup, new_backend

pytestmark = pytest.mark.es


def test_rejected_documents_reported_per_document_and_crawl_goes_on(
    es_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    b = new_backend(es_url, tmp_path)
    sink = IndexSink(b, tmp_path / "sink-spool" / "run.jsonl", batch_size=1000)
    good = corpus()
    bad_price = Listing(id=Listing.make_id("svmarket", "bad-1"), site="svmarket", listing_id="bad-1",
                        title="Kokain", price_sek="gratis")  # type: ignore[arg-type]
    bad_score = Vendor(id=Vendor.make_id("svmarket", "Bad"), site="svmarket", name="Bad",
                       swedish_score={"not": "a number"})  # type: ignore[arg-type]
    try:
        with caplog.at_level(logging.ERROR, logger="sokhund.indexer.elastic"):
            sink.add([*good[:3], bad_price, bad_score, *good[3:]])
            sink.flush()
            sink.add([Listing(id=Listing.make_id("svmarket", "later"), site="svmarket", listing_id="later",
                              title="Tjack senare")])
            sink.flush()  # the writer goes on after the rejections
        assert sink.written == len(good) + 1
        assert b.count("listing") == len(good) + 1 and b.get("listing", bad_price.id) is None
        by_id = {r.id: r for r in b.rejections}
        assert set(by_id) == {bad_price.id, bad_score.id}
        assert by_id[bad_price.id].kind == "listing" and by_id[bad_price.id].status == 400
        assert "price_sek" in by_id[bad_price.id].reason and "gratis" in by_id[bad_price.id].reason
        assert "swedish_score" in by_id[bad_score.id].reason
        for rej in b.rejections:  # one log line per document, with its reason
            assert any(rej.id in r.getMessage() and rej.reason in r.getMessage() for r in caplog.records)
        kept = [json.loads(line) for line in (b.spool_dir / f"rejected-{b.prefix}.jsonl").read_text().splitlines()]
        assert {k["id"] for k in kept} == set(by_id) and all(k["error"]["type"] for k in kept)
        assert b.spool_files() == [] and not (tmp_path / "sink-spool" / "run.jsonl").exists()  # not retried
    finally:
        es_cleanup(b)
        sink.close()
