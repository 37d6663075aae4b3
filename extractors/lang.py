"""Language identification: a cheap function-word heuristic for titles and short ads, langdetect for
long texts where the heuristic is unsure. Measured in benchmarks/extract_eval.py (``lang`` rows) and
against lingua in benchmarks/lang_eval.py: lingua is no better on the gold set, and as the long-text
fallback it calls French and German vendor bios English unless it loads all its models (1 GB, 15 s),
and even then it gets fewer right than langdetect, so langdetect stays."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

DATA = Path(__file__).parent / "data"
_WORD = re.compile(r"[a-zåäöéüæø]+", re.I)
_SV_CHARS = re.compile(r"[åäöÅÄÖ]")


@lru_cache(maxsize=1)
def _stopwords() -> tuple[frozenset[str], frozenset[str]]:
    data = yaml.safe_load((DATA / "lang_stopwords.yaml").read_text(encoding="utf-8"))
    return frozenset(data["sv"]), frozenset(data["en"])


def heuristic(text: str) -> tuple[str | None, float]:
    """('sv' | 'en' | None, margin). Swedish letters count as Swedish evidence."""
    sv, en = _stopwords()
    words = _WORD.findall(text.lower())
    s = sum(1 for w in words if w in sv) + 0.5 * len(_SV_CHARS.findall(text))
    e = sum(1 for w in words if w in en)
    total = s + e
    if total == 0:
        return None, 0.0
    margin = abs(s - e) / total
    if s > e:
        return "sv", margin
    if e > s:
        return "en", margin
    return None, 0.0


def warm() -> None:
    """Load the stopword lists and langdetect's language profiles now instead of on the first long text."""
    _stopwords()
    try:
        from langdetect.detector_factory import init_factory

        init_factory()
    except ImportError:
        pass


def detect(text: str, hint: str | None = None, use_langdetect: bool = True) -> str | None:
    """Language code of ``text``. Titles: heuristic (hint breaks ties). Long texts with a weak margin:
    langdetect (seeded, so deterministic)."""
    lang, margin = heuristic(text)
    long_text = len(text) >= 200
    if use_langdetect and long_text and (lang is None or margin < 0.5):
        try:
            from langdetect import DetectorFactory
            from langdetect import detect as ld_detect

            DetectorFactory.seed = 0
            return ld_detect(text[:2000])
        except Exception:  # langdetect raises on texts without letters
            pass
    return lang or hint
