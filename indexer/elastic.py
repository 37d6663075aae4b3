"""Elasticsearch backend (official ``elasticsearch`` 8.x client; works with ES 8 natively and ES 9 via
its REST compatibility for ``compatible-with=8``).

* One index template per kind, named ``<prefix>-<kind>``: a Swedish analyzer on free-text fields (each
  with a ``.keyword`` sub-field), ``keyword`` for strings, ``date`` for dates, numbers as numbers;
  ``dynamic: false`` so stray fields are kept in ``_source`` but never explode the mapping. The analyzer
  follows what the cluster can run (one ``_analyze`` probe by the writer): with analysis-common,
  lowercase + asciifolding (``preserve_original``) + the Swedish stemmer; without it (core-only builds
  such as the Maven integ-test-zip), lowercase + Swedish stopwords plus folded ``<field>__fold`` copies
  written by us, so diacritics still fold like SQLite's ``remove_diacritics 2``.
* Observations (``listing_observation``, ``vendor_observation``) are data streams with a data-stream
  lifecycle (``data_retention``): append-only, bulk ``create`` ops with the deterministic id (a re-sent
  observation answers 409, which counts as done) and ``@timestamp`` = ``observed_at``. Every other kind
  is a plain index written with bulk ``index`` ops by deterministic id (an upsert). Indices and data
  streams are created by the first write from their template: no ``_data_stream`` API is used.
* Reads never write (a read-only user or API key is enough; a missing index reads as empty). The writer
  installs templates on its first call and replays the spool.
* Writes go through the client's ``streaming_bulk`` (429/5xx items retried with backoff); a lost
  connection is retried, then the documents go to a JSONL spool under ``<home>/spool`` and are replayed,
  oldest first, by the next write, so nothing is lost and, ids being deterministic, nothing is
  duplicated. Documents the cluster refuses are reported one by one (:class:`Rejection`) and kept aside.
* Credentials (API key, basic auth, CA file) come from the environment or arguments and never appear in
  messages: :attr:`ElasticBackend.url` is the URL without user info.
* Search, terms and date histograms follow the SQLite backend's semantics (see ``indexer.query``).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, Elasticsearch
from elasticsearch.helpers import streaming_bulk

from indexer.base import IndexError_, SearchFilters, SearchHit
from indexer.models import ALL_KINDS, Document
from indexer.query import Clause, Term, check_interval, date_bounds, expand_terms, parse_query
from indexer.schema import (
    FLATTENED_FIELDS,
    OBJECT_LISTS,
    TIME_SERIES,
    KindSchema,
    check_field,
    doc_to_dict,
    schema_for,
)

log = logging.getLogger("sokhund.indexer.elastic")

ANALYZER = "sokhund_swedish"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
RETRY_ITEM_STATUSES = (429, 500, 502, 503, 504)  # per bulk item: retried by streaming_bulk, then spooled
BULK_CHUNK = 2000
BULK_BYTES = 50 * 2**20
# Reads of an index or data stream that does not exist yet answer empty instead of 404: reads never
# create anything, so before the first crawl there is simply nothing.
_MISSING_OK: dict[str, Any] = {"ignore_unavailable": True, "allow_no_indices": True}
T = TypeVar("T")
_counter = itertools.count()
_DETECTED: dict[str, str] = {}  # cluster URL -> analysis mode, probed once per process


# ---------------------------------------------------------------------- templates
# Which analyzer chain the cluster can run. "full" needs the analysis-common module (every production
# distribution has it); "basic" is what core Elasticsearch alone offers (the Maven integ-test-zip used
# by ``sokhund es up``): no stemming and no diacritic folding, Swedish stopwords instead.
ANALYSIS_MODES = ("full", "basic")


def analysis_settings(mode: str = "full") -> dict[str, Any]:
    if mode == "basic":
        return {
            "filter": {"sokhund_sv_stop": {"type": "stop", "stopwords": "_swedish_"}},
            "analyzer": {
                ANALYZER: {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "sokhund_sv_stop"]}
            },
        }
    if mode != "full":
        raise ValueError(f"analysis mode must be one of {ANALYSIS_MODES}, not {mode!r}")
    return {
        "filter": {
            "sokhund_folding": {"type": "asciifolding", "preserve_original": True},
            "sokhund_sv_stemmer": {"type": "stemmer", "language": "swedish"},
        },
        "analyzer": {
            ANALYZER: {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["lowercase", "sokhund_folding", "sokhund_sv_stemmer"],
            }
        },
    }


def detect_analysis(client: Elasticsearch) -> str | None:
    """``full`` when the cluster can run the Swedish stemmer and asciifolding, ``basic`` when it says it
    cannot (a 400 naming the missing filter), None when it would not say (a user without the analyze
    privilege, an older proxy, a fake): then a production cluster is assumed and a template it cannot
    take fails loudly on install."""
    try:
        client.indices.analyze(
            tokenizer="standard",
            filter=["lowercase", {"type": "asciifolding"}, {"type": "stemmer", "language": "swedish"}],
            text="kvalitén",
        )
    except ApiError as exc:
        if exc.meta.status == 400 and "filter" in str(exc):
            return "basic"
        return None
    return "full"


# In "basic" mode the cluster cannot fold diacritics, so the writer indexes a folded copy of each text
# field (``title__fold`` …, folded in Python like SQLite's ``remove_diacritics 2``) and every query also
# searches those copies with folded words. Readers need not know the mode: a copy that is not mapped is
# simply never matched.
FOLD_SUFFIX = "__fold"


def fold(text: str) -> str:
    """Lowercase without diacritics: ``Högsta kvalité`` -> ``hogsta kvalite``."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def mapping_for(kind: str, analysis: str = "full") -> dict[str, Any]:
    schema = schema_for(kind)
    props: dict[str, Any] = {"id": {"type": "keyword"}}
    for info in schema.fields.values():
        if info.name == "id":
            continue
        if info.name in schema.text_fields:
            props[info.name] = {
                "type": "text",
                "analyzer": ANALYZER,
                "fields": {"keyword": {"type": "keyword", "ignore_above": 512}},
            }
        elif info.kind == "dict":
            props[info.name] = (
                {"type": "flattened", "ignore_above": 1024}
                if info.name in FLATTENED_FIELDS
                else {"type": "object", "enabled": False}
            )
        elif info.kind == "list":
            # lists of strings are keywords; lists of dicts (shipping, contacts, evidence) are kept unindexed
            props[info.name] = (
                {"type": "keyword", "ignore_above": 1024}
                if info.name not in OBJECT_LISTS
                else {"type": "object", "enabled": False}
            )
        elif info.is_date:
            props[info.name] = {"type": "date", "ignore_malformed": True}
        elif info.kind == "float":
            props[info.name] = {"type": "double"}
        elif info.kind == "int":
            props[info.name] = {"type": "long"}
        elif info.kind == "bool":
            props[info.name] = {"type": "boolean"}
        else:
            props[info.name] = {"type": "keyword", "ignore_above": 1024}
    if analysis == "basic":
        for name in schema.text_fields:
            props[name + FOLD_SUFFIX] = {"type": "text", "analyzer": ANALYZER}
    if kind in TIME_SERIES:
        props["@timestamp"] = {"type": "date"}
    return {"dynamic": False, "properties": props}


def index_name(prefix: str, kind: str) -> str:
    return f"{prefix}-{kind}"


# How long observation data streams keep their data (data-stream lifecycle ``data_retention``).
DEFAULT_RETENTION = "730d"


def index_templates(
    prefix: str = "sokhund", analysis: str = "full", retention: str | None = DEFAULT_RETENTION
) -> dict[str, dict[str, Any]]:
    """Template name -> body for ``PUT _index_template/<name>``, one per kind. Observation data streams
    get a data-stream lifecycle that deletes data older than ``retention`` (None: keep forever)."""
    out: dict[str, dict[str, Any]] = {}
    for kind in ALL_KINDS:
        body: dict[str, Any] = {
            "index_patterns": [index_name(prefix, kind)],
            "priority": 500,
            "template": {
                "settings": {
                    "number_of_shards": 1,
                    "auto_expand_replicas": "0-1",
                    "analysis": analysis_settings(analysis),
                },
                "mappings": mapping_for(kind, analysis),
            },
            "_meta": {"managed_by": "sokhund", "kind": kind},
        }
        if kind in TIME_SERIES:
            body["data_stream"] = {}
            if retention:
                body["template"]["lifecycle"] = {"data_retention": retention}
        out[index_name(prefix, kind)] = body
    return out


# ---------------------------------------------------------------------- query DSL
def _es_field(schema: KindSchema, name: str) -> str:
    """Exact-match name of a field: text fields are matched on their ``.keyword`` sub-field."""
    check_field(name)
    return f"{name}.keyword" if name in schema.text_fields else name


def filter_clauses(schema: KindSchema, filters: SearchFilters | None) -> tuple[list[dict], list[dict]]:
    """(filter, must_not) clauses for a bool query."""
    out: list[dict[str, Any]] = []
    must_not: list[dict[str, Any]] = []
    if filters is None:
        return out, must_not

    def match(name: str, value: Any) -> None:
        field = _es_field(schema, name)
        if isinstance(value, list | tuple | set | frozenset):
            out.append({"terms": {field: list(value)}})
        else:
            out.append({"term": {field: value}})

    for name in ("site", "vendor", "substance", "substance_class", "ships_from"):
        value = getattr(filters, name)
        if value is not None:
            match(name, value)
    for name, value in (filters.extra or {}).items():
        if value is None:
            must_not.append({"exists": {"field": _es_field(schema, name)}})
        else:
            match(name, value)
    price: dict[str, float] = {}
    if filters.price_min is not None:
        price["gte"] = float(filters.price_min)
    if filters.price_max is not None:
        price["lte"] = float(filters.price_max)
    if price:
        out.append({"range": {"price_sek": price}})
    gte, lt, lte = date_bounds(filters)
    rng = {k: v for k, v in (("gte", gte), ("lt", lt), ("lte", lte)) if v}
    if rng:
        out.append({"range": {schema.date_field(filters.date_field): rng}})
    return out, must_not


def _text_fields(schema: KindSchema) -> list[str]:
    names = [*schema.text_fields, *(n + FOLD_SUFFIX for n in schema.text_fields)]
    weights = [*schema.text_fields.values(), *schema.text_fields.values()]
    return [f"{name}^{weight:g}" if weight != 1 else name for name, weight in zip(names, weights, strict=True)]


def _term_clause(fields: list[str], term: Term) -> dict[str, Any]:
    text = fold(" ".join(term.words))  # folded: matches the folding analyzer and the __fold copies
    if term.prefix:
        return {"multi_match": {"query": text, "fields": fields, "type": "phrase_prefix", "max_expansions": 200}}
    if term.is_phrase:
        return {"multi_match": {"query": text, "fields": fields, "type": "phrase"}}
    return {"multi_match": {"query": text, "fields": fields, "type": "best_fields"}}


def text_clauses(schema: KindSchema, terms: list[Term] | list[Clause]) -> list[dict[str, Any]]:
    """One clause per term (all must match): word, phrase, or prefix, over the weighted text fields. An
    expanded clause (:func:`indexer.query.expand_terms`) is a ``bool``/``should``: any synonym as text
    (not inside an excluded name), or the canonical ``substance`` / a vendor name as an exact term."""
    fields = _text_fields(schema)
    out: list[dict[str, Any]] = []
    for item in terms:
        if isinstance(item, Term):
            out.append(_term_clause(fields, item))
            continue
        if not item.expanded and not item.excluded:
            out.append(_term_clause(fields, item.texts[0]))
            continue
        text: dict[str, Any] = {"bool": {"should": [_term_clause(fields, t) for t in item.texts],
                                         "minimum_should_match": 1}}
        if item.excluded:
            text["bool"]["must_not"] = [_term_clause(fields, t) for t in item.excluded]
        should = [text, *({"terms": {_es_field(schema, name): list(values)}} for name, values in item.fields
                          if name in schema.fields)]
        out.append({"bool": {"should": should, "minimum_should_match": 1}})
    return out


def bool_query(schema: KindSchema, filters: SearchFilters | None, terms: list[Term] | list[Clause] | None = None
               ) -> dict:
    flt, must_not = filter_clauses(schema, filters)
    body: dict[str, Any] = {}
    must = text_clauses(schema, terms or [])
    if must:
        body["must"] = must
    if flt:
        body["filter"] = flt
    if must_not:
        body["must_not"] = must_not
    return {"bool": body} if body else {"match_all": {}}


# ---------------------------------------------------------------------- connection
@dataclass(frozen=True)
class Rejection:
    """A document the cluster will never take as it is (mapping conflict, a string where a number
    belongs …): reported with the cluster's reason, kept aside, never retried."""

    kind: str
    id: str
    status: int
    reason: str


def connection_from_env(url: str) -> dict[str, Any]:
    """Client keyword arguments for ``url`` from the environment: ``SOKHUND_ES_API_KEY`` (the encoded
    ``id:key`` form Kibana shows) or ``SOKHUND_ES_USER`` + ``SOKHUND_ES_PASSWORD``, and ``SOKHUND_ES_CA``
    (a PEM file) for https. Credentials in the URL itself (``https://user:pw@host``) are taken out of it,
    so the URL can be shown in messages."""
    parts = urlsplit(url)
    kwargs: dict[str, Any] = {}
    user, password = parts.username, parts.password
    if parts.username is not None:
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    kwargs["hosts"] = url.rstrip("/")
    api_key = os.environ.get("SOKHUND_ES_API_KEY") or None
    user = os.environ.get("SOKHUND_ES_USER") or (unquote(user) if user else None)
    password = os.environ.get("SOKHUND_ES_PASSWORD") or (unquote(password) if password else None)
    if api_key:
        kwargs["api_key"] = api_key
    elif user:
        kwargs["basic_auth"] = (user, password or "")
    ca = os.environ.get("SOKHUND_ES_CA") or None
    if ca:
        kwargs["ca_certs"] = ca
    return kwargs


# ---------------------------------------------------------------------- backend
class ElasticBackend:
    """Elasticsearch implementation of :class:`indexer.base.IndexBackend`.

    Reads never write: ``search``, ``count``, aggregations … only read (a missing index reads as empty),
    so a read-only user can run them. The writer (``upsert``, :meth:`init`) installs the templates on its
    first call and replays the spool; indices and data streams are created by the first write."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str | None = None,
        refresh: bool | str = False,
        retries: int = 3,
        backoff: float = 0.5,
        timeout: float = 10.0,
        spool_dir: str | Path | None = None,
        api_key: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        ca_certs: str | None = None,
        analysis: str = "auto",
        retention: str | None = None,
        client: Elasticsearch | None = None,
    ) -> None:
        conn = connection_from_env(url)
        self.url = conn.pop("hosts")  # never carries credentials
        if api_key:
            conn.pop("basic_auth", None)
            conn["api_key"] = api_key
        elif basic_auth:
            conn.pop("api_key", None)
            conn["basic_auth"] = basic_auth
        if ca_certs:
            conn["ca_certs"] = ca_certs
        self.prefix = prefix or os.environ.get("SOKHUND_ES_PREFIX") or "sokhund"
        self.refresh: bool | str = refresh
        self.retries = max(0, retries)
        self.backoff = backoff
        self._spool_dir = Path(spool_dir) if spool_dir else None
        self.analysis = analysis if analysis != "auto" else os.environ.get("SOKHUND_ES_ANALYSIS", "auto")
        self.retention = retention or os.environ.get("SOKHUND_ES_RETENTION") or DEFAULT_RETENTION
        self.client = client or Elasticsearch(
            self.url,
            request_timeout=timeout,
            max_retries=0,  # we retry with backoff ourselves
            retry_on_timeout=False,
            **conn,
        )
        self._ready = False
        self._unrefreshed = False  # this instance wrote since its last refresh
        self.spooled = 0  # documents spooled by this instance (not yet known to be replayed)
        self.rejections: list[Rejection] = []  # documents the cluster refused, with its reasons

    # -------------------------------------------------------------- helpers
    @property
    def spool_dir(self) -> Path:
        if self._spool_dir is None:
            from crawler import paths

            self._spool_dir = paths.sub("spool")
        self._spool_dir.mkdir(parents=True, exist_ok=True)
        return self._spool_dir

    def index(self, kind: str) -> str:
        schema_for(kind)
        return index_name(self.prefix, kind)

    def _retrying(self, what: str, fn: Callable[[], T]) -> T:
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except (TransportConnectionError, ConnectionTimeout) as exc:
                err: Exception = exc
            except ApiError as exc:
                if exc.meta.status not in RETRY_STATUSES:
                    raise
                err = exc
            if attempt < self.retries:
                log.debug("%s on %s failed (%s); retry %d in %.2fs", what, self.url, err, attempt + 1, delay)
                time.sleep(delay)
                delay *= 2
        raise _Unreachable(f"Elasticsearch at {self.url} is unreachable ({what}: {_brief(err)})") from err

    def _read(self, what: str, fn: Callable[[], T]) -> T:
        try:
            self._refresh_own_writes()
            return self._retrying(what, fn)
        except _Unreachable as exc:
            raise IndexError_(str(exc)) from exc
        except ApiError as exc:
            raise IndexError_(f"Elasticsearch at {self.url} refused {what}: {_brief(exc)}") from exc

    def init(self, create_indices: bool = True) -> dict[str, Any]:
        """Install the index templates (and, with ``create_indices``, the plain indices, so Kibana data
        views resolve before the first crawl). What ``sokhund es init`` runs; the crawl's first write does
        the same without creating indices. Returns what was set up."""
        try:
            self._ensure_ready()
            created = []
            if create_indices:
                for kind in ALL_KINDS:
                    if kind not in TIME_SERIES and self._create_index(self.index(kind)):
                        created.append(self.index(kind))
        except _Unreachable as exc:
            raise IndexError_(str(exc)) from exc
        except ApiError as exc:
            raise IndexError_(f"Elasticsearch at {self.url} refused the index setup: {_brief(exc)}") from exc
        return {
            "url": self.url,
            "prefix": self.prefix,
            "analysis": self.analysis,
            "templates": sorted(index_templates(self.prefix)),
            "created_indices": created,
            "data_streams": [self.index(k) for k in TIME_SERIES],
            "data_retention": self.retention,
        }

    def _ensure_ready(self) -> None:
        """Writer setup, once per instance: detect the analyzer the cluster can run, install one template
        per kind; then replay any spooled documents. No index or data stream is created here: the first
        write auto-creates it from its template (``_data_stream`` APIs are not on every cluster)."""
        if not self._ready:
            if self.analysis not in ANALYSIS_MODES:
                detected = _DETECTED.get(self.url)
                if detected is None:
                    detected = self._retrying("analyzer probe", lambda: detect_analysis(self.client))
                    if detected is not None:
                        _DETECTED[self.url] = detected
                self.analysis = detected or "full"
                if self.analysis == "basic":
                    log.info("Elasticsearch at %s has no analysis-common module: basic analyzer (no Swedish "
                             "stemming, no diacritic folding)", self.url)
            templates = index_templates(self.prefix, self.analysis, self.retention)
            for name, body in templates.items():
                put = self.client.indices.put_index_template
                self._retrying("put index template", lambda n=name, b=body, put=put: put(name=n, body=b))
            self._ready = True
        self._replay_spool()

    def _create_index(self, name: str) -> bool:
        try:
            self._retrying("create index", lambda: self.client.indices.create(index=name))
        except ApiError as exc:
            if exc.meta.status == 400 and "already_exists" in str(exc):
                return False
            raise
        return True

    def _refresh_own_writes(self) -> None:
        """Read-your-writes: a writer that reads (rollup, alerts) or closes makes what it wrote
        searchable first. Only an instance that wrote does this, so readers stay read-only."""
        if not self._unrefreshed:
            return
        self._unrefreshed = False
        try:
            self._retrying("refresh", lambda: self.client.indices.refresh(
                index=f"{self.prefix}-*", ignore_unavailable=True, allow_no_indices=True
            ))
        except (_Unreachable, ApiError) as exc:
            log.warning("could not refresh %s-* on %s: %s", self.prefix, self.url, _brief(exc))

    # -------------------------------------------------------------- writes
    def _action(self, doc: Document) -> dict[str, Any]:
        kind = doc.KIND
        if kind not in ALL_KINDS:
            raise ValueError(f"unknown document kind {kind!r}")
        if not doc.id:
            raise ValueError(f"{type(doc).__name__} without an id cannot be indexed: {doc!r:.200}")
        source = doc_to_dict(doc)
        op = "index"
        if kind in TIME_SERIES:
            op = "create"
            source = {"@timestamp": source.get(TIME_SERIES[kind]) or _utc_now(), **source}
        return {"kind": kind, "op": op, "id": doc.id, "doc": source}

    def upsert(self, docs: Iterable[Document]) -> int:
        """Bulk upsert. Returns how many the cluster holds now; when it is unreachable the documents are
        spooled to disk (a warning says where) and 0 is returned: the next successful call replays them.
        Documents the cluster refuses are reported one by one (:attr:`rejections`, log, rejected file)
        and never stop the rest."""
        actions = [self._action(d) for d in docs]
        if not actions:
            return 0
        try:
            self._ensure_ready()
        except _Unreachable as exc:
            self._spool(actions, str(exc))
            return 0
        except ApiError as exc:
            raise IndexError_(f"Elasticsearch at {self.url} refused the index setup: {_brief(exc)}") from exc
        done, pending, reason = self._send(actions)
        if pending:
            self._spool(pending, reason)
        return done

    def _send(self, actions: list[dict[str, Any]]) -> tuple[int, list[dict[str, Any]], str]:
        """Send with the client's ``streaming_bulk`` (chunks, per-item retry with backoff on 429/5xx).
        A lost connection retries what is not yet confirmed. Returns (done, still pending, why)."""
        done = 0
        pending = actions
        delay = self.backoff
        reason = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(delay)
                delay *= 2
            ok, pending, rejected, reason = self._bulk_stream(pending)
            done += ok
            self._unrefreshed = self._unrefreshed or (ok > 0 and not self.refresh)
            if rejected:
                self._reject(rejected)
            if not pending or not reason.startswith("unreachable"):
                break
        if pending:
            reason = f"Elasticsearch at {self.url} {reason or 'did not take the documents'}"
        return done, pending, reason

    def _source(self, action: dict[str, Any]) -> dict[str, Any]:
        """The document as sent: with folded copies of its text fields when the cluster cannot fold."""
        doc = action["doc"]
        if self.analysis != "basic":
            return doc
        extra = {
            name + FOLD_SUFFIX: fold(doc[name])
            for name in schema_for(action["kind"]).text_fields
            if isinstance(doc.get(name), str)
        }
        return {**doc, **extra}

    def _bulk_stream(
        self, actions: list[dict[str, Any]]
    ) -> tuple[int, list[dict[str, Any]], list[tuple[dict[str, Any], int, Any]], str]:
        """One pass of ``streaming_bulk``: (done, pending, rejected (action, status, error), why pending)."""
        waiting: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for a in actions:
            waiting.setdefault((a["op"], a["id"]), []).append(a)
        ops = (
            {"_op_type": a["op"], "_index": self.index(a["kind"]), "_id": a["id"], "_source": self._source(a)}
            for a in actions
        )
        kwargs: dict[str, Any] = {}
        if self.refresh:
            kwargs["refresh"] = "wait_for" if self.refresh is True else self.refresh
        ok = 0
        refused: list[dict[str, Any]] = []
        rejected: list[tuple[dict[str, Any], int, Any]] = []
        try:
            for _, item in streaming_bulk(
                self.client,
                ops,
                chunk_size=BULK_CHUNK,
                max_chunk_bytes=BULK_BYTES,
                raise_on_error=False,
                raise_on_exception=True,
                max_retries=self.retries,
                initial_backoff=self.backoff,
                max_backoff=30.0,
                retry_on_status=RETRY_ITEM_STATUSES,
                **kwargs,
            ):
                op, result = next(iter(item.items()))
                queue = waiting.get((op, str(result.get("_id"))))
                if not queue:
                    continue
                action = queue.pop(0)
                status = int(result.get("status", 500))
                if status < 300 or (status == 409 and op == "create"):
                    ok += 1  # 409 on create: this observation is already stored
                elif status in RETRY_ITEM_STATUSES:
                    refused.append(action)  # still 429/5xx after the helper's retries: spool
                else:
                    rejected.append((action, status, result.get("error")))
        except (TransportConnectionError, ConnectionTimeout) as exc:
            return ok, refused + _left(waiting), rejected, f"unreachable ({_brief(exc)})"
        except ApiError as exc:
            if exc.meta.status in RETRY_ITEM_STATUSES:
                return ok, refused + _left(waiting), rejected, f"kept refusing bulk writes ({_brief(exc)})"
            raise IndexError_(f"Elasticsearch at {self.url} refused a bulk write: {_brief(exc)}") from exc
        if refused:
            return ok, refused, rejected, f"kept refusing {len(refused)} documents (429/5xx)"
        return ok, [], rejected, ""

    def _spool(self, actions: list[dict[str, Any]], reason: str) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.spool_dir / f"es-{self.prefix}-{stamp}-{os.getpid()}-{next(_counter):04d}.jsonl"
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            for a in actions:
                fh.write(json.dumps(a, ensure_ascii=False, separators=(",", ":")) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        tmp.rename(path)
        self.spooled += len(actions)
        log.warning(
            "%s; %d documents spooled to %s and will be replayed on the next successful write",
            reason,
            len(actions),
            path,
        )
        return path

    def _reject(self, rejected: list[tuple[dict[str, Any], int, Any]]) -> None:
        """Documents the cluster will never accept (mapping errors …): one report each, kept aside in
        ``rejected-<prefix>.jsonl`` (with the reason), never replayed."""
        path = self.spool_dir / f"rejected-{self.prefix}.jsonl"
        with path.open("a", encoding="utf-8") as fh:
            for action, status, error in rejected:
                rej = Rejection(action["kind"], action["id"], status, _reason(error))
                self.rejections.append(rej)
                log.error("Elasticsearch at %s rejected %s %s (HTTP %d): %s; kept in %s",
                          self.url, rej.kind, rej.id, status, rej.reason, path)
                fh.write(json.dumps({**action, "status": status, "error": error}, ensure_ascii=False,
                                    default=str) + "\n")

    def spool_files(self) -> list[Path]:
        return sorted(self.spool_dir.glob(f"es-{self.prefix}-*.jsonl"))

    def flush_spool(self) -> int:
        """Replay the spool now (the writer's setup included). Returns how many files remain."""
        try:
            self._ensure_ready()
        except _Unreachable as exc:
            log.warning("%s; spool kept", exc)
        return len(self.spool_files())

    def _replay_spool(self) -> None:
        for path in self.spool_files():
            claimed = path.with_name(path.name + f".replaying-{os.getpid()}")
            try:
                path.rename(claimed)  # atomic: two processes never replay the same file
            except OSError:
                continue
            actions = [json.loads(line) for line in claimed.read_text("utf-8").splitlines() if line.strip()]
            done, pending, reason = self._send(actions)
            if pending:
                tmp = path.with_suffix(".tmp")
                tmp.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in pending), "utf-8")
                tmp.rename(path)
                claimed.unlink()
                raise _Unreachable(reason or f"Elasticsearch at {self.url}: spool replay interrupted")
            claimed.unlink()
            log.info("replayed %d spooled documents from %s into %s", done, path.name, self.url)

    def update_fields(self, kind: str, values: dict[str, dict[str, Any]]) -> int:
        """Set fields of stored documents in place (``{id: {field: value}}``), e.g. the turnover the
        roll-up derives for observations. Data streams take no writes by id, so each document is updated
        in its backing index (found by an ids query). Returns how many were updated."""
        index, ids, done = self.index(kind), list(values), 0
        refresh = "wait_for" if self.refresh else None
        for start in range(0, len(ids), 1000):
            batch = ids[start : start + 1000]
            resp = self._read("search", lambda b=batch: self.client.search(
                index=index, query={"ids": {"values": b}}, size=len(b), source=False))
            ops: list[dict[str, Any]] = []
            for hit in resp["hits"]["hits"]:
                ops += [{"update": {"_index": hit["_index"], "_id": hit["_id"]}}, {"doc": values[hit["_id"]]}]
            if not ops:
                continue
            resp = self._read("bulk update", lambda o=ops: self.client.bulk(operations=o, refresh=refresh))
            failed = [i["update"] for i in resp.get("items", []) if int(i["update"].get("status", 500)) >= 300]
            if failed:
                raise IndexError_(f"Elasticsearch at {self.url} refused {len(failed)} updates: {failed[0]}")
            done += len(ops) // 2
        return done

    def delete(self, kind: str, doc_id: str) -> None:
        """Delete one document. In a data stream the document is deleted from its backing index (found
        by a search), since not every cluster has ``_delete_by_query``."""
        index = self.index(kind)
        refresh = "wait_for" if self.refresh else None
        if kind in TIME_SERIES:
            resp = self._read("delete", lambda: self.client.search(
                index=index, query={"ids": {"values": [doc_id]}}, size=100, source=False,
                ignore_unavailable=True, allow_no_indices=True,
            ))
            targets = [h["_index"] for h in resp["hits"]["hits"]]
        else:
            targets = [index]
        for target in targets:
            try:
                self._read("delete", lambda t=target: self.client.delete(index=t, id=doc_id, refresh=refresh))
            except IndexError_ as exc:
                if not isinstance(exc.__cause__, ApiError) or exc.__cause__.meta.status != 404:
                    raise

    # -------------------------------------------------------------- reads
    def get(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        index = self.index(kind)
        if kind in TIME_SERIES:  # data streams: no GET by id, search the backing indices
            resp = self._read("get", lambda: self.client.search(
                index=index, query={"ids": {"values": [doc_id]}}, size=1, **_MISSING_OK
            ))
            hits = resp["hits"]["hits"]
            return _strip(hits[0]["_source"]) if hits else None
        try:
            resp = self._read("get", lambda: self.client.get(index=index, id=doc_id))
        except IndexError_ as exc:
            if isinstance(exc.__cause__, ApiError) and exc.__cause__.meta.status == 404:
                return None  # no such document, or no such index yet
            raise
        return _strip(resp["_source"]) if resp.get("found") else None

    def iter_docs(self, kind: str, filters: SearchFilters | None = None) -> Iterator[dict[str, Any]]:
        index, query = self.index(kind), bool_query(schema_for(kind), filters)
        after: list[Any] | None = None
        while True:
            kwargs: dict[str, Any] = {"index": index, "query": query, "size": 1000, "sort": [{"id": "asc"}],
                                      **_MISSING_OK}
            if after is not None:
                kwargs["search_after"] = after
            hits = self._read("search", lambda kw=kwargs: self.client.search(**kw))["hits"]["hits"]
            for hit in hits:
                yield _strip(hit["_source"])
            if len(hits) < 1000:
                return
            after = hits[-1]["sort"]

    def count(self, kind: str, filters: SearchFilters | None = None, query: str | None = None) -> int:
        """Documents matching ``filters`` (and ``query``, expanded as :meth:`search` expands it)."""
        schema = schema_for(kind)
        plan = self._plan(schema, query)
        if plan and not schema.text_fields:
            return 0
        index, query = self.index(kind), bool_query(schema, filters, plan)
        resp = self._read("count", lambda: self.client.count(index=index, query=query, **_MISSING_OK))
        return int(resp["count"])

    def search_body(
        self, kind: str, query: str | None, filters: SearchFilters | None = None, limit: int = 20
    ) -> dict[str, Any]:
        """The search request body (``query``, ``size``, ``sort``) for a user query and filters."""
        schema = schema_for(kind)
        terms = self._plan(schema, query)
        body: dict[str, Any] = {"query": bool_query(schema, filters, terms), "size": max(0, int(limit))}
        if terms:
            body["sort"] = [{"_score": "desc"}, {"id": "asc"}]
        else:
            body["sort"] = [{"id": "asc"}]
        return body

    def _plan(self, schema: KindSchema, query: str | None) -> list[Clause]:
        """The query's clauses: substance synonyms expanded, vendor names looked up in the vendor index."""
        return expand_terms(parse_query(query), schema.fields.keys(), self._vendor_names)

    def _vendor_names(self, term: Term) -> list[str]:
        fields = ["name", "name" + FOLD_SUFFIX]
        query = _term_clause(fields, term)
        index = self.index("vendor")
        resp = self._read("search", lambda: self.client.search(
            index=index, query=query, size=500, source=["name"], track_total_hits=False, **_MISSING_OK))
        return [h["_source"].get("name") for h in resp["hits"]["hits"] if h.get("_source", {}).get("name")]

    def search(
        self, kind: str, query: str | None, filters: SearchFilters | None = None, limit: int = 20
    ) -> list[SearchHit]:
        schema = schema_for(kind)
        if parse_query(query) and not schema.text_fields:
            return []
        body = self.search_body(kind, query, filters, limit)
        index = self.index(kind)
        resp = self._read(
            "search", lambda: self.client.search(index=index, track_total_hits=False, **body, **_MISSING_OK)
        )
        return [
            SearchHit(id=h["_id"], kind=kind, score=float(h.get("_score") or 0.0), doc=_strip(h["_source"]))
            for h in resp["hits"]["hits"]
        ]

    def terms_body(self, kind: str, field: str, filters: SearchFilters | None = None, size: int = 20) -> dict:
        schema = schema_for(kind)
        return {
            "query": bool_query(schema, filters),
            "size": 0,
            "aggs": {
                "terms": {
                    "terms": {
                        "field": _es_field(schema, field),
                        "size": int(size),
                        "order": [{"_count": "desc"}, {"_key": "asc"}],
                    }
                }
            },
        }

    def terms(
        self, kind: str, field: str, filters: SearchFilters | None = None, size: int = 20
    ) -> list[tuple[Any, int]]:
        body = self.terms_body(kind, field, filters, size)
        index = self.index(kind)
        info = schema_for(kind).fields.get(field)
        resp = self._read("terms aggregation", lambda: self.client.search(index=index, **body, **_MISSING_OK))
        out: list[tuple[Any, int]] = []
        for b in resp.get("aggregations", {}).get("terms", {}).get("buckets", []):
            key = b["key"]
            if info is not None and info.kind == "bool":
                key = bool(key)
            elif info is not None and info.kind == "float":
                key = float(key)
            out.append((key, int(b["doc_count"])))
        return out

    def histogram_body(
        self,
        kind: str,
        date_field: str,
        interval: str = "day",
        filters: SearchFilters | None = None,
        sum_field: str | None = None,
    ) -> dict[str, Any]:
        schema = schema_for(kind)
        hist: dict[str, Any] = {
            "date_histogram": {
                "field": check_field(date_field),
                "calendar_interval": check_interval(interval),  # week: ISO week, Monday start
                "min_doc_count": 1,
                "format": "yyyy-MM-dd",
                "time_zone": "UTC",
            }
        }
        if sum_field:
            hist["aggs"] = {"sum": {"sum": {"field": check_field(sum_field)}}}
        return {"query": bool_query(schema, filters), "size": 0, "aggs": {"histogram": hist}}

    def date_histogram(
        self,
        kind: str,
        date_field: str,
        interval: str = "day",
        filters: SearchFilters | None = None,
        sum_field: str | None = None,
    ) -> list[tuple[str, int, float | None]]:
        body = self.histogram_body(kind, date_field, interval, filters, sum_field)
        index = self.index(kind)
        resp = self._read("date histogram", lambda: self.client.search(index=index, **body, **_MISSING_OK))
        return [
            (
                b["key_as_string"],
                int(b["doc_count"]),
                float(b["sum"]["value"] or 0.0) if sum_field else None,
            )
            for b in resp.get("aggregations", {}).get("histogram", {}).get("buckets", [])
        ]

    def close(self) -> None:
        self._refresh_own_writes()  # the next reader (another process) sees everything written here
        self.client.close()

    def __repr__(self) -> str:
        return f"ElasticBackend({self.url!r}, prefix={self.prefix!r})"


class _Unreachable(RuntimeError):
    """The cluster could not be reached after retries (internal: writes spool, reads raise IndexError_)."""


def _strip(source: dict[str, Any]) -> dict[str, Any]:
    """The document as the model wrote it (without the data stream's ``@timestamp`` and folded copies)."""
    return {k: v for k, v in source.items() if k != "@timestamp" and not k.endswith(FOLD_SUFFIX)}


def _left(waiting: dict[tuple[str, str], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [a for queue in waiting.values() for a in queue]


def _brief(exc: BaseException) -> str:
    """An error as one short line. Transport errors name host and port only; credentials live in
    headers and are never part of it."""
    if isinstance(exc, ApiError):
        return f"HTTP {exc.meta.status} {_reason(exc.body if isinstance(exc.body, dict) else str(exc))}"
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def _reason(error: Any) -> str:
    """``type: reason`` (plus the root cause) from an Elasticsearch error object."""
    if isinstance(error, dict):
        error = error.get("error", error)
    if not isinstance(error, dict):
        return str(error)[:500]
    text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
    cause = error.get("caused_by")
    if isinstance(cause, dict) and cause.get("reason"):
        text += f" ({cause.get('type')}: {cause['reason']})"
    return text[:500]


def _utc_now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


__all__ = [
    "ElasticBackend",
    "Rejection",
    "analysis_settings",
    "connection_from_env",
    "detect_analysis",
    "index_templates",
    "mapping_for",
]
