"""Hostile markup: entity-decoded text stays text, a too-deep document records its parse error, and
stored fields are capped."""

from __future__ import annotations

from crawler.adapters import FieldSpec, PageSpec
from crawler.parsing import MAX_FIELD_CHARS, load_html, parse_page

SPEC = PageSpec(url_pattern="^/item/(?P<id>\\d+)$", item="listing", fields={
    "title": FieldSpec(css="h1::text"),
    "heading": FieldSpec(css="h1"),
    "description": FieldSpec(css=".desc", type="text"),
    "pgp": FieldSpec(css="pre.pgp", type="block"),
})


def test_entity_decoded_text_is_not_parsed_again() -> None:
    html = ("<html><h1>K&ouml;p &lt;script&gt;alert(1)&lt;/script&gt; &lt;b&gt;nu</h1>"
            "<div class=desc>1 &lt; 2 &amp; <i>3</i> &gt; 0</div><pre class=pgp>&lt;KEY&gt;\nrad 2</pre></html>")
    item = parse_page(SPEC, html, "http://127.0.0.1/item/1")[0]
    assert item["title"] == "Köp <script>alert(1)</script> <b>nu"
    assert item["heading"] == "Köp <script>alert(1)</script> <b>nu"
    assert item["description"] == "1 < 2 & 3 > 0"
    assert item["pgp"] == "<KEY>\nrad 2"


def test_deep_nesting_records_a_parse_error() -> None:
    html = "<html><body>" + "<div>" * 100_000 + "x" + "</div>" * 100_000 + "<h1>Titel</h1></body></html>"
    document, problem = load_html(html)
    assert problem is not None and "Excessive depth" in problem
    assert load_html("<html><h1>ok<p>unclosed<div></html>")[1] is None  # repairable markup is no error


def test_stored_fields_are_capped_and_the_cut_is_reported() -> None:
    html = "<html><h1>Stor</h1><div class=desc>" + "x" * (MAX_FIELD_CHARS * 3) + "</div></html>"
    problems: list[str] = []
    item = parse_page(SPEC, load_html(html)[0], "http://127.0.0.1/item/1", problems)[0]
    assert len(item["description"]) == MAX_FIELD_CHARS and item["title"] == "Stor"
    assert problems == [f"field 'description' cut from {MAX_FIELD_CHARS * 3} to {MAX_FIELD_CHARS} characters"]
