"""Crypto addresses (checksums) and PGP keys (real key blocks from saved Hansa vendor pages)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from extractors import crypto, pgp
from tests.conftest import shared_data

VALID = {
    # Bitcoin genesis coinbase address (P2PKH) and the Bitcoin wiki P2SH example
    "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa": ("BTC", "p2pkh"),
    "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy": ("BTC", "p2sh"),
    # BIP-173 / BIP-350 test vectors
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4": ("BTC", "p2wpkh"),
    "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4": ("BTC", "p2wpkh"),
    "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3": ("BTC", "p2wsh"),
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0": ("BTC", "p2tr"),
    # Monero general-fund donation address
    "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A": ("XMR", "standard"),
}
INVALID = [
    "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",  # base58check fails
    "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLz",
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",  # bech32 checksum
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj1",  # bech32m checksum
    "Bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",  # mixed case
    "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3B",  # keccak
]


@pytest.mark.parametrize(("addr", "expected"), sorted(VALID.items()))
def test_valid_addresses(addr: str, expected: tuple[str, str]) -> None:
    found = crypto.validate(addr)
    assert found is not None
    assert (found.currency, found.kind) == expected


@pytest.mark.parametrize("addr", INVALID)
def test_invalid_checksums_rejected(addr: str) -> None:
    assert crypto.validate(addr) is None


def test_keccak256_known_answer() -> None:
    assert crypto.keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"


def test_addresses_found_in_text() -> None:
    text = "Betala till 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa eller 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb."
    assert [a.address for a in crypto.find_addresses(text)] == ["1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"]


# Fingerprints read with GnuPG 2 from the same pages (see tests/data/hansa_html_labels.json).
HANSA_KEYS = {
    "PushingSleepy": ("26A27288F71256DC8E1DD0F7EA322A867A83C399", ["57BAC15C9DA43B1F4F0D650F623D8026BD019F97"]),
    "Zloy3": ("D56207FEFCFD672997C5DDED7B26D0E88A92E962", ["4BE2CF83A819274967F74283EB212CAB8BA86DFA"]),
    "bitloxer": ("0479ECE3DD2CCBBD2D29ED4A93381338A962F488", ["CC23EF25DFA079423EAA9A3C78E9A4E8F2695951"]),
    "dbworld": ("7C63C4BDF8CA730E2211D66ECDC9ED0CD61CE4E3", ["E3AD1EF8D2D5A4D7B1ADCAAAD9D406B458A4DFF7"]),
    "tramapro": ("74A29D27F5470DE93C762BA3224CACAF3704D3FF", []),
}


def _page(vendor: str) -> str:
    path = shared_data("hansa-html-2017", f"hansamkt2rr6nfg3.onion_vendor_{vendor}_pgp_.htm")
    return Path(path).read_text(encoding="utf-8", errors="replace")


@pytest.mark.parametrize("vendor", sorted(HANSA_KEYS))
def test_hansa_vendor_keys(vendor: str) -> None:
    keys = pgp.find_keys(_page(vendor))
    assert len(keys) == 1
    _, _, key, err = keys[0]
    assert err is None and key is not None
    fpr, subkeys = HANSA_KEYS[vendor]
    assert key["fingerprint"] == fpr
    assert key["version"] == 4 and len(key["fingerprint"]) == 40
    assert key["subkeys"] == subkeys
    assert key["crc_ok"] is True
    assert key["user_ids"]


def test_fingerprint_matches_independent_sha1() -> None:
    """v4 fingerprint = SHA-1(0x99 || 2-byte length || public-key packet body) (RFC 4880 §12.2),
    computed here without PGPy."""
    data, _ = pgp.dearmor(_page("dbworld"))
    tag = data[0]
    assert tag & 0x80
    if tag & 0x40:  # new-format header
        length, off = data[1], 2
        if length >= 192:
            length, off = ((data[1] - 192) << 8) + data[2] + 192, 3
    else:
        ltype = tag & 0x03
        size = {0: 1, 1: 2, 2: 4}[ltype]
        length, off = int.from_bytes(data[1 : 1 + size], "big"), 1 + size
    body = data[off : off + length]
    digest = hashlib.sha1(b"\x99" + length.to_bytes(2, "big") + body).hexdigest().upper()
    assert digest == pgp.parse_key(_page("dbworld"))["fingerprint"]


def test_flattened_armor_still_parses() -> None:
    import re

    m = pgp.ARMOR_RE.search(_page("tramapro"))
    assert m is not None
    flat = re.sub(r"<br\s*/?>|\s+", " ", m.group(0))  # an HTML-to-text step joined the lines
    assert pgp.parse_key(flat)["fingerprint"] == HANSA_KEYS["tramapro"][0]


def test_garbage_block_raises() -> None:
    with pytest.raises(pgp.PGPParseError):
        pgp.parse_key("-----BEGIN PGP PUBLIC KEY BLOCK-----\nnot a key at all\n-----END PGP PUBLIC KEY BLOCK-----")


def test_text_fingerprints_but_never_short_ids() -> None:
    text = "PGP: 26A2 7288 F712 56DC 8E1D D0F7 EA32 2A86 7A83 C399, old id 0x7A83C399 / EA322A867A83C399"
    assert [f for _, _, f in pgp.find_fingerprints(text)] == ["26A27288F71256DC8E1DD0F7EA322A867A83C399"]
