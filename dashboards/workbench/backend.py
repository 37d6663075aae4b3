"""The index for the current request: opened on first use (same URL conventions as `sokhund search
--index`), closed when the request ends. SQLite connections are per thread, so one per request is safe
under the threaded server."""

from __future__ import annotations

import inspect

from flask import Flask, current_app, g

from indexer.base import IndexBackend, open_backend


def open_index(url: str | None) -> IndexBackend:
    """The index, for reading: where ``open_backend`` can refuse a missing SQLite file (``must_exist``), it
    does, so a mistyped ``--index`` never serves (and creates) an empty index."""
    if "must_exist" in inspect.signature(open_backend).parameters:
        return open_backend(url, must_exist=True)  # type: ignore[call-arg]
    return open_backend(url)


def get_backend() -> IndexBackend:
    backend = g.get("sokhund_backend")
    if backend is None:
        backend = open_index(current_app.extensions["sokhund_config"].index_url)
        g.sokhund_backend = backend
    return backend


def _close(_exc: BaseException | None) -> None:
    backend = g.pop("sokhund_backend", None)
    if backend is not None:
        backend.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close)
