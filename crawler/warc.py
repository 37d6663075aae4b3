"""WARC evidence (WARC 1.1, written with warcio): every response is appended to a gzip WARC file.

Per file a ``warcinfo`` record (software, campaign run, network, Tor isolation where known); per capture
the ``response`` as served (headers and Content-Encoding intact: the payload is the entity body, so
``WARC-Payload-Digest`` is the sha256 of the bytes the server sent), the ``request`` as sent (method,
path, headers, body; credentials redacted with a keyed hash, see ``crawler.redact``) linked to it by
``WARC-Concurrent-To``, and rendered screenshots as ``resource`` records. Digests are sha256 (base32,
as warcio writes them).

Each record is its own gzip member and is flushed at once, so a capture's (file, offset) stays valid
even if the crawl is killed right after. Captures store the file path relative to ``$SOKHUND_HOME``.
"""

from __future__ import annotations

import hashlib
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

from crawler import paths
from crawler.redact import redact_headers

# Scrapy hands the body over de-chunked: a Transfer-Encoding header would no longer describe it.
_HOP_HEADERS = {"transfer-encoding"}
SOFTWARE = "Sökhund 0.1.0 (warcio)"


class Sha256WARCWriter(WARCWriter):
    """warcio's writer with sha256 block and payload digests instead of sha1."""

    @staticmethod
    def _create_digester() -> Digester:
        return Digester("sha256")


@dataclass
class SentRequest:
    """The request as it went out: taken after every downloader middleware had changed it."""

    method: str = "GET"
    url: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


@dataclass
class WrittenCapture:
    path: Path
    offset: int
    sha256: str
    record_id: str
    length: int


def warc_date(when: datetime | None = None) -> str:
    return (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class WarcStore:
    """Appends records to ``<dir>/<prefix>-NNNNN.warc.gz``, rotating at ``max_bytes``."""

    def __init__(self, directory: Path, prefix: str, max_bytes: int = 256 * 1024 * 1024,
                 info: dict[str, Any] | None = None) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.max_bytes = max_bytes
        self.info = dict(info or {})
        self._index = 0
        self._fh: Any = None
        self._writer: Sha256WARCWriter | None = None
        self._path: Path | None = None

    def _open(self) -> None:
        while True:
            self._path = self.directory / f"{self.prefix}-{self._index:05d}.warc.gz"
            if not self._path.exists() or self._path.stat().st_size < self.max_bytes:
                break
            self._index += 1
        fresh = not self._path.exists() or self._path.stat().st_size == 0
        self._fh = self._path.open("ab")
        self._writer = Sha256WARCWriter(self._fh, gzip=True, warc_version="1.1")
        if fresh:
            self._write_warcinfo()

    def _write_warcinfo(self) -> None:
        assert self._writer is not None and self._path is not None
        info = {"software": SOFTWARE, "format": "WARC File Format 1.1",
                "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
                "hostname": socket.gethostname(), **{k: v for k, v in self.info.items() if v not in (None, "")}}
        record = self._writer.create_warcinfo_record(self._path.name, info)
        self._writer.write_record(record)
        self._fh.flush()

    def _ready(self) -> Sha256WARCWriter:
        if self._fh is None or (self._path and self._path.stat().st_size >= self.max_bytes):
            self.close()
            if self._path and self._path.exists() and self._path.stat().st_size >= self.max_bytes:
                self._index += 1
            self._open()
        assert self._writer is not None
        return self._writer

    def write_capture(self, url: str, status: int, headers: list[tuple[str, str]], body: bytes,
                      sent: SentRequest | None = None, extra: dict[str, str] | None = None,
                      fetched: datetime | None = None) -> WrittenCapture:
        """Write the response (as served) and the request (as sent, redacted)."""
        writer = self._ready()
        date = warc_date(fetched)
        kept = redact_headers([(k, v) for k, v in headers if k.lower() not in _HOP_HEADERS])
        http_headers = StatusAndHeaders(f"{status} {_reason(status)}", kept, protocol="HTTP/1.1")
        offset = self._fh.tell()
        warc_headers = {"WARC-Date": date, **(extra or {})}
        response = writer.create_warc_record(url, "response", payload=BytesIO(body), length=len(body),
                                             http_headers=http_headers, warc_headers_dict=warc_headers)
        writer.write_record(response)
        record_id = response.rec_headers.get_header("WARC-Record-ID")
        sent = sent or SentRequest(url=url)
        request_line = f"{sent.method} {_request_target(sent.url or url)} HTTP/1.1"
        req_headers = redact_headers(_with_host(sent.headers, sent.url or url))
        request = writer.create_warc_record(
            url, "request", payload=BytesIO(sent.body), length=len(sent.body),
            http_headers=StatusAndHeaders(request_line, req_headers, is_http_request=True),
            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": record_id},
        )
        writer.write_record(request)
        self._fh.flush()
        assert self._path is not None
        return WrittenCapture(self._path, offset, hashlib.sha256(body).hexdigest(), record_id, len(body))

    def write_response(self, url: str, status: int, headers: list[tuple[str, str]], body: bytes,
                       request_headers: list[tuple[str, str]]) -> tuple[str, int, str]:
        """(warc file path, offset of the response record, sha256 of the payload) for a GET."""
        written = self.write_capture(url, status, headers, body, SentRequest("GET", url, request_headers))
        return str(written.path), written.offset, written.sha256

    def write_resource(self, uri: str, content_type: str, data: bytes, concurrent_to: str) -> tuple[str, int]:
        """A screenshot (or other derived file) as a ``resource`` record next to its response."""
        writer = self._ready()
        offset = self._fh.tell()
        record = writer.create_warc_record(
            uri, "resource", payload=BytesIO(data), length=len(data), warc_content_type=content_type,
            warc_headers_dict={"WARC-Date": warc_date(), "WARC-Concurrent-To": concurrent_to},
        )
        writer.ensure_digest(record, block=True, payload=False)
        writer.write_record(record)
        self._fh.flush()
        assert self._path is not None
        return str(self._path), offset

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        self._fh = None
        self._writer = None


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _request_target(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _with_host(headers: list[tuple[str, str]], url: str) -> list[tuple[str, str]]:
    """Scrapy's HTTP/1.1 client sends Host from the URL; the record says so too."""
    from urllib.parse import urlsplit

    if any(k.lower() == "host" for k, _ in headers):
        return list(headers)
    return [("Host", urlsplit(url).netloc), *headers]


def read_record(path: str | Path, offset: int, decoded: bool = False) -> tuple[str, bytes]:
    """(target URI, payload) of the record at ``offset``: how an analyst re-opens the evidence.

    The payload is the body as served (its sha256 is the capture's); ``decoded=True`` undoes
    Content-Encoding (gzip, br, deflate) for reading. ``path`` may be relative to ``$SOKHUND_HOME``.
    """
    from warcio.archiveiterator import ArchiveIterator

    with open(paths.resolve_data_path(path), "rb") as fh:
        fh.seek(offset)
        for record in ArchiveIterator(fh):
            uri = record.rec_headers.get_header("WARC-Target-URI")
            payload = record.raw_stream.read()
            encoding = record.http_headers.get_header("Content-Encoding") if record.http_headers else None
            return uri, (decode_body(payload, encoding) if decoded else payload)
    raise ValueError(f"no WARC record at {path}:{offset}")


def decode_body(payload: bytes, encoding: str | None) -> bytes:
    """Undo Content-Encoding (applied in the order listed: ``gzip, br``). warcio's own brotli path
    does not work with current brotli releases, so this is done here."""
    import zlib

    for name in reversed([e.strip().lower() for e in (encoding or "").split(",") if e.strip()]):
        if name in ("gzip", "x-gzip"):
            payload = zlib.decompress(payload, 47)  # gzip or zlib header, detected
        elif name == "deflate":
            try:
                payload = zlib.decompress(payload)
            except zlib.error:
                payload = zlib.decompress(payload, -15)  # raw deflate, as some servers send it
        elif name == "br":
            import brotli

            payload = brotli.decompress(payload)
        elif name != "identity":
            raise ValueError(f"unknown Content-Encoding {name!r}")
    return payload
