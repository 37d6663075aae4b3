"""Text hygiene that keeps character offsets.

``clean(text)`` returns the cleaned text and, for every cleaned character, the index of the original
character it came from, so entity offsets can be reported against the text the analyst saw.

- Unicode NFKC per character (full-width digits, ligatures, superscripts …);
- zero-width and other format characters are dropped;
- emoji and decoration symbols (``☢100 PILLS☢``, ``★``, box drawing) become spaces;
- homoglyphs (Cyrillic/Greek letters that look Latin) are folded to Latin inside words that also
  contain Latin letters, so ``Сосаine`` and vendor names typed with look-alikes match;
- texts longer than ``max_chars`` are cut there (the caller flags it).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Cyrillic and Greek letters that render like Latin ones (Unicode confusables, the common subset).
HOMOGLYPHS: dict[str, str] = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ɡ": "g", "ո": "n", "ս": "u",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "У": "Y", "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S",
    "α": "a", "ο": "o", "ρ": "p", "ν": "v", "τ": "t", "ι": "i", "κ": "k", "χ": "x",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
}
ZERO_WIDTH = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e", "\u200e", "\u200f"}
# Symbols that carry meaning in prices and quantities and must survive.
KEEP_SYMBOLS = set("$€£¥₿Ƀ%°µ+-/:=@#&*.,;()[]!?'\"")
_PLAIN = re.compile(r"[\t\n\r\x20-\x7e\u00a0-\u00ff]*")
_MIXED_WORD = re.compile(r"\w+")
_LATIN = re.compile(r"[A-Za-z]")
_CONFUSABLE = re.compile("[" + "".join(HOMOGLYPHS) + "]")


@lru_cache(maxsize=4096)
def _map_char(ch: str) -> str:
    """The replacement for one character: '' (drop), ' ' (decoration) or its NFKC form."""
    if ch in ZERO_WIDTH:
        return ""
    cat = unicodedata.category(ch)
    if cat == "Cf" or cat == "Cc" and ch not in "\n\t\r":
        return ""
    if ch in KEEP_SYMBOLS:
        return ch
    if cat in ("So", "Sk", "Cs", "Co", "Cn") or cat == "Sm" and ch not in "+<=>|~":
        return " "
    if cat in ("Mn", "Me") and ch in "\ufe0f\ufe0e\u20e3":  # emoji variation selectors, keycaps
        return ""
    norm = unicodedata.normalize("NFKC", ch)
    return norm


def clean(text: str, max_chars: int | None = None) -> tuple[str, list[int] | None, bool]:
    """(cleaned text, offset map or None when unchanged, truncated?)."""
    truncated = False
    if max_chars is not None and len(text) > max_chars:
        text = text[:max_chars]
        truncated = True
    if _PLAIN.fullmatch(text) and "\u00ad" not in text:
        return text, None, truncated
    out: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        rep = _map_char(ch)
        if not rep:
            continue
        out.append(rep)
        offsets.extend([i] * len(rep))
    cleaned = "".join(out)
    if _CONFUSABLE.search(cleaned):
        cleaned = _fold_homoglyphs(cleaned)
    offsets.append(len(text))
    return cleaned, offsets, truncated


def _fold_homoglyphs(text: str) -> str:
    def fold(match: re.Match[str]) -> str:
        word = match.group(0)
        if _LATIN.search(word) and _CONFUSABLE.search(word):
            return "".join(HOMOGLYPHS.get(c, c) for c in word)
        return word

    return _MIXED_WORD.sub(fold, text)


def normalise_alias(name: str) -> str:
    """A vendor name for comparison: NFKC, no decoration, homoglyphs folded (all-script), casefolded."""
    cleaned, _, _ = clean(name)
    folded = "".join(HOMOGLYPHS.get(c, c) for c in cleaned)
    return re.sub(r"[\s_\-.]+", "", folded).casefold()


def map_span(offsets: list[int] | None, start: int, end: int) -> tuple[int, int]:
    """Cleaned-text span -> original-text span."""
    if offsets is None:
        return start, end
    o_start = offsets[start] if start < len(offsets) else offsets[-1]
    o_end = offsets[end - 1] + 1 if end - 1 < len(offsets) and end > 0 else offsets[-1]
    return o_start, max(o_end, o_start)
