"""parse_number on the strings real market pages show (issue 15 §2): only thousands groups merge.

The strings are copied from the visible text of ../shared/data (msc-darkweb-2019 Dream/Empire 2019,
hansa-html-2017): pagination rows, trust-level scales, feedback counters next to each other."""

from __future__ import annotations

import pytest

from crawler.parsing import parse_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # numbers next to each other never merge
        ("17 112g", 17.0),
        ("100 50g", 100.0),
        ("1 2 3 200 GR AFGAN", 1.0),  # Dream "Listings from ChefRamsay 1 2 3 200 GR ..."
        ("Vendor Trust Level: 1 2 3 4 5", 1.0),  # Dream vendor page
        ("Quantity: 1 2 Buy Now", 1.0),  # Hansa listing
        ("10 9 8 7 6 5 4 3 2 1", 10.0),  # Hansa rating scale
        ("1 1 Negative 1 1 1", 1.0),
        ("138 (5.0) 89 (4.95)", 138.0),  # Empire: ratings imported from other markets
        ("4.90, 310", 4.9),
        ("200~500, 5.00/5", 200.0),
        ("1.75Gr Real Hero", 1.75),
        # thousands groups of exactly three digits do merge
        ("16 000+ UPDATED", 16000.0),
        ("1 200 kr", 1200.0),
        ("1 200,50 kr", 1200.5),
        ("12 345 678", 12345678.0),
        ("1 000 g", 1000.0),
        # Swedish/French typography: no-break space, thin space, narrow no-break space
        ("1\u00a0200 kr", 1200.0),
        ("1\u2009200,50 €", 1200.5),
        ("17\u202f112g", 17112.0),
        # unchanged behaviour
        ("$1,200.50", 1200.5),
        ("฿0.000787 (€7.28)", 0.000787),
        ("0,5 g", 0.5),
        ("1.200.000", 1200000.0),
        ("USD 340.00", 340.0),
        ("inget pris", None),
    ],
)
def test_parse_number_merges_only_thousands_groups(text: str, expected: float | None) -> None:
    assert parse_number(text) == expected
