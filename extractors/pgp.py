"""PGP public keys: armored block -> full v4 fingerprint, subkey fingerprints, user ids, creation time.

Parsing is done by PGPy (a real OpenPGP implementation). Market pages mangle armor (``<br />`` per
line, blank lines doubled, HTML entities, lost header blank line), so the armor is rebuilt first:
headers dropped, base64 body joined, CRC-24 checked when present. Short key ids are never reported.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import warnings
from typing import Any

ARMOR_RE = re.compile(
    r"-----BEGIN PGP PUBLIC KEY BLOCK-----(?P<body>.*?)-----END PGP PUBLIC KEY BLOCK-----", re.S
)
FPR_TEXT_RE = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{4}[ \u00a0]{0,2}){9}[0-9A-Fa-f]{4}(?![0-9A-Fa-f])")
_HEADER = re.compile(r"^[A-Za-z][A-Za-z0-9-]*: ")


class PGPParseError(ValueError):
    """The block is not a parseable OpenPGP public key."""


def _crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def dearmor(block: str) -> tuple[bytes, bool | None]:
    """Binary key material from an armored (possibly HTML-mangled) block, and whether the CRC matched
    (None when the block carried no checksum)."""
    match = ARMOR_RE.search(block)
    body = match.group("body") if match else block
    body = html.unescape(re.sub(r"<[^>]+>", "\n", body))
    # Armor headers ("Version: …", "Comment: …") come before the body; the body's first line is a full
    # 64-character base64 line. Working on whitespace-separated chunks also handles armor whose line
    # breaks were flattened to spaces by an HTML-to-text step.
    chunks = body.split()
    start = next((i for i, c in enumerate(chunks) if len(c) >= 40 and re.fullmatch(r"[A-Za-z0-9+/=]+", c)), None)
    if start is None:
        lines = [ln.strip() for ln in body.splitlines() if ln.strip() and not _HEADER.match(ln.strip())]
    else:
        lines = chunks[start:]
    crc_ok: bool | None = None
    checksum = None
    if lines and re.fullmatch(r"=[A-Za-z0-9+/]{4}", lines[-1]):
        checksum = lines.pop()
    b64 = re.sub(r"[^A-Za-z0-9+/=]", "", "".join(lines))
    try:
        data = base64.b64decode(b64 + "=" * (-len(b64) % 4))
    except (binascii.Error, ValueError) as exc:
        raise PGPParseError(f"bad base64 in armor: {exc}") from None
    if checksum:
        crc_ok = _crc24(data) == int.from_bytes(base64.b64decode(checksum[1:]), "big")
    return data, crc_ok


def _fpr(key: Any) -> str:
    return str(key.fingerprint).replace(" ", "").upper()


def parse_key(block: str) -> dict[str, Any]:
    """Parse one armored public key block.

    Returns ``{"fingerprint", "version", "subkeys": [fingerprint…], "user_ids": [...], "created",
    "algorithm", "bits", "crc_ok"}``. Raises :class:`PGPParseError` when it is not a key."""
    import pgpy

    data, crc_ok = dearmor(block)
    if not data:
        raise PGPParseError("empty key block")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            key, _ = pgpy.PGPKey.from_blob(bytearray(data))
            fpr = _fpr(key)
            return {
                "fingerprint": fpr,
                "version": 4 if len(fpr) == 40 else (5 if len(fpr) == 64 else None),
                "subkeys": [_fpr(sub) for sub in key.subkeys.values()],
                "user_ids": [uid.userid for uid in key.userids],
                "created": key.created.isoformat() if key.created else None,
                "algorithm": getattr(key.key_algorithm, "name", str(key.key_algorithm)),
                "bits": key.key_size if isinstance(key.key_size, int) else None,
                "crc_ok": crc_ok,
            }
        except Exception as exc:  # PGPy raises several types on malformed packets
            raise PGPParseError(f"not an OpenPGP public key: {type(exc).__name__}: {exc}") from None


def find_keys(text: str) -> list[tuple[int, int, dict[str, Any] | None, str | None]]:
    """(start, end, parsed key or None, error) for every armored public key block in ``text``."""
    out = []
    for m in ARMOR_RE.finditer(text):
        try:
            out.append((m.start(), m.end(), parse_key(m.group(0)), None))
        except PGPParseError as exc:
            out.append((m.start(), m.end(), None, str(exc)))
    return out


def find_fingerprints(text: str) -> list[tuple[int, int, str]]:
    """Full 40-hex fingerprints written out in text (``ABCD 1234 …``). Short key ids are ignored."""
    out = []
    for m in FPR_TEXT_RE.finditer(text):
        fpr = re.sub(r"\s", "", m.group(0)).upper()
        if len(fpr) == 40 and not re.fullmatch(r"(.)\1+", fpr):
            out.append((m.start(), m.end(), fpr))
    return out
