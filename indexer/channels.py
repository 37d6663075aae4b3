"""Alert delivery: channels (stdout, JSONL file, webhook, SMTP) and the outbox that never loses an alert.

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
import os
import re
import smtplib
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from indexer.alert_rules import (
    AlertConfig,
    JsonlChannelConfig,
    SmtpChannelConfig,
    StdoutChannelConfig,
    WebhookChannelConfig,
    alerts_dir,
)

log = logging.getLogger(__name__)


class ChannelError(RuntimeError):
    """A channel is misconfigured (bad environment variable …) or a send failed."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------------- rendering
def alert_text(alert: dict[str, Any]) -> str:
    """A short human-readable rendering (stdout, e-mail body)."""
    details = alert.get("details") or {}
    lines = [f"[{alert.get('rule')}] {alert.get('title')}", f"  id: {alert.get('id')}  fired: {alert.get('fired_at')}"]
    for key in ("site", "vendor", "swedish_score", "swedish_signals", "first_seen", "baseline", "matched",
                "country", "previous_ships_from", "retro_hunt"):
        if details.get(key) not in (None, "", []):
            value = details[key]
            lines.append(f"  {key}: {', '.join(map(str, value)) if isinstance(value, list) else value}")
    for ev in alert.get("evidence") or []:
        if ev.get("capture_id"):
            lines.append(f"  evidence: {ev.get('capture_id')} sha256={ev.get('sha256', '')} {ev.get('url', '')}")
    return "\n".join(lines)


def alert_payload(alert: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of webhooks and JSONL lines: the alert document, tagged with its source."""
    return {"source": "sokhund", "type": "alert", "alert": alert}


def _expand(text: str, where: str) -> str:
    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ChannelError(f"{where}: environment variable ${{{name}}} is not set")
        return os.environ[name]

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", sub, text)


# ----------------------------------------------------------------------------------- channels
class Channel(Protocol):
    name: str

    def send(self, alert: dict[str, Any]) -> None:
        """Deliver one alert or raise :class:`ChannelError`."""


class StdoutChannel:
    def __init__(self, config: StdoutChannelConfig) -> None:
        self.name = config.name
        self.format = config.format

    def send(self, alert: dict[str, Any]) -> None:
        if self.format == "json":
            text = json.dumps(alert_payload(alert), ensure_ascii=False)
        else:
            text = alert_text(alert)
        print(text, file=sys.stdout, flush=True)


class JsonlChannel:
    def __init__(self, config: JsonlChannelConfig) -> None:
        self.name = config.name
        path = Path(os.path.expanduser(config.path))
        self.path = path if path.is_absolute() else alerts_dir() / path

    def send(self, alert: dict[str, Any]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(alert_payload(alert), ensure_ascii=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise ChannelError(f"channel {self.name!r}: cannot append to {self.path}: {exc}") from exc


def _retrying(name: str, attempts: int, backoff: float, call: Callable[[], None],
              retryable: Callable[[Exception], bool] = lambda exc: True) -> None:
    last: Exception | None = None
    for attempt in range(attempts):
        try:
            call()
            return
        except Exception as exc:
            last = exc
            log.warning("channel %s: attempt %d/%d failed: %s", name, attempt + 1, attempts, exc)
            if not retryable(exc) or attempt + 1 == attempts:
                break
            time.sleep(backoff * (2**attempt))
    raise ChannelError(f"channel {name!r}: {last}") from last


class _HTTPStatusFailure(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:200]}")
        self.status = status


class WebhookChannel:
    """HTTP POST of the alert as JSON; 2xx is success. Network errors, 408, 429 and 5xx are retried with
    exponential backoff; anything still failing stays pending in the outbox."""

    def __init__(self, config: WebhookChannelConfig) -> None:
        self.name = config.name
        self.config = config
        where = f"channel {config.name!r}"
        self.url = _expand(config.url, where)
        self.headers = {k: _expand(v, where) for k, v in config.headers.items()}

    def send(self, alert: dict[str, Any]) -> None:
        import httpx

        body = json.dumps(alert_payload(alert), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": "sokhund-alerts/1",
                   "X-Sokhund-Alert-Id": str(alert.get("id", "")), **self.headers}

        def post() -> None:
            with httpx.Client(timeout=self.config.timeout, trust_env=self.config.trust_env) as client:
                response = client.post(self.url, content=body, headers=headers)
            if not 200 <= response.status_code < 300:
                raise _HTTPStatusFailure(response.status_code, response.text)

        def retryable(exc: Exception) -> bool:
            if isinstance(exc, _HTTPStatusFailure):
                return exc.status in (408, 425, 429) or exc.status >= 500
            return True

        _retrying(self.name, self.config.retries + 1, self.config.backoff, post, retryable)


class SmtpChannel:
    """One e-mail per alert through stdlib ``smtplib`` (plain, STARTTLS or implicit TLS, optional login)."""

    def __init__(self, config: SmtpChannelConfig) -> None:
        self.name = config.name
        self.config = config
        self.password: str | None = None
        if config.password_env:
            self.password = os.environ.get(config.password_env)
            if self.password is None:
                raise ChannelError(
                    f"channel {config.name!r}: environment variable {config.password_env} (password_env) is not set"
                )

    def message(self, alert: dict[str, Any]) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = f"{self.config.subject_prefix} {alert.get('title', 'alert')}".strip()
        msg["From"] = self.config.sender
        msg["To"] = ", ".join(self.config.to)
        msg["X-Sokhund-Alert-Id"] = str(alert.get("id", ""))
        msg.set_content(alert_text(alert) + "\n")
        msg.add_attachment(
            json.dumps(alert_payload(alert), ensure_ascii=False, indent=2).encode("utf-8"),
            maintype="application", subtype="json", filename=f"{alert.get('id', 'alert')}.json",
        )
        return msg

    def send(self, alert: dict[str, Any]) -> None:
        cfg = self.config
        msg = self.message(alert)

        def deliver() -> None:
            smtp_cls = smtplib.SMTP_SSL if cfg.ssl else smtplib.SMTP
            with smtp_cls(cfg.host, cfg.port, timeout=cfg.timeout) as smtp:
                if cfg.starttls:
                    smtp.starttls()
                if cfg.username:
                    smtp.login(cfg.username, self.password or "")
                smtp.send_message(msg, from_addr=cfg.sender, to_addrs=list(cfg.to))

        def retryable(exc: Exception) -> bool:
            # Authentication and permanent (5xx) rejections will not heal by retrying now.
            if isinstance(exc, smtplib.SMTPAuthenticationError):
                return False
            code = getattr(exc, "smtp_code", None)
            return not (isinstance(code, int) and 500 <= code < 600)

        _retrying(self.name, cfg.retries + 1, cfg.backoff, deliver, retryable)


_CHANNEL_CLASSES: dict[type, Callable[[Any], Channel]] = {
    StdoutChannelConfig: StdoutChannel,
    JsonlChannelConfig: JsonlChannel,
    WebhookChannelConfig: WebhookChannel,
    SmtpChannelConfig: SmtpChannel,
}


def build_channel(config: Any) -> Channel:
    return _CHANNEL_CLASSES[type(config)](config)


# ----------------------------------------------------------------------------------- outbox
@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    kept: int = 0  # pending for a channel that is not configured (or disabled) right now
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "failed": self.failed, "kept": self.kept, "errors": self.errors[:10]}


class Outbox:
    """Fired alerts and their delivery state per channel, in SQLite (WAL, safe across processes)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else alerts_dir() / "outbox.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
        self._lock = threading.RLock()
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
