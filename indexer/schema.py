"""Per-kind index schema shared by the SQLite and Elasticsearch backends.

Derived from the dataclasses in :mod:`indexer.models`, so a field added to a model is picked up by both
backends: scalar fields become filterable columns / keyword-or-numeric mappings, list fields are
matched element-wise, and a few free-text fields per kind are full-text searchable (with weights).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from functools import cache
from typing import Any

from indexer.models import ALL_KINDS, Document

FIELD_NAME = re.compile(r"^[A-Za-z_@][A-Za-z0-9_]*$")

# Full-text fields per kind and their relative weight (bm25 weight in SQLite, ^boost in Elasticsearch).
TEXT_FIELDS: dict[str, dict[str, float]] = {
    "listing": {"title": 4.0, "description": 1.0, "extra_text": 0.5},
    "vendor": {"name": 4.0, "profile": 1.0, "extra_text": 0.5},
    "feedback": {"text": 1.0, "extra_text": 0.5},
    "post": {"thread_title": 2.0, "text": 1.0, "extra_text": 0.5},
    "alert": {"title": 2.0},
}

# The date a kind is naturally bucketed/filtered on when SearchFilters.date_field is not one of its fields.
DEFAULT_DATE_FIELD: dict[str, str] = {
    "capture": "fetched_at",
    "listing": "last_seen",
    "listing_observation": "observed_at",
    "vendor": "last_seen",
    "vendor_observation": "observed_at",
    "vendor_identity": "id",
    "feedback": "date",
    "post": "posted_at",
    "alert": "fired_at",
    "campaign_run": "started_at",
}

# Pre-aggregated roll-ups (SQLite backend): per kind, field sets whose combinations are counted on every
# upsert, so terms, histograms and counts filtered on those fields read a few thousand roll-up rows
# instead of scanning every document. ``@day`` is the day of the kind's default date field (such a roll-up
# also sums every numeric field, for histograms); a list field counts each element (terms on it only).
# A query is answered by the first roll-up holding all its fields, else by a scan as before. Each roll-up
# costs upsert time, and its size is the number of distinct combinations: keep to low-cardinality fields.
ROLLUPS: dict[str, tuple[tuple[str, ...], ...]] = {
    "listing": (
        ("site", "substance", "substance_class", "ships_from", "currency"),
        ("@day", "site", "substance", "substance_class"),
        ("vendor", "site"),
        ("ships_to", "site", "ships_from"),
    ),
    "listing_observation": (
        ("site", "substance", "substance_class", "ships_from"),
        ("@day", "site", "substance", "substance_class", "ships_from"),
        ("vendor", "site"),
    ),
    "vendor": (("site", "ships_from", "baseline"), ("@day", "site")),
    "feedback": (("@day", "site"), ("vendor", "site")),
    "post": (("@day", "site"),),
    "capture": (("@day", "site", "page_type", "invalid_kind", "network"),),
    "alert": (("@day", "rule", "entity_kind"),),
}

# The numeric fields a day roll-up sums (histograms with ``sum_field``): the money and volume figures
# analysts chart. Every summed field widens each roll-up row that a batch rewrites, so the rest (ratings,
# stock flags, tier sizes) are summed by a scan of the documents when asked for.
ROLLUP_SUMS: dict[str, tuple[str, ...]] = {
    "listing": ("price_sek", "price_per_g_sek", "price_per_unit_sek", "quantity_g", "units", "sold",
                "feedback_count"),
    "listing_observation": ("price_sek", "price_per_g_sek", "price_per_unit_sek", "quantity_g", "units", "sold",
                            "feedback_count", "turnover_sek"),
    "vendor": ("sales", "orders", "listings"),
}

# Kinds kept as append-only time series (Elasticsearch data streams; ``@timestamp`` = this field).
TIME_SERIES: dict[str, str] = {
    "listing_observation": "observed_at",
    "vendor_observation": "observed_at",
}

DATE_FIELDS = frozenset(
    {
        "fetched_at",
        "observed_at",
        "first_seen",
        "last_seen",
        "joined",
        "date",
        "posted_at",
        "fired_at",
        "started_at",
        "finished_at",
        "as_of",
        "expires_at",
        "last_login",
    }
)

# Maps kept searchable by key on Elasticsearch (``flattened``: ``extra.origin_region: EU``); their text is
# also in the kind's ``extra_text`` full-text field on both backends. Other dicts are stored unindexed.
FLATTENED_FIELDS = frozenset({"extra"})

# Lists of objects (stored as they are, not indexed element-wise as keywords on Elasticsearch).
OBJECT_LISTS = frozenset(
    {
        "shipping",
        "contacts",
        "evidence",
        "shipping_options",
        "tier_prices",
        "prices",
        "category_path",
        "external_ratings",
    }
)


@dataclass(frozen=True)
class FieldInfo:
    name: str
    kind: str  # "str" | "float" | "int" | "bool" | "list" | "dict"
    is_date: bool = False


@dataclass(frozen=True)
class KindSchema:
    kind: str
    fields: dict[str, FieldInfo]
    text_fields: dict[str, float]
    default_date_field: str
    rollups: tuple[tuple[str, ...], ...] = ()
    rollup_sums: tuple[str, ...] = ()  # numeric fields the day roll-ups sum (ROLLUP_SUMS)

    @property
    def scalar_fields(self) -> list[FieldInfo]:
        return [f for f in self.fields.values() if f.kind not in ("list", "dict") and f.name != "id"]

    def date_field(self, requested: str | None) -> str:
        """``requested`` if this kind has it, else the kind's natural date field."""
        if requested and requested in self.fields:
            return requested
        return self.default_date_field


def _classify(annotation: object) -> str:
    text = str(annotation).replace(" ", "")
    if text.startswith(("list", "tuple", "set")):
        return "list"
    if text.startswith("dict"):
        return "dict"
    for name in ("bool", "float", "int", "str"):
        if text == name or text.startswith(name + "|") or text.endswith("|" + name):
            return name
    return "str"


@cache
def schema_for(kind: str) -> KindSchema:
    cls = document_class(kind)
    infos: dict[str, FieldInfo] = {}
    for f in fields(cls):
        k = _classify(f.type)
        infos[f.name] = FieldInfo(f.name, k, is_date=k == "str" and f.name in DATE_FIELDS)
    return KindSchema(
        kind=kind,
        fields=infos,
        text_fields={n: w for n, w in TEXT_FIELDS.get(kind, {}).items() if n in infos},
        default_date_field=DEFAULT_DATE_FIELD.get(kind, "id"),
        rollups=tuple(r for r in (_rollup_keys(keys, infos) for keys in ROLLUPS.get(kind, ())) if r),
        rollup_sums=tuple(n for n in ROLLUP_SUMS.get(kind, ())
                          if n in infos and infos[n].kind in ("float", "int", "bool")),
    )


def _rollup_keys(keys: tuple[str, ...], infos: dict[str, FieldInfo]) -> tuple[str, ...]:
    """A declared roll-up without the fields this model does not have (or cannot key by: dicts, a
    second list); empty when nothing but the day is left."""
    out: list[str] = []
    for name in keys:
        info = infos.get(name)
        if name == "@day" or info is not None and (
                info.kind not in ("list", "dict") or info.kind == "list" and not any(
                    infos[o].kind == "list" for o in out if o != "@day")):
            out.append(name)
    return tuple(out) if [n for n in out if n != "@day"] else ()


def document_class(kind: str) -> type[Document]:
    try:
        return ALL_KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown document kind {kind!r}; expected one of {sorted(ALL_KINDS)}") from None


def check_field(name: str) -> str:
    """Reject field names that are not plain identifiers (they end up in SQL / query DSL)."""
    if not FIELD_NAME.match(name):
        raise ValueError(f"invalid field name {name!r}")
    return name


def doc_to_dict(doc: Document) -> dict[str, Any]:
    """``doc.to_dict()`` without dataclasses.asdict's deep copy (10x faster on bulk upserts). Values are
    only serialised, never mutated, so a shallow view is enough; a class overriding ``to_dict`` is
    respected."""
    if type(doc).to_dict is not Document.to_dict:
        return doc.to_dict()
    return {name: getattr(doc, name) for name in _field_names(type(doc))}


@cache
def _field_names(cls: type[Document]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))
