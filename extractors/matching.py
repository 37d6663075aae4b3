"""The spaCy-free core of the Sökhund extractor: patterns, lexicon data, overlap/role resolution and
the fast title path. ``extractors/components.py`` wraps these as spaCy pipeline components.

Nothing here imports spaCy, so titles (the fast path) are extracted without loading it at all.

- ``PatternFinder``: regular expressions for PRICE, QUANTITY, CRYPTO_ADDRESS (checksum-validated),
  PGP_KEY (armored blocks parsed with PGPy; full fingerprints in text) and CONTACT handles.
- ``lexicon_data()``: the phrase lists (substances, places, Swedish places, case-sensitive terms) the
  lexicon matchers are built from, read once per process.
- ``lemma_table(lang)``: the derived lemma table ``data/sv_lemmas.txt`` (see build_lemmas.py).
- ``ResolverCore``: overlaps (longest wins, then PRIORITY), ship-from/ship-to roles.
- ``FastTitlePath``: the same patterns, lexicons and resolver with a regex tokenizer.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from extractors import crypto, normalise, pgp
from extractors.normalise import lowered, scan
from extractors.swedish import negated

DATA = Path(__file__).parent / "data"
LEMMA_FILES = {"sv": DATA / "sv_lemmas.txt"}
STREET_NAMES = DATA / "street_names.yaml"
LEMMA_LANGS = ("sv",)  # languages whose lexicon is also matched on the lemma
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster than pure Python

TERMS_KEY = "sokhund_terms"
ENTS_KEY = "sokhund"
OUTPUT_LABELS = (
    "SUBSTANCE", "QUANTITY", "PRICE", "SHIP_FROM", "SHIP_TO", "SHIPPING", "PAYMENT", "CONTACT",
    "CRYPTO_ADDRESS", "PGP_KEY",
)
# Higher wins when spans of the same length overlap.
PRIORITY = {"PGP_KEY": 9, "CRYPTO_ADDRESS": 8, "CONTACT": 7, "PRICE": 6, "QUANTITY": 5, "SUBSTANCE": 4,
            "EDIBLE": 3.5, "EDIBLE_WEAK": 3.5, "SUBSTANCE_WEAK": 3.4, "PLACE": 3, "SHIPPING": 3, "PAYMENT": 2, "CUE_FROM": 1, "CUE_TO": 1, "CUE_ONLY": 1}

Cand = tuple[int, int, str, Any]  # start char, end char, label, value

_PER_UNIT = re.compile(r"\s?(?:/|per|pr\.?|à|a)\s?(?P<u>g|gr|gram|grammet|st|styck|pill|pills|tab|tabs|unit|piece|pc|pcs)\b", re.I)
_CONTACT_RE = re.compile(
    r"(?P<kind>wickr(?:\s?me|\s?id)?|telegram|tele|tg|signal|threema(?:\s?id)?|jabber|xmpp|session(?:\s?id)?"
    r"|snapchat|snap|kik|whatsapp|e-?post|e-?mail|mejl|mail)"
    r"(?:\s*[:=>→]+\s*|\s+[\-–]+\s*|\s*[\-–]+\s+|\s+(?:är|is|på|at)\s+|\s+)?"
    r"(?P<handle>@?[A-Za-z0-9][\w.\-]{1,63}@[\w\-]+(?:\.[\w\-]+)+|@[A-Za-z0-9_][\w.\-]{1,63}"
    r"|\+?\d[\d \-]{6,16}\d|05[0-9a-f]{64}|[A-Za-z0-9_][\w.\-]{2,63})",
    re.I,
)
_KIND_RE = re.compile(r"(?<!\w)(?:wickr|tele|tg|signal|threema|jabber|xmpp|session|snap|kik|whatsapp|e-?post|e-?mail|mejl|mail)", re.I)
_CANNA_RE = re.compile(r"\b(?:canna|thc)(?!bis\b)[a-z]{3,}(?:-[a-z]+)?\b|\bcanna-[a-z]{3,}\b", re.I)
_EMAIL_RE = re.compile(r"(?<![\w.@])[A-Za-z0-9][\w.+\-]{0,63}@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,12}(?![\w@])")
_TME_RE = re.compile(r"(?:https?://)?t\.me/(?P<h>[A-Za-z0-9_]{4,32})", re.I)
_SESSION_RE = re.compile(r"(?<![0-9a-fA-F])05[0-9a-f]{64}(?![0-9a-fA-F])")
_CUE_CODE_RE = re.compile(
    r"(?P<cue>ships? from|shipping from|skickas från|skickar från|from|från|ships? to|shipping to|skickas till|skickar till|to|till)"
    r"\s*:?\s*(?P<code>[A-Z]{2})\b(?![a-z])"
)
_KIND_CANON = {"wickr": "wickr", "wickr me": "wickr", "wickrme": "wickr", "wickr id": "wickr", "telegram": "telegram",
               "tele": "telegram", "tg": "telegram", "signal": "signal", "threema": "threema", "threema id": "threema",
               "jabber": "jabber", "xmpp": "jabber", "session": "session", "session id": "session",
               "snapchat": "snapchat", "snap": "snapchat", "kik": "kik", "whatsapp": "whatsapp", "e-post": "email",
               "epost": "email", "e-mail": "email", "email": "email", "mejl": "email", "mail": "email"}


# Cheap finders over the lowercased text (see normalise.scan): where a match can begin.
_KIND_STARTS = re.compile(r"wickr|tele|tg|signal|threema|jabber|xmpp|session|snap|kik|whatsapp|mejl|mail|post")
_CANNA_STARTS = re.compile(r"canna|thc")
_SESSION_STARTS = re.compile(r"05")
_DIGIT = re.compile(r"\d")
# Every crypto address candidate (crypto.CANDIDATE_RE) and every written fingerprint
# (pgp.FPR_TEXT_RE) contains one of these; texts without them skip those scans.
_CRYPTO_HINT = re.compile(r"[1348][1-9A-HJ-NP-Za-km-z]{25}")  # or "bc1"/"BC1" (bech32)
_FPR_HINT = re.compile(r"[0-9A-Fa-f]{4}(?:[ \u00a0]{0,2}[0-9A-Fa-f]{4}){9}")



def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # noqa: S506 (a safe loader)


@lru_cache(maxsize=1)
def load_words() -> frozenset[str]:
    data = load_yaml(DATA / "lang_stopwords.yaml")
    return frozenset(data["sv"]) | frozenset(data["en"]) | {"me", "mig", "för", "om", "eller", "and", "for", "och"}


# ------------------------------------------------------------------ patterns


class PatternFinder:
    def __init__(self, pgp_blocks: bool = True, max_pgp_blocks: int = 10, contacts: bool = True) -> None:
        self.pgp_blocks = pgp_blocks
        self.max_pgp_blocks = max_pgp_blocks
        self.contacts = contacts
        self.words = load_words()

    def find(self, text: str) -> tuple[list[Cand], list[str]]:
        cands: list[Cand] = []
        flags: list[str] = []
        for p in normalise.find_prices(text):
            value: dict[str, Any] = {"amount": normalise._tidy(p.amount), "currency": p.currency, "per": None}
            m = _PER_UNIT.match(text, p.end)
            end = p.end
            if m:
                unit = m.group("u").lower()
                value["per"] = "g" if unit.startswith("g") else "unit"
                end = m.end()
            cands.append((p.start, end, "PRICE", value))
        low = lowered(text)
        canna = _CANNA_RE.finditer(text) if low is None else scan(_CANNA_RE, text, (m.start() for m in _CANNA_STARTS.finditer(low)))
        for m in canna:  # THCookies, THCandy, Cannapops, Canna-Squares
            cands.append((m.start(), m.end(), "SUBSTANCE", {"name": "cannabis", "class": "cannabis"}))
        from extractors.nps import find_codes  # nps reads the taxonomy through this module

        for s, e, value in find_codes(text):
            cands.append((s, e, "SUBSTANCE", value))
        for q in normalise.find_quantities(text):
            cands.append((q.start, q.end, "QUANTITY", q.as_value()))
        if _DIGIT.search(text):
            if "bc1" in text or "BC1" in text or _CRYPTO_HINT.search(text):
                for a in crypto.find_addresses(text):
                    cands.append((a.start, a.end, "CRYPTO_ADDRESS", a.as_value()))
            if _FPR_HINT.search(text):
                for s, e, fpr in pgp.find_fingerprints(text):
                    cands.append((s, e, "PGP_KEY", {"fingerprint": fpr, "source": "text"}))
        if self.pgp_blocks and "-----BEGIN PGP" in text:
            for s, e, key, err in pgp.find_keys(text)[: self.max_pgp_blocks]:
                if key:
                    cands.append((s, e, "PGP_KEY", {**key, "source": "armored"}))
                else:
                    flags.append(f"pgp_unparsed: {err}")
        if self.contacts:
            cands.extend(self._contacts(text, low))
        for m in _CUE_CODE_RE.finditer(text):
            cue = m.group("cue").lower()
            code = m.group("code")
            if code == "NA" or (normalise.country_code(code) != code and code not in ("EU", "WW")):
                continue
            role = "SHIP_FROM" if cue.endswith(("from", "från")) else "SHIP_TO"
            cands.append((m.start("code"), m.end("code"), role, {"code": code}))
        return cands, flags

    def _contacts(self, text: str, low: str | None = None) -> list[Cand]:
        out: list[Cand] = []
        low = low if low is not None else text.lower()
        if not any(k in low for k in ("wickr", "tele", "tg", "signal", "threema", "jabber", "xmpp", "session",
                                       "snap", "kik", "whatsapp", "post", "mail", "mejl", "@", "t.me")):
            return out
        taken: list[tuple[int, int]] = []
        matches = (_CONTACT_RE.match(text, k.start()) for k in self._kinds(text, low))
        for m in (m for m in matches if m is not None):
            handle = m.group("handle")
            sep = text[m.end("kind") : m.start("handle")]
            explicit = bool(sep.strip()) or handle.startswith("@") or any(c.isdigit() or c == "_" for c in handle)
            if handle.lower() in self.words or not explicit:
                continue
            kind = _KIND_CANON.get(re.sub(r"\s+", " ", m.group("kind").lower()), m.group("kind").lower())
            if "@" in handle[1:] and kind not in ("jabber", "email"):
                kind = kind if kind in ("wickr", "telegram", "session", "threema", "signal") else "email"
            value = handle.strip().rstrip(".-")
            if kind in ("telegram",) and not value.startswith("@") and re.fullmatch(r"\w+", value):
                value = "@" + value
            out.append((m.start(), m.start("handle") + len(value), "CONTACT", {"kind": kind, "value": value}))
            taken.append((m.start("handle"), m.end("handle")))
        for m in _EMAIL_RE.finditer(text) if "@" in text else ():
            if any(s <= m.start() < e for s, e in taken):
                continue
            before = low[max(0, m.start() - 16) : m.start()]
            kind = "jabber" if ("jabber" in before or "xmpp" in before) else "email"
            out.append((m.start(), m.end(), "CONTACT", {"kind": kind, "value": m.group(0)}))
        for m in _TME_RE.finditer(text) if "t.me/" in low else ():
            out.append((m.start(), m.end(), "CONTACT", {"kind": "telegram", "value": "@" + m.group("h")}))
        for m in scan(_SESSION_RE, text, (m.start() for m in _SESSION_STARTS.finditer(text))):
            if not any(s <= m.start() < e for s, e in taken):
                out.append((m.start(), m.end(), "CONTACT", {"kind": "session", "value": m.group(0)}))
        return out

    @staticmethod
    def _kinds(text: str, low: str) -> Any:
        """= ``_KIND_RE.finditer(text)``, trying it only where a channel word begins ("e-mail"/"epost"
        begin two/one characters before "mail"/"post")."""
        if len(low) != len(text):
            return _KIND_RE.finditer(text)
        starts: set[int] = set()
        for m in _KIND_STARTS.finditer(low):
            p = m.start()
            starts.add(p)
            if m.group(0) in ("mail", "post"):
                if p >= 1 and low[p - 1] == "e":
                    starts.add(p - 1)
                if p >= 2 and low[p - 2 : p] == "e-":
                    starts.add(p - 2)
        return scan(_KIND_RE, text, sorted(starts))


# ------------------------------------------------------------------ lexicon data


@lru_cache(maxsize=4)
def _substances_yaml(curated: Path) -> dict[str, Any]:
    return load_yaml(curated)


@lru_cache(maxsize=4)
def street_names(path: Path = STREET_NAMES) -> dict[str, Any]:
    """``street_names.yaml``: strong aliases per substance and weak (context-dependent) words."""
    return load_yaml(path) if path.exists() else {"strong": {}, "weak": []}


def _with_street_names(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    data = street_names()
    overridden = {str(w["word"]).lower() for w in data.get("weak", []) if w.get("override")}
    out = []
    for e in entries:
        extra = [str(a) for a in data.get("strong", {}).get(e["name"], [])]
        if extra or overridden:
            e = {**e, "en": [a for a in e.get("en", []) if str(a).lower() not in overridden],
                 "sv": [a for a in [*e.get("sv", []), *extra] if str(a).lower() not in overridden]}
        out.append(e)
    return out


@lru_cache(maxsize=4)
def load_substances(curated: Path = DATA / "substances.yaml", tripsit: Path | None = DATA / "substances_tripsit.json") -> list[dict[str, Any]]:
    entries = _with_street_names(list(_substances_yaml(curated)["substances"]))
    if tripsit and tripsit.exists():
        known = {str(a).lower() for e in entries for a in [e["name"], *e.get("en", []), *e.get("sv", [])]}
        names = {e["name"] for e in entries} | {e.get("tripsit") for e in entries}
        for e in json.loads(tripsit.read_text(encoding="utf-8"))["substances"]:
            if e["name"] in names:
                continue
            aliases = [a for a in e["en"] if a.lower() not in known]
            if aliases:
                entries.append({"name": e["name"], "class": e["class"], "en": aliases, "name_is_alias": False})
    return entries


@dataclass(frozen=True)
class LexiconData:
    """key -> (label, value); key -> phrases matched case-insensitively (and on the lemma in Swedish);
    key -> phrases matched case-sensitively (short place codes, ORTH term patterns)."""

    values: dict[str, tuple[str, Any]]
    phrases: dict[str, list[str]]
    case_sensitive: dict[str, list[str]]


@lru_cache(maxsize=4)
def lexicon_data(substances: Path = DATA / "substances.yaml", tripsit: Path | None = DATA / "substances_tripsit.json",
                 places: Path = DATA / "places.yaml", terms: Path = DATA / "terms_patterns.jsonl") -> LexiconData:
    values: dict[str, tuple[str, Any]] = {}
    phrases: dict[str, list[str]] = {}
    case_sensitive: dict[str, list[str]] = {}
    for e in load_substances(substances, tripsit):
        key = "SUB|" + e["name"]
        values[key] = ("SUBSTANCE", {"name": e["name"], "class": e["class"]})
        names = [e["name"]] if e.get("name_is_alias", True) else []
        phrases[key] = [str(a) for a in [*names, *e.get("en", []), *e.get("sv", [])]]
    data = load_yaml(places)
    aliases: dict[str, set[str]] = {}
    for alias, code in normalise.place_aliases().items():
        aliases.setdefault(code, set()).add(alias)
    for code, names in aliases.items():
        key = "PLACE|" + code
        values[key] = ("PLACE", {"code": code})
        for a in names:
            if len(a) <= 3 and a.replace(".", "").isalpha():
                case_sensitive.setdefault(key, []).append(a.upper())
            else:
                phrases.setdefault(key, []).append(a)
    for p in load_terms(terms):
        if "label" in p and not isinstance(p["pattern"], str):
            key = f"TERM|{p['label']}|{p['id']}"
            values[key] = (p["label"], p["id"])
            case_sensitive.setdefault(key, []).append(" ".join(t["ORTH"] for t in p["pattern"]))
    by_name = {e["name"]: {"name": e["name"], "class": e["class"]} for e in load_substances(substances, tripsit)}
    for w in street_names().get("weak", []):
        means = [by_name[m] for m in w["means"] if m in by_name]
        if not means:
            continue
        key = "WEAK|" + str(w["word"])
        values[key] = ("SUBSTANCE_WEAK", {**means[0], "means": means})
        (case_sensitive if w.get("case") else phrases).setdefault(key, []).append(str(w["word"]))
    values["SEPLACE"] = ("SE_PLACE", {"code": "SE"})
    phrases["SEPLACE"] = [str(p) for p in data.get("se_places", [])]
    edibles = load_edibles(substances)
    if edibles:
        known = {a.lower() for key, texts in phrases.items() if key.startswith("SUB|") for a in texts}
        value = {"name": edibles["name"], "class": edibles["class"]}
        values["EDIBLE|" + edibles["name"]] = ("EDIBLE", value)
        phrases["EDIBLE|" + edibles["name"]] = [str(a) for a in [*edibles.get("en", []), *edibles.get("sv", [])] if str(a).lower() not in known]
        values["EDIBLE_WEAK|" + edibles["name"]] = ("EDIBLE_WEAK", value)
        phrases["EDIBLE_WEAK|" + edibles["name"]] = [str(a) for a in edibles.get("weak", []) if str(a).lower() not in known]
    return LexiconData(values, phrases, case_sensitive)


@lru_cache(maxsize=4)
def load_edibles(curated: Path = DATA / "substances.yaml") -> dict[str, Any] | None:
    """The ``edibles`` group of substances.yaml: product words that mean cannabis only when the text
    names no substance (ResolverCore turns them into SUBSTANCE then, and drops them otherwise)."""
    return _substances_yaml(curated).get("edibles")


@lru_cache(maxsize=4)
def load_terms(terms: Path = DATA / "terms_patterns.jsonl") -> list[dict[str, Any]]:
    return [json.loads(line) for line in terms.read_text(encoding="utf-8").splitlines() if line.strip()]


FAST_TOKEN = re.compile(r"\w+|[^\w\s]")  # = sokhund.punct_tokenizer.v1


def lemma_relevant_words(lex: LexiconData | None = None) -> set[str]:
    """The lowercased words (and whole phrases) of the case-insensitive lexicon phrases: the only
    forms and lemmas the lemma table has to know (see build_lemmas.py)."""
    lex = lex or lexicon_data()
    words: set[str] = set()
    for texts in lex.phrases.values():
        for t in texts:
            low = t.lower()
            toks = FAST_TOKEN.findall(low)
            words.update(toks)
            words.add(" ".join(toks))
    return words


@lru_cache(maxsize=4)
def lemma_table(lang: str) -> dict[str, str] | None:
    """form -> lemma for ``lang`` (lowercased forms), from the derived table shipped in data/.
    Falls back to the full spacy-lookups-data table when no derived table exists for ``lang``."""
    path = LEMMA_FILES.get(lang)
    if path is not None and path.exists():
        table: dict[str, str] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                form, _, lemma = line.partition("\t")
                table[form] = lemma
        return table
    try:
        from extractors.build_lemmas import full_table

        return {form: lemma for form, lemma in full_table(lang).items() if form == form.lower()}
    except (ImportError, OSError):  # no spacy-lookups-data, or no table for this language
        return None


# ------------------------------------------------------------------ resolve

_SKIP = {",", "&", "/", "+", "and", "och", "or", "eller", "the", "all", "hela", "samt", "-", "(", ")", ":", "|",
         "inom", "in", "i", "whole", "most", "de", "flesta", "även", "also", "plus", "countries", "länder",
         "we", "vi", "ship", "skickar", "shipping", "frakt", "*", "only", "endast", "bara", "ochså"}
BARE_SHIP_TO = {"WW"}


class ResolverCore:
    def __init__(self, max_cue_distance: int = 8) -> None:
        self.max_cue_distance = max_cue_distance


    def resolve(self, text: str, cands: list[Cand]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Overlaps (longest wins, then PRIORITY), then roles for places. Returns (entities, bare places)."""
        kept: list[Cand] = []  # disjoint, sorted by start (and so by end)
        starts: list[int] = []
        for c in sorted(cands, key=lambda c: (-(c[1] - c[0]), -PRIORITY.get(c[2], 0), c[0])):
            if c[1] > c[0]:
                i = bisect.bisect_left(starts, c[1])  # kept[:i] start before c ends; kept[i - 1] ends last
                clash = i > 0 and kept[i - 1][1] > c[0]
            else:  # an empty span (never produced; kept for the general case)
                i = bisect.bisect_left(starts, c[0])
                clash = any(c[0] < k[1] and k[0] < c[1] for k in kept)
            if not clash:
                kept.insert(i, c)
                starts.insert(i, c[0])
        if not any(k[2] in ("SUBSTANCE", "EDIBLE", "EDIBLE_WEAK") for k in kept):
            kept = _with_nested_edibles(cands, kept)
        return self._roles(text, kept)

    def _roles(self, text: str, kept: list[Cand]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        out: list[dict[str, Any]] = []
        bare: list[dict[str, Any]] = []
        cues = [(s, e, lab) for s, e, lab, _ in kept if lab.startswith("CUE_")]
        place_spans = [(s, e) for s, e, lab, _ in kept if lab in ("PLACE", "SE_PLACE")]
        substances = [(s, e) for s, e, lab, _ in kept if lab == "SUBSTANCE"]
        edible = not substances and _edible_evidence(text, kept)
        for s, e, label, value in kept:
            if label.startswith("CUE_"):
                continue
            if label in ("EDIBLE", "EDIBLE_WEAK"):  # edible product words: cannabis only when no substance is named
                if not edible:
                    continue
                label = "SUBSTANCE"
            if label == "SUBSTANCE_WEAK" and substances:  # a weak street word next to a named substance
                continue
            if label in ("PLACE", "SE_PLACE"):
                code = value["code"]
                role = self._role(text, s, e, cues, place_spans, substances, code)
                if role is None and code in BARE_SHIP_TO:
                    role = "SHIP_TO"
                if role is None:
                    bare.append({"label": label, "start": s, "end": e, "text": text[s:e], "value": {"code": code}})
                    continue
                label, value = role, {"code": code}
            final = _final_value(label, value)
            if label == "PAYMENT" and negated(text, s, e):  # "Swish tas INTE emot": named, not offered
                final = {**final, "negated": True}
            out.append({"label": _final_label(label, value), "start": s, "end": e, "text": text[s:e], "value": final})
        return out, bare

    def _role(self, text: str, s: int, e: int, cues: list[tuple[int, int, str]], places: list[tuple[int, int]],
              substances: list[tuple[int, int]], code: str) -> str | None:
        after = text[e : e + 40]
        # forward first: "Sweden only", "UK Delivery Only", "Sverige endast", "EU shipping"
        if re.match(r"\s*[\-(\[,]?\s*(?:delivery|shipping|leverans|frakt)?\s*(?:only|endast|bara)\b", after, re.I):
            return "SHIP_TO"
        if re.match(r"\s*(?:shipping|delivery|leverans|frakt)\b(?!\s*(?:from|från))", after, re.I) and code in ("EU", "WW", "NORDIC"):
            return "SHIP_TO"
        # walk back over separators and other places to the nearest cue
        pos = s
        near_cues = [c for c in cues if s - 80 <= c[1] <= s]
        near_places = [p for p in places if s - 80 <= p[1] <= s]
        for _ in range(self.max_cue_distance):
            cue = next((c for c in near_cues if c[1] <= pos and pos - c[1] <= 12 and _GAP.fullmatch(text, c[1], pos)), None)
            if cue:
                if cue[2] == "CUE_FROM":
                    if code == "WW":
                        return "SHIP_TO"
                    # "hasch från Marocko": the product's origin, not where it ships from
                    if any(cue[0] - 3 <= sub_e <= cue[0] and not text[sub_e : cue[0]].strip() for _, sub_e in substances):
                        return None
                    return "SHIP_FROM"
                return "SHIP_TO"
            prev = next((p for p in near_places if p[1] <= pos and pos - p[1] <= 12 and _GAP.fullmatch(text, p[1], pos)), None)
            if prev:
                pos = prev[0]
                continue
            j = pos
            while j > 0 and text[j - 1].isspace():
                j -= 1
            k = j
            while k > 0 and not text[k - 1].isspace() and j - k < 40:
                k -= 1
            word = text[k:j]
            if not word or (word.lower().strip(".,") not in _SKIP and not re.fullmatch(r"[^\w]+", word)):
                break
            pos = k
        # "Sverige till Sverige", "SE -> EU"
        nxt = next((c for c in cues if e <= c[0] <= e + 5 and not text[e : c[0]].strip(" \t-")), None)
        if nxt and nxt[2] == "CUE_TO" and any(nxt[1] <= p[0] <= nxt[1] + 5 and not text[nxt[1] : p[0]].strip(" \t:") for p in places):
            return "SHIP_FROM"
        if re.match(r"\s*(?:->|→|=>|➡)\s*", after) and any(p[0] > e and p[0] - e < 8 for p in places):
            return "SHIP_FROM"
        if re.search(r"(?:->|→|=>|➡)\s*$", text[max(0, s - 5) : s]):
            return "SHIP_TO"
        return None


_GAP = re.compile(r"[\s,;&/+|]*")


def _with_nested_edibles(cands: list[Cand], kept: list[Cand]) -> list[Cand]:
    """An edible word that is the unit of a count ("10 gummies", "5 cookies") loses its span to the
    QUANTITY; with no other substance evidence it is kept as well, inside the quantity's span."""
    nested = [c for c in cands if c[2] in ("EDIBLE", "EDIBLE_WEAK") and any(
        k[2] == "QUANTITY" and k[3].get("count") is not None and k[0] <= c[0] and c[1] == k[1] for k in kept)]
    return sorted([*kept, *nested], key=lambda c: c[0]) if nested else kept


def _edible_evidence(text: str, kept: list[Cand]) -> bool:
    """Edible words are enough evidence of cannabis: a strong one, or a weak one with a second edible
    word or a milligram dose (see the ``edibles`` group of substances.yaml)."""
    if any(lab == "EDIBLE" for _, _, lab, _ in kept):
        return True
    weak = {text[s:e].lower() for s, e, lab, _ in kept if lab == "EDIBLE_WEAK"}
    if not weak:
        return False
    if len(weak) >= 2:
        return True
    for _, _, lab, value in kept:
        if lab == "QUANTITY" and (value.get("unit") == "mg" or (value.get("dose") or {}).get("unit") == "mg"):
            return True
    return False


def _final_label(label: str, value: Any) -> str:
    return label


def _final_value(label: str, value: Any) -> Any:
    if label == "SHIPPING" and isinstance(value, str):
        kind, _, val = value.partition(":")
        return {"kind": kind, "value": val}
    if label == "PAYMENT" and isinstance(value, str):
        return {"method": value}
    if label == "CONTACT" and isinstance(value, str):
        return {"kind": value, "value": None}
    return value


# ------------------------------------------------------------------ fast path for titles


class FastTitlePath:
    """The same patterns, lexicons and resolver as the spaCy pipeline, without spaCy: a regex
    tokenizer (= sokhund.punct_tokenizer.v1) and n-gram lookups in dicts built from the same data
    files. Used for titles (short texts, ≥ 5,000/s on one core); its agreement with the spaCy path is
    tested in tests/extractors/test_extract_pipeline.py."""

    def __init__(self, lang: str, terms: Path = DATA / "terms_patterns.jsonl", patterns: PatternFinder | None = None,
                 resolver: ResolverCore | None = None) -> None:
        lex = lexicon_data(terms=terms)
        self.patterns = patterns or PatternFinder()
        self.resolver = resolver or ResolverCore()
        self.prefixes: set[str] = set()
        self.lemmas = lemma_table(lang) if lang in LEMMA_LANGS else None
        self.lower: dict[str, tuple[str, Any]] = {}
        self.exact: dict[str, tuple[str, Any]] = {}
        for key, texts in lex.phrases.items():
            label, value = lex.values[key]
            for t in texts:
                self._add(self.lower, t.lower(), (label, value))
        for key, texts in lex.case_sensitive.items():
            label, value = lex.values[key]
            for t in texts:
                self._add(self.exact, t, (label, value))
        for p in load_terms(terms):
            if "label" not in p:
                continue
            if isinstance(p["pattern"], str):
                self._add(self.lower, p["pattern"].lower(), (p["label"], p["id"]), overwrite=False)
            else:
                self._add(self.exact, " ".join(t["ORTH"] for t in p["pattern"]), (p["label"], p["id"]), overwrite=False)

    def _add(self, table: dict[str, tuple[str, Any]], phrase: str, item: tuple[str, Any], overwrite: bool = True) -> None:
        toks = FAST_TOKEN.findall(phrase)
        key = " ".join(toks)
        if not key:
            return
        for n in range(1, len(toks)):
            self.prefixes.add(" ".join(toks[:n]))
        if overwrite or key not in table:
            table[key] = item

    def __call__(self, text: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
        cands, flags = self.patterns.find(text)
        toks = FAST_TOKEN.findall(text)
        spans = [m.span() for m in FAST_TOKEN.finditer(text)]
        low = [t.lower() for t in toks]
        lower, prefixes, exact, lemmas = self.lower, self.prefixes, self.exact, self.lemmas
        n_tok = len(toks)
        for i in range(n_tok):
            key = low[i]
            n = 1
            while True:  # walk the phrase prefixes (a trie over token sequences)
                hit = lower.get(key)
                if hit is not None:
                    cands.append((spans[i][0], spans[i + n - 1][1], hit[0], hit[1]))
                if i + n >= n_tok or key not in prefixes:
                    break
                key = key + " " + low[i + n]
                n += 1
            hit = exact.get(toks[i])
            if hit is not None:
                cands.append((spans[i][0], spans[i][1], hit[0], hit[1]))
            elif lemmas is not None and low[i] not in lower:
                lemma = lemmas.get(low[i])
                hit = lower.get(lemma.lower()) if lemma else None
                if hit is not None and hit[0] in ("SUBSTANCE", "EDIBLE", "EDIBLE_WEAK", "PLACE", "SE_PLACE"):
                    cands.append((spans[i][0], spans[i][1], hit[0], hit[1]))
        entities, places = self.resolver.resolve(text, cands)
        return entities, places, flags
