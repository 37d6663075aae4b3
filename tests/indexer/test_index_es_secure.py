"""Against the session cluster with security on (file-realm users, see tests/es_cluster.py): the writer
sets up and writes, a read-only user runs ``search``, ``vendors`` and ``trends`` (reads never write), and
no credential ever appears in an error message, a log line or a repr."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.main import main
from indexer.base import IndexError_, open_backend
from indexer.elastic import ElasticBackend, connection_from_env
from indexer.localcluster import LocalCluster
from indexer.models import ListingObservation, Vendor
from tests.index_behaviour import corpus

pytestmark = pytest.mark.es

SECRET_KEY = "c2VjcmV0LWtleS1pZDpzZWNyZXQta2V5LXZhbHVl"  # base64 "secret-key-id:secret-key-value"


@pytest.fixture()
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG):
        yield caplog


@pytest.fixture(scope="module")
def secure(es_secure_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> LocalCluster:
    """The writer (superuser) indexes a small world under the default prefix, so the CLI finds it."""
    assert es_secure_cluster.auth is not None
    writer = ElasticBackend(es_secure_cluster.url, basic_auth=es_secure_cluster.auth, refresh=True,
                            spool_dir=tmp_path_factory.mktemp("spool"))
    docs = corpus()
    vendor = Vendor(id=Vendor.make_id("svmarket", "NordiskKvalitet"), site="svmarket", name="NordiskKvalitet",
                    first_seen="2024-03-01T08:00:00Z", last_seen="2024-03-04T10:00:00Z")
    obs = [
        ListingObservation(id=ListingObservation.make_id(d.id, "run-1"), listing=d.id, site=d.site,
                           listing_id=d.listing_id, vendor=d.vendor, observed_at="2024-03-04T06:00:00Z",
                           run_id="run-1", price_sek=d.price_sek)
        for d in docs
    ]
    assert writer.upsert([*docs, vendor, *obs]) == len(docs) + 1 + len(obs)
    assert writer.spool_files() == [] and writer.rejections == []
    writer.close()
    return es_secure_cluster


def as_reader(monkeypatch: pytest.MonkeyPatch, cluster: LocalCluster) -> None:
    user, password = cluster.reader_auth or ("", "")
    monkeypatch.setenv("SOKHUND_INDEX_URL", "es")
    monkeypatch.setenv("SOKHUND_ES_URL", cluster.url)
    monkeypatch.setenv("SOKHUND_ES_USER", user)
    monkeypatch.setenv("SOKHUND_ES_PASSWORD", password)
    monkeypatch.delenv("SOKHUND_ES_API_KEY", raising=False)


def test_reader_runs_search_vendors_trends(
    secure: LocalCluster, monkeypatch: pytest.MonkeyPatch, sokhund_home: Path,
    capsys: pytest.CaptureFixture[str], all_logs: pytest.LogCaptureFixture,
) -> None:
    as_reader(monkeypatch, secure)
    assert main(["search", "kokain", "--json"]) == 0
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {h["listing_id"] for h in hits} == {"1", "3"}
    assert main(["vendors", "--json"]) == 0
    assert [json.loads(line)["name"] for line in capsys.readouterr().out.splitlines()] == ["NordiskKvalitet"]
    assert main(["trends", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)
    password = secure.password
    assert password not in all_logs.text


def test_reader_cannot_write_and_says_so_without_secrets(
    secure: LocalCluster, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, all_logs: pytest.LogCaptureFixture,
) -> None:
    as_reader(monkeypatch, secure)
    backend = open_backend()
    assert isinstance(backend, ElasticBackend)
    assert backend.count("listing") == len(corpus())
    with pytest.raises(IndexError_) as err:
        backend.upsert(corpus()[:1])
    assert "403" in str(err.value) and secure.url in str(err.value)
    for text in (str(err.value), repr(backend), all_logs.text):
        assert secure.password not in text
    backend.close()


def test_reads_of_a_fresh_prefix_answer_empty(secure: LocalCluster, tmp_path: Path) -> None:
    reader = ElasticBackend(secure.url, prefix="nothing-here", basic_auth=secure.reader_auth, spool_dir=tmp_path)
    assert reader.search("listing", "kokain") == [] and reader.count("listing_observation") == 0
    assert reader.terms("listing", "vendor") == [] and reader.date_histogram("listing", "last_seen") == []
    assert reader.get("listing", "lst-x") is None and reader.get("listing_observation", "lobs-x") is None
    reader.close()


@pytest.mark.parametrize("how", ["password", "api_key", "url"])
def test_refused_credentials_never_printed(
    secure: LocalCluster, how: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    all_logs: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    secret = "Wr0ng-" + secure.password
    url = secure.url
    monkeypatch.delenv("SOKHUND_ES_USER", raising=False)
    monkeypatch.delenv("SOKHUND_ES_PASSWORD", raising=False)
    monkeypatch.delenv("SOKHUND_ES_API_KEY", raising=False)
    if how == "password":
        monkeypatch.setenv("SOKHUND_ES_USER", "sokhund")
        monkeypatch.setenv("SOKHUND_ES_PASSWORD", secret)
    elif how == "api_key":
        secret = SECRET_KEY
        monkeypatch.setenv("SOKHUND_ES_API_KEY", secret)
    else:
        url = url.replace("http://", f"http://sokhund:{secret}@")
    b = ElasticBackend(url, spool_dir=tmp_path, retries=0)
    assert b.url == secure.url
    with pytest.raises(IndexError_) as err:
        b.search("listing", "kokain")
    assert "401" in str(err.value)
    with pytest.raises(IndexError_) as err2:
        b.upsert(corpus()[:1])
    monkeypatch.setenv("SOKHUND_INDEX_URL", url)
    assert main(["search", "kokain"]) == 1  # the CLI prints the error, never the secret
    out = capsys.readouterr()
    for text in (str(err.value), str(err2.value), repr(b), all_logs.text, out.out, out.err):
        assert secret not in text
    b.close()


def test_unreachable_cluster_with_credentials_spools_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, all_logs: pytest.LogCaptureFixture,
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("SOKHUND_ES_API_KEY", SECRET_KEY)
    b = ElasticBackend(f"http://writer:pw-in-url@127.0.0.1:{port}", spool_dir=tmp_path, retries=1, backoff=0.01)
    assert b.upsert(corpus()) == 0 and len(b.spool_files()) == 1
    with pytest.raises(IndexError_):
        b.count("listing")
    assert f"127.0.0.1:{port}" in all_logs.text
    for text in (all_logs.text, repr(b), b.spool_files()[0].read_text()):
        assert "pw-in-url" not in text and SECRET_KEY not in text
    b.close()


def test_connection_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    monkeypatch.setenv("SOKHUND_ES_CA", str(ca))
    monkeypatch.setenv("SOKHUND_ES_USER", "analyst")
    monkeypatch.setenv("SOKHUND_ES_PASSWORD", "s3cret")
    monkeypatch.delenv("SOKHUND_ES_API_KEY", raising=False)
    assert connection_from_env("https://es.example.invalid:9200/") == {
        "hosts": "https://es.example.invalid:9200", "basic_auth": ("analyst", "s3cret"), "ca_certs": str(ca),
    }
    monkeypatch.setenv("SOKHUND_ES_API_KEY", SECRET_KEY)  # an API key wins over user and password
    assert connection_from_env("https://u:p@es.example.invalid:9200")["api_key"] == SECRET_KEY
    assert connection_from_env("https://u:p@es.example.invalid:9200")["hosts"] == "https://es.example.invalid:9200"


def test_es_init_is_the_writers_setup(
    secure: LocalCluster, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    all_logs: pytest.LogCaptureFixture,
) -> None:
    as_reader(monkeypatch, secure)
    assert main(["es", "init", "--prefix", "init-test"]) == 1  # the reader may not install templates
    err = capsys.readouterr().err
    assert "403" in err and secure.password not in err
    monkeypatch.setenv("SOKHUND_ES_USER", "sokhund")  # the superuser may
    assert main(["es", "init", "--prefix", "init-test", "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["analysis"] in ("full", "basic") and "init-test-listing" in done["created_indices"]
    assert done["data_streams"] == ["init-test-listing_observation", "init-test-vendor_observation"]
    reader = ElasticBackend(secure.url, prefix="init-test", basic_auth=secure.reader_auth)
    assert reader.count("listing") == 0 and reader.search("listing", "kokain") == []
    assert secure.password not in all_logs.text
    reader.close()
