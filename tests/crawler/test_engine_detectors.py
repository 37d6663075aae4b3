"""A small captcha form on a normal page never stops a site; an adapter switches off one generic detector
(issue 15 §2). Real pages: Dream's vendor profiles (2019) carry a captcha on their "send message" form."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.adapters import AdapterError, load_adapter_file
from crawler.detectors import classify, generic_detectors
from tests.conftest import shared_data

DREAM_SELLERS = ("seller_0.html", "seller_1.html", "seller_3.html", "seller_5.html", "seller_7.html")


@pytest.mark.parametrize("name", DREAM_SELLERS)
def test_dream_vendor_profile_with_a_captcha_form_is_a_normal_page(name: str) -> None:
    body = shared_data("msc-darkweb-2019", "dream", "html_files", "sellers", name).read_bytes()
    assert b"captcha" in body.lower()
    assert classify(200, {}, body) is None


def test_real_challenge_pages_still_fire() -> None:
    root = shared_data("msc-darkweb-2019")
    assert classify(200, {}, (root / "dream/html_files/anti_ddos/anti_ddos_0.html").read_bytes()).kind == "ddos"
    for login in ("dream/html_files/login_page/login_0.html", "empire/html_files/login_page/saved_empire_login_page_0"):
        assert classify(200, {}, (root / login).read_bytes()).kind == "login"


PROFILE = ("<html><head><title>Vendor Grönbrevet</title></head><body><div class='profile'><h1>Grönbrevet</h1>"
           "<p>" + "Skickar med PostNord varje vardag, alltid diskret förpackat. " * 60 + "</p></div>"
           "<form action='/contact'><textarea name='msg'></textarea><img src='/captcha.jpg' alt='Captcha'>"
           "<input name='captchaText'><button>Send message</button></form></body></html>")
GATE = ("<html><head><title>Market</title></head><body><form action='/verify'><p>Please solve the challenge to "
        "continue to the market.</p><img src='/captcha.jpg'><input name='captcha'><button>Go</button></form>"
        "<footer>" + "Mirror list and rules. " * 10 + "</footer></body></html>")
BIG_GATE = ("<html><body><form action='/verify'><p>" + "Read the market rules before you continue. " * 40 +
            "</p><img src='/captcha.jpg'><input name='captcha'></form><p>" + "footer text " * 50 +
            "</p></body></html>")


def test_blocking_captcha_page_vs_small_captcha_form() -> None:
    assert classify(200, {}, PROFILE) is None
    verdict = classify(200, {}, GATE)
    assert verdict is not None and verdict.kind == "captcha" and "main content" in verdict.condition
    big = classify(200, {}, BIG_GATE)  # the form holds most of the page's text
    assert big is not None and big.kind == "captcha"


def _adapter(tmp: Path, detectors: str) -> Path:
    path = tmp / "det.yaml"
    path.write_text(f"""name: det
kind: market
base_url: http://127.0.0.1:1
{detectors}
pages:
  listing: {{url_pattern: "^/l/", item: listing, fields: {{title: {{css: "h1::text"}}}}}}
""", encoding="utf-8")
    return path


def test_adapter_switches_off_one_generic_detector_by_name(tmp_path: Path) -> None:
    adapter = load_adapter_file(_adapter(tmp_path, """detectors:
  disable: [captcha]
  rules:
    - {kind: ban, any: [{css: "div.banned"}]}"""))
    generic = adapter.generic_enabled(generic_detectors())
    assert "captcha" not in {d.name for d in generic} and len(generic) == len(generic_detectors()) - 1
    assert [d.kind for d in adapter.detectors] == ["ban"]
    assert classify(200, {}, GATE, adapter.detectors, generic=generic) is None
    # the other generic detectors still work
    login = "<html><body><form><input type=password name=p></form></body></html>"
    assert classify(200, {}, login, adapter.detectors, generic=generic).kind == "login"
    assert classify(200, {}, "<html><body><div class=banned>x</div></body></html>", adapter.detectors,
                    generic=generic).source == "adapter"


def test_disable_by_kind_and_the_old_list_form(tmp_path: Path) -> None:
    by_kind = load_adapter_file(_adapter(tmp_path, "detectors: {disable: [login]}"))
    kinds = [d.kind for d in by_kind.generic_enabled(generic_detectors())]
    assert "login" not in kinds and "captcha" in kinds
    old = load_adapter_file(_adapter(tmp_path, "detectors:\n  - {kind: ban, any: [{css: div.banned}]}"))
    assert len(old.generic_enabled(generic_detectors())) == len(generic_detectors())
    off = load_adapter_file(_adapter(tmp_path, "generic_detectors: false\ndetectors: []"))
    assert off.generic_enabled(generic_detectors()) == ()


def test_unknown_detector_name_is_refused_with_file_and_field(tmp_path: Path) -> None:
    path = _adapter(tmp_path, "detectors: {disable: [capcha]}")
    with pytest.raises(AdapterError, match="no generic detector named") as err:
        load_adapter_file(path)
    assert str(path) in str(err.value) and "captcha" in str(err.value)


def test_every_generic_detector_has_a_unique_name() -> None:
    names = [d.name for d in generic_detectors()]
    assert all(names) and len(set(names)) == len(names)


def test_a_page_recognised_by_content_overrules_a_sellers_words(tmp_path: Path) -> None:
    """URLs that say nothing give no page type before parsing; the page type's `match` elements are the
    site's normal structure, so "captcha" in a vendor's text does not stop the site."""
    from crawler.detectors import PageStructure

    path = tmp_path / "bycontent.yaml"
    path.write_text("""name: bycontent
kind: market
base_url: http://127.0.0.1:1
pages:
  vendor: {match: {css: "div.vendor-profile"}, item: vendor, fields: {name: {css: "h1::text"}}}
""", encoding="utf-8")
    adapter = load_adapter_file(path)
    body = ("<html><body><div class='vendor-profile'><h1>Snabben</h1><p>No captcha needed to message me, "
            "are you human? then write!</p></div></body></html>")
    assert classify(200, {}, body).kind == "captcha"  # the words alone
    overruled: list[str] = []
    assert classify(200, {}, body, structure=PageStructure.of(adapter, None), overruled=overruled) is None
    assert overruled and "vendor page's content" in overruled[0]
