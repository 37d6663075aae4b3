"""Adapter engine (issue 15 §2): selectors compiled once at load with errors naming file and field, page
type by content, several item kinds per page, `default`, positional lists, dates."""

from __future__ import annotations

from pathlib import Path

import pytest
from parsel import Selector

from crawler.adapters import AdapterError, FieldSpec, PageSpec, load_adapter_file
from crawler.dates import parse_date
from crawler.parsing import extract_field, links, parse_items, parse_page
from tests.conftest import shared_data

NOW = "2019-03-10T12:00:00+00:00"


def _write(tmp: Path, pages: str, extra: str = "") -> Path:
    path = tmp / "eng.yaml"
    path.write_text(f"name: eng\nkind: market\nbase_url: http://127.0.0.1:1\n{extra}\npages:\n{pages}",
                    encoding="utf-8")
    return path


# --- 7. compiled at load, errors with file and field ------------------------------------------------------


@pytest.mark.parametrize(("field_yaml", "where", "message"), [
    ('{xpath: "//foo:bar/text()"}', "pages.listing.fields.title.xpath", "Undefined namespace prefix"),
    ('{xpath: "//a[nosuchfn()]"}', "pages.listing.fields.title.xpath", "Unregistered function"),
    ('{css: "h1::text", regex: "(unclosed"}', "pages.listing.fields.title.regex", "bad regex"),
    ('{css: "h1::text", split: "[,"}', "pages.listing.fields.title.split", "bad regex"),
    ('{css: ""}', "pages.listing.fields.title.css", "empty CSS selector"),
])
def test_field_errors_name_file_and_field(tmp_path: Path, field_yaml: str, where: str, message: str) -> None:
    path = _write(tmp_path, f"""  listing:
    url_pattern: "^/l/"
    item: listing
    fields:
      title: {field_yaml}
""")
    with pytest.raises(AdapterError) as err:
        load_adapter_file(path)
    text = str(err.value)
    assert str(path) in text and f"'{where}'" in text and message in text, text


@pytest.mark.parametrize(("page_yaml", "where"), [
    ('    url_pattern: "^/l/"\n    item: listing\n    fields: {t: {css: "h1"}}\n    follow: [{xpath: "//x:a/@href"}]\n',
     "pages.listing.follow.0.xpath"),
    ('    match: {css: "div[[x"}\n    item: listing\n', "pages.listing.match.css"),
    ('    match: {text: "Vendor (since"}\n', "pages.listing.match.text"),
    ('    item: listing\n', "pages.listing"),  # neither url_pattern nor match
    ('    url_pattern: "^/l/"\n    items: [{item: feedback, rows: "tr[[", fields: {t: {css: "td"}}}]\n',
     "pages.listing.items.0.rows"),
])
def test_page_errors_name_file_and_field(tmp_path: Path, page_yaml: str, where: str) -> None:
    path = _write(tmp_path, "  listing:\n" + page_yaml)
    with pytest.raises(AdapterError) as err:
        load_adapter_file(path)
    assert str(path) in str(err.value) and f"'{where}'" in str(err.value), str(err.value)


def test_pages_run_the_queries_compiled_at_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After loading, no selector is translated or compiled again: parsing a page with CSS translation and
    XPath compilation broken still works."""
    adapter = load_adapter_file(_write(tmp_path, """  listing:
    url_pattern: "^/l/"
    item: listing
    fields:
      title: {css: "h1::text"}
      price: {xpath: "//span[@class='p']/text()", type: number}
      tags: {css: "li", all: true}
    follow:
      - {css: "a.next::attr(href)"}
"""))
    import parsel.csstranslator
    from lxml import etree

    def broken(*args: object, **kwargs: object) -> None:
        raise AssertionError("translated or compiled per page")

    monkeypatch.setattr(parsel.csstranslator.HTMLTranslator, "css_to_xpath", broken)
    monkeypatch.setattr(parsel.csstranslator, "css2xpath", broken, raising=False)
    monkeypatch.setattr(etree, "XPath", broken)
    html = "<html><body><h1>T</h1><span class='p'>1 200</span><ul><li>a</li><li>b</li></ul>" \
           "<a class='next' href='/l/2'>n</a></body></html>"
    spec = adapter.pages["listing"]
    assert parse_page(spec, html, "http://127.0.0.1:1/l/1") == [{"title": "T", "price": 1200.0, "tags": ["a", "b"]}]
    assert [u for u, _, _ in links(adapter, spec, html, "http://127.0.0.1:1/l/1")] == ["http://127.0.0.1:1/l/2"]


# --- 8. page type by content, several item kinds per page ------------------------------------------------

CONTENT_PAGES = """  vendor:
    match: {css: "div.vendor-profile", text: "Vendor since"}
    item: vendor
    fields:
      name: {css: "h1.name::text"}
      joined: {css: "span.since::text", type: date}
    items:
      - item: feedback
        rows: "table.fb tr"
        fields:
          vendor: {from_item: name}
          rating: {css: "td.r::text", type: int}
          text: {css: "td.t::text"}
          date: {css: "td.d::text", type: date}
  search:
    url_pattern: "^/search"
    items:
      - item: listing
        rows: "div.result"
        fields:
          title: {css: "a::text"}
          listing_id: {css: "a::attr(href)", regex: "id=(\\\\w+)"}
  listing:
    url_pattern: "^/(item|search)"
    match: {css: "div.listing"}
    item: listing
    fields:
      title: {css: "h1::text"}
"""

VENDOR_HTML = """<html><body><div class="vendor-profile"><h1 class="name">Grönbrevet52</h1>
<p>Vendor since <span class="since">3 dagar sedan</span></p></div>
<table class="fb"><tr><td class="r">5</td><td class="t">Snabbt!</td><td class="d">igår</td></tr>
<tr><td class="r">4</td><td class="t">ok</td><td class="d">2 days ago</td></tr></table></body></html>"""


def test_page_type_by_content(tmp_path: Path) -> None:
    adapter = load_adapter_file(_write(tmp_path, CONTENT_PAGES))
    root = Selector(text=VENDOR_HTML).root
    # the URL says nothing: the content decides
    assert adapter.page_type("http://127.0.0.1:1/index.php?page=77") is None
    assert adapter.page_type_for("http://127.0.0.1:1/index.php?page=77", root) == "vendor"
    # url_pattern and match must both hold: /item/ without div.listing is no listing
    plain = Selector(text="<html><body><h1>x</h1></body></html>").root
    assert adapter.page_type_for("http://127.0.0.1:1/item/1", plain) is None
    listing = Selector(text="<html><body><div class='listing'><h1>x</h1></div></body></html>").root
    assert adapter.page_type_for("http://127.0.0.1:1/item/1", listing) == "listing"
    # a follow rule's hint wins when its match holds, else the content decides
    assert adapter.page_type_for("http://127.0.0.1:1/item/1", root, hint="listing") == "vendor"
    assert adapter.page_type_for("http://127.0.0.1:1/search?q=a", listing, hint="search") == "search"
    assert adapter.content_typed


def test_vendor_page_yields_vendor_and_feedback_rows(tmp_path: Path) -> None:
    adapter = load_adapter_file(_write(tmp_path, CONTENT_PAGES))
    items = parse_items(adapter.pages["vendor"], VENDOR_HTML, "http://127.0.0.1:1/x", now=NOW)
    assert items == [
        ("vendor", {"name": "Grönbrevet52", "joined": "2019-03-07"}),
        ("feedback", {"vendor": "Grönbrevet52", "rating": 5, "text": "Snabbt!", "date": "2019-03-09"}),
        ("feedback", {"vendor": "Grönbrevet52", "rating": 4, "text": "ok", "date": "2019-03-08"}),
    ]
    # parse_page keeps its contract: the page's own item only
    assert parse_page(adapter.pages["vendor"], VENDOR_HTML, "http://127.0.0.1:1/x", now=NOW) == [items[0][1]]


def test_search_page_yields_listing_rows(tmp_path: Path) -> None:
    adapter = load_adapter_file(_write(tmp_path, CONTENT_PAGES))
    html = "<html><body>" + "".join(f"<div class='result'><a href='/item?id=a{i}'>T{i}</a></div>" for i in range(3))
    items = parse_items(adapter.pages["search"], html + "</body></html>", "http://127.0.0.1:1/search?q=x")
    assert items == [("listing", {"title": f"T{i}", "listing_id": f"a{i}"}) for i in range(3)]


def test_real_dream_vendor_page_by_content(tmp_path: Path) -> None:
    """Dream's vendor pages (2019) live at /?page=... like everything else; the profile box tells them apart."""
    body = shared_data("msc-darkweb-2019", "dream", "html_files", "sellers", "seller_1.html").read_text("utf-8", "replace")
    listing = shared_data("msc-darkweb-2019", "dream", "html_files", "listings", "listing_0.html").read_text(
        "utf-8", "replace")
    adapter = load_adapter_file(_write(tmp_path, """  vendor:
    match: {xpath: "//form[contains(@action, 'contactMember')]", text: "Join date"}
    item: vendor
    fields:
      name: {css: "form[action*=contactMember]::attr(action)", regex: "member=([^&]+)"}
  listing:
    match: {text: "Ships from"}
    item: listing
    fields:
      title: {css: "title::text"}
"""))
    assert adapter.page_type_for("http://127.0.0.1:1/", Selector(text=body).root) == "vendor"
    assert adapter.page_type_for("http://127.0.0.1:1/", Selector(text=listing).root) == "listing"
    assert parse_items(adapter.pages["vendor"], body, "http://127.0.0.1:1/") == [("vendor", {"name": "Antonio777"})]


# --- 5. default, positional lists, split, dates ------------------------------------------------------------


def _field(**kw: object) -> FieldSpec:
    return FieldSpec.model_validate(kw)


def _sel(body: str) -> Selector:
    return Selector(text=f"<html><body>{body}</body></html>")


def test_default_when_conversion_fails() -> None:
    sel = _sel("<span class='n'>N/A</span><span class='d'>someday</span>")
    assert extract_field(sel, _field(css="span.n::text", type="int", default=0), {}) == 0
    assert extract_field(sel, _field(css="span.n::text", type="number", default=-1), {}) == -1
    assert extract_field(sel, _field(css="span.d::text", type="date", default="unknown"), {}) == "unknown"
    assert extract_field(sel, _field(css="span.none::text", type="int", default=7), {}) == 7


def test_list_fields_keep_their_positions() -> None:
    sel = _sel("<ul><li>sold 3</li><li>new</li><li>sold 5</li><li></li></ul>"
               "<ol><li>DHL</li><li>PostNord</li><li>Budbee</li><li>Bring</li></ol>")
    sold = extract_field(sel, _field(css="ul li", all=True, regex=r"sold (\d+)", type="int"), {})
    names = extract_field(sel, _field(css="ol li", type="list"), {})
    assert sold == [3, None, 5, None] and len(sold) == len(names)
    assert extract_field(sel, _field(css="ul li", type="list", regex=r"sold (\d+)"), {}) == ["3", None, "5", None]
    assert extract_field(sel, _field(css="ul li", all=True, type="int"), {}) == [3, None, 5, None]
    assert extract_field(sel, _field(css="p", type="list"), {}) == []
    # a single value is still the first that matched
    assert extract_field(sel, _field(css="ul li", regex=r"sold (\d+)", type="int"), {}) == 3


def test_split_one_text_into_a_list() -> None:
    sel = _sel("<p class='to'>Austria, Belgium;Finland / France</p>")
    assert extract_field(sel, _field(css="p.to::text", split=r"[,;/]"), {}) == ["Austria", "Belgium", "Finland",
                                                                               "France"]


def test_date_fields_are_parsed_relative_to_the_capture() -> None:
    spec = PageSpec.model_validate({"url_pattern": "^/", "item": "feedback", "rows": "tr", "fields": {
        "date": {"css": "td::text", "type": "date"}}})
    rows = "".join(f"<tr><td>{d}</td></tr>" for d in ("2 days ago", "igår", "3 dagar sedan", "Jan 5, 2019",
                                                       "2019-01-05", "05.01.2019", "garbage"))
    got = [r["date"] for r in parse_page(spec, f"<table>{rows}</table>", "http://127.0.0.1/", now=NOW)]
    assert got == ["2019-03-08", "2019-03-09", "2019-03-07", "2019-01-05", "2019-01-05", "2019-01-05", None]


@pytest.mark.parametrize(("text", "expected"), [
    ("2 days ago", "2019-03-08"), ("a day ago", "2019-03-09"), ("3 weeks ago", "2019-02-17"),
    ("igår", "2019-03-09"), ("i går", "2019-03-09"), ("idag", "2019-03-10"), ("today", "2019-03-10"),
    ("yesterday", "2019-03-09"), ("i förrgår", "2019-03-08"),
    ("3 dagar sedan", "2019-03-07"), ("för 2 veckor sedan", "2019-02-24"), ("en månad sedan", "2019-02-10"),
    ("1 year, 2 months ago", "2018-01-10"), ("Joined 2 years ago", "2017-03-10"),
    ("3 hours ago", "2019-03-10T09:00:00+00:00"), ("för 5 minuter sedan", "2019-03-10T11:55:00+00:00"),
    ("1d 22h", "2019-03-08T14:00:00+00:00"),  # Hansa feedback ages
    ("Jan 5, 2019", "2019-01-05"), ("January 5th 2019", "2019-01-05"), ("5 januari 2019", "2019-01-05"),
    ("5 jan. 2019", "2019-01-05"), ("5th of January 2019", "2019-01-05"), ("Member since: Feb 3, 2018", "2018-02-03"),
    ("Dec 24", "2018-12-24"),  # no year: the latest such day before the capture
    ("2019-01-05", "2019-01-05"), ("2019/01/05", "2019-01-05"), ("2019-01-05 14:03:22", "2019-01-05T14:03:22"),
    ("2019-01-05T10:00:00Z", "2019-01-05T10:00:00+00:00"), ("Date: 2017-06-24 23:10 UTC", "2017-06-24T23:10:00+00:00"),
    ("05.01.2019", "2019-01-05"), ("5/1/2019", "2019-01-05"), ("12/25/2019", "2019-12-25"), ("05.01.19", "2019-01-05"),
    ("yesterday at 10:30 pm", "2019-03-09T22:30:00"),
    # as Dream and Empire (2019) write them: join dates day first, feedback dates with month names
    ("Join date 21/09/2018", "2018-09-21"), ("Last active 18/11/2018 (today)", "2018-11-18"),
    ("New forum 06/02/2018", "2018-02-06"), ("Sep 26, 2019", "2019-09-26"), ("Nov 07, 2019", "2019-11-07"),
    ("April 02, 2019", "2019-04-02"), ("4-3-2018", "2018-03-04"),
    ("31.02.2019", None), ("Sold 5 times", None), ("", None), ("never", None),
])
def test_parse_date(text: str, expected: str | None) -> None:
    assert parse_date(text, NOW) == expected


def test_parse_date_with_the_sites_format() -> None:
    assert parse_date("8/11/2018", NOW, "%m/%d/%Y") == "2018-08-11"
    assert parse_date("8/11/2018", NOW) == "2018-11-08"
