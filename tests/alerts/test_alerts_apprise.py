"""The Apprise channel against real HTTP servers on 127.0.0.1: Apprise's generic JSON target and its ntfy
plugin (a self-hosted push server speaks the same protocol), retries, and a dead server keeping the alert
pending in the outbox."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from alerts.evaluate import deliver, evaluate
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


def _rules(home: Path, *channels: str) -> Path:
    path = home / "alerts" / "rules.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("channels:\n  - {name: stdout, enabled: false}\n  - {name: file, enabled: false}\n"
                    + "".join(f"  - {c}\n" for c in channels), encoding="utf-8")
    return path


def _new_vendor(backend) -> None:
    crawl_docs(backend, "flugsvamp", "r1", DAY1, vendors=[{"name": "gammal", "swedish_score": 0.9}])
    crawl_docs(backend, "flugsvamp", "r2", DAY2, vendors=[
        {"name": "nykomling", "swedish_score": 0.8, "swedish_signals": ["sek", "postnord"]}])


def test_apprise_json_and_ntfy_targets(backend, sokhund_home, monkeypatch):
    hook, push = WebhookReceiver(fail_first=1), WebhookReceiver()
    host = hook.url.removeprefix("http://").removesuffix("/hook")
    push_host = push.url.removeprefix("http://").removesuffix("/hook")
    monkeypatch.setenv("SOKHUND_TEST_NTFY_TOPIC", "sokhund-larm")
    try:
        _rules(sokhund_home, f"{{name: hook, type: apprise, retries: 2, backoff: 0.01, url: 'json://{host}/hook'}}",
               f"{{name: push, type: apprise, url: 'ntfy://{push_host}/${{SOKHUND_TEST_NTFY_TOPIC}}'}}")
        _new_vendor(backend)
        result = evaluate(backend, "r2")
        assert len(result.fired) == 1 and result.delivery.sent == 2 and result.delivery.failed == 0
        assert len(hook.requests) == 2  # a 503, then the retry
        body = hook.accepted[0]
        assert body["title"].startswith("[Sökhund] New Swedish vendor") and "nykomling" in body["message"]
        assert "sha256=" in body["message"]  # the evidence line of the alert text
        assert [p["topic"] for p in push.accepted] == ["sokhund-larm"]  # ntfy's JSON publish, topic expanded
        assert push.accepted[0]["title"] == body["title"]
    finally:
        hook.close()
        push.close()


def test_apprise_server_down_keeps_alert_pending(backend, sokhund_home):
    port = free_port()
    _rules(sokhund_home, f"{{name: push, type: apprise, retries: 0, url: 'json://127.0.0.1:{port}/hook'}}")
    _new_vendor(backend)
    assert evaluate(backend, "r2").delivery.failed == 1
    hook = WebhookReceiver()
    hook.close()  # and serve its handler again on the port the channel was configured with
    hook.server = ThreadingHTTPServer(("127.0.0.1", port), hook.server.RequestHandlerClass)
    threading.Thread(target=hook.server.serve_forever, daemon=True).start()
    try:
        assert deliver().sent == 1 and len(hook.accepted) == 1
    finally:
        hook.close()


def test_apprise_config_errors(sokhund_home):
    _rules(sokhund_home, "{name: push, type: apprise, url: 'not a url'}")
    with pytest.raises(AlertConfigError, match=r"channels\[push\]\.url"):
        load_config()
    _rules(sokhund_home, "{name: push, type: apprise, url: 'nosuchservice://x/y'}")
    from alerts.channels import ChannelError, build_channel

    with pytest.raises(ChannelError, match="does not understand"):
        build_channel(load_config().channels[-1])
