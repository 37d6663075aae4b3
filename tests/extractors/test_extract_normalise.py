"""Unit tests for the normalisers: prices, quantities, places and text hygiene."""

from __future__ import annotations

import pytest

from extractors.normalise import country_code, find_prices, find_quantities, parse_amount, parse_price
from extractors.text import clean, map_span, normalise_alias


@pytest.mark.parametrize(
    ("raw", "currency", "expected"),
    [
        ("1 200,50", "SEK", 1200.5),
        ("1,200.50", "USD", 1200.5),
        ("1.200,50", "EUR", 1200.5),
        ("0,5", None, 0.5),
        ("1.200", "SEK", 1200.0),
        ("1,200", "USD", 1200.0),
        ("0,005", "BTC", 0.005),
        ("0.120", "BTC", 0.12),
        ("1\u00a0000", "SEK", 1000.0),
        ("31,687.52", "USD", 31687.52),
        ("1.000.000", "SEK", 1000000.0),
        ("abc", None, None),
    ],
)
def test_parse_amount(raw: str, currency: str | None, expected: float | None) -> None:
    assert parse_amount(raw, currency) == expected


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("1 200,50 kr", 1200.5, "SEK"),
        ("$1,200.50", 1200.5, "USD"),
        ("USD 340.00", 340.0, "USD"),
        ("200:-", 200.0, "SEK"),
        ("350,-", 350.0, "SEK"),
        ("SEK 1 500", 1500.0, "SEK"),
        ("1500 kronor", 1500.0, "SEK"),
        ("€45", 45.0, "EUR"),
        ("45 €", 45.0, "EUR"),
        ("24.95$", 24.95, "USD"),
        ("0,05 BTC", 0.05, "BTC"),
        ("9 mBTC", 9.0, "mBTC"),
        ("0.5 XMR", 0.5, "XMR"),
        ("£260", 260.0, "GBP"),
        ("två lax", 2000.0, "SEK"),
        ("700 spänn", 700.0, "SEK"),
    ],
)
def test_parse_price(text: str, amount: float, currency: str) -> None:
    p = parse_price(text)
    assert p is not None, text
    assert (p.amount, p.currency) == (amount, currency)


def test_prices_not_confused_with_quantities() -> None:
    assert parse_price("5g ren kola") is None
    assert parse_price("USD 10g") is None  # "USD 10" followed by a mass unit is not a price
    assert [p.amount for p in find_prices("1g 800kr, 5g 3500kr")] == [800.0, 3500.0]


@pytest.mark.parametrize(
    ("text", "value", "unit", "grams", "count"),
    [
        ("5g", 5, "g", 5, None),
        ("0,5 g", 0.5, "g", 0.5, None),
        ("1 oz", 1, "oz", 28.349523, None),
        ("1 kg", 1, "kg", 1000, None),
        ("2 hekto", 2, "hg", 200, None),
        ("half oz", 0.5, "oz", 14.174762, None),
        ("8ball", 3.5, "g", 3.5, None),
        ("10 st", 10, "pcs", None, 10),
        ("28 tab", 28, "pcs", None, 28),
        ("1,000 pills", 1000, "pcs", None, 1000),
        ("100 x 2mg", 100, "pcs", None, 100),
        ("10x100mg", 10, "pcs", None, 10),
        ("50x (30MG)", 50, "pcs", None, 50),
        ("100mg x 10", 10, "pcs", None, 10),
        ("1 liter", 1000, "ml", None, None),
    ],
)
def test_quantities(text: str, value: float, unit: str, grams: float | None, count: int | None) -> None:
    q = find_quantities(text)[0].as_value()
    assert (q["value"], q["unit"], q["grams"], q["count"]) == (value, unit, grams, count)


def test_dose_is_kept_with_count() -> None:
    q = find_quantities("100 x 2mg")[0].as_value()
    assert q["dose"] == {"value": 2, "unit": "mg"}


def test_concentration_is_not_a_quantity() -> None:
    assert [q.unit for q in find_quantities("Testosteron 250mg/ml 10ml")] == ["ml"]


@pytest.mark.parametrize(
    ("name", "code"),
    [("Sweden", "SE"), ("Sverige", "SE"), ("United Kingdom", "GB"), ("UK", "GB"), ("Europe (EU)", "EU"),
     ("Worldwide", "WW"), ("Hong Kong", "HK"), ("Czech Republic", "CZ"), ("Tyskland", "DE"), ("Norden", "NORDIC"),
     ("USA", "US"), ("Nederländerna", "NL"), ("Atlantis", None), ("", None)],
)
def test_country_code(name: str, code: str | None) -> None:
    assert country_code(name) == code


def test_clean_keeps_offsets_for_decoration_and_zero_width() -> None:
    text = "☢100 PILLS☢ Ko\u200bkain"
    cleaned, offsets, truncated = clean(text)
    assert not truncated
    assert "\u200b" not in cleaned and "☢" not in cleaned
    i = cleaned.index("Kokain")
    s, e = map_span(offsets, i, i + len("Kokain"))
    assert text[s:e] == "Ko\u200bkain"


def test_clean_nfkc_and_homoglyphs() -> None:
    cleaned, _, _ = clean("Ｋｏｋａｉｎ and Сосаine")  # full-width Latin; Cyrillic С, о, с, а
    assert cleaned == "Kokain and Cocaine"
    assert normalise_alias("Тrаmа_Pro ") == normalise_alias("tramapro")


def test_clean_truncates_with_flag() -> None:
    cleaned, _, truncated = clean("x" * 50, max_chars=10)
    assert truncated and len(cleaned) == 10
