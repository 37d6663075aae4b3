"""The testbed world and its HTTP servers: determinism, feedback rate, new vendor, gates, JS shop."""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from testbed.gate import is_loopback
from testbed.server import Testbed
from testbed.sites import flugsvamp
from testbed.world import World, WorldConfig


def get(url: str, path: str, cookies: dict[str, str] | None = None,
        method: str = "GET", body: str = "") -> tuple[int, dict[str, str], str]:
    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in (cookies or {}).items())}
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body or None, headers=headers)
    resp = conn.getresponse()
    text = resp.read().decode("utf-8")
    out = (resp.status, {k.lower(): v for k, v in resp.getheaders()}, text)
    conn.close()
    return out


@pytest.fixture(scope="module")
def world() -> World:
    w = World(WorldConfig(seed=11))
    w.advance(6)
    return w


def test_same_seed_same_pages_and_truth(tmp_path: Path) -> None:
    from testbed import truth

    a, b, c = World(WorldConfig(seed=5)), World(WorldConfig(seed=5)), World(WorldConfig(seed=6))
    a.advance(2)
    b.advance(1)
    b.advance(1)  # advancing in steps gives the same world
    c.advance(2)
    lst = a.active_listings("flugsvamp")[3].listing_id
    for path in ("/", "/kategori/cannabis", f"/annons/{lst}", "/saljare"):
        assert flugsvamp.render(a, path, "").body == flugsvamp.render(b, path, "").body
    assert flugsvamp.render(a, "/", "").body != flugsvamp.render(c, "/", "").body
    assert truth.build(a) == truth.build(b)
    assert truth.build(a)["sales"] != truth.build(c)["sales"]


def test_world_size_and_classes(world: World) -> None:
    sv = world.active_listings("flugsvamp")
    assert len(world.active_vendors("flugsvamp")) >= 40 and len(sv) >= 400
    assert len({x.sclass for x in sv}) >= 8
    shared = {}
    for v in world.vendors.values():
        shared.setdefault(v.identity_id, set()).add(v.site)
    assert sum(1 for s in shared.values() if {"flugsvamp", "nordbazaar"} <= s) >= 5


def test_feedback_rate_between_60_and_80_percent(world: World) -> None:
    settled = world.day - 3  # feedback can lag a sale by up to 2 days
    for site in ("flugsvamp", "nordbazaar"):
        orders = sum(s.orders for s in world.sales if s.site == site and s.day <= settled)
        left = sum(1 for f in world.feedback if f.site == site and f.sale_day <= settled)
        assert orders > 1000
        assert 0.60 <= left / orders <= 0.80, (site, left / orders)
        assert all(f.day >= f.sale_day for f in world.feedback if f.site == site)


def test_new_swedish_vendor_appears_on_configured_day() -> None:
    w = World(WorldConfig(seed=3, new_swedish_vendor_day=2))
    w.advance(1)
    assert w.new_swedish_vendor is None
    w.advance(1)
    site, vid = w.new_swedish_vendor or ("", "")
    vendor = w.vendors[(site, vid)]
    assert vendor.first_day == 2 and vendor.swedish and vendor.ships_from == "SE"
    assert flugsvamp.render(w, f"/saljare/{vid}", "").status == 200
    new_sv = [v for v in w.vendors.values() if v.swedish and v.first_day > 0 and v.site != "tillskott"]
    assert new_sv == [vendor]
    from testbed import truth

    t = truth.build(w)
    assert t["meta"]["new_swedish_vendor"]["day"] == 2
    assert {"day": 2, "date": "2026-09-03", "site": "flugsvamp", "kind": "vendor", "id": vid} in t["active"]


def test_admin_loopback_check() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("127.8.9.10")
    assert not is_loopback("10.0.0.5") and not is_loopback("192.168.1.2") and not is_loopback("example.org")


@pytest.fixture()
def served(tmp_path: Path):
    tb = Testbed(seed=7, state_dir=tmp_path, rate_limit=None, ddos=True, ddos_delay=0.3)
    tb.start()
    yield tb
    tb.stop()


def test_ddos_then_login_then_page(served: Testbed) -> None:
    url = served.urls["flugsvamp"]
    status, headers, body = get(url, "/")
    assert status == 200 and 'http-equiv="refresh"' in body and "ddos-queue" in body
    assert headers["x-testbed-date"] == "2026-09-01"
    name, value = headers["set-cookie"].split(";")[0].split("=", 1)
    assert name == "fs_queue"
    _, _, body = get(url, "/", {name: value})  # too early: still queued
    assert "ddos-queue" in body
    time.sleep(0.35)
    _, _, body = get(url, "/", {name: value})
    assert "form class=\"login\"" in body and "captcha" in body
    session = served.session_cookies["flugsvamp"]
    status, _, body = get(url, "/", {name: value, **session})
    assert status == 200 and "kategori-lank" in body
    # solving the captcha gives the same session cookie
    status, headers, _ = get(url, "/login", {name: value}, "POST", f"captcha={served.captcha('flugsvamp')}")
    assert status == 302 and headers["set-cookie"].startswith("fs_session=" + session["fs_session"])


def test_advance_via_api_and_state_file(served: Testbed, tmp_path: Path) -> None:
    url = served.urls["snackis"]
    assert get(url, "/")[1]["x-testbed-date"] == "2026-09-01"
    status, _, body = get(url, "/__admin/advance?days=2", method="POST")
    assert status == 200 and json.loads(body)["day"] == 2
    assert get(url, "/")[1]["x-testbed-date"] == "2026-09-03"
    again = Testbed(seed=7, state_dir=tmp_path)  # another process would resume the saved day
    assert again.day == 2


def test_rate_limit_429_on_burst(tmp_path: Path) -> None:
    tb = Testbed(seed=7, state_dir=tmp_path, rate_limit=20, ddos=False)
    tb.start()
    try:
        statuses = [get(tb.urls["snackis"], "/")[0] for _ in range(80)]
        assert 429 in statuses and statuses[0] == 200
        time.sleep(0.5)
        assert get(tb.urls["snackis"], "/")[0] == 200
    finally:
        tb.stop()


def test_js_shop_html_has_no_products_api_does(served: Testbed) -> None:
    url = served.urls["tillskott"]
    _, _, html = get(url, "/")
    assert "produktkort" not in html.split("<script>")[0] and "/api/products" in html
    status, headers, body = get(url, "/api/products")
    products = json.loads(body)
    assert status == 200 and headers["content-type"].startswith("application/json") and len(products) >= 10
    assert all(p["currency"] == "SEK" and p["price_sek"] > 0 for p in products)
    assert "Swish" in html


def test_write_truth_files(served: Testbed, tmp_path: Path) -> None:
    out = tmp_path / "truth"
    served.write_truth(out)
    for name in ("sales", "listings", "vendors", "identities", "active", "feedback"):
        assert (out / f"{name}.jsonl").stat().st_size > 0 and (out / f"{name}.csv").exists()
    sale = json.loads((out / "sales.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert {"unit_price", "currency", "unit_price_sek", "value_sek", "orders", "date"} <= set(sale)
    ids = [json.loads(x) for x in (out / "identities.jsonl").read_text(encoding="utf-8").splitlines()]
    assert any("flugsvamp" in i["sites"] and "nordbazaar" in i["sites"] for i in ids)


def test_country_codes_survive_yaml() -> None:
    """YAML 1.1 reads a bare NO (Norway) as False; every country code in the world's data is a string."""
    import yaml

    from testbed import catalog

    checked = 0
    for name in ("text_sv.yaml", "text_en.yaml"):
        data = yaml.safe_load((Path(catalog.__file__).parent / "data" / name).read_text(encoding="utf-8"))
        for options in data.get("ships_to_options", []):
            checked += 1
            assert all(isinstance(code, str) for code in options), options  # codes or region names
    assert checked


def test_nordbazaar_queue_needs_javascript(tmp_path: Path) -> None:
    """Plain HTTP never gets past NordBazaar's queue: the cookie only comes from the page's script."""
    tb = Testbed(seed=7, state_dir=tmp_path, rate_limit=None, ddos=True, ddos_delay=0.2)
    tb.start()
    try:
        url = urlparse(tb.urls["nordbazaar"])
        for _ in range(2):
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
            conn.request("GET", "/", headers={"Cookie": "nb_auth=" + tb.session_cookies["nordbazaar"]["nb_auth"]})
            response = conn.getresponse()
            body = response.read().decode()
            assert response.getheader("Set-Cookie") is None
            assert "Checking your browser" in body and "document.cookie='nb_gate=" in body
            assert 'http-equiv="refresh"' not in body
            time.sleep(0.3)
    finally:
        tb.stop()
