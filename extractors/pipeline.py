"""``SpacyExtractor``: the Extractor of extractors/base.py, one spaCy pipeline per language.

    from extractors.base import ExtractRequest
    from extractors.pipeline import SpacyExtractor

    ex = SpacyExtractor()
    [result] = ex.extract([ExtractRequest("5g kola 1 200 kr, skickas från Sverige", date="2024-03-01")])

Pipelines are built once per process (lazily, per language) and run with ``nlp.pipe`` in batches.
Titles take the fast path (extractors/matching.py: the same data and rules, no spaCy), so a worker
that only sees titles never imports spaCy.
Every text goes through hygiene (NFKC, zero-width, decoration, homoglyphs, length bound); entity
offsets are reported against the original text. ``extract`` never raises on bad text: a failing text
yields the empty contract shape with a flag.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import Any

from extractors import lang as langid
from extractors.base import ExtractRequest, empty_result
from extractors.context import confirm_weak
from extractors.summary import summarise
from extractors.text import clean, map_span

log = logging.getLogger(__name__)

MAX_CHARS = 20_000
FAST_MAX_CHARS = 400  # titles longer than this go through spaCy
PIPELINE_LANGS = ("sv", "en")


class SpacyExtractor:
    def __init__(self, rates: Any = "default", max_chars: int = MAX_CHARS, batch_size: int = 256,
                 use_langdetect: bool = True, fast_titles: bool = True) -> None:
        self.fast_titles = fast_titles
        self._fast: dict[str, Any] = {}
        self.max_chars = max_chars
        self.batch_size = batch_size
        self.use_langdetect = use_langdetect
        self._nlp: dict[str, Any] = {}
        if rates == "default":
            try:
                from extractors.rates import RateTable

                rates = RateTable.default()
            except Exception as exc:  # no table shipped: conversions are flagged, never guessed
                log.warning("no exchange-rate table: %s", exc)
                rates = None
        self.rates = rates

    def nlp(self, lang: str) -> Any:
        if lang not in self._nlp:
            from extractors.components import build_pipeline

            self._nlp[lang] = build_pipeline(lang)
        return self._nlp[lang]

    def warm(self, langs: tuple[str, ...] = PIPELINE_LANGS) -> None:
        """Build the pipelines and title paths now (a crawl calls this before its first page, so the
        seconds spaCy takes to load do not stall the downloads in the middle of the crawl)."""
        for lang in langs:
            self.nlp(lang)
            self.fast(lang)
        if self.use_langdetect:
            langid.warm()

    def extract(self, requests: list[ExtractRequest], cache: Any = None) -> list[dict[str, Any]]:
        """One result per request. With ``cache`` (extractors.cache.ExtractCache), texts seen before are
        not run through the NLP again, and the same text twice in one batch is extracted once."""
        results: list[dict[str, Any] | None] = [None] * len(requests)
        keys: list[str] = []
        todo = list(range(len(requests)))
        if cache is not None:
            variant = f"{self.max_chars}:{self.use_langdetect:d}:{self.fast_titles:d}"  # settings that change results
            keys = [cache.key(r.text if isinstance(r.text, str) else str(r.text or ""), f"{r.kind}:{variant}", r.lang)
                    for r in requests]
            known = cache.get_many(keys)
            first: set[str] = set()
            todo = []
            for i, (req, key) in enumerate(zip(requests, keys, strict=True)):
                if key in known:
                    results[i] = self._from_parts(req, known[key])
                elif key not in first:
                    first.add(key)
                    todo.append(i)
            cache.hits += len(requests) - len(todo)
            cache.misses += len(todo)
        if todo:
            parts: dict[int, dict[str, Any]] = {}
            fresh = self._extract([requests[i] for i in todo], parts)
            for slot, i in enumerate(todo):
                results[i] = fresh[slot]
            if cache is not None:
                cache.put_many({keys[todo[slot]]: json.dumps(part, ensure_ascii=False) for slot, part in parts.items()})
                found = {keys[todo[slot]]: part for slot, part in parts.items()}
                again = []
                for i, req in enumerate(requests):
                    if results[i] is None:  # the same text as an earlier request of this batch
                        if keys[i] in found:
                            results[i] = self._from_parts(req, json.loads(json.dumps(found[keys[i]])))
                        else:  # that one failed: try this one on its own
                            again.append(i)
                if again:
                    for i, result in zip(again, self._extract([requests[i] for i in again], {}), strict=True):
                        results[i] = result
        return [r if r is not None else empty_result(q.text, q.lang) for r, q in zip(results, requests, strict=True)]

    def _from_parts(self, req: ExtractRequest, part: dict[str, Any]) -> dict[str, Any]:
        """A result from what the NLP found on the same text earlier (the cache)."""
        return self._finish(req, part["entities"], part["places"], list(part["flags"]), part["lang"])

    def _extract(self, requests: list[ExtractRequest], parts: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
        """Run the NLP; ``parts`` gets, per request extracted without error, what the cache keeps."""
        prepared: list[tuple[str, list[int] | None, list[str], str | None, str]] = []
        for req in requests:
            flags: list[str] = []
            try:
                text = req.text if isinstance(req.text, str) else str(req.text or "")
                cleaned, offsets, truncated = clean(text, self.max_chars)
                if truncated:
                    flags.append(f"truncated: text cut at {self.max_chars} characters")
                if req.kind == "title":
                    lang = langid.detect(cleaned, req.lang, use_langdetect=False)
                else:
                    lang = langid.detect(cleaned, req.lang, use_langdetect=self.use_langdetect)
            except Exception as exc:  # never crash on one text
                cleaned, offsets, lang = "", None, req.lang
                flags.append(f"error: {type(exc).__name__}: {exc}")
            pipe = lang if lang in PIPELINE_LANGS else "en"
            prepared.append((cleaned, offsets, flags, lang, pipe))

        results: list[dict[str, Any] | None] = [None] * len(requests)
        if self.fast_titles:
            for i, req in enumerate(requests):
                if req.kind == "title" and len(prepared[i][0]) <= FAST_MAX_CHARS:
                    cleaned, offsets, flags, lang, pipe = prepared[i]
                    try:
                        ents, places, more = self.fast(pipe)(cleaned)
                        results[i] = self._build(req, ents, places, offsets, [*flags, *more], lang, parts, i)
                    except Exception as exc:
                        log.exception("extraction failed")
                        results[i] = self._failed(req, flags, lang, exc)
        for pipe in PIPELINE_LANGS:
            idx = [i for i, p in enumerate(prepared) if p[4] == pipe and results[i] is None]
            if not idx:
                continue
            nlp = self.nlp(pipe)
            docs = nlp.pipe((self._make_doc(nlp, prepared[i][0]) for i in idx), batch_size=self.batch_size)
            for i in idx:
                req = requests[i]
                cleaned, offsets, flags, lang, _ = prepared[i]
                try:
                    doc = next(docs)
                    results[i] = self._result(req, doc, offsets, flags, lang, parts, i)
                except StopIteration:
                    break
                except Exception as exc:
                    log.exception("extraction failed")
                    results[i] = self._failed(req, flags, lang, exc)
        return [r if r is not None else empty_result(q.text, q.lang) for r, q in zip(results, requests, strict=True)]

    @staticmethod
    def _make_doc(nlp: Any, text: str) -> Any:
        doc = nlp.make_doc(text)
        doc.user_data["sk_text"] = text
        return doc

    def fast(self, lang: str) -> Any:
        """The fast title path for ``lang``: the same data and rules without spaCy (spaCy is imported
        only when a description, post or long title needs a pipeline)."""
        if lang not in self._fast:
            from extractors.matching import FastTitlePath

            self._fast[lang] = FastTitlePath(lang)
        return self._fast[lang]

    @staticmethod
    def _failed(req: ExtractRequest, flags: list[str], lang: str | None, exc: Exception) -> dict[str, Any]:
        res = empty_result(req.text if isinstance(req.text, str) else "", lang)
        res["summary"]["flags"] = [*flags, f"error: {type(exc).__name__}: {exc}"]
        return res

    def _result(self, req: ExtractRequest, doc: Any, offsets: list[int] | None, flags: list[str], lang: str | None,
                parts: dict[int, dict[str, Any]] | None = None, slot: int = -1) -> dict[str, Any]:
        flags = list(flags) + list(doc._.sk_flags or [])
        return self._build(req, doc._.sk_entities or [], doc._.sk_places or [], offsets, flags, lang, parts, slot)

    def _build(self, req: ExtractRequest, ents: list[dict[str, Any]], bare: list[dict[str, Any]], offsets: list[int] | None,
               flags: list[str], lang: str | None, parts: dict[int, dict[str, Any]] | None = None,
               slot: int = -1) -> dict[str, Any]:
        text = req.text if isinstance(req.text, str) else str(req.text or "")
        entities = []
        for e in ents:
            s, t = map_span(offsets, e["start"], e["end"])
            entities.append({"label": e["label"], "start": s, "end": t, "text": text[s:t], "value": e["value"]})
        places = []
        for p in bare:
            s, t = map_span(offsets, p["start"], p["end"])
            places.append({**p, "start": s, "end": t, "text": text[s:t]})
        if parts is not None:
            # what the NLP found, as JSON sees it (a copy: later steps must not change the cached value)
            parts[slot] = json.loads(json.dumps({"lang": lang, "entities": entities, "places": places,
                                                 "flags": flags}, ensure_ascii=False))
        return self._finish(req, entities, places, flags, lang)

    def _finish(self, req: ExtractRequest, entities: list[dict[str, Any]], places: list[dict[str, Any]],
                flags: list[str], lang: str | None) -> dict[str, Any]:
        """What depends on the request, not only on its text: weak matches confirmed by the kind and the
        category, and the summary at the observation date's exchange rates."""
        text = req.text if isinstance(req.text, str) else str(req.text or "")
        entities = confirm_weak(entities, req.kind, req.category)
        result: dict[str, Any] = {"text": text, "lang": lang, "entities": entities, "_places": places}
        result["summary"] = summarise(result, req.date, self.rates, flags)
        del result["_places"]
        return result


@lru_cache(maxsize=1)
def default_spacy_extractor() -> SpacyExtractor:
    return SpacyExtractor()
