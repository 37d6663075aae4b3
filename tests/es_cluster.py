"""pytest plugin: a real local Elasticsearch 8.x cluster on 127.0.0.1 (``indexer.localcluster``).

Session fixtures (each started at most once per test session, only when a test asks for it):

* ``es_cluster``        – :class:`indexer.localcluster.LocalCluster`, one node, security off. While it runs
                          ``SOKHUND_ES_URL`` is exported with its URL (restored afterwards).
* ``es_url``            – that URL.
* ``es_secure_cluster`` – one node with security on: file-realm users ``sokhund`` (superuser,
                          ``.auth``) and ``sokhund_reader`` (read-only, ``.reader_auth``). API keys are NOT
                          available on this distribution (see indexer/localcluster/cluster.py).

Both skip (with the reason) ONLY when java or mvn is missing; any other failure to boot is an error.
The cluster directory is a fresh ``/tmp/sokhund-es-*`` (mode 0755, since the JVM runs as an unprivileged
user that cannot enter pytest's 0700 tmp_path) and is removed at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.localcluster import LocalCluster


def es_tools_missing() -> str | None:
    """Why a local cluster cannot run here (None when it can)."""
    from indexer.localcluster.cluster import LocalClusterError, default_dist_root, java_home

    try:
        java_home()
    except LocalClusterError as exc:
        return str(exc)
    ready = any(default_dist_root().glob("elasticsearch-*/.sokhund-ready"))
    if not ready and shutil.which("mvn") is None:
        return "mvn not found: install Maven (Debian: maven) to fetch the Elasticsearch distribution"
    return None


def es_base_dir(prefix: str = "sokhund-es-") -> Path:
    """A fresh directory the node user can traverse."""
    base = Path(tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("SOKHUND_ES_TMP", "/tmp")))
    base.chmod(0o755)
    return base


def _start(name: str, **kwargs: object) -> tuple[LocalCluster, Path]:
    reason = es_tools_missing()
    if reason:
        pytest.skip(reason)
    base = es_base_dir()
    cluster = LocalCluster(base / "cluster", cluster_name=name, **kwargs)  # type: ignore[arg-type]
    try:
        cluster.up(timeout=float(os.environ.get("SOKHUND_ES_BOOT_TIMEOUT", "180")))
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise
    return cluster, base


@pytest.fixture(scope="session")
def es_cluster() -> Iterator[LocalCluster]:
    cluster, base = _start("sokhund-test")
    previous = os.environ.get("SOKHUND_ES_URL")
    os.environ["SOKHUND_ES_URL"] = cluster.url
    try:
        yield cluster
    finally:
        cluster.down()
        if previous is None:
            os.environ.pop("SOKHUND_ES_URL", None)
        else:
            os.environ["SOKHUND_ES_URL"] = previous
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def es_url(es_cluster: LocalCluster) -> str:
    return es_cluster.url


@pytest.fixture(scope="session")
def es_secure_cluster() -> Iterator[LocalCluster]:
    cluster, base = _start("sokhund-test-secure", security=True, password="sokhund-test-pass")
    try:
        yield cluster
    finally:
        cluster.down()
        shutil.rmtree(base, ignore_errors=True)
