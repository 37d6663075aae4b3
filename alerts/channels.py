"""Alert delivery: channels (stdout, JSONL file, webhook, SMTP) and the outbox that never loses an alert.

Each channel sends one alert; the outbox (:mod:`alerts.outbox`) decides what to send and when.
"""

from __future__ import annotations

import json
import logging
import os
import re
import smtplib
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from alerts.rules import (
    JsonlChannelConfig,
    SmtpChannelConfig,
    StdoutChannelConfig,
    WebhookChannelConfig,
    alerts_dir,
)
from indexer.terminal import json_line, printable

log = logging.getLogger(__name__)


class ChannelError(RuntimeError):
    """A channel is misconfigured (bad environment variable …) or a send failed."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------------- rendering
def alert_text(alert: dict[str, Any]) -> str:
    """A short human-readable rendering (stdout, e-mail body). Crawled text is printed literally: every
    line goes through :func:`indexer.terminal.printable`, so escape codes and newlines in a vendor name
    or title show as ``\x1b``/``\n`` instead of acting on the terminal or forging lines."""
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
    return "\n".join(printable(line) for line in lines)


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
            text = json_line(alert_payload(alert))
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
        msg["Subject"] = printable(f"{self.config.subject_prefix} {alert.get('title', 'alert')}".strip())
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
