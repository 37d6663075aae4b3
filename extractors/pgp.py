"""PGP public keys: armored block -> full v4 fingerprint, subkey fingerprints, user ids, creation time.

Parsing is done by Sequoia-PGP (``pysequoia``; PGPy imports ``imghdr``, which Python 3.13 removed, and
has had no release since 2022). Market pages mangle armor (``<br />`` per
line, blank lines doubled, HTML entities, lost header blank line), so the armor is rebuilt first:
headers dropped, base64 body joined, CRC-24 checked when present. Short key ids are never reported.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from typing import Any

ARMOR_RE = re.compile(
    r"-----BEGIN PGP PUBLIC KEY BLOCK-----(?P<body>.*?)-----END PGP PUBLIC KEY BLOCK-----", re.S
)
FPR_TEXT_RE = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{4}[ \u00a0]{0,2}){9}[0-9A-Fa-f]{4}(?![0-9A-Fa-f])")
_HEADER = re.compile(r"^[A-Za-z][A-Za-z0-9-]*: ")


class PGPParseError(ValueError):
    """The block is not a parseable OpenPGP public key."""


def _crc24(data: bytes) -> int:
    # By hand: Sequoia neither reads the market-mangled armor nor reports its checksum, and the pure-Python
    # ``crc`` package (configured for CRC-24/OpenPGP) measured slower than this loop on the testbed keys.
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


# pysequoia's algorithm names, spelled as PGPy spelt them: the ``algorithm`` value is part of the PGP_KEY
# entity contract (README), which PGPy's enum names defined before the switch.
_ALGORITHM_NAMES = {"RSAEncryptSign": "RSAEncryptOrSign", "ElGamalEncrypt": "ElGamal",
                    "ElGamalEncryptSign": "FormerlyElGamalEncryptOrSign"}
_MPI_ALGORITHMS = {"RSAEncryptOrSign", "RSAEncrypt", "RSASign", "DSA", "ElGamal", "FormerlyElGamalEncryptOrSign"}


def _algorithm(packet: Any) -> str:
    name = str(packet.key_algorithm).rsplit(".", 1)[-1]
    return _ALGORITHM_NAMES.get(name, name)


def _bits(body: bytes, algorithm: str) -> int | None:
    """Size of an RSA/DSA/ElGamal key: the bit count of its first MPI (RFC 9580 §5.5.2); None for
    elliptic curves (their size is the curve's), as before."""
    if algorithm not in _MPI_ALGORITHMS or not body:
        return None
    # version, creation time (4), [v3: validity (2)], algorithm, [v5/v6: key material length (4)], MPIs
    offset = {3: 8, 4: 6, 5: 10, 6: 10}.get(body[0])
    if offset is None or len(body) < offset + 2:
        return None
    return int.from_bytes(body[offset : offset + 2], "big")


def parse_key(block: str) -> dict[str, Any]:
    """Parse one armored public key block (the first certificate when it holds several).

    Returns ``{"fingerprint", "version", "subkeys": [fingerprint…], "user_ids": [...], "created",
    "algorithm", "bits", "crc_ok"}``. Raises :class:`PGPParseError` when it is not a key."""
    from pysequoia.packet import PacketPile, Tag

    data, crc_ok = dearmor(block)
    if not data:
        raise PGPParseError("empty key block")
    # Raw packets, as PGPy read them: every subkey and User ID packet of the first certificate is listed,
    # whether or not a binding signature covers it.
    try:
        packets = list(PacketPile.from_bytes(data))
        if not packets or packets[0].tag != Tag.PublicKey:
            raise ValueError("does not start with a public-key packet")
        primary, subkeys, user_ids = packets[0], [], []
        for packet in packets[1:]:
            if packet.tag == Tag.PublicKey:
                break  # the next certificate of a keyring
            if packet.tag == Tag.PublicSubkey:
                subkeys.append(str(packet.fingerprint).upper())
            elif packet.tag == Tag.UserID:
                user_ids.append(str(packet.user_id))
    except Exception as exc:  # Sequoia raises RuntimeError with a backtrace appended: keep the message line
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise PGPParseError(f"not an OpenPGP public key: {type(exc).__name__}: {reason}") from None
    algorithm = _algorithm(primary)
    body = bytes(primary.body or b"")
    return {
        "fingerprint": str(primary.fingerprint).upper(),
        "version": body[0] if body else None,
        "subkeys": subkeys,
        "user_ids": user_ids,
        "created": primary.key_created.isoformat() if primary.key_created else None,
        "algorithm": algorithm,
        "bits": _bits(body, algorithm),
        "crc_ok": crc_ok,
    }


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
