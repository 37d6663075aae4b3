"""v3 onion address validation against the rend-spec-v3 vectors in ../shared/data/onion-v3-vectors."""

from __future__ import annotations

import base64
import json

import pytest

from tests.conftest import shared_data
from tor.onion import (
    OnionAddressError,
    is_onion_host,
    is_valid_onion,
    onion_from_pubkey,
    parse_onion,
    parse_onion_url,
)


def _vectors() -> dict:
    return json.loads(shared_data("onion-v3-vectors", "onion_vectors.json").read_text())


def test_spec_vectors_are_valid() -> None:
    vectors = _vectors()["valid_spec"]
    assert len(vectors) >= 4
    for vector in vectors:
        onion = parse_onion(vector["address"])
        assert onion.host == vector["address"]
        assert onion.version == 3
        assert onion_from_pubkey(onion.pubkey) == vector["address"]
        if "pubkey_hex" in vector:
            assert onion.pubkey.hex() == vector["pubkey_hex"]


def test_rfc8032_key_gives_the_recorded_address() -> None:
    vector = next(v for v in _vectors()["valid_spec"] if v.get("pubkey_hex"))
    assert onion_from_pubkey(bytes.fromhex(vector["pubkey_hex"])) == vector["address"]


def test_harvested_addresses_match_their_recorded_status() -> None:
    harvested = _vectors()["harvested_v3"]
    assert harvested
    for vector in harvested:
        assert is_valid_onion(vector["address"]) == (vector["status"] == "valid"), vector


def _mutate(address: str, position: int) -> str:
    label = address.removesuffix(".onion")
    replacement = "a" if label[position] != "a" else "b"
    return label[:position] + replacement + label[position + 1:] + ".onion"


@pytest.mark.parametrize("position", [0, 10, 31, 51, 52, 53])
def test_single_character_change_is_rejected(position: int) -> None:
    address = _vectors()["valid_spec"][0]["address"]
    with pytest.raises(OnionAddressError) as info:
        parse_onion(_mutate(address, position))
    message = str(info.value)
    assert _mutate(address, position) in message
    assert "checksum" in message or "version" in message


def test_wrong_version_byte_is_named() -> None:
    pubkey = bytes(range(32))
    good = onion_from_pubkey(pubkey)
    raw = bytearray(base64.b32decode(good.removesuffix(".onion").upper()))
    raw[34] = 4
    bad = base64.b32encode(bytes(raw)).decode().lower() + ".onion"
    with pytest.raises(OnionAddressError, match="version byte is 4"):
        parse_onion(bad)


def test_v2_address_is_rejected_with_a_clear_message() -> None:
    with pytest.raises(OnionAddressError) as info:
        parse_onion("silkroad7rn2puhj.onion")
    assert "silkroad7rn2puhj.onion" in str(info.value)
    assert "v2" in str(info.value) and "56" in str(info.value)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("abc.onion", "has 3 characters"),
        ("pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscry1.onion", "not base32"),
        ("", "empty"),
        ("http://x.onion/", "is a URL"),
    ],
)
def test_malformed_addresses_name_the_reason(address: str, reason: str) -> None:
    with pytest.raises(OnionAddressError, match=reason):
        parse_onion(address)


def test_normalisation_subdomain_case_and_url() -> None:
    address = _vectors()["valid_spec"][1]["address"]
    assert parse_onion("WWW." + address.upper()).host == address
    assert parse_onion(address.removesuffix(".onion")).host == address
    assert parse_onion_url(f"http://{address}:8080/market?page=2").host == address
    with pytest.raises(OnionAddressError, match="not an onion URL"):
        parse_onion_url("https://clearnet.example/")
    assert is_onion_host(address + ".") and is_onion_host(b"x.onion") and not is_onion_host("onion.example.org")
