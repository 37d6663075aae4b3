"""Invalid-page detectors (crawler/detectors.py + crawler/sites/_generic_detectors.yaml).

Real pages: ../shared/data/dark-market-scout-2024/crawler/captcha/training-data/ (Nexus, WeTheNorth,
Kerberos, Torzon, 2024). ``captcha/`` holds DDoS, ban, login, captcha and anti-phishing pages, hand-labelled
with their kind in tests/data/invalid_pages_labels.csv; ``non_captcha/`` holds normal pages (some are
images saved as .html: binary bodies).

Held-out protocol (against overfitting). The pages are split by content, so duplicate files stay on one
side: a page is "train" when the first byte of its MD5 is even, else "heldout" (train: 7 invalid files,
5 distinct pages, and 14 normal; held-out: 6 invalid and 14 normal). The generic rules were written looking only
at the train pages and frozen as tests/data/generic_detectors_train_only.yaml. On the unseen held-out half
that frozen set flagged every invalid page and no normal page, but got 2 of 6 kinds wrong: a Kerberos
"last strike" ban served inside the "DDoS protection" frame came out ddos, and a WeTheNorth login form with
a captcha field came out captcha. The live rules fix both by ORDER only, with no new page-specific
phrase: account-ban phrases are tried before DDoS titles, and a password form before captcha signs.
``test_frozen_train_rules_on_heldout`` keeps that honest held-out score (detection 100 %, kind ≥ 0.6);
the live rules must reach kind accuracy ≥ 0.9 on every page.
"""

from __future__ import annotations

import csv
import hashlib
import time
from pathlib import Path

import pytest
from pydantic import ValidationError
from scrapy.http.headers import Headers

from crawler.adapters import Detector, Matcher, adapter_paths
from crawler.detectors import MAX_INSPECT_BYTES, Verdict, classify, generic_detectors, load_detectors
from tests.conftest import shared_data

DATA = Path(__file__).resolve().parents[1] / "data"
LABELS = DATA / "invalid_pages_labels.csv"
TRAIN_ONLY_RULES = DATA / "generic_detectors_train_only.yaml"
KINDS = {"ddos", "captcha", "login", "ban", "rate_limit"}


# --- helpers -------------------------------------------------------------------------------------------


def _pages_root() -> Path:
    return shared_data("dark-market-scout-2024", "crawler", "captcha", "training-data")


def _split(body: bytes) -> str:
    return "train" if hashlib.md5(body).digest()[0] % 2 == 0 else "heldout"


def _labels() -> dict[str, str]:
    with LABELS.open(encoding="utf-8", newline="") as fh:
        return {row["file"]: row["kind"] for row in csv.DictReader(fh)}


def _pages(folder: str, split: str | None = None) -> list[tuple[str, bytes]]:
    pages = [(p.name, p.read_bytes()) for p in sorted((_pages_root() / folder).iterdir()) if p.is_file()]
    return [(name, body) for name, body in pages if split is None or _split(body) == split]


def _html(body: str, title: str = "") -> bytes:
    return f"<html><head><title>{title}</title></head><body>{body}</body></html>".encode()


def _one(matcher: Matcher, kind: str = "ban") -> list[Detector]:
    return [Detector(kind=kind, any=[matcher])]


def _adapter_only(
    status: int, body: bytes | str, matcher: Matcher, headers: dict | None = None
) -> Verdict | None:
    return classify(status, headers or {}, body, _one(matcher), generic=())


# --- the real pages ------------------------------------------------------------------------------------


def test_labels_cover_every_invalid_page() -> None:
    labels = _labels()
    assert sorted(labels) == sorted(name for name, _ in _pages("captcha"))
    assert set(labels.values()) <= KINDS


def test_no_false_positive_on_normal_pages() -> None:
    wrong = {name: v.describe() for name, body in _pages("non_captcha") if (v := classify(200, {}, body, []))}
    assert not wrong, wrong


def test_every_invalid_page_is_flagged_with_the_right_kind() -> None:
    labels = _labels()
    verdicts = {name: classify(200, {}, body, []) for name, body in _pages("captcha")}
    missed = [name for name, v in verdicts.items() if v is None]
    assert not missed, f"invalid pages classified as normal: {missed}"
    right = sum(v is not None and v.kind == labels[name] for name, v in verdicts.items())
    wrong = {
        name: (labels[name], v.kind if v else None)
        for name, v in verdicts.items()
        if not v or v.kind != labels[name]
    }
    assert right / len(verdicts) >= 0.9, f"kind accuracy {right}/{len(verdicts)}; (label, predicted): {wrong}"


def test_split_has_both_halves() -> None:
    for folder in ("captcha", "non_captcha"):
        assert _pages(folder, "train") and _pages(folder, "heldout")


def test_frozen_train_rules_on_heldout() -> None:
    """Rules written from the train half only, scored on pages they never saw (see the module docstring)."""
    frozen = load_detectors(TRAIN_ONLY_RULES)
    labels = _labels()
    normal = [
        name for name, body in _pages("non_captcha", "heldout") if classify(200, {}, body, generic=frozen)
    ]
    assert not normal, f"false positives on held-out normal pages: {normal}"
    invalid = _pages("captcha", "heldout")
    verdicts = {name: classify(200, {}, body, generic=frozen) for name, body in invalid}
    assert all(verdicts.values()), (
        f"held-out invalid pages missed: {[n for n, v in verdicts.items() if not v]}"
    )
    right = sum(v is not None and v.kind == labels[name] for name, v in verdicts.items())
    assert right / len(verdicts) >= 0.6, f"held-out kind accuracy {right}/{len(verdicts)}"


def test_live_rules_on_heldout() -> None:
    labels = _labels()
    for name, body in _pages("captcha", "heldout"):
        verdict = classify(200, {}, body, [])
        assert verdict is not None and verdict.kind == labels[name], (name, verdict)


# --- statuses, headers, reactions ----------------------------------------------------------------------


def test_429_is_rate_limit_without_parsing_the_body() -> None:
    verdict = classify(429, {}, b"\x00" * 10, [])
    assert verdict is not None
    assert (verdict.kind, verdict.reaction, verdict.source) == ("rate_limit", "backoff", "generic")
    assert "status=429" in verdict.condition


def test_503_with_retry_after_is_rate_limit_and_503_alone_is_not() -> None:
    verdict = classify(503, Headers({"Retry-After": "120"}), b"", [])
    assert verdict is not None and verdict.kind == "rate_limit"
    assert classify(503, {}, _html("<p>Service unavailable, try later.</p>"), []) is None


def test_403_is_ban_and_rotates() -> None:
    verdict = classify(403, {}, _html("<h1>Forbidden</h1>"), [])
    assert verdict is not None and (verdict.kind, verdict.reaction) == ("ban", "rotate")


def test_ip_ban_text_rotates_and_strike_stops() -> None:
    ip = classify(200, {}, _html("<p>Your IP has been blocked for 24 hours.</p>"), [])
    strike = classify(200, {}, _html("<p>Warning: this is your 2nd strike.</p>"), [])
    assert ip is not None and (ip.kind, ip.reaction) == ("ban", "rotate")
    assert strike is not None and (strike.kind, strike.reaction) == ("ban", "stop")


@pytest.mark.parametrize(
    ("body", "title", "kind"),
    [
        ("<p>Checking your browser before accessing the market.</p>", "", "ddos"),
        ("<div class='queue-graphic'></div><p>Please wait.</p>", "Market", "ddos"),
        ("<p>You are in the queue. Estimated wait 40 s.</p>", "", "ddos"),
        ("<p>Solve the captcha</p><img src='/captcha.png'><input name='captcha'>", "", "captcha"),
        ("<p>Please make sure the link in the image matches your URL bar</p>", "Anti-Phishing", "captcha"),
        ("<form><input name=u><input type=password name=p></form>", "Market - Login", "login"),
        ("<p>You must be logged in to view this page.</p>", "", "login"),
        ("<p>Du måste vara inloggad för att se tråden.</p>", "", "login"),
        ("<p>You have been banned.</p>", "", "ban"),
    ],
)
def test_generic_kinds(body: str, title: str, kind: str) -> None:
    verdict = classify(200, {}, _html(body, title), [])
    assert verdict is not None and verdict.kind == kind, verdict


def test_normal_pages_mentioning_bans_and_logins_are_not_flagged() -> None:
    filler = "<p>" + "Vendor ships from Sweden, 5 g for 900 kr, stealth packaging. " * 120 + "</p>"
    text = "<p>Scammers will be banned. Enter the captcha at login. Checking your browser may take time.</p>"
    logged_in = "<a href='/logout'>Logout</a><form><input type=password name=new></form>"
    assert classify(200, {}, _html(filler + text), []) is None
    assert classify(200, {}, _html(logged_in + "<p>Change password</p>", "Settings"), []) is None


# --- each matcher type ---------------------------------------------------------------------------------


def test_matcher_status() -> None:
    assert _adapter_only(418, b"", Matcher(status=[418, 419])) is not None
    assert _adapter_only(200, b"", Matcher(status=[418])) is None


def test_matcher_css_and_not_css() -> None:
    page = _html("<div id='gate'><a href='/logout'>x</a></div>")
    assert _adapter_only(200, page, Matcher(css="#gate")) is not None
    assert _adapter_only(200, page, Matcher(css="#other")) is None
    assert _adapter_only(200, page, Matcher(css="#gate", not_css="a[href*=logout]")) is None


def test_matcher_text_and_not_text_are_case_insensitive_on_collapsed_whitespace() -> None:
    page = _html("<p>PLEASE\n   hold   on</p><script>var secret = 'please hold on';</script>")
    verdict = _adapter_only(200, page, Matcher(text="please hold on"))
    assert verdict is not None and "PLEASE hold on" in verdict.condition
    assert _adapter_only(200, page, Matcher(text="please hold on", not_text="hold")) is None
    assert _adapter_only(200, page, Matcher(text="secret")) is None  # script is not visible text


def test_matcher_title() -> None:
    page = _html("<p>x</p>", "Wait  Room")
    assert _adapter_only(200, page, Matcher(title="^wait room$")) is not None
    assert _adapter_only(200, page, Matcher(title="queue")) is None


def test_matcher_header_accepts_str_bytes_and_scrapy_headers() -> None:
    matcher = Matcher(header={"Server": "^endgame"})
    assert _adapter_only(200, b"", matcher, {"server": "EndGame v3"}) is not None
    assert _adapter_only(200, b"", matcher, {b"Server": b"endgame"}) is not None
    assert classify(200, Headers({"Server": "EndGame"}), b"", _one(matcher), generic=()) is not None
    assert _adapter_only(200, b"", matcher, {"server": "nginx"}) is None
    assert _adapter_only(200, b"", matcher, {}) is None


def test_matcher_max_text_len() -> None:
    short, long = _html("<p>gate</p>"), _html("<p>gate</p>" + "<p>word</p>" * 500)
    assert _adapter_only(200, short, Matcher(text="gate", max_text_len=100)) is not None
    assert _adapter_only(200, long, Matcher(text="gate", max_text_len=100)) is None


def test_matcher_conditions_are_anded_and_detectors_ored() -> None:
    page = _html("<p>gate</p>")
    assert _adapter_only(200, page, Matcher(status=[200], text="gate")) is not None
    assert _adapter_only(200, page, Matcher(status=[503], text="gate")) is None
    detector = Detector(kind="ddos", any=[Matcher(status=[503]), Matcher(text="gate")])
    verdict = classify(200, {}, page, [detector], generic=())
    assert verdict is not None and verdict.matcher == 1


def test_matcher_without_positive_condition_never_fires() -> None:
    assert _adapter_only(200, _html("x"), Matcher()) is None
    assert _adapter_only(200, _html("x"), Matcher(max_text_len=10, not_css="nav")) is None


def test_bad_matcher_is_rejected_at_load() -> None:
    with pytest.raises(ValidationError):
        Matcher(text="(unclosed")
    with pytest.raises(ValidationError):
        Matcher(css="a[[")
    with pytest.raises(ValidationError):
        Matcher(header={"server": "*bad"})


def test_adapter_detectors_win_over_generic_and_reaction_override() -> None:
    own = Detector(
        kind="captcha", any=[Matcher(text="checking your browser")], reaction="render", wait_seconds=9
    )
    page = _html("<p>Checking your browser</p>")
    verdict = classify(200, {}, page, [own])
    assert verdict is not None
    assert (verdict.kind, verdict.reaction, verdict.source, verdict.index, verdict.wait_seconds) == (
        "captcha",
        "render",
        "adapter",
        0,
        9,
    )
    generic = classify(200, {}, page, [])
    assert generic is not None and generic.source == "generic" and generic.kind == "ddos"
    assert classify(200, {}, page, [], generic=()) is None


# --- robustness ----------------------------------------------------------------------------------------


def test_huge_body_is_capped_and_fast() -> None:
    filler = b"<p>" + b"ordinary listing text " * 1000 + b"</p>"
    huge = (
        b"<html><body>"
        + filler * (20 * 1024 * 1024 // len(filler))
        + b"<p>checking your browser</p></body></html>"
    )
    assert len(huge) >= 19 * 1024 * 1024
    start = time.perf_counter()
    assert classify(200, {}, huge, []) is None  # the phrase lies beyond the inspected prefix
    gate = b"<html><title>DDoS protection</title><body><p>wait</p>" + b"\x00" * (20 * 1024 * 1024)
    verdict = classify(200, {}, gate, [])
    assert verdict is not None and verdict.kind == "ddos"
    assert time.perf_counter() - start < 5


def test_inline_images_do_not_push_the_text_past_the_cap() -> None:
    image = b"<img src='data:image/png;base64," + b"QUJD" * (MAX_INSPECT_BYTES // 2) + b"'>"
    body = b"<html><body>" + image + b"<p>Checking your browser before accessing</p></body></html>"
    verdict = classify(200, {}, body, [])
    assert verdict is not None and verdict.kind == "ddos"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        None,
        b"   ",
        b"<<<>>><html<body",
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(256)) * 50,
        b"<?xml version='1.0' encoding='latin-1'?><html><p>caf\xe9</p>",
        "<p>unicode str body \u00e5\u00e4\u00f6</p>",
        b"<table><tr><td><div><p><b>unclosed",
    ],
)
def test_broken_and_binary_bodies_do_not_raise(body: bytes | str | None) -> None:
    assert classify(200, {}, body, []) is None


def test_bad_encoding_still_detected() -> None:
    body = b"<meta charset='shift_jis'><p>\xff\xfe\x80 Checking your browser \xc3\x28\xed\xa0\x80</p>"
    verdict = classify(200, {}, body, [])
    assert verdict is not None and verdict.kind == "ddos"
    broken = b"<html><title>Access denied</title><body><div><p>\x81\x8d"
    verdict = classify(200, {}, broken, [])
    assert verdict is not None and verdict.kind == "ban"


def test_str_body_and_unicode_phrases() -> None:
    verdict = classify(200, {}, "<p>Du har blivit avstängd.</p>", [])
    assert verdict is not None and verdict.kind == "ban"


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"Content-Type": "text/html; charset=iso-8859-1"}, b"<p>Du har blivit avst\xe4ngd.</p>"),
        ({}, b"<meta charset='latin-1'><p>Du har blivit avst\xe4ngd.</p>"),
        ({}, b"<p>Du har blivit avst\xe4ngd.</p>"),  # undeclared latin-1: not UTF-8, so cp1252
        ({}, "<meta charset='latin-1'><p>Du har blivit avstängd.</p>".encode()),  # lying declaration
    ],
)
def test_declared_and_undeclared_encodings(headers: dict[str, str], body: bytes) -> None:
    verdict = classify(200, headers, body, [])
    assert verdict is not None and verdict.kind == "ban", verdict


# --- the data file -------------------------------------------------------------------------------------


def test_generic_file_loads_and_is_not_a_site() -> None:
    kinds = {d.kind for d in generic_detectors()}
    assert kinds == KINDS
    assert all(not name.startswith("_") for name in adapter_paths())


def test_verdict_describe_is_readable() -> None:
    verdict = classify(200, {}, _html("<p>You have been banned</p>"), [])
    assert verdict is not None
    text = verdict.describe()
    assert text.startswith("ban -> rotate (generic detector #") and "You have been banned" in text
