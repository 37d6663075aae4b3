"""The alert outbox that never loses an alert, and the delivery of what it holds to the channels.

The outbox (``$SOKHUND_HOME/alerts/outbox.sqlite``) is written *before* anything is sent:

* ``alerts``: one row per fired alert (its id is ``Alert.make_id(rule, entity)``). Inserting it is the
  fire-once gate: ``INSERT OR IGNORE`` succeeds for exactly one evaluator, even across processes.
* ``deliveries``: one row per (alert, channel) with ``pending`` / ``sent``, attempts and the last error.

:func:`deliver_pending` sends every pending delivery and is called on every evaluation and campaign run,
so a webhook or mail server that is down only delays alerts. Delivery is at-least-once: a crash between a
successful send and marking it sent re-sends it; receivers can de-duplicate on the alert ``id``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alerts.channels import Channel, ChannelError, _now, build_channel, digest
from alerts.rules import (
    AlertConfig,
    alerts_dir,
)

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------- outbox
@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    kept: int = 0  # pending for a channel that is not configured (or disabled) right now
    errors: list[str] = field(default_factory=list)
    messages: int = 0  # messages sent: a digest carries many alerts in one

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "failed": self.failed, "kept": self.kept, "messages": self.messages,
                "errors": self.errors[:10]}


class OutboxError(RuntimeError):
    """The outbox file cannot be opened or written (the message names the file)."""


class Outbox:
    """Fired alerts and their delivery state per channel, in SQLite (WAL, safe across processes)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else alerts_dir() / "outbox.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
            self._open()
        except sqlite3.Error as exc:  # sqlite's own message names no file
            raise OutboxError(f"alert outbox {self.path}: {exc}") from exc

    def _open(self) -> None:
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA busy_timeout = 30000")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS alerts (
                id TEXT PRIMARY KEY, rule TEXT NOT NULL, entity TEXT NOT NULL,
                fired_at TEXT NOT NULL, payload TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS deliveries (
                alert_id TEXT NOT NULL, channel TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
                attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, last_attempt TEXT, sent_at TEXT,
                PRIMARY KEY (alert_id, channel));
            CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries(state);
            """
        )
        # Digests (added later; older outboxes are migrated in place): the evaluation an alert came from,
        # and whether a delivery goes out as part of that evaluation's digest.
        for table, column, decl in (("alerts", "batch", "TEXT"), ("deliveries", "digest", "INTEGER NOT NULL DEFAULT 0")):
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                try:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
                except sqlite3.OperationalError:  # another process migrated it first
                    pass

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def known(self, alert_ids: Iterable[str]) -> set[str]:
        ids = list(dict.fromkeys(alert_ids))
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                rows = self._db.execute(
                    f"SELECT id FROM alerts WHERE id IN ({', '.join('?' for _ in chunk)})", chunk
                ).fetchall()
                found.update(r[0] for r in rows)
        return found

    def record(self, alert: dict[str, Any], channels: list[str], *, batch: str | None = None,
               digest: Iterable[str] = ()) -> bool:
        """Store a fired alert with a pending delivery per channel (those in ``digest`` go out in the digest
        of ``batch``, the evaluation that fired it). False if it had fired before."""
        digest = set(digest)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO alerts(id, rule, entity, fired_at, payload, batch) VALUES (?, ?, ?, ?, ?, ?)",
                    (alert["id"], alert["rule"], alert["entity"], alert["fired_at"],
                     json.dumps(alert, ensure_ascii=False), batch),
                )
                new = cur.rowcount == 1
                if new:
                    self._db.executemany(
                        "INSERT OR IGNORE INTO deliveries(alert_id, channel, digest) VALUES (?, ?, ?)",
                        [(alert["id"], c, int(c in digest and batch is not None)) for c in channels],
                    )
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise OutboxError(f"alert outbox {self.path}: cannot record alert {alert['id']}: {exc}") from exc
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return new

    def alert_ids(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT id FROM alerts")}

    def payload(self, alert_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT payload FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def pending(self) -> list[tuple[dict[str, Any], str, int]]:
        """(alert, channel, attempts so far) for every undelivered (alert, channel), oldest first."""
        return [(a, c, n) for a, c, n, _ in self.pending_batches()]

    def pending_batches(self) -> list[tuple[dict[str, Any], str, int, str | None]]:
        """Like :meth:`pending`, plus the digest key: ``batch`` of the evaluation when the delivery goes
        out as a digest, else None."""
        with self._lock:
            rows = self._db.execute(
                "SELECT a.payload, d.channel, d.attempts, CASE WHEN d.digest = 1 THEN a.batch END "
                "FROM deliveries d JOIN alerts a ON a.id = d.alert_id "
                "WHERE d.state = 'pending' ORDER BY a.fired_at, a.id, d.channel"
            ).fetchall()
        return [(json.loads(p), c, int(n), b) for p, c, n, b in rows]

    def mark(self, alert_id: str, channel: str, *, ok: bool, error: str | None = None) -> None:
        now = _now()
        with self._lock:
            if ok:
                self._db.execute(
                    "UPDATE deliveries SET state = 'sent', attempts = attempts + 1, last_attempt = ?, "
                    "sent_at = ?, last_error = NULL WHERE alert_id = ? AND channel = ?",
                    (now, now, alert_id, channel),
                )
            else:
                self._db.execute(
                    "UPDATE deliveries SET attempts = attempts + 1, last_attempt = ?, last_error = ? "
                    "WHERE alert_id = ? AND channel = ?",
                    (now, (error or "")[:2000], alert_id, channel),
                )

    def status(self, alert_id: str) -> dict[str, dict[str, Any]]:
        """Delivery state per channel of one alert."""
        with self._lock:
            rows = self._db.execute(
                "SELECT channel, state, attempts, last_error, sent_at FROM deliveries WHERE alert_id = ?",
                (alert_id,),
            ).fetchall()
        return {c: {"state": s, "attempts": n, "last_error": e, "sent_at": t} for c, s, n, e, t in rows}

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state").fetchall()
        return {s: int(n) for s, n in rows}


def _messages(pending: list[tuple[dict[str, Any], str, int, str | None]]
              ) -> list[tuple[str, list[dict[str, Any]]]]:
    """(channel, alerts) per message, oldest first: one per alert, except that digest deliveries of one
    evaluation (batch) and rule become one message."""
    out: list[tuple[str, list[dict[str, Any]]]] = []
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for alert, channel, _attempts, batch in pending:
        if batch is None:
            out.append((channel, [alert]))
            continue
        key = (channel, batch, str(alert.get("rule")).split(":", 1)[0])  # watchlist:keyword:x → watchlist
        if key not in groups:
            groups[key] = []
            out.append((channel, groups[key]))
        groups[key].append(alert)
    return out


def deliver_pending(config: AlertConfig, outbox: Outbox,
                    channels: dict[str, Channel] | None = None) -> DeliveryReport:
    """Try every pending delivery once (each channel retries with backoff inside one attempt).

    A channel that cannot even be built (missing environment variable …) or is not configured any more
    keeps its deliveries pending: they go out once the configuration is fixed."""
    report = DeliveryReport()
    pending = outbox.pending()
    if not pending:
        return report
    if channels is None:
        channels = {}
        for cfg in config.channels:
            if not cfg.enabled:
                continue
            try:
                channels[cfg.name] = build_channel(cfg)
            except ChannelError as exc:
                report.errors.append(str(exc))
                log.error("%s", exc)
    broken: set[str] = set()
    for channel_name, alerts in _messages(outbox.pending_batches()):
        channel = channels.get(channel_name)
        if channel is None:
            report.kept += len(alerts)
            continue
        if channel_name in broken:  # already failing in this round: do not hammer it per alert
            for alert in alerts:
                outbox.mark(alert["id"], channel_name, ok=False, error="skipped: channel failing in this round")
            report.failed += len(alerts)
            continue
        try:
            channel.send(alerts[0] if len(alerts) == 1 else digest(alerts))
        except Exception as exc:
            broken.add(channel_name)
            for alert in alerts:
                outbox.mark(alert["id"], channel_name, ok=False, error=str(exc))
            report.failed += len(alerts)
            report.errors.append(str(exc))
            log.error("%d alert(s) not delivered to %s (kept in the outbox): %s", len(alerts), channel_name, exc)
            continue
        for alert in alerts:
            outbox.mark(alert["id"], channel_name, ok=True)
        report.sent += len(alerts)
        report.messages += 1
    if report.kept:
        log.warning("%d alert deliveries wait for channels that are not configured or enabled", report.kept)
    return report
