"""Data files of the testbed world (names, substances, text fragments, PGP key pool), loaded once."""

from __future__ import annotations

import hashlib
import json
import random
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).parent / "data"


def rng(seed: int, *parts: object) -> random.Random:
    """An independent, deterministic random stream for (seed, purpose …)."""
    raw = "\x1f".join(str(p) for p in (seed, *parts)).encode("utf-8")
    return random.Random(int.from_bytes(hashlib.sha256(raw).digest()[:8], "big"))


def token(seed: int, *parts: object, length: int = 32) -> str:
    raw = "\x1f".join(str(p) for p in (seed, *parts)).encode("utf-8")
    return hashlib.sha256(b"sokhund-testbed\x00" + raw).hexdigest()[:length]


def slug(name: str) -> str:
    """ASCII url slug: 'Snökungen71' -> 'snokungen71'."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return "".join(c for c in folded.lower() if c.isalnum()) or "x"


@cache
def load_yaml(name: str) -> Any:
    return yaml.safe_load((DATA / name).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class PgpKey:
    index: int
    handle: str
    fingerprint: str
    armored: str


@lru_cache(maxsize=1)
def key_pool() -> tuple[PgpKey, ...]:
    path = DATA / "pgp_keys.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path} missing: run .venv/bin/python -m testbed.tools.genkeys once")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return tuple(PgpKey(r["index"], r["handle"], r["fingerprint"], r["armored"]) for r in rows)


def names() -> dict[str, list[str]]:
    return load_yaml("names.yaml")


def substances() -> list[dict[str, Any]]:
    return load_yaml("substances.yaml")["substances"]


def substance(key: str) -> dict[str, Any]:
    for item in substances():
        if item["key"] == key:
            return item
    raise KeyError(key)


def classes() -> dict[str, dict[str, Any]]:
    return load_yaml("substances.yaml")["classes"]


def text(lang: str) -> dict[str, Any]:
    return load_yaml("text_sv.yaml" if lang == "sv" else "text_en.yaml")


def forum_shop() -> dict[str, Any]:
    return load_yaml("forum_shop.yaml")


def fmt_qty(qty: float, unit: str, dose_mg: float | None, lang: str) -> str:
    """'5 g', '10 st', '100 x 2 mg' (Swedish decimal comma for 'sv')."""

    def num(x: float) -> str:
        s = f"{x:g}"
        return s.replace(".", ",") if lang == "sv" else s

    if unit == "g":
        return f"{num(qty)} g"
    if dose_mg:
        return f"{num(qty)} x {num(dose_mg)} mg"
    return f"{num(qty)} st" if lang == "sv" else f"{num(qty)} pcs"
