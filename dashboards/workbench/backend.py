"""The index for the current request: opened on first use (same URL conventions as `sokhund search
--index`), closed when the request ends. SQLite connections are per thread, so one per request is safe
under the threaded server."""

from __future__ import annotations

from flask import Flask, current_app, g

from indexer.base import IndexBackend, open_backend


def get_backend() -> IndexBackend:
    backend = g.get("sokhund_backend")
    if backend is None:
        backend = open_backend(current_app.extensions["sokhund_config"].index_url)
        g.sokhund_backend = backend
    return backend


def _close(_exc: BaseException | None) -> None:
    backend = g.pop("sokhund_backend", None)
    if backend is not None:
        backend.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close)
