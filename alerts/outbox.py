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

from alerts.channels import Channel, ChannelError, _now, build_channel
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

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "failed": self.failed, "kept": self.kept, "errors": self.errors[:10]}


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

    def record(self, alert: dict[str, Any], channels: list[str]) -> bool:
        """Store a fired alert with a pending delivery per channel. False if it had fired before."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO alerts(id, rule, entity, fired_at, payload) VALUES (?, ?, ?, ?, ?)",
                    (alert["id"], alert["rule"], alert["entity"], alert["fired_at"],
                     json.dumps(alert, ensure_ascii=False)),
                )
                new = cur.rowcount == 1
                if new:
                    self._db.executemany(
                        "INSERT OR IGNORE INTO deliveries(alert_id, channel) VALUES (?, ?)",
                        [(alert["id"], c) for c in channels],
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
        with self._lock:
            rows = self._db.execute(
                "SELECT a.payload, d.channel, d.attempts FROM deliveries d JOIN alerts a ON a.id = d.alert_id "
                "WHERE d.state = 'pending' ORDER BY a.fired_at, a.id, d.channel"
            ).fetchall()
        return [(json.loads(p), c, int(n)) for p, c, n in rows]

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
    for alert, channel_name, _attempts in pending:
        channel = channels.get(channel_name)
        if channel is None:
            report.kept += 1
            continue
        if channel_name in broken:  # already failing in this round: do not hammer it per alert
            outbox.mark(alert["id"], channel_name, ok=False, error="skipped: channel failing in this round")
            report.failed += 1
            continue
        try:
            channel.send(alert)
        except Exception as exc:
            broken.add(channel_name)
            outbox.mark(alert["id"], channel_name, ok=False, error=str(exc))
            report.failed += 1
            report.errors.append(str(exc))
            log.error("alert %s not delivered to %s (kept in the outbox): %s", alert["id"], channel_name, exc)
            continue
        outbox.mark(alert["id"], channel_name, ok=True)
        report.sent += 1
    if report.kept:
        log.warning("%d alert deliveries wait for channels that are not configured or enabled", report.kept)
    return report
