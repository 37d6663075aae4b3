"""Crawler core: adapter errors, number parsing, WARC evidence, and a real Scrapy crawl of a local
server that serves broken HTML and a 20 MB body."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from crawler.adapters import AdapterError, load_adapter_file
from crawler.parsing import parse_number
from crawler.warc import WarcStore, read_record

GOOD_ADAPTER = """
name: {name}
kind: market
language: sv
base_url: {base}
currency: SEK
politeness: {{concurrency: 4, max_body_bytes: 1048576}}
pages:
  index:
    url_pattern: '^/$'
    follow:
      - css: 'a.item::attr(href)'
  item:
    url_pattern: '^/item/(?P<id>\\d+)$'
    item: listing
    fields:
      listing_id: {{from_url: id}}
      title: {{css: 'h1::text'}}
      price: {{css: '.price::text', type: number}}
      vendor: {{css: '.vendor::text'}}
"""


def write_adapter(tmp: Path, text: str, name: str = "bad") -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_malformed_adapter_names_file_and_field(tmp_path: Path) -> None:
    path = write_adapter(tmp_path, GOOD_ADAPTER.format(name="x", base="http://127.0.0.1:1").replace("type: number", "type: nonsense"))
    with pytest.raises(AdapterError) as err:
        load_adapter_file(path)
    message = str(err.value)
    assert str(path) in message
    assert "pages.item.fields.price.type" in message


def test_missing_pages_and_bad_regex_are_named(tmp_path: Path) -> None:
    path = write_adapter(tmp_path, "name: x\nkind: market\nbase_url: http://127.0.0.1:1\n")
    with pytest.raises(AdapterError, match=r"field 'pages'"):
        load_adapter_file(path)
    bad_regex = GOOD_ADAPTER.format(name="x", base="http://127.0.0.1:1").replace("'^/$'", "'^/($'")
    with pytest.raises(AdapterError, match=r"pages\.index\.url_pattern.*bad regex"):
        load_adapter_file(write_adapter(tmp_path, bad_regex))


def test_yaml_syntax_error_and_onion_without_tor(tmp_path: Path) -> None:
    with pytest.raises(AdapterError, match="not valid YAML"):
        load_adapter_file(write_adapter(tmp_path, "name: [unclosed\n"))
    onion = "http://" + "a" * 56 + ".onion"
    with pytest.raises(AdapterError, match="network must be 'tor'"):
        load_adapter_file(write_adapter(tmp_path, GOOD_ADAPTER.format(name="x", base=onion)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 200,50 kr", 1200.5),
        ("$1,200.50", 1200.5),
        ("0,5 g", 0.5),
        ("450:-", 450.0),
        ("1.200.000", 1200000.0),
        ("USD 340.00", 340.0),
        ("12,000", 12000.0),
        ("inget pris", None),
    ],
)
def test_parse_number(text: str, expected: float | None) -> None:
    assert parse_number(text) == expected


def test_warc_roundtrip_keeps_body_and_hash(tmp_path: Path) -> None:
    store = WarcStore(tmp_path, "run")
    body = b"<html>Kokain 1 g 800 kr</html>"
    path, offset, sha = store.write_response("http://127.0.0.1:1/a", 200, [("Content-Type", "text/html")], body, [])
    path2, offset2, _ = store.write_response("http://127.0.0.1:1/b", 404, [], b"gone", [])
    store.close()
    assert path == path2 and offset2 > offset
    assert sha == hashlib.sha256(body).hexdigest()
    url, stored = read_record(path, offset)
    assert url.endswith("/a") and stored == body
    assert read_record(path, offset2)[1] == b"gone"


BIG = 20 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    pages = {
        "/": b"<html><a class=item href='/item/1'>1</a><a class=item href='/item/2'>2</a>"
        b"<a class=item href='/item/3'>3</a><a class=item href='/item/4'>4</a></html>",
        "/item/1": b"<html><h1>Kokain 1g</h1><span class=price>800 kr</span><span class=vendor>Snabben</span></html>",
        # broken: unclosed tags, stray bytes that are not UTF-8, a truncated attribute
        "/item/2": b"<html><h1>Tjack 5 g<div class=price>450 kr<p><span class=vendor>Norrland\xff\xfe<a href='",
        "/item/4": "<html><h1>Hasch 10 g</h1><span class=price>1 200 kr</span><span class=vendor>Gröna</span>".encode(),
    }

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/item/3":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(BIG))
            self.end_headers()
            chunk = b"<p>" + b"x" * 65533
            for _ in range(BIG // len(chunk)):
                self.wfile.write(chunk)
            self.wfile.write(b"x" * (BIG - (BIG // len(chunk)) * len(chunk)))
            return
        body = self.pages.get(self.path)
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def local_site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_crawl_survives_broken_html_and_huge_body(local_site: str, sokhund_home: Path, tmp_path: Path) -> None:
    from crawler.runner import run_crawl
    from indexer.base import open_backend

    adapter = write_adapter(tmp_path, GOOD_ADAPTER.format(name="localshop", base=local_site), name="localshop")
    result = run_crawl([str(adapter)], as_of="2026-09-01T12:00:00+00:00", run_id="t1")
    assert result.finish_reasons == {str(adapter): "finished"}
    backend = open_backend()
    try:
        listings = {d["listing_id"]: d for d in backend.iter_docs("listing")}
        captures = list(backend.iter_docs("capture"))
    finally:
        backend.close()
    # the normal and the broken page are parsed; the 20 MB page is kept as evidence but not crashed on
    assert listings["1"]["title"] == "Kokain 1g" and listings["1"]["price"] == 800
    assert listings["2"]["title"].startswith("Tjack 5 g") and listings["2"]["price"] == 450
    assert listings["4"]["price"] == 1200 and listings["4"]["vendor"] == "Gröna"
    big = [c for c in captures if c["url"].endswith("/item/3")]
    assert len(big) == 1 and big[0]["truncated"] and "parse limit" in big[0]["parse_error"]
    assert big[0]["length"] == BIG
    # every fact points at its evidence: the WARC record's body hashes to the recorded sha256
    by_id = {c["id"]: c for c in captures}
    for listing in listings.values():
        capture = by_id[listing["capture_id"]]
        _, body = read_record(capture["warc_file"], capture["warc_offset"])
        assert hashlib.sha256(body).hexdigest() == listing["capture_sha256"] == capture["sha256"]
