"""Generate the testbed's pool of real OpenPGP public keys, once.

RSA key generation is slow, so the keys are made here and shipped as ``testbed/data/pgp_keys.jsonl``
(one JSON object per line: index, handle, fingerprint, armored public key). The world only reads
that file, so it stays deterministic and fast. Private keys are thrown away.

Written with PGPy (a dev dependency, pinned): PGPy imports ``imghdr``, which Python 3.13 removed, so this
tool needs Python 3.11/3.12 until it moves to pysequoia (whose generated certificates carry subkeys, a
different shape from the shipped pool). Reading keys (extractors/pgp.py) no longer uses PGPy.

    .venv/bin/python -m testbed.tools.genkeys [--bits 2048] [--out testbed/data/pgp_keys.jsonl]
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parents[1] / "data"


def make_key(handle: str, bits: int) -> tuple[str, str]:
    """(fingerprint without spaces, armored public key) for a new RSA key with user id ``handle``."""
    import pgpy
    from pgpy.constants import (
        CompressionAlgorithm,
        HashAlgorithm,
        KeyFlags,
        PubKeyAlgorithm,
        SymmetricKeyAlgorithm,
    )

    key = pgpy.PGPKey.new(PubKeyAlgorithm.RSAEncryptOrSign, bits)
    uid = pgpy.PGPUID.new(handle)
    key.add_uid(
        uid,
        usage={KeyFlags.Sign, KeyFlags.Certify, KeyFlags.EncryptCommunications},
        hashes=[HashAlgorithm.SHA256, HashAlgorithm.SHA512],
        ciphers=[SymmetricKeyAlgorithm.AES256],
        compression=[CompressionAlgorithm.ZLIB, CompressionAlgorithm.Uncompressed],
    )
    fingerprint = str(key.fingerprint).replace(" ", "")
    return fingerprint, str(key.pubkey)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the testbed PGP key pool (slow; run once).")
    parser.add_argument("--bits", type=int, default=2048)
    parser.add_argument("--out", type=Path, default=DATA / "pgp_keys.jsonl")
    parser.add_argument("--count", type=int, default=0, help="only the first N handles (0 = all)")
    args = parser.parse_args(argv)
    handles = yaml.safe_load((DATA / "names.yaml").read_text(encoding="utf-8"))["key_handles"]
    if args.count:
        handles = handles[: args.count]
    warnings.filterwarnings("ignore")
    with args.out.open("w", encoding="utf-8") as out:
        for index, handle in enumerate(handles):
            fingerprint, armored = make_key(handle, args.bits)
            row = {"index": index, "handle": handle, "fingerprint": fingerprint, "armored": armored}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(handles)} keys to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
