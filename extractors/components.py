"""Registered spaCy components of the Sökhund pipelines (config defaults point at extractors/data/).

Pipeline (both languages, built from ``spacy.blank``)::

    [sokhund_lemma_norm (sv only)] -> sokhund_patterns -> sokhund_lexicon -> sokhund_terms -> sokhund_resolve

- ``sokhund_patterns``: regular expressions for PRICE, QUANTITY, CRYPTO_ADDRESS (checksum-validated),
  PGP_KEY (armored blocks parsed with Sequoia-PGP; full fingerprints in text) and CONTACT handles.
- ``sokhund_lexicon``: PhraseMatchers for substances and places (LOWER; NORM = lemma in Swedish).
- ``sokhund_terms``: spaCy's SpanRuler (the span-based entity ruler) with ``terms_patterns.jsonl`` (SHIPPING, PAYMENT, CONTACT
  channel words, and the cues that give places their role).
- ``sokhund_resolve``: overlaps, ship-from/ship-to roles, final ``doc.spans["sokhund"]`` and ``doc._.sk_entities``.

The work itself is spaCy-free and lives in ``extractors/matching.py`` (shared with the fast title
path); this module adapts it to spaCy ``Doc`` objects.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc, Span
from spacy.util import filter_spans, registry

from extractors.matching import (  # noqa: F401 (re-exported for callers of the old module layout)
    DATA,
    ENTS_KEY,
    FAST_TOKEN,
    OUTPUT_LABELS,
    PRIORITY,
    TERMS_KEY,
    Cand,
    FastTitlePath,
    PatternFinder,
    ResolverCore,
    lemma_table,
    lexicon_data,
    load_substances,
    load_terms,
)

if not Doc.has_extension("sk_cands"):
    Doc.set_extension("sk_cands", default=None)
    Doc.set_extension("sk_entities", default=None)
    Doc.set_extension("sk_places", default=None)
    Doc.set_extension("sk_flags", default=None)


def doc_text(doc: Doc) -> str:
    """``doc.text`` rebuilds the string token by token; the extractor passes it in ``user_data``."""
    text = doc.user_data.get("sk_text")
    return text if isinstance(text, str) else doc.text


# ------------------------------------------------------------------ sokhund_patterns


@Language.factory(
    "sokhund_patterns",
    default_config={"pgp_blocks": True, "max_pgp_blocks": 10, "contacts": True},
)
def make_patterns(nlp: Language, name: str, pgp_blocks: bool, max_pgp_blocks: int, contacts: bool) -> PatternComponent:
    return PatternComponent(pgp_blocks, max_pgp_blocks, contacts)


class PatternComponent(PatternFinder):
    def __call__(self, doc: Doc) -> Doc:
        doc._.sk_cands, doc._.sk_flags = self.find(doc_text(doc))
        return doc


# ------------------------------------------------------------------ sokhund_lemma_norm


@Language.factory("sokhund_lemma_norm", default_config={"lang": "sv", "table": "lemma_lookup"})
def make_lemma_norm(nlp: Language, name: str, lang: str, table: str) -> LemmaNorm:
    return LemmaNorm(lang, table)


class LemmaNorm:
    """Sets ``token.norm_`` to the lookup lemma, so the lexicon can also match inflected forms
    ("gräset" -> "gräs", "tabletter" -> "tablett"). The table is ``data/sv_lemmas.txt``: the part of
    spacy-lookups-data's ``lemma_lookup`` that can change a lexicon match (see build_lemmas.py)."""

    def __init__(self, lang: str, table: str = "lemma_lookup") -> None:
        self.table: dict[str, str] = lemma_table(lang) or {}

    def __call__(self, doc: Doc) -> Doc:
        table = self.table
        for token in doc:
            lemma = table.get(token.lower_)
            if lemma:
                token.norm_ = lemma.lower()
        return doc


# ------------------------------------------------------------------ sokhund_lexicon


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


def _phrase_docs(nlp: Language, texts: list[str]) -> list[Doc]:
    """Phrase patterns as Docs, tokenized like sokhund.punct_tokenizer.v1 (= FAST_TOKEN) without
    running the tokenizer's affix search on every phrase."""
    docs = []
    for t in texts:
        words = FAST_TOKEN.findall(t)
        if words:
            docs.append(Doc(nlp.vocab, words=words))
    return docs


class Lexicon:
    def __init__(self, nlp: Language, substances: Path, tripsit: Path | None, places: Path, match_norm: bool) -> None:
        lex = lexicon_data(substances, tripsit, places)
        self.values = lex.values
        self.phrases = lex.phrases
        self.case_sensitive = lex.case_sensitive
        self.lower = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.orth = PhraseMatcher(nlp.vocab, attr="ORTH")
        self.norm = PhraseMatcher(nlp.vocab, attr="NORM") if match_norm else None
        for key, texts in self.phrases.items():
            docs = _phrase_docs(nlp, sorted({t for t in texts if t}))
            self.lower.add(key, docs)
            if self.norm is not None:
                self.norm.add(key, docs)
        for key, texts in self.case_sensitive.items():
            self.orth.add(key, _phrase_docs(nlp, sorted(set(texts))))


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


@Language.factory("sokhund_resolve", default_config={"max_cue_distance": 8, "write_spans": True})
def make_resolve(nlp: Language, name: str, max_cue_distance: int, write_spans: bool) -> Resolver:
    return Resolver(max_cue_distance, write_spans)


class Resolver(ResolverCore):
    """Final entities go to ``doc._.sk_entities`` (dicts with char offsets and normalised values) and,
    as spaCy spans, to ``doc.spans["sokhund"]`` (not ``doc.ents``: rebuilding the token-level entity
    annotation costs more than the whole rest of the pipeline on long descriptions)."""

    def __init__(self, max_cue_distance: int, write_spans: bool = True) -> None:
        super().__init__(max_cue_distance)
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
    patterns = load_terms(terms)
    # phrase patterns only: token patterns (case-sensitive ORTH, e.g. "Bring", "DD") are matched by the
    # lexicon's ORTH PhraseMatcher, which keeps spaCy's token Matcher (a per-token walk) out of the pipeline
    ruler.add_patterns([p for p in patterns if "label" in p and isinstance(p["pattern"], str)])  # type: ignore[attr-defined]
    nlp.add_pipe("sokhund_resolve")
    return nlp


__all__ = ["build_pipeline", "OUTPUT_LABELS", "Span"]


def fast_title_path(nlp: Language) -> FastTitlePath:
    """The fast title path sharing ``nlp``'s pattern and resolver components (kept for callers that
    hold a pipeline; SpacyExtractor builds FastTitlePath without spaCy)."""
    return FastTitlePath(nlp.lang, patterns=nlp.get_pipe("sokhund_patterns"), resolver=nlp.get_pipe("sokhund_resolve"))  # type: ignore[arg-type]
