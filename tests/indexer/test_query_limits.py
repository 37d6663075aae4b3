"""Query parsing of text pasted from pages (the 10 kB query is in tests/index_behaviour.py, both backends)."""

from __future__ import annotations

from indexer import query


def test_invisible_characters_do_not_split_words() -> None:
    assert query.parse_query("ko\u00adkain \u200bsnö\u200d") == query.parse_query("kokain snö")
