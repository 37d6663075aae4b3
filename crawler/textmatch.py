"""Fast "can this case-insensitive regex match?" checks for the invalid-page detectors.

A detector's ``text``/``title`` patterns are case-insensitive regexes over a page's whole visible text;
most pages are normal, so most searches find nothing, and Python's ``re`` is slow at finding nothing with
IGNORECASE (no literal fast search). Each pattern gets a *literal cover*: a set of plain strings of which
every match of the pattern contains at least one (read from the pattern's parse tree: literal runs,
alternations, repeats with a minimum). The page's text is case-folded **once**; when no string of a
pattern's cover occurs in it (a C substring search), the pattern cannot match and its regex is not run.
When one does, the original regex decides, so verdicts and their matched snippets are exactly as before.

Folding follows ``re``'s own IGNORECASE rules: lower case, plus the characters ``re`` treats as
equivalent beyond that (``ſ``/``s``, ``K``/``k``, ``İ``/``ı``/``i`` …, from its equivalence table).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

try:  # the parser and the IGNORECASE equivalences of the running Python's re
    from re import _compiler as _re_compiler  # type: ignore[attr-defined]
    from re import _constants as C  # type: ignore[attr-defined]
    from re import _parser as _re_parser  # type: ignore[attr-defined]

    # lower-cased character -> the other characters IGNORECASE treats as the same (Python 3.11+)
    _EXTRA: dict[int, tuple[int, ...]] | None = dict(_re_compiler._EXTRA_CASES)
except (ImportError, AttributeError):  # pragma: no cover - another Python: no prefilter, the regexes run
    _re_parser = C = None  # type: ignore[assignment]
    _EXTRA = None
_EQUIVALENCES: list[set[int]] = []
for _key, _others in (_EXTRA or {}).items():
    _group = {_key, *_others}
    for _known in [g for g in _EQUIVALENCES if g & _group]:
        _group |= _known
        _EQUIVALENCES.remove(_known)
    _EQUIVALENCES.append(_group)

_PRE = {0x130: "i"}  # "İ": re matches it with i, but its lower() is two characters
_POST: dict[int, str] = {}
for _group in _EQUIVALENCES:
    for _cp in _group:
        if _cp != min(_group):  # only the odd ones out: plain text (ASCII s, k, i) needs no translation
            _POST[_cp] = chr(min(_group))
_SPECIAL = re.compile("[" + "".join(re.escape(chr(c)) for c in (*_PRE, *_POST)) + "]") if _POST else None
MIN_LITERAL = 3  # a cover whose shortest string is shorter than this is not worth the check


def fold(text: str) -> str:
    """``text`` case-folded the way ``re.IGNORECASE`` compares characters."""
    text = text.translate(_PRE).lower() if "\u0130" in text else text.lower()
    if _SPECIAL is not None and _SPECIAL.search(text):
        text = text.translate(_POST)
    return text


def _cover(items: Any) -> frozenset[str] | None:
    """Strings of which every match of the parsed sequence ``items`` contains one, or None."""
    candidates: list[frozenset[str]] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            candidates.append(frozenset({"".join(run)}))
            run.clear()

    for op, av in items:
        if op is C.LITERAL:
            run.append(chr(av))
            continue
        flush()
        found: frozenset[str] | None = None
        if op is C.SUBPATTERN:
            found = _cover(av[-1])
        elif op is C.BRANCH:
            branches = [_cover(b) for b in av[1]]
            if branches and all(b is not None for b in branches):
                found = frozenset().union(*branches)  # type: ignore[arg-type]
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", None)) and av[0] >= 1:
            found = _cover(av[2])
        elif op is getattr(C, "ATOMIC_GROUP", None):
            found = _cover(av)
        elif op is C.ASSERT:
            found = _cover(av[1])
        if found:
            candidates.append(found)
    flush()
    if not candidates:
        return None
    return max(candidates, key=lambda c: min(len(s) for s in c))


@lru_cache(maxsize=1024)
def literal_cover(pattern: str) -> frozenset[str] | None:
    """The folded literal cover of a case-insensitive ``pattern``, or None (always run the regex)."""
    if _re_parser is None or _EXTRA is None:
        return None
    try:
        cover = _cover(_re_parser.parse(pattern, re.IGNORECASE))
    except Exception:  # anything the cover does not understand: the regex always runs
        return None
    if not cover or min(len(s) for s in cover) < MIN_LITERAL:
        return None
    return frozenset(fold(s) for s in cover)


def may_match(pattern: str, folded_text: str) -> bool:
    """False only when the case-insensitive ``pattern`` cannot match the text whose ``fold`` is given."""
    cover = literal_cover(pattern)
    return cover is None or any(s in folded_text for s in cover)
