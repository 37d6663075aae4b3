"""Which failures the webhook and SMTP channels retry, against real servers on 127.0.0.1.

Transient failures (HTTP 429/5xx, SMTP 4xx) are retried ``retries`` times; permanent ones (HTTP 400,
SMTP 5xx) are given up at once, so a broken config does not stall a delivery round."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from alerts.channels import ChannelError, SmtpChannel, WebhookChannel
from alerts.rules import SmtpChannelConfig, WebhookChannelConfig
from tests.alerts_support import free_port

ALERT = {"id": "a1", "rule": "new_vendor", "title": "New Swedish vendor", "fired_at": "2024-03-01T06:00:00+00:00"}


class _StatusServer:
    """Answers every POST with one fixed HTTP status and counts the POSTs."""

    def __init__(self, status: int) -> None:
        self.posts = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers["Content-Length"]))
                outer.posts += 1
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(("status", "posts"), [(400, 1), (404, 1), (429, 3), (503, 3)])
def test_webhook_retries_only_transient_statuses(status: int, posts: int) -> None:
    server = _StatusServer(status)
    try:
        channel = WebhookChannel(WebhookChannelConfig(name="hook", type="webhook", url=server.url, retries=2,
                                                      backoff=0.0, trust_env=False))
        with pytest.raises(ChannelError, match=rf"channel 'hook': HTTP {status}"):
            channel.send(ALERT)
        assert server.posts == posts
    finally:
        server.close()


class _Refusing:
    """An SMTP handler that refuses every message with one reply and counts the tries."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.tries = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook name)
        self.tries += 1
        return self.reply


@pytest.mark.parametrize(("reply", "tries"), [("550 No such user", 1), ("451 Try again later", 3)])
def test_smtp_retries_only_temporary_rejections(reply: str, tries: int) -> None:
    handler = _Refusing(reply)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = SmtpChannelConfig.model_validate({"name": "mail", "type": "smtp", "host": "127.0.0.1", "port": port,
                                                   "from": "sokhund@polisen.test", "to": ["analytiker@polisen.test"],
                                                   "retries": 2, "backoff": 0.0, "timeout": 5})
        with pytest.raises(ChannelError, match=r"channel 'mail'"):
            SmtpChannel(config).send(ALERT)
        assert handler.tries == tries
    finally:
        controller.stop()
