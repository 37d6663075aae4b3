# Stdlib only: stem's identity_key_from_address checks the same checksum but cannot say which part of an address is wrong.
"""v3 onion addresses (Tor rend-spec-v3 §6, address-spec §3).

    onion_address = base32(PUBKEY | CHECKSUM | VERSION) + ".onion"
    CHECKSUM      = SHA3-256(".onion checksum" | PUBKEY | VERSION)[:2]
    VERSION       = 0x03

A bad address raises :class:`OnionAddressError` whose message names the address and says what is wrong
with it. v2 addresses (16 characters) are refused: Tor dropped them in 2021, so a v2 link in a page or an
adapter is dead, and usually a sign of a copied or phishing mirror.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from urllib.parse import urlsplit

VERSION = 3
CHECKSUM_PREFIX = b".onion checksum"
V3_LENGTH = 56  # base32 characters: 35 bytes
V2_LENGTH = 16
_BASE32 = set("abcdefghijklmnopqrstuvwxyz234567")


class OnionAddressError(ValueError):
    """An onion address is malformed; the message names the address and the reason."""


@dataclass(frozen=True)
class OnionAddress:
    """A checked v3 onion address. ``host`` is ``<56 chars>.onion`` in lower case, without subdomains."""

    host: str
    pubkey: bytes
    version: int = VERSION

    @property
    def label(self) -> str:
        return self.host.removesuffix(".onion")

    def __str__(self) -> str:
        return self.host


def _checksum(pubkey: bytes, version: int) -> bytes:
    return hashlib.sha3_256(CHECKSUM_PREFIX + pubkey + bytes([version])).digest()[:2]


def onion_from_pubkey(pubkey: bytes) -> str:
    """The v3 onion host (``….onion``) of a 32-byte ed25519 public key."""
    if len(pubkey) != 32:
        raise ValueError(f"an ed25519 public key has 32 bytes, got {len(pubkey)}")
    raw = pubkey + _checksum(pubkey, VERSION) + bytes([VERSION])
    return base64.b32encode(raw).decode("ascii").lower() + ".onion"


def parse_onion(address: str) -> OnionAddress:
    """Validate a v3 onion host (with or without ``.onion``, subdomains allowed) and return it normalised.

    Raises :class:`OnionAddressError` naming the address and why it is not a valid v3 onion address.
    """
    if not isinstance(address, str):
        raise OnionAddressError(f"onion address must be a string, got {type(address).__name__}")
    original = address
    host = address.strip().lower().rstrip(".")
    if "://" in host:
        raise OnionAddressError(f"{original!r} is a URL, not an onion host; use parse_onion_url()")
    if host.endswith(".onion"):
        host = host[: -len(".onion")]
    label = host.rsplit(".", 1)[-1]  # drop subdomains: www.<56>.onion is the same service
    if not label:
        raise OnionAddressError(f"{original!r} is not an onion address: empty name")
    if len(label) == V2_LENGTH and set(label) <= _BASE32:
        raise OnionAddressError(
            f"{original!r} is a v2 onion address (16 characters): Tor removed v2 onion services in 2021, "
            "so it cannot be reached; look for the site's v3 address (56 characters)"
        )
    if len(label) != V3_LENGTH:
        raise OnionAddressError(
            f"{original!r} is not a v3 onion address: the name has {len(label)} characters, a v3 name has 56"
        )
    bad = sorted(set(label) - _BASE32)
    if bad:
        raise OnionAddressError(
            f"{original!r} is not a v3 onion address: characters {''.join(bad)!r} are not base32 (a-z, 2-7)"
        )
    try:
        raw = base64.b32decode(label.upper())
    except binascii.Error as exc:  # pragma: no cover - length and alphabet are already checked
        raise OnionAddressError(f"{original!r} is not a v3 onion address: {exc}") from exc
    pubkey, checksum, version = raw[:32], raw[32:34], raw[34]
    if version != VERSION:
        raise OnionAddressError(
            f"{original!r} is not a v3 onion address: version byte is {version}, expected {VERSION}"
        )
    if checksum != _checksum(pubkey, version):
        raise OnionAddressError(
            f"{original!r} has a bad checksum (a typo, or a deliberately altered phishing address): "
            f"expected {_checksum(pubkey, version).hex()}, found {checksum.hex()}"
        )
    return OnionAddress(host=f"{label}.onion", pubkey=pubkey, version=version)


def is_valid_onion(address: str) -> bool:
    try:
        parse_onion(address)
    except OnionAddressError:
        return False
    return True


def is_onion_host(host: str | bytes | None) -> bool:
    """True for any name in the .onion zone (valid or not): such names must never reach a DNS resolver."""
    if host is None:
        return False
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return host.strip().lower().rstrip(".").endswith(".onion")


def parse_onion_url(url: str) -> OnionAddress:
    """Validate the onion host of an ``http(s)://…onion/…`` URL."""
    host = urlsplit(url).hostname or ""
    if not is_onion_host(host):
        raise OnionAddressError(f"{url!r} is not an onion URL (host {host!r})")
    try:
        return parse_onion(host)
    except OnionAddressError as exc:
        raise OnionAddressError(f"URL {url!r}: {exc}") from None
