"""WARC evidence: every response is appended to a gzip WARC file and hashed.

Each record is its own gzip member and is flushed at once, so a capture's (file, offset) stays valid
even if the crawl is killed right after.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

# Headers that describe the wire encoding, not the body we store (Scrapy hands us the decoded body).
_WIRE_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}


class WarcStore:
    """Appends records to ``<dir>/<prefix>-NNNNN.warc.gz``, rotating at ``max_bytes``."""

    def __init__(self, directory: Path, prefix: str, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.max_bytes = max_bytes
        self._index = 0
        self._fh = None
        self._writer: WARCWriter | None = None
        self._path: Path | None = None

    def _open(self) -> None:
        while True:
            self._path = self.directory / f"{self.prefix}-{self._index:05d}.warc.gz"
            if not self._path.exists() or self._path.stat().st_size < self.max_bytes:
                break
            self._index += 1
        self._fh = self._path.open("ab")
        self._writer = WARCWriter(self._fh, gzip=True)

    def write_response(
        self, url: str, status: int, headers: list[tuple[str, str]], body: bytes, request_headers: list[tuple[str, str]]
    ) -> tuple[str, int, str]:
        """Write request + response records. Returns (warc file path, offset of the response record, sha256)."""
        if self._fh is None or (self._path and self._path.stat().st_size >= self.max_bytes):
            self.close()
            if self._path and self._path.exists() and self._path.stat().st_size >= self.max_bytes:
                self._index += 1
            self._open()
        assert self._writer is not None and self._fh is not None and self._path is not None
        sha256 = hashlib.sha256(body).hexdigest()
        date = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        kept = [(k, v) for k, v in headers if k.lower() not in _WIRE_HEADERS]
        http_headers = StatusAndHeaders(f"{status} {_reason(status)}", kept, protocol="HTTP/1.1")
        offset = self._fh.tell()
        record = self._writer.create_warc_record(
            url,
            "response",
            payload=BytesIO(body),
            http_headers=http_headers,
            warc_headers_dict={"WARC-Date": date, "WARC-Payload-Digest-SHA256": sha256},
        )
        self._writer.write_record(record)
        path_only = url.split("://", 1)[-1].split("/", 1)[-1]
        req_headers = StatusAndHeaders(f"GET /{path_only} HTTP/1.1", request_headers, is_http_request=True)
        request = self._writer.create_warc_record(
            url,
            "request",
            http_headers=req_headers,
            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": record.rec_headers.get_header("WARC-Record-ID")},
        )
        self._writer.write_record(request)
        self._fh.flush()
        return str(self._path), offset, sha256

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


def read_record(path: str, offset: int) -> tuple[str, bytes]:
    """(target URI, body) of the response record at ``offset``: how an analyst re-opens the evidence."""
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as fh:
        fh.seek(offset)
        for record in ArchiveIterator(fh):
            return record.rec_headers.get_header("WARC-Target-URI"), record.content_stream().read()
    raise ValueError(f"no WARC record at {path}:{offset}")
