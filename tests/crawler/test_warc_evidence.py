"""WARC 1.1 evidence: warcinfo, sha256 digests, the request as sent (redacted), compressed responses
stored as served, paths relative to $SOKHUND_HOME, and no session cookie in anything a crawl writes."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path

import brotli
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler import paths, redact
from crawler.warc import SentRequest, WarcStore, read_record
from crawler.warc_check import check_record, iter_records, verify_warc_file

SECRET = "s3cr3t-undercover-session-4711"


def _write_one(tmp: Path, cookie: str = f"fs_session={SECRET}") -> Path:
    store = WarcStore(tmp / "warc" / "x", "r1", info={"isPartOf": "r1", "sokhund-network": "tor"})
    body = gzip.compress(b"<html><h1>Kokain</h1></html>")
    store.write_capture("http://127.0.0.1:1/item/1?page=2", 200,
                        [("Content-Type", "text/html"), ("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")],
                        body, SentRequest("POST", "http://127.0.0.1:1/item/1?page=2",
                                          [("Cookie", cookie), ("Authorization", "Basic dXNlcjpwYXNz")], b"q=1"))
    store.close()
    return store.directory / "r1-00000.warc.gz"


def test_records_follow_warc_1_1_with_sha256_digests(sokhund_home: Path) -> None:
    path = _write_one(sokhund_home)
    records = list(iter_records(path))
    assert [r.type for r in records] == ["warcinfo", "response", "request"]
    info, response, request = records
    assert b"isPartOf: r1" in info.block and b"sokhund-network: tor" in info.block
    raw = gzip.open(path).read()
    assert raw.startswith(b"WARC/1.1\r\n") and b"WARC/1.0" not in raw
    for record in (response, request):
        assert record.headers["warc-block-digest"].startswith("sha256:")
        assert record.headers["warc-payload-digest"].startswith("sha256:")
        assert check_record(record) == []
    # the response as served: encoding kept, payload = the compressed bytes, hashed as such
    assert b"Content-Encoding: gzip" in response.block and b"Transfer-Encoding" not in response.block
    assert response.payload()[:2] == b"\x1f\x8b"
    # the request as sent: method, target with query, Host, body; linked to its response
    assert request.block.startswith(b"POST /item/1?page=2 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n")
    assert request.payload() == b"q=1"
    assert request.headers["warc-concurrent-to"] == response.headers["warc-record-id"]


def test_credentials_become_a_keyed_hash(sokhund_home: Path) -> None:
    path = _write_one(sokhund_home, cookie=f"fs_session={SECRET}; fs_session={SECRET}")
    raw = gzip.open(path).read()
    assert SECRET.encode() not in raw and b"dXNlcjpwYXNz" not in raw
    tag = redact.keyed_hash(SECRET)
    assert raw.count(tag.encode()) == 2  # the same session shows as the same hash
    assert f"fs_session={tag}".encode() in raw and b"Authorization: Basic redacted-hmac-" in raw
    key_file = sokhund_home / "secrets" / "redaction.key"
    assert key_file.stat().st_mode & 0o077 == 0
    assert redact.redact_text(f"sent Cookie: fs_session={SECRET}") == f"sent Cookie: fs_session={tag}"


def test_a_flipped_byte_is_found(sokhund_home: Path) -> None:
    path = _write_one(sokhund_home)
    assert verify_warc_file(path)[1] == []
    # a byte of the served payload changed, re-gzipped as one member (still a readable WARC)
    raw = bytearray(gzip.open(path).read())
    response = list(iter_records(path))[1]
    raw[raw.index(response.payload()) + 12] ^= 0x01
    tampered = sokhund_home / "t.warc.gz"
    tampered.write_bytes(gzip.compress(bytes(raw)))
    count, problems = verify_warc_file(tampered)
    assert count == 3 and any("WARC-Payload-Digest: sha256 mismatch" in p for p in problems)
    # a byte flipped in the file itself: the gzip member no longer checks out
    data = bytearray(path.read_bytes())
    data[response.offset + 40] ^= 0x01
    path.write_bytes(bytes(data))
    assert verify_warc_file(path)[1]


def test_old_records_and_moved_homes_keep_working(sokhund_home: Path, tmp_path: Path) -> None:
    # a record as the earlier version wrote it: WARC/1.0, sha1 digests, a private sha256 header
    old = paths.warc_dir() / "x" / "old-00000.warc.gz"
    old.parent.mkdir(parents=True, exist_ok=True)
    body = b"<html>gammal</html>"
    with old.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        record = writer.create_warc_record(
            "http://127.0.0.1:1/", "response", payload=BytesIO(body),
            http_headers=StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1"),
            warc_headers_dict={"WARC-Payload-Digest-SHA256": hashlib.sha256(body).hexdigest()})
        writer.write_record(record)
    stored_absolute = str(old)
    assert verify_warc_file(old)[1] == []
    assert read_record(stored_absolute, 0)[1] == body
    # the data directory moves: the absolute path of the old index no longer exists
    moved = tmp_path / "moved"
    shutil.move(str(sokhund_home), moved)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOKHUND_HOME", str(moved))
        assert read_record(stored_absolute, 0)[1] == body
        assert read_record("warc/x/old-00000.warc.gz", 0)[1] == body
        assert paths.relative_to_home(moved / "warc" / "x" / "a.warc.gz") == "warc/x/a.warc.gz"


# ---- a real crawl of a loopback site that compresses, sets cookies and shows a login wall ---------------

PAGE = "<html><head><title>Vara</title></head><body><a href='/logout'>Logga ut</a>" \
       "<h1>Kokain {n}g</h1><span class=price>{p} kr</span><span class=vendor>Snabben</span>" \
       "<a class=next href='/item/{m}'>next</a></body></html>"
WALL = "<html><head><title>Logga in</title></head><body><form><input type=password name=pw></form>" \
       "Please log in</body></html>"

ADAPTER = """
name: gzipshop
kind: market
language: sv
base_url: {base}
currency: SEK
politeness: {{concurrency: 2}}
session: {{cookie_env: GZIPSHOP_COOKIE}}
start: ['/']
pages:
  index:
    url_pattern: '^/$'
    follow:
      - css: 'a.item::attr(href)'
  item:
    url_pattern: '^/item/(?P<id>\\d+)$'
    item: listing
    follow:
      - css: 'a.next::attr(href)'
    fields:
      listing_id: {{from_url: id}}
      title: {{css: 'h1::text'}}
      price: {{css: '.price::text', type: number}}
      vendor: {{css: '.vendor::text'}}
"""


class _Handler(BaseHTTPRequestHandler):
    seen_cookies: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        type(self).seen_cookies.append(self.headers.get("Cookie") or "")
        if self.path == "/":
            # a chain, so the login wall (which stops the site) comes last
            html = "<html><a href='/logout'>ut</a><a class=item href='/item/1'>1</a></html>"
            body, encoding = gzip.compress(html.encode()), "gzip"
        elif self.path == "/item/1":
            body, encoding = gzip.compress(PAGE.format(n=1, p=800, m=2).encode()), "gzip"
        elif self.path == "/item/2":
            body, encoding = brotli.compress(PAGE.format(n=2, p=1500, m=3).encode()), "br"
        elif self.path == "/item/3":
            body, encoding = gzip.compress(WALL.encode()), "gzip"
        else:
            body, encoding = b"", None
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Set-Cookie", "gate=ok-but-not-secret; Path=/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def gzip_site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_crawl_keeps_what_was_served_and_no_cookie_anywhere(
        gzip_site: str, sokhund_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crawler.runner import run_crawl
    from indexer.base import open_backend

    monkeypatch.setenv("GZIPSHOP_COOKIE", f"fs_session={SECRET}")
    adapter = tmp_path / "gzipshop.yaml"
    adapter.write_text(ADAPTER.format(base=gzip_site), encoding="utf-8")
    _Handler.seen_cookies = []
    run_crawl([str(adapter)], as_of="2026-09-01T12:00:00+00:00", run_id="gz1",
              settings={"LOG_LEVEL": "DEBUG"})
    assert any(SECRET in c for c in _Handler.seen_cookies), "the site must have received the session"
    backend = open_backend()
    try:
        listings = {d["listing_id"]: d for d in backend.iter_docs("listing")}
        all_captures = list(backend.iter_docs("capture"))
    finally:
        backend.close()
    # parsing ran on the decoded page, for gzip and brotli alike; the login wall is not a listing
    assert listings["1"]["title"] == "Kokain 1g" and listings["1"]["price"] == 800
    assert listings["2"]["title"] == "Kokain 2g" and listings["2"]["price"] == 1500
    captures = {c["url"].rsplit("/", 1)[-1]: c for c in all_captures if c["warc_file"]}
    assert "3" not in listings
    assert [c["invalid_kind"] for c in all_captures if c["url"].endswith("/item/3") and c["warc_file"]] == ["login"]
    # the WARC keeps the compressed bytes with their Content-Encoding; the sha256 is of those bytes
    for key, encoding in (("1", "gzip"), ("2", "br")):
        cap = captures[key]
        assert not Path(cap["warc_file"]).is_absolute() and cap["content_encoding"] == encoding
        _, payload = read_record(cap["warc_file"], cap["warc_offset"])
        assert hashlib.sha256(payload).hexdigest() == cap["sha256"] and cap["length"] == len(payload)
        assert b"Kokain" not in payload and b"Kokain" in read_record(cap["warc_file"], cap["warc_offset"], True)[1]
        assert cap["network"] == "clearnet"
    # the session cookie is in no file the crawl wrote: WARC, index, logs, job state, progress
    needle, leaks, checked = SECRET.encode(), [], 0
    for path in sokhund_home.rglob("*"):
        if path.is_file():
            checked += 1
            data = path.read_bytes()
            if path.name.endswith(".gz"):
                data += gzip.decompress(data)
            if needle in data:
                leaks.append(str(path.relative_to(sokhund_home)))
    assert checked > 3 and not leaks, f"session cookie found in {leaks}"
    assert any((sokhund_home / "runs").rglob("crawl.log"))


def test_log_lines_lose_known_secrets(sokhund_home: Path, tmp_path: Path) -> None:
    import logging

    log_file = tmp_path / "crawl.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        redact.install_log_filter()
        redact.remember([SECRET])
        logging.getLogger("scrapy.any").warning("session %s expired; headers {'Authorization': 'Bearer abc.def'}", SECRET)
    finally:
        root.removeHandler(handler)
        handler.close()
    text = log_file.read_text(encoding="utf-8")
    assert SECRET not in text and "abc.def" not in text
    assert redact.keyed_hash(SECRET) in text and "'Authorization': 'redacted-hmac-" in text


def test_relink_migrates_absolute_paths_after_a_move(sokhund_home: Path, tmp_path: Path) -> None:
    from cli.main import main
    from indexer.base import open_backend
    from indexer.models import Capture

    path = _write_one(sokhund_home)
    backend = open_backend()
    backend.upsert([Capture(id="cap-old", url="http://127.0.0.1:1/item/1?page=2", site="x", warc_file=str(path),
                            warc_offset=list(iter_records(path))[1].offset, sha256="0" * 64)])
    backend.close()
    moved = tmp_path / "moved"
    shutil.move(str(sokhund_home), moved)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOKHUND_HOME", str(moved))
        assert main(["evidence", "relink"]) == 0
        backend = open_backend()
        assert backend.get("capture", "cap-old")["warc_file"] == "warc/x/r1-00000.warc.gz"
        backend.close()
