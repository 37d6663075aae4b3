"""Registered spaCy components of the Sökhund pipelines (config defaults point at extractors/data/).

Pipeline (both languages, built from ``spacy.blank``)::

    [sokhund_lemma_norm (sv only)] -> sokhund_patterns -> sokhund_lexicon -> sokhund_terms -> sokhund_resolve

- ``sokhund_patterns``: regular expressions for PRICE, QUANTITY, CRYPTO_ADDRESS (checksum-validated),
  PGP_KEY (armored blocks parsed with PGPy; full fingerprints in text) and CONTACT handles.
- ``sokhund_lexicon``: PhraseMatchers for substances and places (LOWER; NORM = lemma in Swedish).
- ``sokhund_terms``: spaCy's SpanRuler (the span-based entity ruler) with ``terms_patterns.jsonl`` (SHIPPING, PAYMENT, CONTACT
  channel words, and the cues that give places their role).
- ``sokhund_resolve``: overlaps, ship-from/ship-to roles, final ``doc.spans["sokhund"]`` and ``doc._.sk_entities``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc, Span
from spacy.util import filter_spans, registry

from extractors import crypto, normalise, pgp

DATA = Path(__file__).parent / "data"

if not Doc.has_extension("sk_cands"):
    Doc.set_extension("sk_cands", default=None)
    Doc.set_extension("sk_entities", default=None)
    Doc.set_extension("sk_places", default=None)
    Doc.set_extension("sk_flags", default=None)

TERMS_KEY = "sokhund_terms"
ENTS_KEY = "sokhund"
OUTPUT_LABELS = (
    "SUBSTANCE", "QUANTITY", "PRICE", "SHIP_FROM", "SHIP_TO", "SHIPPING", "PAYMENT", "CONTACT",
    "CRYPTO_ADDRESS", "PGP_KEY",
)
# Higher wins when spans of the same length overlap.
PRIORITY = {"PGP_KEY": 9, "CRYPTO_ADDRESS": 8, "CONTACT": 7, "PRICE": 6, "QUANTITY": 5, "SUBSTANCE": 4,
            "PLACE": 3, "SHIPPING": 3, "PAYMENT": 2, "CUE_FROM": 1, "CUE_TO": 1, "CUE_ONLY": 1}

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


def doc_text(doc: Doc) -> str:
    """``doc.text`` rebuilds the string token by token; the extractor passes it in ``user_data``."""
    text = doc.user_data.get("sk_text")
    return text if isinstance(text, str) else doc.text


def _load_words() -> frozenset[str]:
    data = yaml.safe_load((DATA / "lang_stopwords.yaml").read_text(encoding="utf-8"))
    return frozenset(data["sv"]) | frozenset(data["en"]) | {"me", "mig", "för", "om", "eller", "and", "for", "och"}


# ------------------------------------------------------------------ sokhund_patterns


@Language.factory(
    "sokhund_patterns",
    default_config={"pgp_blocks": True, "max_pgp_blocks": 10, "contacts": True},
)
def make_patterns(nlp: Language, name: str, pgp_blocks: bool, max_pgp_blocks: int, contacts: bool) -> PatternFinder:
    return PatternFinder(pgp_blocks, max_pgp_blocks, contacts)


class PatternFinder:
    def __init__(self, pgp_blocks: bool, max_pgp_blocks: int, contacts: bool) -> None:
        self.pgp_blocks = pgp_blocks
        self.max_pgp_blocks = max_pgp_blocks
        self.contacts = contacts
        self.words = _load_words()

    def __call__(self, doc: Doc) -> Doc:
        doc._.sk_cands, doc._.sk_flags = self.find(doc_text(doc))
        return doc

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
        for m in _CANNA_RE.finditer(text):  # THCookies, THCandy, Cannapops, Canna-Squares
            cands.append((m.start(), m.end(), "SUBSTANCE", {"name": "cannabis", "class": "cannabis"}))
        for q in normalise.find_quantities(text):
            cands.append((q.start, q.end, "QUANTITY", q.as_value()))
        if any(c.isdigit() for c in text):
            for a in crypto.find_addresses(text):
                cands.append((a.start, a.end, "CRYPTO_ADDRESS", a.as_value()))
            for s, e, fpr in pgp.find_fingerprints(text):
                cands.append((s, e, "PGP_KEY", {"fingerprint": fpr, "source": "text"}))
        if self.pgp_blocks and "-----BEGIN PGP" in text:
            for s, e, key, err in pgp.find_keys(text)[: self.max_pgp_blocks]:
                if key:
                    cands.append((s, e, "PGP_KEY", {**key, "source": "armored"}))
                else:
                    flags.append(f"pgp_unparsed: {err}")
        if self.contacts:
            cands.extend(self._contacts(text))
        for m in _CUE_CODE_RE.finditer(text):
            cue = m.group("cue").lower()
            code = m.group("code")
            if code == "NA" or (normalise.country_code(code) != code and code not in ("EU", "WW")):
                continue
            role = "SHIP_FROM" if cue.endswith(("from", "från")) else "SHIP_TO"
            cands.append((m.start("code"), m.end("code"), role, {"code": code}))
        return cands, flags

    def _contacts(self, text: str) -> list[Cand]:
        out: list[Cand] = []
        low = text.lower()
        if not any(k in low for k in ("wickr", "tele", "tg", "signal", "threema", "jabber", "xmpp", "session",
                                       "snap", "kik", "whatsapp", "post", "mail", "mejl", "@", "t.me")):
            return out
        taken: list[tuple[int, int]] = []
        matches = (_CONTACT_RE.match(text, k.start()) for k in _KIND_RE.finditer(text))
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
        for m in _EMAIL_RE.finditer(text):
            if any(s <= m.start() < e for s, e in taken):
                continue
            before = low[max(0, m.start() - 16) : m.start()]
            kind = "jabber" if ("jabber" in before or "xmpp" in before) else "email"
            out.append((m.start(), m.end(), "CONTACT", {"kind": kind, "value": m.group(0)}))
        for m in _TME_RE.finditer(text):
            out.append((m.start(), m.end(), "CONTACT", {"kind": "telegram", "value": "@" + m.group("h")}))
        for m in _SESSION_RE.finditer(text):
            if not any(s <= m.start() < e for s, e in taken):
                out.append((m.start(), m.end(), "CONTACT", {"kind": "session", "value": m.group(0)}))
        return out


# ------------------------------------------------------------------ sokhund_lemma_norm


@Language.factory("sokhund_lemma_norm", default_config={"lang": "sv", "table": "lemma_lookup"})
def make_lemma_norm(nlp: Language, name: str, lang: str, table: str) -> LemmaNorm:
    return LemmaNorm(lang, table)


class LemmaNorm:
    """Sets ``token.norm_`` to the lookup lemma (spacy-lookups-data), so the lexicon can also match
    inflected forms ("gräset" -> "gräs", "tabletter" -> "tablett")."""

    def __init__(self, lang: str, table: str) -> None:
        from spacy.lookups import load_lookups

        self.table = load_lookups(lang, [table]).get_table(table)
        self._cache: dict[str, str | None] = {}

    def __call__(self, doc: Doc) -> Doc:
        cache = self._cache
        for token in doc:
            low = token.lower_
            lemma = cache.get(low, "")
            if lemma == "":
                lemma = self.table.get(low)
                if len(cache) < 200_000:
                    cache[low] = lemma
            if lemma:
                token.norm_ = lemma.lower()
        return doc


# ------------------------------------------------------------------ sokhund_lexicon


def load_substances(curated: Path, tripsit: Path | None) -> list[dict[str, Any]]:
    entries = list(yaml.safe_load(curated.read_text(encoding="utf-8"))["substances"])
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


@Language.factory(
    "sokhund_lexicon",
    default_config={
        "substances": str(DATA / "substances.yaml"),
        "tripsit": str(DATA / "substances_tripsit.json"),
        "places": str(DATA / "places.yaml"),
        "match_norm": False,
    },
)
def make_lexicon(nlp: Language, name: str, substances: str, tripsit: str, places: str, match_norm: bool) -> Lexicon:
    return Lexicon(nlp, Path(substances), Path(tripsit) if tripsit else None, Path(places), match_norm)


class Lexicon:
    def __init__(self, nlp: Language, substances: Path, tripsit: Path | None, places: Path, match_norm: bool) -> None:
        self.values: dict[str, tuple[str, Any]] = {}
        self.lower = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.orth = PhraseMatcher(nlp.vocab, attr="ORTH")
        self.norm = PhraseMatcher(nlp.vocab, attr="NORM") if match_norm else None
        phrases: dict[str, list[str]] = {}
        case_sensitive: dict[str, list[str]] = {}
        for e in load_substances(substances, tripsit):
            key = "SUB|" + e["name"]
            self.values[key] = ("SUBSTANCE", {"name": e["name"], "class": e["class"]})
            names = [e["name"]] if e.get("name_is_alias", True) else []
            phrases[key] = [str(a) for a in [*names, *e.get("en", []), *e.get("sv", [])]]
        data = yaml.safe_load(places.read_text(encoding="utf-8"))
        aliases: dict[str, set[str]] = {}
        for alias, code in normalise.place_aliases().items():
            aliases.setdefault(code, set()).add(alias)
        for code, names in aliases.items():
            key = "PLACE|" + code
            self.values[key] = ("PLACE", {"code": code})
            for a in names:
                if len(a) <= 3 and a.replace(".", "").isalpha():
                    case_sensitive.setdefault(key, []).append(a.upper())
                else:
                    phrases.setdefault(key, []).append(a)
        for line in (DATA / "terms_patterns.jsonl").read_text(encoding="utf-8").splitlines():
            p = json.loads(line) if line.strip() else {}
            if "label" in p and not isinstance(p["pattern"], str):
                key = f"TERM|{p['label']}|{p['id']}"
                self.values[key] = (p["label"], p["id"])
                case_sensitive.setdefault(key, []).append(" ".join(t["ORTH"] for t in p["pattern"]))
        self.values["SEPLACE"] = ("SE_PLACE", {"code": "SE"})
        phrases["SEPLACE"] = [str(p) for p in data.get("se_places", [])]
        self.phrases = phrases
        self.case_sensitive = case_sensitive
        for key, texts in phrases.items():
            uniq = sorted({t for t in texts if t})
            docs = list(nlp.tokenizer.pipe(uniq))
            self.lower.add(key, docs)
            if self.norm is not None:
                self.norm.add(key, docs)
        for key, texts in case_sensitive.items():
            self.orth.add(key, list(nlp.tokenizer.pipe(sorted(set(texts)))))

    def __call__(self, doc: Doc) -> Doc:
        cands: list[Cand] = doc._.sk_cands if doc._.sk_cands is not None else []
        seen: set[tuple[int, int]] = set()
        matchers = [self.lower, self.orth] + ([self.norm] if self.norm is not None else [])
        vocab = doc.vocab.strings
        for matcher in matchers:
            for match_id, start, end in matcher(doc):
                if (start, end) in seen:
                    continue
                seen.add((start, end))
                label, value = self.values[vocab[match_id]]
                span = doc[start:end]
                cands.append((span.start_char, span.end_char, label, value))
        doc._.sk_cands = cands
        return doc


# ------------------------------------------------------------------ sokhund_resolve

_SKIP = {",", "&", "/", "+", "and", "och", "or", "eller", "the", "all", "hela", "samt", "-", "(", ")", ":", "|",
         "inom", "in", "i", "whole", "most", "de", "flesta", "även", "also", "plus", "countries", "länder",
         "we", "vi", "ship", "skickar", "shipping", "frakt", "*", "only", "endast", "bara", "ochså"}
BARE_SHIP_TO = {"WW"}


@Language.factory("sokhund_resolve", default_config={"max_cue_distance": 8, "write_spans": True})
def make_resolve(nlp: Language, name: str, max_cue_distance: int, write_spans: bool) -> Resolver:
    return Resolver(max_cue_distance, write_spans)


class Resolver:
    """Final entities go to ``doc._.sk_entities`` (dicts with char offsets and normalised values) and,
    as spaCy spans, to ``doc.spans["sokhund"]`` (not ``doc.ents``: rebuilding the token-level entity
    annotation costs more than the whole rest of the pipeline on long descriptions)."""

    def __init__(self, max_cue_distance: int, write_spans: bool = True) -> None:
        self.max_cue_distance = max_cue_distance
        self.write_spans = write_spans

    def __call__(self, doc: Doc) -> Doc:
        cands: list[Cand] = list(doc._.sk_cands or [])
        for span in doc.spans.get(TERMS_KEY, []):  # span ruler: SHIPPING / PAYMENT / CONTACT words and cues
            cands.append((span.start_char, span.end_char, span.label_, span.id_))
        entities, places = self.resolve(doc_text(doc), cands)
        doc._.sk_entities = entities
        doc._.sk_places = places
        if self.write_spans:
            spans = []
            for e in entities:
                span = doc.char_span(e["start"], e["end"], label=e["label"], alignment_mode="expand")
                if span is not None:
                    spans.append(span)
            doc.spans[ENTS_KEY] = filter_spans(spans)
        return doc

    def resolve(self, text: str, cands: list[Cand]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Overlaps (longest wins, then PRIORITY), then roles for places. Returns (entities, bare places)."""
        kept: list[Cand] = []
        for c in sorted(cands, key=lambda c: (-(c[1] - c[0]), -PRIORITY.get(c[2], 0), c[0])):
            if not any(c[0] < k[1] and k[0] < c[1] for k in kept):
                kept.append(c)
        kept.sort(key=lambda c: c[0])
        return self._roles(text, kept)

    def _roles(self, text: str, kept: list[Cand]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        out: list[dict[str, Any]] = []
        bare: list[dict[str, Any]] = []
        cues = [(s, e, lab) for s, e, lab, _ in kept if lab.startswith("CUE_")]
        place_spans = [(s, e) for s, e, lab, _ in kept if lab in ("PLACE", "SE_PLACE")]
        substances = [(s, e) for s, e, lab, _ in kept if lab == "SUBSTANCE"]
        for s, e, label, value in kept:
            if label.startswith("CUE_"):
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
            out.append({"label": _final_label(label, value), "start": s, "end": e, "text": text[s:e], "value": _final_value(label, value)})
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


@registry.tokenizers("sokhund.punct_tokenizer.v1")
def make_punct_tokenizer() -> Any:
    """Whitespace + every punctuation/symbol character as its own token. Four times faster than the
    language defaults on long market descriptions, and it is the tokenization the fast title path
    reproduces exactly. Prices, quantities, addresses and contacts come from regexes over the text,
    so they do not depend on it; lexicon phrases are tokenized the same way, so they match."""

    def create(nlp: Language) -> Tokenizer:
        return Tokenizer(
            nlp.vocab,
            prefix_search=re.compile(r"^[^\w\s]").search,
            suffix_search=re.compile(r"[^\w\s]$").search,
            infix_finditer=re.compile(r"[^\w\s]").finditer,
        )

    return create


def build_pipeline(lang: str, terms: Path = DATA / "terms_patterns.jsonl") -> Language:
    """A blank spaCy pipeline for ``lang`` with the Sökhund components."""
    import spacy

    nlp = spacy.blank(lang, config={"nlp": {"tokenizer": {"@tokenizers": "sokhund.punct_tokenizer.v1"}}})
    if lang == "sv":
        nlp.add_pipe("sokhund_lemma_norm")
    nlp.add_pipe("sokhund_patterns")
    nlp.add_pipe("sokhund_lexicon", config={"match_norm": lang == "sv"})
    ruler = nlp.add_pipe(
        "span_ruler",
        name="sokhund_terms",
        config={"spans_key": TERMS_KEY, "phrase_matcher_attr": "LOWER", "annotate_ents": False, "validate": False},
    )
    patterns = [json.loads(line) for line in terms.read_text(encoding="utf-8").splitlines() if line.strip()]
    # phrase patterns only: token patterns (case-sensitive ORTH, e.g. "Bring", "DD") are matched by the
    # lexicon's ORTH PhraseMatcher, which keeps spaCy's token Matcher (a per-token walk) out of the pipeline
    ruler.add_patterns([p for p in patterns if "label" in p and isinstance(p["pattern"], str)])  # type: ignore[attr-defined]
    nlp.add_pipe("sokhund_resolve")
    return nlp


__all__ = ["build_pipeline", "OUTPUT_LABELS", "Span"]


# ------------------------------------------------------------------ fast path for titles

_FAST_TOKEN = re.compile(r"\w+|[^\w\s]")  # = sokhund.punct_tokenizer.v1


class FastTitlePath:
    """The same patterns, lexicons and resolver as the spaCy pipeline, without spaCy's tokenizer:
    a regex tokenizer and n-gram lookups in dicts built from the same data files. Used for titles
    (short texts, ≥ 5,000/s on one core); its agreement with the spaCy path is measured in
    benchmarks/extract_eval.py (``fastpath``)."""

    def __init__(self, nlp: Language, terms: Path = DATA / "terms_patterns.jsonl") -> None:
        lexicon: Lexicon = nlp.get_pipe("sokhund_lexicon")  # type: ignore[assignment]
        self.patterns: PatternFinder = nlp.get_pipe("sokhund_patterns")  # type: ignore[assignment]
        self.resolver: Resolver = nlp.get_pipe("sokhund_resolve")  # type: ignore[assignment]
        self.prefixes: set[str] = set()
        self.lemmas = nlp.get_pipe("sokhund_lemma_norm").table if "sokhund_lemma_norm" in nlp.pipe_names else None  # type: ignore[attr-defined]
        self.lower: dict[str, tuple[str, Any]] = {}
        self.exact: dict[str, tuple[str, Any]] = {}
        for key, texts in lexicon.phrases.items():
            label, value = lexicon.values[key]
            for t in texts:
                self._add(self.lower, t.lower(), (label, value))
        for key, texts in lexicon.case_sensitive.items():
            label, value = lexicon.values[key]
            for t in texts:
                self._add(self.exact, t, (label, value))
        for line in terms.read_text(encoding="utf-8").splitlines():
            p = json.loads(line) if line.strip() else {}
            if "label" not in p:
                continue
            if isinstance(p["pattern"], str):
                self._add(self.lower, p["pattern"].lower(), (p["label"], p["id"]), overwrite=False)
            else:
                self._add(self.exact, " ".join(t["ORTH"] for t in p["pattern"]), (p["label"], p["id"]), overwrite=False)

    def _add(self, table: dict[str, tuple[str, Any]], phrase: str, item: tuple[str, Any], overwrite: bool = True) -> None:
        toks = _FAST_TOKEN.findall(phrase)
        key = " ".join(toks)
        if not key:
            return
        for n in range(1, len(toks)):
            self.prefixes.add(" ".join(toks[:n]))
        if overwrite or key not in table:
            table[key] = item

    def __call__(self, text: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
        cands, flags = self.patterns.find(text)
        toks = _FAST_TOKEN.findall(text)
        spans = [m.span() for m in _FAST_TOKEN.finditer(text)]
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
                if hit is not None and hit[0] in ("SUBSTANCE", "PLACE", "SE_PLACE"):
                    cands.append((spans[i][0], spans[i][1], hit[0], hit[1]))
        entities, places = self.resolver.resolve(text, cands)
        return entities, places, flags
