"""Crypto addresses, checksum-validated.

- Bitcoin legacy (P2PKH ``1…``, P2SH ``3…``): base58check (double SHA-256, 4-byte checksum), version
  byte 0x00 or 0x05.
- Bitcoin SegWit: bech32 (BIP-173, witness v0) and bech32m (BIP-350, witness v1+), hrp ``bc``.
- Monero: Monero's block base58 (8 bytes <-> 11 chars), network byte 18 (standard ``4…``), 19
  (integrated) or 42 (subaddress ``8…``), checksum = first 4 bytes of Keccak-256 (original padding).

Anything whose checksum fails is not an address (the caller may count it, never report it).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import base58

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
BECH32_CHARS = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

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


def _polymod(values: list[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = ((chk & 0x1FFFFFF) << 5) ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= gen[i]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convertbits(data: list[int], frombits: int, tobits: int) -> list[int] | None:
    acc = bits = 0
    out = []
    maxv = (1 << tobits) - 1
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if bits >= frombits or ((acc << (tobits - bits)) & maxv):
        return None
    return out


def bech32_kind(addr: str, hrp: str = "bc") -> str | None:
    """Witness program type of a valid bech32/bech32m address, else None."""
    if addr.lower() != addr and addr.upper() != addr:
        return None  # mixed case is invalid
    a = addr.lower()
    pos = a.rfind("1")
    if a[:pos] != hrp or pos + 7 > len(a) or len(a) > 90:
        return None
    try:
        data = [BECH32_CHARS.index(c) for c in a[pos + 1 :]]
    except ValueError:
        return None
    const = _polymod(_hrp_expand(hrp) + data)
    version = data[0]
    if const == 1:
        encoding = "bech32"
    elif const == 0x2BC830A3:
        encoding = "bech32m"
    else:
        return None
    prog = _convertbits(data[1:-6], 5, 8)
    if prog is None or not 2 <= len(prog) <= 40 or version > 16:
        return None
    if version == 0:
        if encoding != "bech32" or len(prog) not in (20, 32):
            return None
        return "p2wpkh" if len(prog) == 20 else "p2wsh"
    if encoding != "bech32m":
        return None
    return "p2tr" if version == 1 and len(prog) == 32 else "segwit"


# ----------------------------------------------------------------- monero

_RC = [
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000, 0x000000000000808B,
    0x0000000080000001, 0x8000000080008081, 0x8000000000008009, 0x000000000000008A, 0x0000000000000088,
    0x0000000080008009, 0x000000008000000A, 0x000000008000808B, 0x800000000000008B, 0x8000000000008089,
    0x8000000000008003, 0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
]
_ROT = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61], [28, 55, 25, 21, 56], [27, 20, 39, 8, 14]]
_M64 = (1 << 64) - 1


def _rol(x: int, n: int) -> int:
    n %= 64
    return ((x << n) | (x >> (64 - n))) & _M64 if n else x


def _keccak_f(a: list[list[int]]) -> None:
    for rc in _RC:
        c = [a[x][0] ^ a[x][1] ^ a[x][2] ^ a[x][3] ^ a[x][4] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rol(c[(x + 1) % 5], 1) for x in range(5)]
        for x in range(5):
            for y in range(5):
                a[x][y] ^= d[x]
        b = [[0] * 5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                b[y][(2 * x + 3 * y) % 5] = _rol(a[x][y], _ROT[x][y])
        for x in range(5):
            for y in range(5):
                a[x][y] = b[x][y] ^ ((~b[(x + 1) % 5][y]) & b[(x + 2) % 5][y])
        a[0][0] ^= rc


def keccak256(data: bytes) -> bytes:
    """Keccak-256 as used by Monero (pad10*1 with 0x01, not SHA3's 0x06)."""
    rate = 136
    msg = bytearray(data) + b"\x01"
    msg += b"\x00" * ((-len(msg)) % rate)
    msg[-1] |= 0x80
    state = [[0] * 5 for _ in range(5)]
    for off in range(0, len(msg), rate):
        block = msg[off : off + rate]
        for i in range(rate // 8):
            lane = int.from_bytes(block[8 * i : 8 * i + 8], "little")
            state[i % 5][i // 5] ^= lane
        _keccak_f(state)
    out = b"".join(state[i % 5][i // 5].to_bytes(8, "little") for i in range(4))
    return out


_XMR_BLOCK = {0: 0, 2: 1, 3: 2, 5: 3, 6: 4, 7: 5, 9: 6, 10: 7, 11: 8}  # encoded chars -> bytes


def xmr_b58decode(s: str) -> bytes | None:
    out = bytearray()
    for i in range(0, len(s), 11):
        chunk = s[i : i + 11]
        nbytes = _XMR_BLOCK.get(len(chunk))
        if nbytes is None:
            return None
        num = 0
        for ch in chunk:
            idx = B58.find(ch)
            if idx < 0:
                return None
            num = num * 58 + idx
        if num >= 1 << (8 * nbytes):
            return None
        out += num.to_bytes(nbytes, "big")
    return bytes(out)


def xmr_kind(addr: str) -> str | None:
    raw = xmr_b58decode(addr)
    if raw is None or len(raw) not in (69, 77):
        return None
    body, checksum = raw[:-4], raw[-4:]
    if keccak256(body)[:4] != checksum:
        return None
    kinds = {18: "standard", 19: "integrated", 42: "subaddress"}
    kind = kinds.get(raw[0])
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


def sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()
