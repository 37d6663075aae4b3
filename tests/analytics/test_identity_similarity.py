"""Alias similarity is the exact 2*LCS/(len a + len b) of the normalised aliases (rapidfuzz's Indel),
not difflib's greedy approximation, which under-scores pairs whose longest block is misplaced."""

from __future__ import annotations

import pytest

from analytics.identity import alias_similarity, normalise_alias


def _lcs(a: str, b: str) -> int:
    row = [0] * (len(b) + 1)
    for ca in a:
        prev = 0
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], prev + 1 if ca == cb else max(row[j], row[j - 1])
    return row[-1]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Casino-Royale", "canadagoodies"),  # real vendor names (Hansa 2016); difflib says 0.24
        ("California_Medical_Marijuana", "Canadiandrugs"),
        ("Sn0wMan_SE", "SnowMan2"),
        ("GreenThumb", "GreenThumbs"),
        ("Isbjornen", "IsbjörnenOfficial"),
    ],
)
def test_alias_similarity_is_exact_lcs_ratio(a: str, b: str) -> None:
    na, nb = normalise_alias(a), normalise_alias(b)
    assert alias_similarity(a, b) == pytest.approx(2 * _lcs(na, nb) / (len(na) + len(nb)))


def test_similarity_is_symmetric_and_bounded() -> None:
    assert alias_similarity("GreenThumb", "Isbjornen") == alias_similarity("Isbjornen", "GreenThumb")
    assert alias_similarity("", "x") == 0.0 and alias_similarity("kalle", "Kalle_SE") == 1.0
