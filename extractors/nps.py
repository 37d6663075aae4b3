"""Code names of new psychoactive substances, by family pattern (data/nps_patterns.yaml).

``find_codes(text)`` returns ``(start, end, {"name", "class"})`` for every whole code in ``text``: a
code known to the taxonomy keeps its canonical name ("ADB-FUBINACA" -> synthetic cannabinoids, "a-PVP"
-> cathinones), an unknown one of a known family by the family's group ("5F-EDMB-PICA" -> synthetic
cannabinoids) or, for families without one, by its normalised code ("4-aco-dmt", class psychedelic). A code never starts after a letter, digit or decimal point, and never
ends before one, so "3-MMC .5g" keeps ".5g" as the quantity.
"""

from __future__ import annotations

import re
from functools import lru_cache

from extractors.matching import DATA, load_substances, load_yaml

_EDGE_L = r"(?<![\w.,])"
_EDGE_R = r"(?![\w]|[.,]\d)"
# every code carries one of these (or is a case-sensitive code): texts without them skip the scan
_HINT = re.compile(r"\d|azolam|azepam|zolam|nitazen|fentan|inaca|pica|fubica|pegaclone|phenidate|pvp|php|pihp|"
                   r"hexedrone|pentedrone|pentylone|eutylone|ephylone|buphedrone|mexedrone|orphine|dck|mx[ei]|"
                   r"mxpr|pce|nbo|dalt|[dm]ipt|lsz|akb|jwh|adb|mdp|apb|hex-en|[a-z]-lsd|fxe|hxe", re.I)


@lru_cache(maxsize=1)
def _compiled() -> tuple[re.Pattern[str] | None, re.Pattern[str] | None, list[tuple[str | None, str]]]:
    families = load_yaml(DATA / "nps_patterns.yaml")["families"]
    loose, strict, classes = [], [], []
    for i, fam in enumerate(families):
        classes.append((fam.get("group"), fam["class"]))
        if fam.get("patterns"):
            loose.append(f"(?P<f{i}>{'|'.join(f'(?:{p})' for p in fam['patterns'])})")
        if fam.get("case_patterns"):
            strict.append(f"(?P<f{i}>{'|'.join(f'(?:{p})' for p in fam['case_patterns'])})")
    rx_loose = re.compile(f"{_EDGE_L}(?:{'|'.join(loose)}){_EDGE_R}", re.I) if loose else None
    rx_strict = re.compile(f"{_EDGE_L}(?:{'|'.join(strict)}){_EDGE_R}") if strict else None
    return rx_loose, rx_strict, classes


@lru_cache(maxsize=1)
def _aliases() -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {}
    for e in load_substances():
        value = {"name": e["name"], "class": e["class"]}
        for a in [e["name"], *e.get("en", []), *e.get("sv", [])]:
            table.setdefault(_norm(str(a)), value)
    return table


def _norm(code: str) -> str:
    return re.sub(r"[\s\u00a0]+", "-", code.strip().lower().replace("α", "a").replace("alpha-", "a-"))


_TOKEN_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-,'’α")
_HINT_LOW = re.compile(_HINT.pattern.lower())  # run on the lowercased text: no IGNORECASE scan
_UPPER3 = re.compile(r"[A-Z]{3}")


def _starts(text: str) -> tuple[list[int], list[int]]:
    """Where a code can begin: the start of every token that carries a hint (a digit, a family suffix)
    and of upper-case tokens (the case-sensitive codes). Trying the family regexes only there keeps long
    descriptions fast (a case-insensitive alternation behind a look-behind is tried at every position)."""
    low = text.lower()
    if len(low) != len(text):
        low = text  # a lowercasing that moves offsets: hint on the text as is
    loose: set[int] = set()
    for m in _HINT_LOW.finditer(low):
        i = m.start()
        while i > 0 and low[i - 1] in _TOKEN_CHARS:
            i -= 1
        loose.add(i)
    for m in re.finditer(r"(?<![\w])(?:a|α|alpha) p[vh]p", low) if " pvp" in low or " php" in low else ():
        loose.add(m.start())
    strict = sorted({m.start() for m in _UPPER3.finditer(text) if m.start() == 0 or not text[m.start() - 1].isalnum()})
    return sorted(loose), strict


def find_codes(text: str) -> list[tuple[int, int, dict[str, str]]]:
    rx_loose, rx_strict, classes = _compiled()
    loose, strict = _starts(text)
    out: list[tuple[int, int, dict[str, str]]] = []
    aliases = _aliases()
    for rx, starts in ((rx_loose, loose), (rx_strict, strict)):
        if rx is None:
            continue
        end = 0
        for start in starts:
            if start < end:
                continue
            m = rx.match(text, start)
            if m is None:
                continue
            end = m.end()
            family = next(int(k[1:]) for k, v in m.groupdict().items() if v is not None)
            code = _norm(m.group(0))
            group, cls = classes[family]
            value = aliases.get(code) or aliases.get(code.replace("-", "")) or {"name": group or code, "class": cls}
            out.append((m.start(), m.end(), dict(value)))
    return out
