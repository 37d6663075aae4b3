"""Alert channels against real local servers: a webhook receiver that fails first, and an SMTP server."""

from __future__ import annotations

import json
from email import message_from_bytes
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from alerts.evaluate import deliver, evaluate
from alerts.outbox import Outbox
from alerts.rules import AlertConfigError, load_config
from indexer.base import open_backend
from tests.alerts_support import WebhookReceiver, crawl_docs, free_port

DAY1 = "2024-03-01T06:00:00+00:00"
DAY2 = "2024-03-02T06:00:00+00:00"


@pytest.fixture()
def backend(sokhund_home: Path):
    b = open_backend()
    yield b
    b.close()


def _rules(home: Path, channels: str) -> Path:
    path = home / "alerts" / "rules.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("channels:\n  - {name: stdout, enabled: false}\n  - {name: file, enabled: false}\n" + channels,
                    encoding="utf-8")
    return path


def _two_crawls(backend) -> None:
    crawl_docs(backend, "flugsvamp", "r1", DAY1, vendors=[{"name": "gammal", "swedish_score": 0.9}])
    crawl_docs(backend, "flugsvamp", "r2", DAY2, vendors=[
        {"name": "nykomling", "swedish_score": 0.8, "swedish_signals": ["sek", "postnord"]},
        {"name": "nummer2", "swedish_score": 0.7, "swedish_signals": ["swish"]}])


def test_webhook_retries_with_backoff(backend, sokhund_home):
    hook = WebhookReceiver(fail_first=2)
    try:
        _rules(sokhund_home, f"  - {{name: hook, type: webhook, url: '{hook.url}', retries: 3, backoff: 0.01}}\n")
        _two_crawls(backend)
        result = evaluate(backend, "r2")
        assert len(result.fired) == 2 and result.delivery.sent == 2 and result.delivery.failed == 0
        assert len(hook.requests) == 4  # two 503s, then both alerts
        ids = sorted(b["alert"]["id"] for b in hook.accepted)
        assert ids == sorted(a.id for a in result.fired)
        assert hook.accepted[0]["alert"]["evidence"][0]["sha256"]
    finally:
        hook.close()


def test_failed_webhook_keeps_alerts_in_outbox_until_next_run(backend, sokhund_home):
    hook = WebhookReceiver(fail_first=6)  # more failures than one delivery round retries
    try:
        _rules(sokhund_home, f"  - {{name: hook, type: webhook, url: '{hook.url}', retries: 2, backoff: 0.01}}\n")
        _two_crawls(backend)
        first = evaluate(backend, "r2")
        assert len(first.fired) == 2 and first.delivery.sent == 0 and first.delivery.failed == 2
        assert hook.accepted == []
        with Outbox() as outbox:
            status = outbox.status(first.fired[0].id)["hook"]
            assert status["state"] == "pending" and "503" in status["last_error"]

        # Next evaluation (e.g. the next campaign run): nothing new fires, the pending ones go out.
        second = evaluate(backend)
        assert second.fired == []
        assert second.delivery.failed == 2 and second.delivery.sent == 0  # 3 more 503s: both still kept
        third = evaluate(backend)
        assert third.delivery.sent == 2
        assert sorted(b["alert"]["id"] for b in hook.accepted) == sorted(a.id for a in first.fired)
        assert deliver().sent == 0  # nothing left; nothing sent twice
        with Outbox() as outbox:
            assert outbox.counts() == {"sent": 2}
    finally:
        hook.close()


def test_unreachable_webhook_then_config_fixed(backend, sokhund_home):
    dead = f"http://127.0.0.1:{free_port()}/hook"
    _rules(sokhund_home, f"  - {{name: hook, type: webhook, url: '{dead}', retries: 1, backoff: 0.01, timeout: 2}}\n")
    _two_crawls(backend)
    assert evaluate(backend).delivery.failed == 2
    hook = WebhookReceiver()
    try:
        _rules(sokhund_home, f"  - {{name: hook, type: webhook, url: '{hook.url}'}}\n")
        assert deliver().sent == 2 and len(hook.accepted) == 2
    finally:
        hook.close()


class _Collect:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook name)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def test_smtp_mail_to_local_server(backend, sokhund_home):
    handler = _Collect()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        _rules(sokhund_home, f"  - {{name: mail, type: smtp, host: 127.0.0.1, port: {port}, "
                             "from: sokhund@polisen.test, to: [analytiker@polisen.test, nfc@polisen.test]}\n")
        _two_crawls(backend)
        result = evaluate(backend, "r2")
        assert result.delivery.sent == 2
        assert len(handler.messages) == 2
        sender, rcpts, raw = handler.messages[0]
        assert sender == "sokhund@polisen.test" and rcpts == ["analytiker@polisen.test", "nfc@polisen.test"]
        msg = message_from_bytes(raw)
        assert "New Swedish vendor" in str(msg["Subject"])
        ids = {a.id for a in result.fired}
        assert msg["X-Sokhund-Alert-Id"] in ids
        parts = {p.get_content_type(): p for p in msg.walk()}
        assert "sha256=" in parts["text/plain"].get_payload(decode=True).decode()
        attached = json.loads(parts["application/json"].get_payload(decode=True))
        assert attached["alert"]["details"]["swedish_signals"]
    finally:
        controller.stop()


def test_smtp_down_keeps_alert_then_delivers(backend, sokhund_home):
    port = free_port()
    _rules(sokhund_home, f"  - {{name: mail, type: smtp, host: 127.0.0.1, port: {port}, timeout: 2, retries: 0, "
                         "from: sokhund@polisen.test, to: [analytiker@polisen.test]}\n")
    _two_crawls(backend)
    assert evaluate(backend).delivery.failed == 2
    handler = _Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert deliver().sent == 2 and len(handler.messages) == 2
    finally:
        controller.stop()


def test_channel_config_errors(sokhund_home, monkeypatch):
    path = _rules(sokhund_home, "  - {name: mail, type: smtp, host: h, from: nobody, to: []}\n")
    with pytest.raises(AlertConfigError) as err:
        load_config()
    text = str(err.value)
    assert str(path) in text and "channels[mail].from" in text and "channels[mail].to" in text

    _rules(sokhund_home, "  - {name: hook, type: webhook, url: 'http://127.0.0.1:9/x', "
                         "headers: {Authorization: 'Bearer ${NO_SUCH_TOKEN_VAR}'}}\n")
    monkeypatch.delenv("NO_SUCH_TOKEN_VAR", raising=False)
    from alerts.channels import ChannelError, build_channel

    config = load_config()
    with pytest.raises(ChannelError, match=r"channel 'hook'.*NO_SUCH_TOKEN_VAR"):
        build_channel(config.channels[-1])
