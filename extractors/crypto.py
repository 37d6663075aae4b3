"""Crypto addresses, checksum-validated.

- Bitcoin legacy (P2PKH ``1…``, P2SH ``3…``): base58check (double SHA-256, 4-byte checksum), version
  byte 0x00 or 0x05.
- Bitcoin SegWit: bech32 (BIP-173, witness v0) and bech32m (BIP-350, witness v1+), hrp ``bc``.
- Monero: Monero's block base58 (8 bytes <-> 11 chars), network byte 18 (standard ``4…``), 19
  (integrated) or 42 (subaddress ``8…``), checksum = first 4 bytes of Keccak-256 (original padding).

Anything whose checksum fails is not an address (the caller may count it, never report it).
The codecs are maintained libraries: ``base58`` (base58check), ``bip-utils`` (bech32/bech32m, Monero
block base58) and ``pycryptodome`` (Keccak-256); this module only maps them to address kinds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import base58
from Crypto.Hash import keccak

CANDIDATE_RE = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"(?P<btc>[13][1-9A-HJ-NP-Za-km-z]{25,34})"
    r"|(?P<bech>(?:bc|BC)1[02-9ac-hj-np-zAC-HJ-NP-Z]{11,71})"
    r"|(?P<xmr>[48][1-9A-HJ-NP-Za-km-z]{94}(?:[1-9A-HJ-NP-Za-km-z]{11})?)"
    r")(?![A-Za-z0-9])"
)


@dataclass(frozen=True)
class Address:
    currency: str  # BTC | XMR
    kind: str  # p2pkh | p2sh | p2wpkh | p2wsh | p2tr | segwit | standard | integrated | subaddress
    address: str
    start: int
    end: int

    def as_value(self) -> dict[str, str]:
        return {"currency": self.currency, "type": self.kind, "address": self.address}


# ----------------------------------------------------------------- bitcoin


def btc_base58_kind(addr: str) -> str | None:
    try:
        raw = base58.b58decode_check(addr)
    except ValueError:
        return None
    if len(raw) != 21:
        return None
    return {0x00: "p2pkh", 0x05: "p2sh"}.get(raw[0])


def bech32_kind(addr: str, hrp: str = "bc") -> str | None:
    """Witness program type of a valid bech32/bech32m address, else None.

    The library checks case, charset, checksum constant per witness version (bech32 for v0,
    bech32m for v1+) and the program length (2..40 bytes, 20 or 32 for v0)."""
    from bip_utils import Bech32ChecksumError, SegwitBech32Decoder  # here: bip_utils takes ~0.5 s to import

    if len(addr) > 90:  # BIP-173 length limit; the decoder does not enforce it
        return None
    try:
        version, prog = SegwitBech32Decoder.Decode(hrp, addr)
    except (ValueError, Bech32ChecksumError):
        return None
    if version == 0:
        return "p2wpkh" if len(prog) == 20 else "p2wsh"
    return "p2tr" if version == 1 and len(prog) == 32 else "segwit"


# ----------------------------------------------------------------- monero


def keccak256(data: bytes) -> bytes:
    """Keccak-256 as used by Monero (original padding 0x01, not SHA3's 0x06)."""
    return keccak.new(digest_bits=256, data=data).digest()


def xmr_b58decode(s: str) -> bytes | None:
    """Monero block base58 decode; None unless ``s`` is the canonical encoding of the result.

    The round trip rejects what the decoder would silently truncate (an 11-char block worth >= 2**64)
    and block lengths Monero never produces."""
    from bip_utils import Base58XmrDecoder, Base58XmrEncoder

    try:
        raw = Base58XmrDecoder.Decode(s)
    except ValueError:  # a character outside the alphabet, an impossible last-block length
        return None
    return raw if Base58XmrEncoder.Encode(raw) == s else None


XMR_KINDS = {18: "standard", 19: "integrated", 42: "subaddress"}  # mainnet network bytes


def xmr_kind(addr: str) -> str | None:
    raw = xmr_b58decode(addr)
    if raw is None or len(raw) not in (69, 77):
        return None
    body, checksum = raw[:-4], raw[-4:]
    if keccak256(body)[:4] != checksum:
        return None
    kind = XMR_KINDS.get(raw[0])
    if kind is None or (kind == "integrated") != (len(raw) == 77):
        return None
    return kind


# ----------------------------------------------------------------- search


def validate(addr: str) -> Address | None:
    """An Address when ``addr`` is a valid BTC or XMR address, else None."""
    found = find_addresses(addr)
    return found[0] if len(found) == 1 and found[0].end - found[0].start == len(addr) else None


def find_addresses(text: str) -> list[Address]:
    out: list[Address] = []
    for m in CANDIDATE_RE.finditer(text):
        s = m.group(0)
        if m.group("btc"):
            kind = btc_base58_kind(s)
            if kind:
                out.append(Address("BTC", kind, s, m.start(), m.end()))
        elif m.group("bech"):
            kind = bech32_kind(s)
            if kind:
                out.append(Address("BTC", kind, s.lower(), m.start(), m.end()))
        elif m.group("xmr"):
            kind = xmr_kind(s)
            if kind:
                out.append(Address("XMR", kind, s, m.start(), m.end()))
    return out
