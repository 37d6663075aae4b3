"""Alert delivery: channels (stdout, JSONL file, webhook, SMTP, Apprise) and the outbox that never loses an
alert. Retries go through tenacity.

Each channel sends one alert; the outbox (:mod:`alerts.outbox`) decides what to send and when.
"""

from __future__ import annotations

import json
import logging
import os
import re
import smtplib
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

import tenacity

from alerts.rules import (
    AppriseChannelConfig,
    JsonlChannelConfig,
    SmtpChannelConfig,
    StdoutChannelConfig,
    WebhookChannelConfig,
    alerts_dir,
)
from indexer.terminal import json_line, printable, signal_text

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
            if key == "swedish_signals":
                lines.append(f"  {key}: {'; '.join(map(signal_text, value))}")
            else:
                lines.append(f"  {key}: {', '.join(map(str, value)) if isinstance(value, list) else value}")
    for ev in alert.get("evidence") or []:
        if ev.get("capture_id"):
            lines.append(f"  evidence: {ev.get('capture_id')} sha256={ev.get('sha256', '')} {ev.get('url', '')}")
    for item in alert.get("alerts") or []:  # a digest: one line per alert it carries
        lines.append(f"  - {item.get('title')} (id {item.get('id')})")
    return "\n".join(printable(line) for line in lines)


def alert_payload(alert: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of webhooks and JSONL lines: the alert document (or a digest of several, with all
    of them in ``alert.alerts``), tagged with its source."""
    return {"source": "sokhund", "type": "digest" if "alerts" in alert else "alert", "alert": alert}


def digest(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """One message for the alerts one evaluation fired under one rule (a retro-hunt's 120 matches are one
    e-mail, not 120). Its id is derived from the alert ids, so a re-sent digest can be de-duplicated."""
    import hashlib

    ids = sorted(a["id"] for a in alerts)
    rule = str(alerts[0].get("rule"))
    retro = any((a.get("details") or {}).get("retro_hunt") for a in alerts)
    return {
        "id": "digest-" + hashlib.sha256("|".join(ids).encode()).hexdigest()[:24],
        "rule": rule,
        "title": f"{len(alerts)} alert{'s' if len(alerts) != 1 else ''} for {rule}"
                 + (" (retro-hunt)" if retro else "") + f": {alerts[0].get('title')}"
                 + (" …" if len(alerts) > 1 else ""),
        "fired_at": max(str(a.get("fired_at") or "") for a in alerts),
        "details": {"digest": True, "count": len(alerts), "retro_hunt": retro},
        "evidence": [],
        "alerts": alerts,
    }


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
              retryable: Callable[[BaseException], bool] = lambda exc: True) -> None:
    """``call`` up to ``attempts`` times, waiting ``backoff * 2**n`` seconds after the n-th failure (n from
    0); a failure ``retryable`` declines ends it at once. Every failure is logged; the last one is raised
    as :class:`ChannelError`."""
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(attempts),
        wait=tenacity.wait_exponential(multiplier=backoff, exp_base=2),
        retry=tenacity.retry_if_exception(retryable),
        reraise=True,
    )
    try:
        for attempt in retrying:
            with attempt:
                try:
                    call()
                except Exception as exc:
                    number = attempt.retry_state.attempt_number
                    log.warning("channel %s: attempt %d/%d failed: %s", name, number, attempts, exc)
                    raise
    except Exception as exc:
        raise ChannelError(f"channel {name!r}: {exc}") from exc


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


class AppriseChannel:
    """One notification per alert to an Apprise URL (chat rooms, push services, self-hosted Matrix or
    Mattermost …). Apprise reports only success or failure, so every failure is retried."""

    def __init__(self, config: AppriseChannelConfig) -> None:
        import apprise

        self.name = config.name
        self.config = config
        where = f"channel {config.name!r}"
        self.apprise = apprise.Apprise()
        if not self.apprise.add(_expand(config.url, where)):
            raise ChannelError(f"{where}: Apprise does not understand the URL {config.url!r}")

    def send(self, alert: dict[str, Any]) -> None:
        cfg = self.config
        title = f"{cfg.title_prefix} {alert.get('title', 'alert')}".strip()

        def notify() -> None:
            if not self.apprise.notify(title=title, body=alert_text(alert)):
                raise ChannelError(f"Apprise could not deliver to {self.config.url}")

        _retrying(self.name, cfg.retries + 1, cfg.backoff, notify)


_CHANNEL_CLASSES: dict[type, Callable[[Any], Channel]] = {
    StdoutChannelConfig: StdoutChannel,
    JsonlChannelConfig: JsonlChannel,
    WebhookChannelConfig: WebhookChannel,
    SmtpChannelConfig: SmtpChannel,
    AppriseChannelConfig: AppriseChannel,
}


def build_channel(config: Any) -> Channel:
    return _CHANNEL_CLASSES[type(config)](config)
