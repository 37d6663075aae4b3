"""Alert triage in the workbench store: an append-only history of what analysts did with each alert
(acknowledge, dismiss, reopen, note, tag, untag) and the current state derived from it.

``alert_events`` is the record (triggers abort UPDATE and DELETE, like the audit trail); ``alert_state``
is only a cache of the latest state and tags, written in the same transaction as the event."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from dashboards.workbench.store import Store
from dashboards.workbench.store_schema import ensure_schema

STATES = ("new", "acknowledged", "dismissed")
ACTIONS = {"ack": "acknowledged", "dismiss": "dismissed", "reopen": "new"}  # action -> state it sets
TAG = re.compile(r"^[\w.:-]{1,40}$")  # one word: letters (any script), digits, . : - _
MAX_NOTE = 4000

SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id TEXT NOT NULL,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('ack', 'dismiss', 'reopen', 'note', 'tag', 'untag')),
    value TEXT
);
CREATE INDEX IF NOT EXISTS alert_events_alert ON alert_events(alert_id);
CREATE TRIGGER IF NOT EXISTS alert_events_no_update BEFORE UPDATE ON alert_events
BEGIN SELECT RAISE(ABORT, 'alert triage history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS alert_events_no_delete BEFORE DELETE ON alert_events
BEGIN SELECT RAISE(ABORT, 'alert triage history is append-only'); END;
CREATE TABLE IF NOT EXISTS alert_state (
    alert_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
);
"""


class TriageError(ValueError):
    """A tag or note the store refuses (the message says why)."""


def ensure(store: Store) -> None:
    ensure_schema(store, SCHEMA)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def check_tag(tag: str) -> str:
    tag = tag.strip()
    if not TAG.match(tag):
        raise TriageError(f"a tag is one word of letters, digits, '.', ':', '-' or '_' (at most 40): {tag[:60]!r}")
    return tag


def apply(store: Store, alert_ids: list[str], action: str, user: str, value: str | None = None) -> int:
    """Record ``action`` for each alert (one transaction); returns how many events were written. A state
    action on an alert already in that state and a tag it already has are no-ops, not new events."""
    if action not in (*ACTIONS, "note", "tag", "untag"):
        raise TriageError(f"unknown triage action {action!r}")
    if action in ("tag", "untag"):
        value = check_tag(value or "")
    if action == "note":
        value = (value or "").strip()
        if not value:
            raise TriageError("an empty note")
        if len(value) > MAX_NOTE:
            raise TriageError(f"a note has at most {MAX_NOTE} characters")
    ensure(store)
    written, now = 0, _now()
    with store.tx() as db:
        for alert_id in dict.fromkeys(alert_ids):
            row = db.execute("SELECT state, tags FROM alert_state WHERE alert_id = ?", (alert_id,)).fetchone()
            state, tags = (row[0], json.loads(row[1])) if row else ("new", [])
            if action in ACTIONS:
                if ACTIONS[action] == state:
                    continue
                state = ACTIONS[action]
            elif action == "tag":
                if value in tags:
                    continue
                tags = sorted({*tags, value})
            elif action == "untag":
                if value not in tags:
                    continue
                tags = [t for t in tags if t != value]
            db.execute("INSERT INTO alert_events (alert_id, at, user, action, value) VALUES (?, ?, ?, ?, ?)",
                       (alert_id, now, user, action, value))
            db.execute("INSERT INTO alert_state (alert_id, state, tags, updated_at, updated_by) VALUES (?, ?, ?, ?, ?) "
                       "ON CONFLICT(alert_id) DO UPDATE SET state = excluded.state, tags = excluded.tags, "
                       "updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                       (alert_id, state, json.dumps(tags, ensure_ascii=False), now, user))
            written += 1
    return written


def states(store: Store) -> dict[str, dict[str, Any]]:
    """alert id -> {state, tags, updated_at, updated_by} for every alert an analyst has touched."""
    ensure(store)
    return {r["alert_id"]: {"state": r["state"], "tags": json.loads(r["tags"]), "updated_at": r["updated_at"],
                            "updated_by": r["updated_by"]}
            for r in store.query("SELECT * FROM alert_state")}


def history(store: Store, alert_id: str) -> list[dict[str, Any]]:
    """Every triage event of one alert, oldest first."""
    ensure(store)
    return [dict(r) for r in store.query("SELECT * FROM alert_events WHERE alert_id = ? ORDER BY seq", (alert_id,))]
