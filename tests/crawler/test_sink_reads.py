"""The sink while the index is down: a first_seen lookup answers None (the item goes on, to the spool), and
writes are gathered and spooled in bulk instead of paying the backend's retries for every page."""

from __future__ import annotations

import socket
from pathlib import Path

from crawler.sink import IndexSink
from indexer.elastic import ElasticBackend
from indexer.models import Listing


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_lookup_on_an_unreachable_index_answers_none_and_documents_are_spooled(tmp_path: Path) -> None:
    backend = ElasticBackend(f"http://127.0.0.1:{_closed_port()}", prefix="down", spool_dir=tmp_path / "es",
                             retries=0, backoff=0.01, timeout=1.0)
    sink = IndexSink(backend, tmp_path / "spool" / "run.jsonl", batch_size=1)
    assert sink.get("listing", Listing.make_id("s", "1")) is None
    assert sink.get("listing", Listing.make_id("s", "2")) is None  # paused: not asked again
    for i in range(3):
        sink.add([Listing(id=Listing.make_id("s", str(i)), site="s", listing_id=str(i))])
    assert backend.spooled == 1, "the first write finds the index down; the next ones are gathered"
    sink.close()
    assert backend.spooled == 3 and len(backend.spool_files()) == 2
