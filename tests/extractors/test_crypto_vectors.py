"""Address cases the library codecs (bip-utils, pycryptodome) must get right beyond the basic vectors:
Monero subaddress / integrated kinds, non-canonical base58, BIP-173/350 edge cases, a real address."""

from __future__ import annotations

from pathlib import Path

import pytest

from extractors import crypto
from tests.conftest import shared_data

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
GENERAL_FUND = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A"
# Made with monero-python 1.1.1 (an independent implementation) from one test seed: its subaddress (0, 1)
# and its standard address integrated with payment id feedbeef12345678.
SUBADDRESS = "8BzGWJjsygTbCLtj5n9No7J5oE5hHiB3tVCK5cjSvCsYWD2WRJLFuWeKTLiXo5QJqt2ZwUaLy2Vh1Ad51K7FNgqcHgXcRx9"
INTEGRATED = (
    "4Eq6M6EKg3ULQGJSPtbYDacR7dz8RBFnsfAKMaMuwUNYX6aQbBcovzDPyrQF9KXF9tVU6Xk3K8no1BywnJX6GvZX"
    "CskQRDm9mvdEYVt135"
)


def _flip_last(addr: str) -> str:
    return addr[:-1] + ("B" if addr[-1] != "B" else "C")


@pytest.mark.parametrize(("addr", "kind"), [(SUBADDRESS, "subaddress"), (INTEGRATED, "integrated")])
def test_monero_kinds(addr: str, kind: str) -> None:
    found = crypto.validate(addr)
    assert found is not None and (found.currency, found.kind) == ("XMR", kind)
    assert crypto.validate(_flip_last(addr)) is None


def test_monero_non_canonical_block_rejected() -> None:
    """An 11-char block worth n + 2**64 decodes (truncated) to the same 8 bytes as n; Monero rejects
    it as an overflow, and so must we, or one address gets two spellings."""
    block = GENERAL_FUND[:11]
    n = 0
    for ch in block:
        n = n * 58 + B58.index(ch)
    alias_n = n + (1 << 64)
    assert alias_n < 58**11  # still fits 11 characters
    alias = ""
    for _ in range(11):
        alias_n, r = divmod(alias_n, 58)
        alias = B58[r] + alias
    forged = alias + GENERAL_FUND[11:]
    assert forged != GENERAL_FUND
    if forged[0] in "48":  # only then does the candidate pattern even see it
        assert crypto.validate(forged) is None
    assert crypto.xmr_kind(forged) is None


# BIP-350's invalid vectors with the mainnet prefix, with the BIP's reasons
BIP350_INVALID = {
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd": "bech32 instead of bech32m",
    "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL": "bech32 instead of bech32m",
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh": "bech32m instead of bech32",
    "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4": "invalid character in checksum",
    "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R": "invalid witness version",
    "bc1pw5dgrnzv": "program length 1 byte",
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav": "program length 41 bytes",
    "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P": "program length 16 for witness v0",
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf": "zero padding of more than 4 bits",
    "bc1gmk9yu": "empty data section",
}


@pytest.mark.parametrize("addr", sorted(BIP350_INVALID))
def test_bip350_invalid_segwit(addr: str) -> None:
    assert crypto.bech32_kind(addr) is None
    assert crypto.validate(addr) is None


@pytest.mark.parametrize(
    ("addr", "kind"),
    [("BC1SW50QGDZ25J", "segwit"), ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "segwit")],  # BIP-350 valid v16, v2
)
def test_bip350_valid_future_versions(addr: str, kind: str) -> None:
    assert crypto.bech32_kind(addr) == kind


def test_real_address_from_a_saved_market_page() -> None:
    """The one Bitcoin address on the saved Dream Market pages (its login page asks for donations)."""
    page = shared_data("msc-darkweb-2019", "dream", "html_files", "login_page", "login_0.html")
    found = crypto.find_addresses(Path(page).read_text(encoding="utf-8", errors="replace"))
    assert {(a.currency, a.kind, a.address) for a in found} == {
        ("BTC", "p2pkh", "17ysvSES8LyZ2mtAEo9GEYdujA9svP5r5u")
    }
