"""Saved pages as adapter authors have them (``sokhund adapter test|suggest``): gzip-compressed or not,
in the page's own encoding (BOM, ``<meta charset>``, else UTF-8, else windows-1252: what the crawler's
responses do), refused when they hold no HTML (empty, a directory, binary data)."""

from __future__ import annotations

import zlib
from pathlib import Path

MAX_UNPACKED = 256 * 1024 * 1024  # a gzip bomb stops here


class SavedPageError(Exception):
    """The file is not a saved HTML page; the message says why (and names the file)."""


def _auto_encoding(body: bytes) -> str | None:
    for encoding in ("utf-8", "cp1252"):
        try:
            body.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return None


def _gunzip(path: Path, body: bytes) -> tuple[bytes, str]:
    unpacker = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = unpacker.decompress(body, MAX_UNPACKED)
    except zlib.error as exc:
        raise SavedPageError(f"{path}: a damaged gzip file ({exc})") from None
    if unpacker.unconsumed_tail:
        raise SavedPageError(f"{path}: unpacks to more than {MAX_UNPACKED // 2**20} MB")
    if not unpacker.eof:
        if not out:
            raise SavedPageError(f"{path}: a damaged gzip file (nothing unpacks)")
        return out, "gzip-compressed, truncated (the end of the page is missing)"
    return out, "gzip-compressed"


def read_saved_page(path: str | Path) -> tuple[str, list[str]]:
    """(the page's text, notes such as "gzip-compressed", "windows-1251"). Raises SavedPageError."""
    from w3lib.encoding import html_to_unicode

    path = Path(path)
    if path.is_dir():
        raise SavedPageError(f"{path}: is a directory (give the saved pages in it, e.g. {path}/*.html)")
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise SavedPageError(f"{path}: {exc.strerror or exc}") from None
    notes: list[str] = []
    if body[:2] == b"\x1f\x8b":  # gzip magic
        body, note = _gunzip(path, body)
        notes.append(note)
    if not body.strip():
        raise SavedPageError(f"{path}: empty file")
    encoding, text = html_to_unicode(None, body, auto_detect_fun=_auto_encoding)
    if "\x00" in text[:4096] or text.count("\ufffd") > max(8, len(text) // 100):
        raise SavedPageError(f"{path}: not an HTML page (binary data)")
    if encoding.replace("-", "").lower() not in ("utf8", "ascii"):
        notes.append(f"decoded as {encoding}")
    return text, notes
