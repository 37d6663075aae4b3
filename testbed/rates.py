"""Currency conversion for the testbed, in one place so it can follow the product's rate table.

When ``extractors/rates.py`` (the lead's ``RateTable``) is importable it is used, so the truth's SEK
values match what the analytics compute; otherwise a small built-in table (``data/rates_fallback.csv``,
constant per currency) stands in. :func:`source` says which one is in use.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from typing import Any

from testbed.catalog import DATA


@lru_cache(maxsize=1)
def _table() -> Any:
    try:
        from extractors.rates import RateTable  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        return RateTable.default()
    except Exception:  # a half-written table must not break the world; the fallback is recorded
        return None


@lru_cache(maxsize=1)
def _fallback() -> dict[str, float]:
    with (DATA / "rates_fallback.csv").open(encoding="utf-8") as handle:
        return {row["currency"].upper(): float(row["sek"]) for row in csv.DictReader(handle)}


def source() -> str:
    return "extractors.rates.RateTable" if _table() is not None else "testbed/data/rates_fallback.csv"


def convert(amount: float, from_currency: str, to_currency: str, date: str) -> float:
    """``amount`` in ``from_currency`` expressed in ``to_currency`` at ``date`` (ISO)."""
    src, dst = from_currency.upper(), to_currency.upper()
    if src == dst:
        return float(amount)
    table = _table()
    if table is not None:
        try:
            value = table.convert(amount, src, dst, date)
        except Exception:  # an unknown date/currency in the product table: use the fallback
            value = None
        if value is not None:
            return float(value)
    rates = _fallback()
    return float(amount) * rates[src] / rates[dst]


def to_sek(amount: float, currency: str, date: str) -> float:
    return convert(amount, currency, "SEK", date)
