"""The alerts inbox: every fired alert (the outbox, which holds each alert as it fired, plus the index's
Alert documents, which also hold ``sokhund alerts ack``), its triage state from the workbench store,
its delivery state per channel, and the rule or watch-list entry that produced it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alerts.outbox import Outbox, OutboxError
from alerts.rules import AlertConfigError, alerts_dir, load_config, load_watchlist
from dashboards.workbench import triage
from dashboards.workbench.store import Store
from indexer.base import IndexBackend
from indexer.models import Alert


@dataclass
class Rules:
    rules: list[dict[str, Any]]  # name, type, enabled, description, settings
    watchlist: list[dict[str, Any]]  # kind, value, note, added_at, key
    error: str | None = None  # the rules or watch-list file does not load


def _outbox_alerts() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(alert id -> payload, alert id -> delivery state per channel); empty when no outbox exists yet
    (opening one would create it)."""
    path = alerts_dir() / "outbox.sqlite"
    if not path.exists():
        return {}, {}
    try:
        with Outbox(path) as outbox:
            ids = sorted(outbox.alert_ids())
            return ({i: p for i in ids if (p := outbox.payload(i))}, {i: outbox.status(i) for i in ids})
    except OutboxError:
        return {}, {}


def rule_base(rule: str) -> str:
    return str(rule or "").split(":", 1)[0]


def load(backend: IndexBackend, store: Store) -> list[dict[str, Any]]:
    """Every alert, newest first, each with ``state`` (new | acknowledged | dismissed), ``tags``,
    ``updated_by``/``updated_at`` and ``deliveries``."""
    payloads, deliveries = _outbox_alerts()
    indexed = {a["id"]: a for a in backend.iter_docs("alert")}
    state = triage.states(store)
    out = []
    for alert_id in {*payloads, *indexed}:
        alert = {**payloads.get(alert_id, {}), **indexed.get(alert_id, {})}
        alert.setdefault("details", {})
        triaged = state.get(alert_id)
        if triaged:
            alert.update(triaged)
        elif alert.get("acknowledged"):  # acknowledged on the command line before the workbench saw it
            alert.update(state="acknowledged", tags=[], updated_by="(sokhund alerts ack)",
                         updated_at=(alert.get("details") or {}).get("acknowledged_at"))
        else:
            alert.update(state="new", tags=[], updated_by=None, updated_at=None)
        alert["deliveries"] = deliveries.get(alert_id, {})
        alert["in_index"] = alert_id in indexed
        out.append(alert)
    out.sort(key=lambda a: (str(a.get("fired_at") or ""), a["id"]), reverse=True)
    return out


def find(backend: IndexBackend, store: Store, alert_id: str) -> dict[str, Any] | None:
    return next((a for a in load(backend, store) if a["id"] == alert_id), None)


def sync_index(backend: IndexBackend, alert_ids: list[str], acknowledged: bool, user: str, when: str) -> None:
    """Mirror the triage on the index's Alert docs, so `sokhund alerts` (unacknowledged only) agrees with
    the inbox: acknowledged and dismissed alerts are acknowledged there, reopened ones are not."""
    docs = []
    for alert_id in alert_ids:
        doc = backend.get("alert", alert_id)
        if doc is None or bool(doc.get("acknowledged")) == acknowledged:
            continue
        alert = Alert.from_dict(doc)
        assert isinstance(alert, Alert)
        alert.acknowledged = acknowledged
        extra = {"acknowledged_at": when, "acknowledged_by": f"{user} (workbench)"} if acknowledged else {}
        alert.details = {k: v for k, v in alert.details.items() if k not in ("acknowledged_at", "acknowledged_by")} | extra
        docs.append(alert)
    if docs:
        backend.upsert(docs)


def rules() -> Rules:
    try:
        config = load_config()
    except (AlertConfigError, OSError) as exc:
        return Rules([], [], str(exc))
    rows = []
    for rule in config.rules:
        data = rule.model_dump(exclude={"name", "type", "enabled", "description", "entries"}, exclude_none=True)
        rows.append({"name": rule.name, "type": rule.type, "enabled": rule.enabled, "description": rule.description,
                     "settings": data, "entries": [e.key for e in getattr(rule, "entries", [])]})
    try:
        watch = [{"kind": e.kind, "value": e.value, "note": e.note, "added_at": e.added_at, "key": e.key}
                 for e in load_watchlist()]
    except (AlertConfigError, OSError) as exc:
        return Rules(rows, [], str(exc))
    return Rules(rows, watch)
