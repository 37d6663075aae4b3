"""extractors.pgp on Sequoia-PGP: the same v4 fingerprints as before for every shipped key, and keys PGPy
could not read (OpenPGP v6, RFC 9580). Fingerprints are checked against a hash computed here from the
raw key packet, not against the library."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from pysequoia import Profile, Tsk

from extractors import pgp

ROOT = Path(__file__).resolve().parents[2]
KEYS = [json.loads(line) for line in (ROOT / "testbed" / "data" / "pgp_keys.jsonl").read_text("utf-8").splitlines()]


def _first_packet(data: bytes) -> tuple[int, bytes]:
    """(tag, body) of the first packet: new-format headers only, which is what OpenPGP tools write."""
    assert data[0] & 0xC0 == 0xC0
    tag, first = data[0] & 0x3F, data[1]
    if first < 192:
        length, off = first, 2
    elif first < 224:
        length, off = ((first - 192) << 8) + data[2] + 192, 3
    else:
        assert first == 255
        length, off = int.from_bytes(data[2:6], "big"), 6
    return tag, data[off : off + length]


def _armor(data: bytes) -> str:
    b64 = base64.b64encode(data).decode()
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n" + "\n".join(lines) + "\n-----END PGP PUBLIC KEY BLOCK-----\n"


def test_every_testbed_key_keeps_its_fingerprint() -> None:
    """The 220 shipped keys were written by PGPy; Sequoia must read the same primary fingerprints."""
    assert len(KEYS) >= 200
    for row in KEYS:
        key = pgp.parse_key(row["armored"])
        assert key["fingerprint"] == row["fingerprint"], row["handle"]
        assert key["version"] == 4 and key["algorithm"] == "RSAEncryptOrSign" and key["bits"] == 2048
        assert key["user_ids"] == [row["handle"]] and key["subkeys"] == [] and key["crc_ok"] is True


def test_v6_key_with_subkeys() -> None:
    """OpenPGP v6 (RFC 9580): fingerprint = SHA-256(0x9B || 4-byte length || key packet body)."""
    armored = str(Tsk.generate("Nordpolen <nordpolen@example.test>", profile=Profile.RFC9580).extract_certificate())
    key = pgp.parse_key(armored)
    tag, body = _first_packet(pgp.dearmor(armored)[0])
    assert tag == 6 and body[0] == 6
    expected = hashlib.sha256(b"\x9b" + len(body).to_bytes(4, "big") + body).hexdigest().upper()
    assert key["fingerprint"] == expected and key["version"] == 6
    assert key["user_ids"] == ["Nordpolen <nordpolen@example.test>"]
    assert len(key["subkeys"]) == 2 and all(len(s) == 64 for s in key["subkeys"])
    assert key["bits"] is None  # an elliptic-curve key has no MPI size
    assert [f for _, _, f in pgp.find_fingerprints(key["fingerprint"])] == []  # text fingerprints stay v4 (40 hex)


def test_v4_ed25519_key() -> None:
    armored = str(Tsk.generate("Kalle_SE", profile=Profile.RFC4880).extract_certificate())
    key = pgp.parse_key(armored)
    _, body = _first_packet(pgp.dearmor(armored)[0])
    assert key["fingerprint"] == hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest().upper()
    assert key["version"] == 4 and key["algorithm"] == "EdDSA" and key["bits"] is None


def test_keyring_block_reports_its_first_certificate() -> None:
    first, second = (pgp.dearmor(KEYS[i]["armored"])[0] for i in (0, 1))
    key = pgp.parse_key(_armor(first + second))
    assert key["fingerprint"] == KEYS[0]["fingerprint"] and key["user_ids"] == [KEYS[0]["handle"]]


@pytest.mark.parametrize("data", [b"\x00\x01\x02", b"\xb4\x05hello"])  # not a packet; a User ID packet first
def test_non_key_packets_raise(data: bytes) -> None:
    with pytest.raises(pgp.PGPParseError) as err:
        pgp.parse_key(_armor(data))
    assert "\n" not in str(err.value)  # Sequoia's backtrace is not carried into the message
