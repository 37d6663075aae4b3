"""``sokhund adapter test`` and ``sokhund adapter suggest`` on saved testbed pages and real market pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cli.main import main
from crawler.adapter_suggest import suggest
from crawler.adapters import SITES_DIR, load_adapter_file
from extractors.normalise import parse_price

PAGES = Path(__file__).resolve().parents[1] / "data" / "pages"
EXPECTED = json.loads((PAGES / "expected.json").read_text(encoding="utf-8"))["pages"]


def _expected(site: str, file: str) -> dict:
    return next(p["expected"] for p in EXPECTED[site] if p["file"] == file)


def test_adapter_test_prints_fields_and_warns_about_empty_and_unmodelled_fields(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = yaml.safe_load((SITES_DIR / "flugsvamp.yaml").read_text(encoding="utf-8"))
    raw["pages"]["listing"]["fields"]["postnummer"] = {"css": "td.postnummer::text"}  # no such cell, no such field
    adapter = tmp_path / "fs.yaml"
    adapter.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert main(["adapter", "test", str(adapter), str(PAGES / "flugsvamp" / "listing.html")]) == 0
    out = capsys.readouterr().out
    assert "page type listing (by content:" in out
    lines = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}
    assert "Gbgkemisten" in lines["vendor"] and "100 x 0,15 mg LSD, labbtestad" in lines["title"]
    assert "empty (td.postnummer::text)" in lines["postnummer"]
    assert "not a data-model field of a listing: kept in its 'extra' map" in lines["postnummer"]
    assert "extra" not in lines["vendor"] and "empty" not in lines["title"]


def test_adapter_test_names_the_detector_and_the_overruled_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from testbed.sites import flugsvamp

    wall = tmp_path / "ddos.html"
    wall.write_text(flugsvamp.wall("ddos", "2026-09-01", 1.0), encoding="utf-8")
    seller = tmp_path / "listing.html"
    html = (PAGES / "flugsvamp" / "listing.html").read_text(encoding="utf-8")
    seller.write_text(html.replace("Grym LSD", "Grym LSD, please solve the captcha", 1), encoding="utf-8")
    main(["adapter", "test", "flugsvamp", str(wall), str(seller), "--page-type", "listing", "--json"])
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["detector"] and first["detector"].startswith("ddos -> ") and "detector #" in first["detector"]
    assert second["detector"] is None and second["items"][0]["vendor"]["value"] == "Gbgkemisten"
    assert any("captcha" in note and "overruled" in note for note in second["overruled"])


def test_adapter_test_says_how_to_name_the_page_when_the_file_cannot(capsys: pytest.CaptureFixture[str]) -> None:
    """A saved category page (follow rules only, no fields) and a listing whose id comes from its URL: the
    warnings point at --url / --page-type instead of leaving a newcomer with "no page type" and "empty"."""
    main(["adapter", "test", "flugsvamp", str(PAGES / "flugsvamp" / "category.html"),
          str(PAGES / "flugsvamp" / "listing.html")])  # exit 1: a page without a type
    out = capsys.readouterr().out
    category = next(line for line in out.splitlines() if "category.html" in line)
    assert "--url" in category and "--page-type" in category and "listing" in category, category
    listing_id = next(line for line in out.splitlines() if line.split()[:1] == ["listing_id"])
    assert "--url" in listing_id, listing_id
    assert main(["adapter", "test", "flugsvamp", str(PAGES / "flugsvamp" / "listing.html"),
                 "--url", "http://x.invalid/annons/11362"]) == 0
    listing_id = next(line for line in capsys.readouterr().out.splitlines() if line.split()[:1] == ["listing_id"])
    assert "11362" in listing_id and "empty" not in listing_id


@pytest.mark.parametrize("site", ["flugsvamp", "nordbazaar"])
def test_suggest_drafts_an_adapter_that_loads_and_reads_the_testbed_pages(
        site: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = [p for p in ("listing.html", "vendor.html", "category.html") if (PAGES / site / p).exists()]
    out = tmp_path / "draft.yaml"
    assert main(["adapter", "suggest", *(str(PAGES / site / f) for f in files), "--name", "draft",
                 "--out", str(out)]) == 0
    adapter = load_adapter_file(out)
    assert {"listing", "vendor"} <= set(adapter.pages)
    capsys.readouterr()
    main(["adapter", "test", str(out), str(PAGES / site / "listing.html"), str(PAGES / site / "vendor.html"), "--json"])
    listing, vendor = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    want = _expected(site, "listing.html")
    got = {k: v["value"] for k, v in listing["items"][0].items()}
    assert listing["page_type"] == "listing" and vendor["page_type"] == "vendor"
    assert got["title"] == want["title"] and got["vendor"] == want["vendor"] and got["ships_from"] == want["ships_from"]
    price = parse_price(got["price"])
    assert price is not None and price.amount == want["price"] and price.currency == want["currency"]
    assert vendor["items"][0]["name"]["value"] == _expected(site, "vendor.html")["name"]
    assert "BEGIN PGP PUBLIC KEY BLOCK" in vendor["items"][0]["pgp_key"]["value"]


def test_suggest_prints_a_draft_that_names_what_to_review(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["adapter", "suggest", str(PAGES / "flugsvamp" / "category.html")]) == 0
    draft = capsys.readouterr().out
    assert draft.startswith("# Drafted by `sokhund adapter suggest` from 1 saved page(s): 1 category")
    rules = yaml.safe_load(draft)["pages"]["category"]["follow"]
    assert {r.get("page_type") for r in rules} == {"listing", "category"}  # listing links and pagination


def test_suggest_never_fails_on_an_empty_or_hostile_page(tmp_path: Path) -> None:
    from testbed.sites import flugsvamp
    from testbed.world import World, WorldConfig

    page = flugsvamp.render(World(WorldConfig(seed=5)), "/annons/99902", "").body.decode("utf-8")
    for html in ("", "<html></html>", page):
        path = tmp_path / "d.yaml"
        path.write_text(suggest([html]), encoding="utf-8")
        load_adapter_file(path)


def test_suggest_then_test_on_real_dream_and_empire_pages() -> None:
    """Draft from 5 saved pages per market, score every expected value the draft can name (the rest of
    the asserted pages are held out). Measured: Dream 15/15, Empire 14/14."""
    from benchmarks.adapter_suggest_eval import evaluate
    from tests.conftest import shared_data

    data = shared_data("msc-darkweb-2019").parent
    dream, empire = evaluate(data, "dream"), evaluate(data, "empire")
    assert dream["scored"] >= 14 and dream["right"] / dream["scored"] >= 0.9, dream["wrong"]
    assert empire["scored"] >= 12 and empire["right"] / empire["scored"] >= 0.9, empire["wrong"]
    assert [k["page"] for k in dream["known_wrong_upstream"]] == ["dream/html_files/listings/listing_2.html"]
    assert any("held out" in field for field in dream["by_field"])
