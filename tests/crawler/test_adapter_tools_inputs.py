"""``sokhund adapter test|suggest`` on the files authors really have: gzip-compressed saved pages, pages in
windows-1251 or latin-1, pages larger than the crawl's parse limit, and files that are no page at all
(empty, binary, a directory); ``suggest --out`` never overwrites a file silently."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from cli.main import main

PAGES = Path(__file__).resolve().parents[1] / "data" / "pages"
LISTING = PAGES / "flugsvamp" / "listing.html"


def _out(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_gzip_compressed_page_reads_like_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    packed = tmp_path / "listing.html.gz"
    packed.write_bytes(gzip.compress(LISTING.read_bytes()))
    assert main(["adapter", "test", "flugsvamp", str(LISTING)]) == 0
    plain, _ = _out(capsys)
    assert main(["adapter", "test", "flugsvamp", str(packed)]) == 0
    out, _ = _out(capsys)
    assert "saved page: gzip-compressed" in out
    assert out.replace(str(packed), "P").replace("  warning: saved page: gzip-compressed\n", "") == \
        plain.replace(str(LISTING), "P")


@pytest.mark.parametrize(("encoding", "meta"), [("windows-1251", True), ("latin-1", True), ("cp1252", False)])
def test_page_in_its_own_encoding(tmp_path: Path, capsys: pytest.CaptureFixture[str], encoding: str,
                                  meta: bool) -> None:
    title = "Кокаин высшего качества" if encoding == "windows-1251" else "Kvalité kokain åäö"
    head = f'<meta charset="{encoding}">' if meta else ""
    page = tmp_path / "p.html"
    page.write_bytes(f"<html><head>{head}</head><body><h1>{title}</h1></body></html>".encode(encoding))
    adapter = tmp_path / "a.yaml"
    adapter.write_text("""name: a
kind: market
base_url: http://127.0.0.1:1
pages:
  listing: {url_pattern: "/l/", item: listing, fields: {title: {css: "h1::text"}}}
""", encoding="utf-8")
    assert main(["adapter", "test", str(adapter), str(page)]) == 0
    out, _ = _out(capsys)
    assert f"title  {title}" in out


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty file"), (b"  \n", "empty file"), (bytes(range(256)) * 8, "not an HTML page (binary data)"),
    (b"\x1f\x8b\x08\x00garbage", "a damaged gzip file"),
])
def test_files_that_are_no_page_are_named_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 content: bytes, message: str) -> None:
    page = tmp_path / "x.html"
    page.write_bytes(content)
    for command in (["test", "flugsvamp"], ["suggest"]):
        assert main(["adapter", *command, str(page)]) == 2
        out, err = _out(capsys)
        assert f"{page}: {message}" in err and "Traceback" not in err


def test_a_directory_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["adapter", "test", "flugsvamp", str(tmp_path)]) == 2
    assert "is a directory" in _out(capsys)[1]


def test_a_page_above_the_parse_limit_is_read_as_the_crawl_reads_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    adapter = tmp_path / "a.yaml"
    adapter.write_text("""name: a
kind: market
base_url: http://127.0.0.1:1
politeness: {max_body_bytes: 2048}
pages:
  listing: {url_pattern: "/l/", item: listing, fields: {title: {css: "h1::text"}, price: {css: "b::text"}}}
""", encoding="utf-8")
    page = tmp_path / "big.html"
    page.write_text("<html><body><h1>Kokain</h1>" + "<p>filler</p>" * 400 + "<b>500 kr</b></body></html>")
    assert main(["adapter", "test", str(adapter), str(page)]) == 0
    out, _ = _out(capsys)
    assert "a crawl parses only the first 2,048" in out
    assert "<- empty (b::text)" in out  # the price beyond the limit is not read, as in a crawl


def test_suggest_out_keeps_an_existing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mine.yaml"
    out.write_text("# my adapter\n", encoding="utf-8")
    assert main(["adapter", "suggest", str(LISTING), "--out", str(out)]) == 2
    assert "exists (--force overwrites it)" in _out(capsys)[1]
    assert out.read_text(encoding="utf-8") == "# my adapter\n"
    assert main(["adapter", "suggest", str(LISTING), "--out", str(out), "--force"]) == 0
    assert out.read_text(encoding="utf-8").startswith("# Drafted by")


def test_suggest_out_into_a_missing_directory_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["adapter", "suggest", str(LISTING), "--out", str(tmp_path / "no" / "x.yaml")]) == 2
    assert f"cannot write {tmp_path / 'no' / 'x.yaml'}" in _out(capsys)[1]
