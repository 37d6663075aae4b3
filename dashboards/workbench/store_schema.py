"""Pages that keep their own tables in the workbench store create them here, once per store file and
process (``CREATE … IF NOT EXISTS`` scripts, run through a connection of their own because a script with
triggers cannot go through ``Store.tx``)."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing

from dashboards.workbench.store import Store

_done: set[tuple[str, int]] = set()
_lock = threading.Lock()


def ensure_schema(store: Store, script: str) -> None:
    key = (f"{store.path.resolve()}:{store.path.stat().st_ino}", hash(script))  # a new file at the same path: again
    if key in _done:
        return
    with _lock:
        if key in _done:
            return
        with closing(sqlite3.connect(store.path, timeout=30)) as db:
            db.execute("PRAGMA busy_timeout=30000")
            db.executescript(script)
        _done.add(key)
