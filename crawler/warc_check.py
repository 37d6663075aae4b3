"""Check WARC evidence and evidence packages with the Python standard library alone.

This file is copied verbatim into every evidence package as ``verify_package.py``, so a partner agency
can check a package on a clean machine (``python3 verify_package.py PACKAGE``) without installing
Sökhund. ``sokhund evidence verify`` and ``sokhund evidence check-package`` use the same code.

Checked: every gzip member parses as a WARC record, every ``WARC-Block-Digest`` and
``WARC-Payload-Digest`` (sha1 / sha256, base32, hex or base64) matches its bytes, the older private
``WARC-Payload-Digest-SHA256`` header too; in a package, every file has the sha256 the manifest gives,
no file is missing or unlisted, and each capture's record carries the sha256 the index recorded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import sys
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

_CHUNK = 1 << 20


@dataclass
class WarcRecord:
    offset: int
    headers: dict[str, str]
    block: bytes
    problems: list[str] = field(default_factory=list)

    @property
    def type(self) -> str:
        return self.headers.get("warc-type", "")

    def payload(self) -> bytes:
        """The block without its HTTP header for request/response records, else the block."""
        if self.type in ("response", "request") and "application/http" in self.headers.get("content-type", ""):
            head, sep, body = self.block.partition(b"\r\n\r\n")
            return body if sep else b""
        return self.block


def _members(fh: IO[bytes]) -> Iterator[tuple[int, bytes, str | None]]:
    """(offset, decompressed bytes, error) per gzip member, from the current position to the end."""
    start = pos = fh.tell()
    inflater = zlib.decompressobj(31)
    out: list[bytes] = []
    while True:
        data = fh.read(_CHUNK)
        if not data:
            if out or start != pos:
                yield start, b"".join(out), "truncated gzip member"
            return
        while data:
            try:
                out.append(inflater.decompress(data))
            except zlib.error as exc:
                yield start, b"", f"not a gzip member ({exc})"
                return
            if not inflater.eof:
                pos += len(data)
                break
            used = len(data) - len(inflater.unused_data)
            pos += used
            yield start, b"".join(out), None
            start, data = pos, inflater.unused_data
            inflater, out = zlib.decompressobj(31), []


def parse_records(offset: int, raw: bytes) -> Iterator[WarcRecord]:
    """The records of one gzip member (normally one; a whole-file gzip holds them all)."""
    while raw.strip():
        record = parse_record(offset, raw)
        yield record
        if record.problems:
            return
        head_len = raw.index(b"\r\n\r\n") + 4
        raw = raw[head_len + len(record.block):]
        raw = raw[4:] if raw.startswith(b"\r\n\r\n") else raw


def parse_record(offset: int, raw: bytes) -> WarcRecord:
    head, sep, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("utf-8", "replace").split("\r\n")
    record = WarcRecord(offset, {}, b"")
    if not sep or not lines[0].startswith("WARC/"):
        record.problems.append("not a WARC record")
        return record
    for line in lines[1:]:
        name, _, value = line.partition(":")
        record.headers[name.strip().lower()] = value.strip()
    try:
        length = int(record.headers.get("content-length", ""))
    except ValueError:
        record.problems.append("no Content-Length")
        return record
    record.block = rest[:length]
    if len(record.block) != length:
        record.problems.append(f"block is {len(record.block)} bytes, Content-Length says {length}")
    return record


def _decode_digest(value: str, size: int) -> bytes | None:
    for decode in (lambda v: base64.b32decode(v.upper()), bytes.fromhex, base64.b64decode):
        try:
            raw = decode(value)
        except (binascii.Error, ValueError):
            continue
        if len(raw) == size:
            return raw
    return None


def check_digest(label: str, data: bytes) -> str | None:
    """None when ``algorithm:value`` is the digest of ``data``, else what is wrong."""
    algorithm, _, value = label.partition(":")
    algorithm = algorithm.strip().lower().replace("-", "")
    if algorithm not in ("sha1", "sha256", "sha512", "md5"):
        return f"unknown digest algorithm {algorithm!r}"
    actual = hashlib.new(algorithm, data).digest()
    expected = _decode_digest(value.strip(), len(actual))
    if expected is None:
        return f"unreadable digest {label!r}"
    return None if expected == actual else f"{algorithm} mismatch (recorded {value.strip()[:16]}…)"


def check_record(record: WarcRecord) -> list[str]:
    """Problems of one record (empty list: every recorded digest matches)."""
    problems = list(record.problems)
    if problems:
        return problems
    block = record.headers.get("warc-block-digest")
    if block and (err := check_digest(block, record.block)):
        problems.append(f"WARC-Block-Digest: {err}")
    payload = record.headers.get("warc-payload-digest")
    if payload and (err := check_digest(payload, record.payload())):
        problems.append(f"WARC-Payload-Digest: {err}")
    legacy = record.headers.get("warc-payload-digest-sha256")
    if legacy and hashlib.sha256(record.payload()).hexdigest() != legacy.lower():
        problems.append("WARC-Payload-Digest-SHA256: sha256 mismatch")
    return problems


def iter_records(path: str | Path, offset: int = 0, limit: int | None = None) -> Iterator[WarcRecord]:
    with open(path, "rb") as fh:
        fh.seek(offset)
        count = 0
        for start, raw, error in _members(fh):
            for record in [WarcRecord(start, {}, b"", [error])] if error else parse_records(start, raw):
                if limit is not None and count >= limit:
                    return
                count += 1
                yield record


def record_at(path: str | Path, offset: int) -> WarcRecord:
    for record in iter_records(path, offset, limit=1):
        return record
    return WarcRecord(offset, {}, b"", [f"no record at offset {offset}"])


def verify_warc_file(path: str | Path) -> tuple[int, list[str]]:
    """(records read, problems as 'file@offset: …')."""
    problems, count = [], 0
    for record in iter_records(path):
        count += 1
        problems.extend(f"{Path(path).name}@{record.offset}: {p}" for p in check_record(record))
    if count == 0:
        problems.append(f"{Path(path).name}: no WARC records")
    return count, problems


# ---- evidence packages -----------------------------------------------------------------------------------

MANIFEST = "manifest.json"


def _unpack(package: Path, into: Path) -> Path:
    with zipfile.ZipFile(package) as archive:
        for name in archive.namelist():
            target = (into / name).resolve()
            if not str(target).startswith(str(into.resolve())):
                raise ValueError(f"{package}: member {name!r} points outside the package")
        archive.extractall(into)
    return into


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_package(package: str | Path) -> tuple[dict[str, int], list[str]]:
    """Check an evidence package (a folder or a .zip). Returns (counts, problems)."""
    import tempfile

    package = Path(package)
    if package.is_file() and zipfile.is_zipfile(package):
        with tempfile.TemporaryDirectory() as tmp:
            return verify_package(_unpack(package, Path(tmp)))
    manifest_path = package / MANIFEST
    if not manifest_path.is_file():
        return {}, [f"{package}: no {MANIFEST}"]
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    problems: list[str] = []
    listed = {entry["path"]: entry for entry in manifest.get("files", [])}
    for rel, entry in listed.items():
        path = package / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif _sha256_file(path) != entry.get("sha256"):
            problems.append(f"{rel}: sha256 differs from the manifest")
    present = {p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()}
    for extra in sorted(present - set(listed) - {MANIFEST}):
        problems.append(f"{extra}: not listed in the manifest")
    records = 0
    for rel in sorted(r for r in listed if r.endswith((".warc.gz", ".warc")) and (package / r).is_file()):
        count, found = verify_warc_file(package / rel)
        records += count
        problems.extend(f"{rel}: {p.split(': ', 1)[-1]}" if p.startswith(Path(rel).name) else p for p in found)
    captures = manifest.get("captures", [])
    for capture in captures:
        warc = package / capture.get("warc", "")
        if not warc.is_file():
            problems.append(f"capture {capture.get('id')}: WARC file {capture.get('warc')} missing")
            continue
        record = record_at(warc, int(capture.get("offset", 0)))
        if record.problems:
            problems.append(f"capture {capture.get('id')}: {record.problems[0]}")
        elif hashlib.sha256(record.payload()).hexdigest() != capture.get("sha256"):
            problems.append(f"capture {capture.get('id')}: payload sha256 differs from the recorded one")
    counts = {"files": len(listed), "warc_records": records, "captures": len(captures)}
    return counts, problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print("usage: verify_package.py PACKAGE_DIR_OR_ZIP", file=sys.stderr)
        return 2
    counts, problems = verify_package(args[0])
    for problem in problems:
        print(f"FAIL {problem}")
    summary = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())
    print(("FAILED: " if problems else "OK: ") + (summary or "nothing checked"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
