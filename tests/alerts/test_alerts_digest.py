"""Digest mode: one message per evaluation and rule (the default for retro-hunts), to a real SMTP server."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from alerts.evaluate import evaluate, retro_hunt
from alerts.outbox import Outbox
from alerts.rules import WatchEntry
from indexer.base import open_backend
from tests.alerts.test_alerts_channels import _Collect, _rules
from tests.alerts_support import crawl_docs, free_port

DAY1 = "2024-03-01T06:00:00+00:00"
DAY2 = "2024-03-02T06:00:00+00:00"


@pytest.fixture()
def smtp(sokhund_home: Path):
    handler = _Collect()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture()
def backend(sokhund_home: Path):
    b = open_backend()
    yield b
    b.close()


def _mail(port: int, extra: str = "") -> str:
    return (f"  - {{name: mail, type: smtp, host: 127.0.0.1, port: {port}, from: sokhund@polisen.test, "
            f"to: [analytiker@polisen.test]{extra}}}\n")


def test_retro_hunt_sends_one_digest(backend, sokhund_home, smtp):
    handler, port = smtp
    _rules(sokhund_home, _mail(port))  # no digest setting: retro-hunts digest anyway
    crawl_docs(backend, "flugsvamp", "r1", DAY1, listings=[
        {"listing_id": f"k{i}", "vendor": f"v{i}", "title": f"Kokain {i} g", "substance": "cocaine"} for i in range(12)])
    fired = retro_hunt(backend, WatchEntry(kind="substance", value="kokain"))
    assert len(fired) == 12
    assert len(handler.messages) == 1  # the old code sent 12 e-mails
    msg = message_from_bytes(handler.messages[0][2], policy=policy.default)
    assert "12 alerts for watchlist" in str(msg["Subject"])
    parts = {p.get_content_type(): p for p in msg.walk()}
    body = json.loads(parts["application/json"].get_payload(decode=True))
    assert body["type"] == "digest" and sorted(a["id"] for a in body["alert"]["alerts"]) == sorted(a.id for a in fired)
    with Outbox() as outbox:
        assert outbox.counts() == {"sent": 12}  # every alert marked delivered


def test_digest_channel_groups_an_evaluation_per_rule(backend, sokhund_home, smtp):
    handler, port = smtp
    _rules(sokhund_home, _mail(port, ", digest: true"))
    crawl_docs(backend, "flugsvamp", "r1", DAY1, vendors=[{"name": "gammal", "swedish_score": 0.9}])
    assert evaluate(backend, "r1").fired == []
    crawl_docs(backend, "flugsvamp", "r2", DAY2, vendors=[
        {"name": f"ny{i}", "swedish_score": 0.8, "swedish_signals": ["swish"]} for i in range(3)])
    result = evaluate(backend, "r2")
    assert len(result.fired) == 3 and result.delivery.sent == 3 and result.delivery.messages == 1
    assert len(handler.messages) == 1


def test_without_digest_one_message_per_alert(backend, sokhund_home, smtp):
    handler, port = smtp
    _rules(sokhund_home, _mail(port))
    crawl_docs(backend, "flugsvamp", "r1", DAY1, vendors=[{"name": "gammal", "swedish_score": 0.9}])
    evaluate(backend, "r1")
    crawl_docs(backend, "flugsvamp", "r2", DAY2, vendors=[
        {"name": f"ny{i}", "swedish_score": 0.8, "swedish_signals": ["swish"]} for i in range(3)])
    assert evaluate(backend, "r2").delivery.messages == 3 and len(handler.messages) == 3
