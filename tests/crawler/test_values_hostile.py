"""Dates and numbers as hostile or careless pages write them: out-of-range relative dates and times are no
date (never an exception that loses the page), two-digit years take the century that fits the capture, and
numbers no index can hold (inf from 400 digits, integers past 64 bits) are no number."""

from __future__ import annotations

import json

import pytest

from crawler.adapters import FieldSpec
from crawler.dates import parse_date
from crawler.parsing import extract_field, load_html, parse_number
from extractors.normalise import parse_amount, parse_prices

NOW = "2026-01-01T00:00:30+00:00"


@pytest.mark.parametrize("text", ["999999 days ago", "99999999999999999999 days ago", "today 25:61",
                                  "igår 24:00", "31.02.2019", "2019-13-45", "00.00.2019"])
def test_impossible_dates_are_no_date(text: str) -> None:
    assert parse_date(text, NOW) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("05.01.19", "2019-01-05"), ("05.01.98", "1998-01-05"), ("5/1/70", "1970-01-05"), ("05.01.27", "2027-01-05"),
    ("yesterday 23:59", "2025-12-31T23:59:00"), ("0 days ago", "2026-01-01"),
])
def test_two_digit_years_and_midnight(text: str, expected: str) -> None:
    assert parse_date(text, NOW) == expected


def test_a_date_field_with_an_impossible_value_falls_back_to_its_default() -> None:
    sel, _ = load_html("<p>999999 days ago</p>")
    spec = FieldSpec(css="p::text", type="date", default="unknown")
    assert extract_field(sel, spec, {}, now=NOW) == "unknown"


@pytest.mark.parametrize("text", ["9" * 400, "$" + "9" * 400, "9" * 400 + " kr"])
def test_numbers_past_float_range_are_no_number(text: str) -> None:
    assert parse_number(text) is None
    assert all(json.dumps(p.amount, allow_nan=False) for p in parse_prices(text, "SEK"))
    assert parse_amount("9" * 400) is None


def test_int_fields_past_64_bits_fall_back_to_the_default() -> None:
    sel, _ = load_html("<p>Stock: 99999999999999999999999</p><i>12 sold</i>")
    assert extract_field(sel, FieldSpec(css="p::text", type="int", default=0), {}) == 0
    assert extract_field(sel, FieldSpec(css="i::text", type="int", default=0), {}) == 12


@pytest.mark.parametrize(("text", "amount", "currency"), [
    ("฿ 0,000787", 0.000787, "BTC"), ("1.234,56 kr", 1234.56, "SEK"), ("$1,234.56", 1234.56, "USD"),
    ("12:-", 12.0, "SEK"),
])
def test_market_prices(text: str, amount: float, currency: str) -> None:
    price = parse_prices(text, "EUR")[0]
    assert (price.amount, price.currency) == (amount, currency)
