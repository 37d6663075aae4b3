"""The detectors' literal prefilter (crawler/textmatch.py) never hides a match: wherever a detector's
case-insensitive regex matches, one of its literals is in the folded text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crawler.adapters import load_all
from crawler.detectors import _Page, classify, generic_detectors
from crawler.textmatch import fold, literal_cover, may_match

PAGES = Path(__file__).resolve().parents[1] / "data" / "pages"


def _patterns() -> list[str]:
    detectors = list(generic_detectors())
    for adapter in load_all().values():
        detectors += adapter.detectors
    return sorted({p for d in detectors for m in d.any for p in (m.text, m.title, m.not_text) if p})


def test_fold_agrees_with_re_ignorecase_for_every_bmp_character() -> None:
    # every character that IGNORECASE matches with a letter folds to that letter's fold
    letters = "abcdefghijklmnopqrstuvwxyzåäöéü"
    chars = [chr(c) for c in range(0x80, 0x10000) if not 0xD800 <= c < 0xE000]
    for letter in letters:
        rx = re.compile(re.escape(letter), re.I)
        for ch in chars:
            if rx.fullmatch(ch):
                assert fold(letter) in fold(ch), (letter, ch, hex(ord(ch)))


def test_covers_of_real_detector_patterns() -> None:
    assert literal_cover("captcha|anti[- ]?phishing") == {"captcha", "phishing"}
    assert literal_cover("ddos[- ]?(protection|guard)") == {"protection", "guard"}  # the longer literals
    assert literal_cover("x?y") is None  # nothing required: the regex always runs
    assert literal_cover("(please|you must) log ?in") == {"please", "you must"}


HOSTILE = [
    "CAPTCHA", "Captcha required", "ſolve the puzzle", "ARE YOU HUMAN", "KONTROLLERAR DIN WEBBLÄSARE",
    "You have been BANNED", "För Många Förfrågningar", "Please wait up to 5 seconds", "access DENIED",
    "Logga In för att se", "ditt konto har blivit SPÄRRAT", "LOGİN REQUİRED", "sıgn in to continue",
    "anti-DDoS protection", "waiting ROOM", "position in queue", "i\u0307m not a robot",
]


@pytest.mark.parametrize("pattern", _patterns())
def test_prefilter_never_hides_a_match(pattern: str) -> None:
    texts = list(HOSTILE)
    for path in sorted(PAGES.glob("*/*.html")):
        texts.append(_Page(200, {}, path.read_bytes(), 256 * 1024).text)
    texts += [t.upper() for t in texts] + [t.swapcase() for t in texts]
    rx = re.compile(pattern, re.I)
    for text in texts:
        if rx.search(text):
            assert may_match(pattern, fold(text)), (pattern, text[:80])


def test_classify_unchanged_on_interstitials() -> None:
    gate = b"<html><head><title>Market</title></head><body>Checking your BROWSER</body></html>"
    verdict = classify(200, {}, gate)
    assert verdict is not None and verdict.kind == "ddos" and "Checking your BROWSER" in verdict.condition
    captcha = b"<html><body><p>Enter the characters you see</p><img src=x></body></html>"
    verdict = classify(200, {}, captcha)
    assert verdict is not None and verdict.kind == "captcha"
