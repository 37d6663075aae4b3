"""Analysts' decisions on identity candidates (similar aliases that the linker never merges by itself):
confirm or reject, with who and when. ``identity_review_events`` is append-only; ``identity_reviews``
holds the latest decision per vendor pair. A confirmed pair is treated as a link in the workbench's
identity views (see identity_view.py); the index's own VendorIdentity docs are not changed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dashboards.workbench.store import Store
from dashboards.workbench.store_schema import ensure_schema

DECISIONS = ("confirm", "reject", "reopen")
MAX_NOTE = 2000

SCHEMA = """
CREATE TABLE IF NOT EXISTS identity_review_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    pair TEXT NOT NULL,                 -- the two vendor ids, sorted, joined by a space
    candidate_id TEXT,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('confirm', 'reject', 'reopen')),
    note TEXT
);
CREATE TRIGGER IF NOT EXISTS identity_review_events_no_update BEFORE UPDATE ON identity_review_events
BEGIN SELECT RAISE(ABORT, 'identity reviews are append-only'); END;
CREATE TRIGGER IF NOT EXISTS identity_review_events_no_delete BEFORE DELETE ON identity_review_events
BEGIN SELECT RAISE(ABORT, 'identity reviews are append-only'); END;
CREATE TABLE IF NOT EXISTS identity_reviews (
    pair TEXT PRIMARY KEY,
    candidate_id TEXT,
    decision TEXT NOT NULL,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    note TEXT
);
"""


def pair_key(a: str, b: str) -> str:
    return " ".join(sorted((a, b)))


def decide(store: Store, vendors: list[str], decision: str, user: str, *, candidate_id: str | None = None,
           note: str = "") -> None:
    if decision not in DECISIONS:
        raise ValueError(f"unknown decision {decision!r}")
    if len(set(vendors)) != 2:
        raise ValueError("a review concerns exactly two vendors")
    ensure_schema(store, SCHEMA)
    pair, now, note = pair_key(*vendors), datetime.now(UTC).isoformat(timespec="seconds"), note.strip()[:MAX_NOTE]
    with store.tx() as db:
        db.execute("INSERT INTO identity_review_events (pair, candidate_id, at, user, decision, note) "
                   "VALUES (?, ?, ?, ?, ?, ?)", (pair, candidate_id, now, user, decision, note or None))
        if decision == "reopen":
            db.execute("DELETE FROM identity_reviews WHERE pair = ?", (pair,))
        else:
            db.execute("INSERT INTO identity_reviews VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(pair) DO UPDATE SET "
                       "candidate_id = excluded.candidate_id, decision = excluded.decision, at = excluded.at, "
                       "user = excluded.user, note = excluded.note", (pair, candidate_id, decision, now, user,
                                                                      note or None))


def current(store: Store) -> dict[str, dict[str, Any]]:
    """pair key -> latest decision (confirm | reject) with who, when and the note."""
    ensure_schema(store, SCHEMA)
    return {r["pair"]: dict(r) for r in store.query("SELECT * FROM identity_reviews")}


def history(store: Store, vendor_id: str | None = None) -> list[dict[str, Any]]:
    ensure_schema(store, SCHEMA)
    rows = [dict(r) for r in store.query("SELECT * FROM identity_review_events ORDER BY seq DESC")]
    return [r for r in rows if vendor_id is None or vendor_id in r["pair"].split(" ")]
