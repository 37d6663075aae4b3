"""Alert evaluation: rules over the index → alerts that fire once, with evidence, to every channel.

Rules (configured in YAML, see :mod:`alerts.rules`):

* ``new_vendor`` — a vendor **new relative to its site's baseline** whose Swedish score ≥ threshold.
  The baseline of a site is its first *complete* crawl (coverage is recorded per run, see
  ``crawler.coverage``; a crawl cut by its page budget or depth limit is partial and cannot be a
  baseline). Vendors seen up to the baseline never fire; a vendor is new when its ``first_seen`` is later
  than the baseline crawl, and its own profile's join date ("Medlem sedan", "Member since") is not older
  than the baseline. So no crawl up to and including the first complete one fires a "new vendor" alert,
  and a Swedish vendor appearing on a later crawl fires on the first evaluation after that crawl. An index
  without coverage records (older data) falls back to the first crawl as the baseline.
* ``ships_from_change`` — a vendor observed in an earlier crawl with listings that did not ship from
  ``country`` (SE) whose listings in a later crawl do.
* ``watchlist`` — listings, vendors and forum posts matching a keyword, substance, PGP fingerprint,
  crypto address or contact handle. Evaluation always covers the whole index, so adding an entry
  (:func:`retro_hunt`) finds every earlier match.

Every alert has the id ``Alert.make_id(rule, entity)``; the outbox insert is the fire-once gate, so
re-evaluating (any number of times, from any process) never fires the same alert twice.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from alerts.outbox import DeliveryReport, Outbox, deliver_pending
from alerts.rules import (
    AlertConfig,
    NewVendorRule,
    ShipsFromRule,
    WatchEntry,
    WatchlistRule,
    load_config,
    load_watchlist,
    normalise_watch_value,
    split_contact,
)
from crawler.coverage import Baseline, coverage_baselines
from indexer.base import IndexBackend, SearchFilters
from indexer.models import Alert

log = logging.getLogger(__name__)

_EVAL_LOCK = threading.Lock()  # one evaluation at a time per process (the outbox guards across processes)
MAX_EVIDENCE = 8
SEARCH_LIMIT = 10_000
_TEXT_FIELDS = {"listing": ("title", "description"), "vendor": ("name", "profile"), "post": ("thread_title", "text")}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _parse_time(value: str | float | None) -> datetime | None:
    """ISO date or date-time → aware UTC datetime (naive values are taken as UTC). Epoch milliseconds
    (what an Elasticsearch terms aggregation returns for a date field) are accepted too."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) or str(value).isdigit():
        return datetime.fromtimestamp(float(value) / 1000, UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class Candidate:
    """A rule matched an entity; ``build`` makes the full alert (evidence lookups) only if it is new."""

    rule: str
    entity: str
    build: Callable[[], Alert]
    rule_config: Any

    @property
    def alert_id(self) -> str:
        return Alert.make_id(self.rule, self.entity)


class _Evidence:
    """Capture lookups (url, WARC file and offset) for the evidence of an alert, cached per evaluation."""

    def __init__(self, backend: IndexBackend) -> None:
        self.backend = backend
        self._cache: dict[str, dict[str, Any] | None] = {}

    def capture(self, capture_id: str | None, sha256: str | None, role: str, **extra: Any) -> dict[str, Any] | None:
        if not capture_id:
            return None
        if capture_id not in self._cache:
            self._cache[capture_id] = self.backend.get("capture", capture_id)
        cap = self._cache[capture_id] or {}
        ev = {"role": role, "capture_id": capture_id, "sha256": sha256 or cap.get("sha256", ""),
              "url": cap.get("url", ""), "warc_file": cap.get("warc_file", ""),
              "warc_offset": cap.get("warc_offset"), "fetched_at": cap.get("fetched_at", "")}
        ev.update({k: v for k, v in extra.items() if v is not None})
        return ev


def _dedupe(evidence: list[dict[str, Any] | None]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for ev in evidence:
        if ev and ev["capture_id"] not in seen:
            seen.add(ev["capture_id"])
            out.append(ev)
    return out[:MAX_EVIDENCE]


def _site_filter(rule: Any) -> list[str] | None:
    return list(rule.sites) if rule.sites else None


# ----------------------------------------------------------------------------------- baselines
def site_baselines(backend: IndexBackend, sites: list[str] | None = None) -> dict[str, Baseline]:
    """Per site, its baseline crawl. Where crawls record their coverage (``crawler.coverage``), the baseline
    is the first *complete* crawl; a site none of whose crawls was complete has no baseline yet, so nothing
    on it is new. An index without coverage records falls back to the first crawl: the earliest
    ``observed_at`` of the site's vendor and listing observations, with that observation's run; or the
    earliest vendor ``first_seen`` when there are none."""
    if sites is None:
        sites = [s for s, _ in backend.terms("vendor", "site", size=10_000)]
    covered = coverage_baselines(backend, sites)
    out: dict[str, Baseline] = {}
    for site in sites:
        if site in covered:
            if (complete := covered[site]) is not None:
                out[site] = complete
            else:
                log.info("%s: no complete crawl yet, so no baseline: no new-vendor alerts for it", site)
            continue
        found: list[tuple[datetime, str, str]] = []  # (time, raw value, kind)
        for kind in ("vendor_observation", "listing_observation"):
            for value, _ in backend.terms(kind, "observed_at", SearchFilters(site=site), size=100_000):
                parsed = _parse_time(value)
                if parsed is not None:
                    raw = parsed.isoformat() if isinstance(value, int | float) else str(value)
                    found.append((parsed, raw, kind))
        if found:
            _, as_of, kind = min(found)
            hits = backend.search(kind, None, SearchFilters(site=site, extra={"observed_at": as_of}), limit=1)
            out[site] = Baseline(as_of, str(hits[0].doc.get("run_id") or "") if hits else "")
            continue
        firsts = [(p, p.isoformat() if isinstance(v, int | float) else str(v))
                  for v, _ in backend.terms("vendor", "first_seen", SearchFilters(site=site), size=100_000)
                  if (p := _parse_time(v)) is not None]
        if firsts:
            out[site] = Baseline(min(firsts)[1])
    return out


_MONTHS = {name: i + 1 for i, names in enumerate(
    ("jan januari january", "feb februari february", "mar mars march", "apr april", "maj may",
     "jun juni june", "jul juli july", "aug augusti august", "sep sept september", "okt oct oktober october",
     "nov november", "dec december")) for name in names.split()}


def parse_join_date(value: Any) -> date | None:
    """A vendor's join date as its profile writes it ("Medlem sedan: 2024-03-02", "Member since 2 March
    2024", "02.03.2024", "mars 2024"), or None when it cannot be read (then it is simply not used)."""
    text = str(value or "").strip().lower()
    if not text:
        return None
    if m := re.search(r"(\d{4})-(\d{1,2})-(\d{1,2})", text):
        y, mo, d = int(m[1]), int(m[2]), int(m[3])
    elif m := re.search(r"\b(\d{1,2})[./](\d{1,2})[./](\d{4})\b", text):
        y, mo, d = int(m[3]), int(m[2]), int(m[1])
    elif m := re.search(r"\b(?:(\d{1,2})\.?\s+)?([a-zåäö]+)\.?,?\s+(\d{4})\b", text):
        if m[2] not in _MONTHS:
            return None
        y, mo, d = int(m[3]), _MONTHS[m[2]], int(m[1] or 1)
    else:
        return None
    try:
        return date(y, mo, d)
    except ValueError:
        return None


def _existed_at_baseline(backend: IndexBackend, vendor_id: str, baseline: Baseline) -> bool:
    """Seen in the baseline crawl after all: observed in the baseline run (a resumed first crawl can carry
    a later as-of), or selling listings observed by then (its profile page was outside the page budget)."""
    if baseline.run_id:
        from indexer.models import VendorObservation

        if backend.get("vendor_observation", VendorObservation.make_id(vendor_id, baseline.run_id)) is not None:
            return True
        if backend.count("listing_observation", SearchFilters(extra={"vendor_id": vendor_id, "run_id": baseline.run_id})):
            return True
    early = SearchFilters(extra={"vendor_id": vendor_id}, date_field="observed_at", date_to=baseline.as_of)
    return backend.count("listing_observation", early) > 0


# ----------------------------------------------------------------------------------- new vendor
def _new_vendor_candidates(backend: IndexBackend, rule: NewVendorRule, ev: _Evidence,
                           run_id: str | None, skip: set[str]) -> Iterator[Candidate]:
    for site, baseline in site_baselines(backend, _site_filter(rule)).items():
        base_time = _parse_time(baseline.as_of)
        filters = SearchFilters(site=site, date_field="first_seen", date_from=baseline.as_of)
        for vendor in backend.iter_docs("vendor", filters):
            first = _parse_time(vendor.get("first_seen"))
            score = vendor.get("swedish_score")
            if first is None or base_time is None or first <= base_time:
                continue  # part of the baseline crawl
            if score is None or float(score) < rule.min_swedish_score:
                continue
            if Alert.make_id(rule.name, vendor["id"]) in skip or _existed_at_baseline(backend, vendor["id"], baseline):
                continue
            joined = parse_join_date(vendor.get("joined"))
            if joined is not None and joined < base_time.date():
                continue  # its own profile says it was a member before the baseline: missed then, not new
            yield Candidate(rule.name, vendor["id"],
                            _new_vendor_builder(backend, rule, ev, vendor, baseline, run_id), rule)


def _vendor_listings(backend: IndexBackend, vendor_id: str, limit: int = 5) -> list[dict[str, Any]]:
    return [h.doc for h in backend.search("listing", None, SearchFilters(extra={"vendor_id": vendor_id}), limit=limit)]


def _first_observation(backend: IndexBackend, kind: str, field: str, entity: str) -> dict[str, Any] | None:
    observations = list(backend.iter_docs(kind, SearchFilters(extra={field: entity})))
    observations.sort(key=lambda o: (_parse_time(o.get("observed_at")) or datetime.max.replace(tzinfo=UTC)))
    return observations[0] if observations else None


def _new_vendor_builder(backend: IndexBackend, rule: NewVendorRule, ev: _Evidence, vendor: dict[str, Any],
                        baseline: Baseline, run_id: str | None) -> Callable[[], Alert]:
    def build() -> Alert:
        obs = _first_observation(backend, "vendor_observation", "vendor", vendor["id"])
        listings = _vendor_listings(backend, vendor["id"])
        evidence = [ev.capture(vendor.get("capture_id"), vendor.get("capture_sha256"), "vendor_profile")]
        if obs:
            evidence.append(ev.capture(obs.get("capture_id"), obs.get("capture_sha256"), "first_observation",
                                       observation_id=obs["id"], observed_at=obs.get("observed_at"),
                                       run_id=obs.get("run_id")))
        evidence += [ev.capture(lst.get("capture_id"), lst.get("capture_sha256"), "listing", listing=lst["id"],
                                title=lst.get("title")) for lst in listings]
        score = float(vendor.get("swedish_score") or 0.0)
        return Alert(
            id=Alert.make_id(rule.name, vendor["id"]),
            rule=rule.name,
            entity=vendor["id"],
            entity_kind="vendor",
            fired_at=_now(),
            title=f"New Swedish vendor {vendor.get('name')} on {vendor.get('site')} (score {score:.2f})",
            details={
                "rule_type": rule.type,
                "site": vendor.get("site"),
                "vendor": vendor.get("name"),
                "vendor_url": vendor.get("url"),
                "swedish_score": score,
                "swedish_signals": list(vendor.get("swedish_signals") or []),
                "threshold": rule.min_swedish_score,
                "first_seen": vendor.get("first_seen"),
                "baseline": baseline.as_of,
                "baseline_run": baseline.run_id,
                "baseline_complete": baseline.from_coverage,
                "joined": vendor.get("joined"),
                "ships_from": vendor.get("ships_from"),
                "pgp_fingerprints": vendor.get("pgp_fingerprints") or [],
                "contacts": vendor.get("contacts") or [],
                "observation": _observation_summary(obs),
            },
            evidence=_dedupe(evidence),
            campaign_run=run_id,
        )

    return build


def _observation_summary(obs: dict[str, Any] | None) -> dict[str, Any] | None:
    if not obs:
        return None
    keep = ("id", "observed_at", "run_id", "ships_from", "price", "currency", "price_sek", "substance",
            "swedish_score", "sales", "capture_id", "capture_sha256", "listing", "vendor")
    return {k: obs.get(k) for k in keep if obs.get(k) is not None}


# ----------------------------------------------------------------------------------- ships from
def _ships_from_candidates(backend: IndexBackend, rule: ShipsFromRule, ev: _Evidence, run_id: str | None,
                           skip: set[str]) -> Iterator[Candidate]:
    country = rule.country
    sites = _site_filter(rule)
    vendor_ids = [v for v, _ in backend.terms("listing_observation", "vendor_id",
                                               SearchFilters(site=sites, ships_from=country), size=100_000)]
    for vendor_id in vendor_ids:
        if Alert.make_id(rule.name, vendor_id) in skip:
            continue
        runs: dict[str, dict[str, Any]] = {}  # observed_at -> {"countries": set, "obs": [...]}
        for obs in backend.iter_docs("listing_observation", SearchFilters(extra={"vendor_id": vendor_id})):
            when = obs.get("observed_at") or ""
            slot = runs.setdefault(when, {"countries": set(), "obs": []})
            if obs.get("ships_from"):
                slot["countries"].add(str(obs["ships_from"]).upper())
                slot["obs"].append(obs)
        ordered = sorted(((t, s) for t, s in runs.items() if s["countries"] and _parse_time(t)),
                         key=lambda ts: _parse_time(ts[0]))  # type: ignore[arg-type, return-value]
        before: tuple[str, dict[str, Any]] | None = None
        for when, slot in ordered:
            if country in slot["countries"]:
                if before is not None:
                    yield Candidate(rule.name, vendor_id,
                                    _ships_from_builder(backend, rule, ev, vendor_id, before, (when, slot), run_id),
                                    rule)
                break
            before = (when, slot)


def _ships_from_builder(backend: IndexBackend, rule: ShipsFromRule, ev: _Evidence, vendor_id: str,
                        before: tuple[str, dict[str, Any]], after: tuple[str, dict[str, Any]],
                        run_id: str | None) -> Callable[[], Alert]:
    def build() -> Alert:
        vendor = backend.get("vendor", vendor_id) or {}
        new_obs = [o for o in after[1]["obs"] if str(o.get("ships_from")).upper() == rule.country]
        old_obs = before[1]["obs"]
        name = vendor.get("name") or (new_obs[0].get("vendor") if new_obs else vendor_id)
        site = vendor.get("site") or (new_obs[0].get("site") if new_obs else None)
        evidence = [ev.capture(o.get("capture_id"), o.get("capture_sha256"), f"ships_from_{rule.country}",
                               observation_id=o["id"], observed_at=o.get("observed_at"), listing=o.get("listing"))
                    for o in new_obs[:4]]
        evidence += [ev.capture(o.get("capture_id"), o.get("capture_sha256"), "earlier_observation",
                                observation_id=o["id"], observed_at=o.get("observed_at"),
                                ships_from=o.get("ships_from"), listing=o.get("listing"))
                     for o in old_obs[:2]]
        evidence.append(ev.capture(vendor.get("capture_id"), vendor.get("capture_sha256"), "vendor_profile"))
        return Alert(
            id=Alert.make_id(rule.name, vendor_id),
            rule=rule.name,
            entity=vendor_id,
            entity_kind="vendor",
            fired_at=_now(),
            title=f"Vendor {name} on {site} started shipping from {rule.country}",
            details={
                "rule_type": rule.type,
                "site": site,
                "vendor": name,
                "country": rule.country,
                "previous_ships_from": sorted(before[1]["countries"]),
                "previous_observed_at": before[0],
                "first_observed_at": after[0],
                "swedish_score": vendor.get("swedish_score"),
                "swedish_signals": list(vendor.get("swedish_signals") or []),
                "observation": _observation_summary(new_obs[0] if new_obs else None),
                "earlier_observation": _observation_summary(old_obs[0] if old_obs else None),
            },
            evidence=_dedupe(evidence),
            campaign_run=run_id,
        )

    return build


# ----------------------------------------------------------------------------------- watch-list
def watch_entries(rule: WatchlistRule) -> list[WatchEntry]:
    entries = list(rule.entries) + (load_watchlist() if rule.use_watchlist_file else [])
    if rule.kinds is not None:
        entries = [e for e in entries if e.kind in rule.kinds]
    return list({e.key: e for e in entries}.values())


def _strings(value: Any, skip_keys: tuple[str, ...] = ("type", "kind", "service", "app", "platform", "label")
             ) -> Iterator[str]:
    """Every string inside a nested value (entity summaries, contact dicts …)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in skip_keys:
                yield from _strings(item, skip_keys)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item, skip_keys)


def _structured_values(kind: str, doc: dict[str, Any], doc_kind: str) -> list[tuple[str, str]]:
    """(field, raw value) pairs of a document that a ``kind`` watch entry is compared with."""
    entities = doc.get("entities") or {}
    if kind == "pgp":
        pairs = [("pgp_fingerprints", v) for v in _strings(doc.get("pgp_fingerprints"))]
        return pairs + [("entities.pgp_fingerprints", v) for v in _strings(entities.get("pgp_fingerprints"))]
    if kind == "crypto":
        pairs = [("crypto_addresses", v) for v in _strings(doc.get("crypto_addresses"))]
        return pairs + [("entities.crypto_addresses", v) for v in _strings(entities.get("crypto_addresses"))]
    if kind == "contact":
        pairs = [("contacts", v) for v in _strings(doc.get("contacts"))]
        return pairs + [("entities.contacts", v) for v in _strings(entities.get("contacts"))]
    if kind == "substance":
        pairs = [(f, doc[f]) for f in ("substance", "substance_class") if doc.get(f)]
        return pairs + [(f"entities.{f}", v) for f in ("substance", "substance_class", "substances")
                        for v in _strings(entities.get(f))]
    return []


def _snippet(doc: dict[str, Any], doc_kind: str, needle: str, width: int = 80) -> str:
    for name in _TEXT_FIELDS.get(doc_kind, ()):
        text = str(doc.get(name) or "")
        at = text.casefold().find(needle.casefold())
        if at >= 0:
            start = max(0, at - width)
            return ("…" if start else "") + text[start : at + len(needle) + width].strip()
    first = _TEXT_FIELDS.get(doc_kind, ("",))[0]
    return str(doc.get(first) or "")[: 2 * width]


def _fts_hits(backend: IndexBackend, entry: WatchEntry, sites: list[str] | None) -> Iterator[tuple[str, dict[str, Any]]]:
    typed = split_contact(entry.value)[1] if entry.kind == "contact" else entry.value
    phrase = '"' + typed.replace('"', " ").strip().lstrip("@") + '"'
    for doc_kind in ("listing", "vendor", "post"):
        for hit in backend.search(doc_kind, phrase, SearchFilters(site=sites), limit=SEARCH_LIMIT):
            if entry.kind not in ("keyword", "substance"):  # identifiers must appear verbatim (FTS splits on punctuation)
                haystack = " ".join(str(hit.doc.get(f) or "") for f in _TEXT_FIELDS[doc_kind])
                if normalise_watch_value(entry.kind, entry.value).casefold() not in haystack.casefold().replace(
                        "@", "").replace(" ", "" if entry.kind == "pgp" else " "):
                    continue
            yield doc_kind, hit.doc


def match_watch_entries(backend: IndexBackend, entries: list[WatchEntry], sites: list[str] | None = None
                        ) -> Iterator[tuple[WatchEntry, str, dict[str, Any], str]]:
    """(entry, doc kind, doc, matched field) for every indexed listing, vendor and post matching an entry.
    Keywords use the full-text index; identifiers are compared normalised against the structured fields
    (vendor PGP fingerprints, contacts, addresses, extracted entities) and found verbatim in free text."""
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        for doc_kind, doc in _fts_hits(backend, entry, sites):
            if (entry.key, doc["id"]) not in seen:
                seen.add((entry.key, doc["id"]))
                yield entry, doc_kind, doc, "text"
    structured = [e for e in entries if e.kind != "keyword"]
    if not structured:
        return
    by_kind: dict[str, dict[str, WatchEntry]] = {}
    for entry in structured:
        by_kind.setdefault(entry.kind, {})[entry.norm] = entry
    for doc_kind in ("vendor", "listing", "post"):
        for doc in backend.iter_docs(doc_kind, SearchFilters(site=sites)):
            for kind, wanted in by_kind.items():
                for field_name, raw in _structured_values(kind, doc, doc_kind):
                    entry = wanted.get(normalise_watch_value(kind, raw))
                    if entry is not None and (entry.key, doc["id"]) not in seen:
                        seen.add((entry.key, doc["id"]))
                        yield entry, doc_kind, doc, field_name


def _watch_rule_name(rule: WatchlistRule, entry: WatchEntry) -> str:
    return f"{rule.name}:{entry.key}"


def _watch_candidates(backend: IndexBackend, rule: WatchlistRule, ev: _Evidence, run_id: str | None,
                      entries: list[WatchEntry] | None = None, retro: bool = False) -> Iterator[Candidate]:
    entries = watch_entries(rule) if entries is None else entries
    if not entries:
        return
    for entry, doc_kind, doc, field_name in match_watch_entries(backend, entries, _site_filter(rule)):
        name = _watch_rule_name(rule, entry)
        yield Candidate(name, doc["id"], _watch_builder(rule, ev, entry, doc_kind, doc, field_name, name, run_id,
                                                        retro), rule)


def _watch_builder(rule: WatchlistRule, ev: _Evidence, entry: WatchEntry, doc_kind: str, doc: dict[str, Any],
                   field_name: str, rule_name: str, run_id: str | None, retro: bool) -> Callable[[], Alert]:
    def build() -> Alert:
        label = doc.get("title") or doc.get("name") or doc.get("thread_title") or doc["id"]
        evidence = [ev.capture(doc.get("capture_id"), doc.get("capture_sha256"), f"{doc_kind}_match",
                               entity=doc["id"], field=field_name)]
        return Alert(
            id=Alert.make_id(rule_name, doc["id"]),
            rule=rule_name,
            entity=doc["id"],
            entity_kind=doc_kind,
            fired_at=_now(),
            title=f"Watch-list {entry.kind} {entry.value!r} matched {doc_kind} {str(label)[:80]!r} on {doc.get('site')}",
            details={
                "rule_type": rule.type,
                "watch_kind": entry.kind,
                "watch_value": entry.value,
                "watch_note": entry.note,
                "matched": field_name,
                "snippet": _snippet(doc, doc_kind, entry.value.lstrip("@")),
                "site": doc.get("site"),
                "vendor": doc.get("vendor") or doc.get("name") or doc.get("author"),
                "url": doc.get("url"),
                "first_seen": doc.get("first_seen"),
                "last_seen": doc.get("last_seen"),
                "swedish_score": doc.get("swedish_score"),
                "swedish_signals": doc.get("swedish_signals") or (doc.get("entities") or {}).get("swedish_signals"),
                "retro_hunt": retro,
            },
            evidence=_dedupe(evidence),
            campaign_run=run_id,
        )

    return build


# ----------------------------------------------------------------------------------- firing
@dataclass
class EvaluationResult:
    fired: list[Alert]
    delivery: DeliveryReport


def _fire(backend: IndexBackend, config: AlertConfig, outbox: Outbox, candidates: list[Candidate], *,
          retro: bool = False) -> list[Alert]:
    """Fire the new candidates: outbox first (the fire-once gate, survives a crash before delivery), then
    the index. An alert in the outbox but missing from the index (crash in between) is repaired. This
    evaluation is one batch: channels with ``digest: true`` (every channel, for a retro-hunt) get one
    message per rule for it."""
    batch = uuid.uuid4().hex
    digest_channels = {c.name for c in config.channels if retro or c.digest}
    known = outbox.known(c.alert_id for c in candidates)
    fired: list[Alert] = []
    indexed = {a["id"] for a in backend.iter_docs("alert")}
    repair = [Alert.from_dict(p) for i in sorted(outbox.alert_ids() - indexed) if (p := outbox.payload(i))]
    for cand in candidates:
        if cand.alert_id in known:
            continue
        alert = cand.build()
        if outbox.record(alert.to_dict(), config.channels_for(cand.rule_config), batch=batch,
                         digest=digest_channels):
            fired.append(alert)
        known.add(cand.alert_id)
    if fired or repair:
        backend.upsert([*fired, *repair])
    return fired


@contextmanager
def _outbox_scope(outbox: Outbox | None) -> Iterator[Outbox]:
    """The caller's outbox, or a new one that is closed afterwards."""
    if outbox is not None:
        yield outbox
        return
    own = Outbox()
    try:
        yield own
    finally:
        own.close()


def evaluate(backend: IndexBackend, run_id: str | None = None, *, rules: list[str] | None = None,
             config: AlertConfig | None = None, outbox: Outbox | None = None, deliver: bool = True) -> EvaluationResult:
    """Evaluate the (named or all enabled) rules over the index, fire new alerts, then deliver everything
    pending in the outbox (including deliveries that failed on earlier runs)."""
    config = config or load_config()
    with _outbox_scope(outbox) as outbox:
        with _EVAL_LOCK:
            ev = _Evidence(backend)
            candidates: list[Candidate] = []
            for rule in config.enabled_rules(rules):
                if isinstance(rule, NewVendorRule):
                    already = outbox.known(Alert.make_id(rule.name, v["id"]) for v in
                                           backend.iter_docs("vendor", SearchFilters(site=_site_filter(rule))))
                    candidates += _new_vendor_candidates(backend, rule, ev, run_id, already)
                elif isinstance(rule, ShipsFromRule):
                    already = outbox.known(Alert.make_id(rule.name, v) for v, _ in
                                           backend.terms("listing_observation", "vendor_id",
                                                         SearchFilters(ships_from=rule.country), size=100_000))
                    candidates += _ships_from_candidates(backend, rule, ev, run_id, already)
                elif isinstance(rule, WatchlistRule):
                    candidates += _watch_candidates(backend, rule, ev, run_id)
            fired = _fire(backend, config, outbox, candidates)
        report = deliver_pending(config, outbox) if deliver else DeliveryReport()
    if fired:
        log.info("%d new alert(s) fired", len(fired))
    return EvaluationResult(fired, report)


def evaluate_alerts(backend: IndexBackend, run_id: str | None = None, *, rules: list[str] | None = None,
                    config: AlertConfig | None = None, outbox: Outbox | None = None,
                    deliver: bool = True) -> list[Alert]:
    """Evaluate rules after a crawl; returns the alerts that fired now (each fires once, ever)."""
    return evaluate(backend, run_id, rules=rules, config=config, outbox=outbox, deliver=deliver).fired


def retro_hunt(backend: IndexBackend, entry: WatchEntry, *, config: AlertConfig | None = None,
               outbox: Outbox | None = None, deliver: bool = True) -> list[Alert]:
    """Search the whole index for one (newly added) watch-list entry and fire alerts for earlier matches,
    under every enabled watchlist rule that takes entries of that kind."""
    config = config or load_config()
    with _outbox_scope(outbox) as outbox:
        with _EVAL_LOCK:
            ev = _Evidence(backend)
            candidates: list[Candidate] = []
            for rule in config.enabled_rules():
                if isinstance(rule, WatchlistRule) and (rule.kinds is None or entry.kind in rule.kinds):
                    candidates += _watch_candidates(backend, rule, ev, None, [entry], retro=True)
            fired = _fire(backend, config, outbox, candidates, retro=True)
        if deliver:
            deliver_pending(config, outbox)
    return fired


def deliver(config: AlertConfig | None = None) -> DeliveryReport:
    """Retry every pending delivery now (``sokhund alerts deliver``)."""
    config = config or load_config()
    with Outbox() as outbox:
        return deliver_pending(config, outbox)


# ----------------------------------------------------------------------------------- listing / ack
def list_alerts(backend: IndexBackend, *, include_acknowledged: bool = False, rule: str | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
    """Alerts, newest first; unacknowledged only unless ``include_acknowledged``. ``rule`` matches the rule
    name or its prefix (``watchlist`` covers ``watchlist:keyword:…``)."""
    filters = None if include_acknowledged else SearchFilters(extra={"acknowledged": False})
    alerts = [a for a in backend.iter_docs("alert", filters)
              if rule is None or a.get("rule") == rule or str(a.get("rule", "")).startswith(rule + ":")]
    alerts.sort(key=lambda a: (a.get("fired_at") or "", a["id"]), reverse=True)
    return alerts[:limit] if limit else alerts


def find_alert(backend: IndexBackend, alert_id: str) -> dict[str, Any]:
    """An alert by id or by a unique id prefix."""
    doc = backend.get("alert", alert_id)
    if doc is not None:
        return doc
    matches = [a for a in backend.iter_docs("alert") if a["id"].startswith(alert_id)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise KeyError(f"no alert with id {alert_id!r}")
    raise KeyError(f"alert id prefix {alert_id!r} is ambiguous ({len(matches)} alerts)")


def acknowledge(backend: IndexBackend, alert_id: str) -> Alert:
    doc = find_alert(backend, alert_id)
    alert = Alert.from_dict(doc)
    assert isinstance(alert, Alert)
    alert.acknowledged = True
    alert.details = {**alert.details, "acknowledged_at": _now()}
    backend.upsert([alert])
    return alert
