"""Hostile strings planted in the testbed (issue 14): the rest of the world is untouched, the pages show the
payloads as escaped text, the truth export says where they are, and the sentinel counts calls."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlparse

import pytest

from testbed import hostile, truth
from testbed.server import Testbed
from testbed.sites import flugsvamp, forum, nordbazaar
from testbed.world import World, WorldConfig


@pytest.fixture(scope="module")
def pair() -> tuple[dict, dict]:
    plain, planted = World(WorldConfig(seed=5, hostile=False)), World(WorldConfig(seed=5))
    plain.advance(4)
    planted.advance(4)
    return truth.build(plain), truth.build(planted)


def _rows(table: list[dict]) -> list[str]:
    return [json.dumps(row, sort_keys=True, ensure_ascii=False) for row in table]


def test_planting_leaves_every_other_entity_identical(pair: tuple[dict, dict]) -> None:
    plain, planted = pair
    for table in ("sales", "listings", "vendors", "identities", "feedback", "posts", "active"):
        before, after = _rows(plain[table]), set(_rows(planted[table]))
        assert all(row in after for row in before), f"{table}: an existing row changed"
        assert len(after) > len(before), f"{table}: nothing planted"
    assert plain["meta"]["new_swedish_vendor"] == planted["meta"]["new_swedish_vendor"]


def test_truth_says_where_each_payload_is(pair: tuple[dict, dict]) -> None:
    _, planted = pair
    meta, rows = planted["meta"]["hostile"], planted["hostile"]
    assert meta["flag"] == "window.__xss" and meta["sentinel_path"] == "/__xss_sentinel"
    assert all(p in meta["payloads"] for p in ("script_tag", "img_onerror", "javascript_link", "rtl_override", "long"))
    assert len(meta["payloads"]["long"]) == 5000
    places = {(r["kind"], r["field"]) for r in rows}
    assert {("vendor", "name"), ("listing", "title"), ("post", "text"), ("vendor", "pgp_armored"),
            ("thread", "title"), ("feedback", "text")} <= places
    for row in rows:
        assert all(meta["payloads"][p] in row["text"] for p in row["payloads"].split(";"))
    used = {p for r in rows for p in r["payloads"].split(";")}
    assert used == set(meta["payloads"]), "every payload is planted somewhere"
    # planted vendors are ordinary vendors with their own identity each (no shared key, no shared contact)
    planted_vendors = [v for v in planted["vendors"] if v["identity_id"].startswith("ident-planted-")]
    assert len(planted_vendors) == 2 and len({v["pgp_fingerprint"] for v in planted_vendors}) == 2
    fingerprints = [v["pgp_fingerprint"] for v in planted["vendors"]]
    assert all(fingerprints.count(v["pgp_fingerprint"]) == 1 for v in planted_vendors)
    sales = [s for s in planted["sales"] if s["identity_id"].startswith("ident-planted-")]
    assert sales and {s["site"] for s in sales} == {"flugsvamp", "nordbazaar"}


def test_pages_show_payloads_escaped_never_raw() -> None:
    world = World(WorldConfig(seed=5))
    pages = [
        flugsvamp.render(world, "/annons/99901", ""), flugsvamp.render(world, "/annons/99902", ""),
        flugsvamp.render(world, "/saljare/kvitterimgsrcxonerrorwindowxss1", ""),
        flugsvamp.render(world, "/saljare", ""), nordbazaar.render(world, "/item", "id=5ec0de"),
        forum.render(world, "/t69999", ""),
    ]
    vendor = next(v for v in world.vendors.values() if v.identity_id == "ident-planted-nb")
    pages.append(nordbazaar.render(world, f"/u/{vendor.vendor_id}", ""))
    for page in pages:
        body = page.body.decode("utf-8")
        assert page.status == 200
        assert "&lt;script&gt;window.__xss=1" in body or "&quot;&gt;&lt;img src=x onerror" in body
        assert "<script>window.__xss" not in body and "<img src=x" not in body and "<svg/onload" not in body
    armored = pages[2].body.decode("utf-8")
    assert "Comment: &lt;script&gt;window.__xss=1;fetch(" in armored  # a comment line inside the armored key


def test_planted_key_still_parses_to_its_fingerprint() -> None:
    from extractors.pgp import parse_key

    for vendor in hostile.spec()["vendors"]:
        block = hostile.armored(vendor["key"])
        assert "Comment: " in block
        assert parse_key(block)["fingerprint"] == vendor["fingerprint"]


def test_sentinel_is_counted(tmp_path: Path) -> None:
    tb = Testbed(seed=5, state_dir=tmp_path, rate_limit=None, ddos=False)
    tb.start()
    try:
        parsed = urlparse(tb.urls["snackis"])
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
        conn.request("GET", "/__xss_sentinel?p=script")
        assert conn.getresponse().status == 204
        conn.close()
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
        conn.request("GET", "/__admin/xss")
        hits = json.loads(conn.getresponse().read())["hits"]
        conn.close()
        assert hits == [{"site": "snackis", "query": "p=script", "referer": ""}]
    finally:
        tb.stop()


def test_sentinel_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOKHUND_XSS_SENTINEL", "http://127.0.0.1:4711")
    assert "fetch('http://127.0.0.1:4711/__xss_sentinel?p=script')" in hostile.payloads()["script_tag"]
