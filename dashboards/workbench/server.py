"""Running the workbench: gunicorn (threaded workers) in the foreground.

Why gunicorn: a maintained production WSGI server that also terminates TLS itself (``--tls-cert/--tls-key``),
which waitress does not and werkzeug's server is not meant for. One worker process with threads keeps
memory small; all state (sessions, login failures, audit) is in SQLite, so more workers would work too."""

from __future__ import annotations

import ipaddress
import sys
from typing import Any

from flask import Flask

from dashboards.workbench.config import WorkbenchConfig


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, tls: bool, insecure_bind: bool) -> str | None:
    """None when the bind is allowed; a warning when it is allowed only because of --insecure-bind.
    Raises ValueError when it is refused."""
    if is_loopback(host) or tls:
        return None
    if not insecure_bind:
        raise ValueError(f"binding to {host} (not loopback) needs TLS (--tls-cert FILE --tls-key FILE) or "
                         "--insecure-bind: sessions and police data would cross the network in clear text")
    return (f"WARNING: serving on {host} WITHOUT TLS (--insecure-bind): passwords, session cookies and "
            "police data cross the network in clear text. Use it only behind a TLS-terminating proxy.")


def serve(config: WorkbenchConfig, host: str, port: int, tls_cert: str | None = None, tls_key: str | None = None,
          threads: int = 8) -> None:
    from gunicorn.app.base import BaseApplication

    from dashboards.workbench.app import create_app

    app = create_app(config)

    class _Server(BaseApplication):
        def load_config(self) -> None:
            settings: dict[str, Any] = {
                "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
                "workers": 1, "worker_class": "gthread", "threads": threads, "timeout": 120,
                "accesslog": None, "errorlog": "-", "loglevel": "warning",
                "control_socket_disable": True,  # no control socket in the working directory
            }
            if tls_cert:
                settings.update(certfile=tls_cert, keyfile=tls_key)
            for key, value in settings.items():
                if key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self) -> Flask:
            return app

    scheme = "https" if tls_cert else "http"
    print(f"Sökhund workbench on {scheme}://{host if ':' not in host else f'[{host}]'}:{port}/ "
          f"(index: {config.index_url or 'embedded SQLite'}); Ctrl-C stops it", file=sys.stderr, flush=True)
    _Server().run()
