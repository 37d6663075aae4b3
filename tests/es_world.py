"""Helpers for tests that crawl the testbed into the real local Elasticsearch cluster (tests/es_cluster.py):
each world gets its own index prefix (``SOKHUND_ES_PREFIX``), since this distribution cannot delete data
streams (no ``_data_stream`` API)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from indexer.elastic import ElasticBackend


def new_prefix(name: str) -> str:
    return f"t{name}-{uuid.uuid4().hex[:8]}"


@contextmanager
def es_index_env(url: str, prefix: str, home: Path) -> Iterator[None]:
    """Crawls, campaigns and ``open_backend()`` inside write to ``url`` under ``prefix``, data in ``home``."""
    keys = ("SOKHUND_INDEX_URL", "SOKHUND_ES_PREFIX", "SOKHUND_HOME")
    saved = {k: os.environ.get(k) for k in keys}
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update({"SOKHUND_INDEX_URL": url, "SOKHUND_ES_PREFIX": prefix, "SOKHUND_HOME": str(home)})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def backend(url: str, prefix: str, spool: Path) -> ElasticBackend:
    return ElasticBackend(url, prefix=prefix, refresh=True, spool_dir=spool, retries=1, backoff=0.2)


def refresh(b: ElasticBackend) -> None:
    b.client.indices.refresh(index=f"{b.prefix}-*", expand_wildcards="all", ignore_unavailable=True)
