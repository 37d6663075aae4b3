"""Detectors a seller cannot trigger: words in a listing ("captcha", "please login", "checking your
browser", "you have been banned") never stop, pause or rotate a site whose page has its normal structure
(a logged-in marker, or most of the page type's fields). Saved pages: tests/data/pages/<site>/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from crawler.adapters import load_adapter
from crawler.detectors import PageStructure, classify
from tests.page_server import serve_pages

REPO = Path(__file__).resolve().parents[2]
PAGES = REPO / "tests" / "data" / "pages"
# (site, a sentence of the saved listing's description to put the seller's words in front of)
SAVED = [("flugsvamp", "Grym LSD"), ("nordbazaar", "High grade Anavar.")]
SELLER_WORDS = [
    "Ingen captcha, bara kvalitet.",
    "Please login to view my other listings.",
    "Checking your browser? No, checking your order twice.",
    "You have been banned from other markets? Not here.",
    "Too many requests for this one, order soon.",
]


def _listing(site: str, anchor: str, words: str) -> str:
    html = (PAGES / site / "listing.html").read_text(encoding="utf-8")
    assert anchor in html
    return html.replace(anchor, f"{words} {anchor}", 1)


@pytest.mark.parametrize("site,anchor", SAVED)
@pytest.mark.parametrize("words", SELLER_WORDS)
def test_seller_words_in_a_saved_listing_do_not_make_it_invalid(site: str, anchor: str, words: str) -> None:
    adapter = load_adapter(site)
    page = _listing(site, anchor, words)
    assert classify(200, {}, page, adapter.detectors) is not None, "words alone do fire a text detector"
    overruled: list[str] = []
    verdict = classify(200, {}, page, adapter.detectors, structure=PageStructure.of(adapter, "listing"),
                       overruled=overruled)
    assert verdict is None, verdict.describe()
    assert overruled and "listing fields" in overruled[0]


def test_a_logged_in_marker_is_normal_structure() -> None:
    adapter = load_adapter("flugsvamp")
    page = "<html><body><a href='/logout'>Logga ut</a><p>Please login to continue to the captcha</p></body></html>"
    assert classify(200, {}, page, adapter.detectors, structure=PageStructure.of(adapter, None)) is None


def test_real_walls_still_fire_on_the_listing_url() -> None:
    """A wall served instead of the listing has neither its fields nor a logged-in marker."""
    adapter = load_adapter("flugsvamp")
    structure = PageStructure.of(adapter, "listing")
    wall = "<html><head><title>Flugsvamp</title></head><body><p>Please login to continue.</p></body></html>"
    captcha = "<html><body><p>Enter the characters you see</p><img src='/captcha.png'></body></html>"
    assert classify(200, {}, wall, adapter.detectors, structure=structure).kind == "login"
    assert classify(200, {}, captcha, adapter.detectors, structure=structure).kind == "captcha"
    # structural matchers (status, css) are never overruled by the page's fields
    page = _listing("flugsvamp", "Grym LSD", "x")
    assert classify(429, {}, page, adapter.detectors, structure=structure).kind == "rate_limit"


def test_logged_in_markers_are_checked_at_load(tmp_path: Path) -> None:
    from crawler.adapters import AdapterError, load_adapter_file

    raw = yaml.safe_load((REPO / "crawler" / "sites" / "flugsvamp.yaml").read_text(encoding="utf-8"))
    raw["session"] = {"logged_in_css": ["a.konto[["]}
    path = tmp_path / "markers.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(AdapterError, match=r"markers.yaml[\s\S]*session.logged_in_css[\s\S]*bad CSS selector"):
        load_adapter_file(path)


@pytest.fixture()
def seller_site() -> Iterator[str]:
    """The saved flugsvamp listing, with a seller who writes "captcha" and "please login", on 127.0.0.1."""
    page = _listing("flugsvamp", "Grym LSD", "Ingen captcha behövs. Please login to view my other listings.")

    with serve_pages({"/annons/10005": page}) as url:
        yield url


def test_crawl_of_a_listing_with_seller_words_is_not_stopped(seller_site: str, tmp_path: Path) -> None:
    raw = yaml.safe_load((REPO / "crawler" / "sites" / "flugsvamp.yaml").read_text(encoding="utf-8"))
    raw.update(name="sellerwords", base_url=seller_site, start=["/annons/10005"])
    raw["politeness"] = {**raw.get("politeness", {}), "max_depth": 1}
    adapter = tmp_path / "sellerwords.yaml"
    adapter.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    home = tmp_path / "home"
    env = {**os.environ, "PYTHONPATH": str(REPO), "SOKHUND_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-m", "cli.main", "crawl", str(adapter), "--run-id", "seller", "--json"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not any(s.get("site_stopped") for s in result["stats"].values()), result
    assert set(result["finish_reasons"].values()) == {"finished"}, result
    from indexer.sqlite import SQLiteBackend

    backend = SQLiteBackend(home / "index.sqlite")
    try:
        listings = list(backend.iter_docs("listing"))
    finally:
        backend.close()
    assert [d["listing_id"] for d in listings] == ["10005"]
    assert "Ingen captcha behövs" in listings[0]["description"]
