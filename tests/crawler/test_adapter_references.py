"""Adapter references that would fail on every page are refused at load, naming file and field: an
unknown strptime directive, a follow rule to a page type that does not exist, ``from_url`` naming no group
of the url_pattern, ``from_item`` naming no field of the page's item."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.adapters import AdapterError, load_adapter_file
from tests.crawler.test_adapter_config import _adapter

FEEDBACK = """
    items:
      - item: feedback
        fields:
          vendor: {from_item: %s}"""


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"fields": '{css: "span::text", type: date, date_format: "%Q"}'}, ["title.date_format", "bad directive"]),
    ({"fields": '{css: "span::text", type: date, date_format: "%d.%m.%"}'}, ["date_format", "stray"]),
    ({"follow": '{css: "a", page_type: vendr}'}, ["pages.listing.follow.0.page_type", "'vendr'"]),
    ({"fields": "{from_url: listing_id}"}, ["fields.title.from_url", "no group 'listing_id'"]),
    ({"follow": '{css: "a"}' + FEEDBACK % "nmae"}, ["items.0.fields.vendor.from_item", "'nmae'"]),
])
def test_dangling_references_are_refused(tmp_path: Path, kwargs: dict[str, str], words: list[str]) -> None:
    path = _adapter(tmp_path, **kwargs)
    with pytest.raises(AdapterError) as info:
        load_adapter_file(path)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message


def test_good_references_load(tmp_path: Path) -> None:
    path = _adapter(tmp_path, fields='{css: "span::text", type: date, date_format: "%d.%m.%Y"}',
                    follow='{css: "a", page_type: listing}' + FEEDBACK % "title")
    assert load_adapter_file(path).pages["listing"].items[0].fields["vendor"].from_item == "title"
