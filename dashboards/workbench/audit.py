"""The audit trail: who searched for what, opened which listing, vendor or evidence, exported what,
acknowledged which alert, and every login. Append-only (see store.SCHEMA's triggers)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import has_request_context

from dashboards.workbench import auth


def record(action: str, target: str | None = None, user: str | None = None, **details: Any) -> None:
    """Append one entry. ``action`` is a short verb phrase (``search``, ``open.listing``, ``export.evidence``,
    ``alert.ack`` …), ``target`` the id or query it concerns; ``details`` any JSON-able extras."""
    ip = auth.client_ip() if has_request_context() else None
    who = user if user is not None else (auth.current_user() if has_request_context() else None)
    with auth.store().tx() as db:
        db.execute("INSERT INTO audit (at, user, ip, action, target, details) VALUES (?, ?, ?, ?, ?, ?)",
                   (datetime.now(UTC).isoformat(timespec="seconds"), who, ip, action, target,
                    json.dumps(details, ensure_ascii=False, default=str) if details else None))


def entries(user: str | None = None, action: str | None = None, limit: int = 200, offset: int = 0) -> list[dict]:
    clauses, params = [], []
    if user:
        clauses.append("user = ?")
        params.append(user)
    if action:
        clauses.append("action LIKE ?")
        params.append(action + "%")
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = auth.store().query(f"SELECT * FROM audit {where} ORDER BY seq DESC LIMIT ? OFFSET ?",
                              (*params, limit, offset))
    return [dict(r) for r in rows]
