"""Background WAL checkpoints for the embedded index.

In WAL mode every commit appends the pages it changed to ``index.sqlite-wal``; a checkpoint copies them
back into the database file and syncs it. SQLite's automatic checkpoint runs inside the commit that
crosses ``wal_autocheckpoint`` pages, so the writer stops to copy and sync a quarter of a gigabyte: at a
million listings that is a fifth of bulk-upsert time. A :class:`WalCheckpointer` does the same work on its
own connection in a thread, woken after each commit: a ``PASSIVE`` checkpoint waits for no lock, so the
writer goes on preparing and writing the next batch meanwhile (SQLite releases the GIL while it copies and
syncs, so the second core does it).

The writer keeps its automatic checkpoint as a backstop: if this thread falls behind (a slow disk, a reader
holding an old snapshot) or fails, the WAL still cannot grow past that limit. A checkpoint that fails
(disk full, a damaged file) is logged once and retried on the next wake-up; it loses nothing, since the
committed pages stay in the WAL until some checkpoint copies them.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

INTERVAL_S = 0.1  # at most ten checkpoints a second: pages changed again within it are copied once
IDLE_S = 2.0  # a thread that was not poked for this long ends (the next commit starts another)


class WalCheckpointer:
    """Copies committed WAL pages into the database file from a background thread.

    The thread starts on a :meth:`poke` (a backend that only reads never starts one), ends after
    ``IDLE_S`` without one (with its connection: a backend left unclosed holds no thread or file), and
    stops on :meth:`close`."""

    def __init__(self, path: str | Path, *, interval_s: float = INTERVAL_S, idle_s: float = IDLE_S,
                 busy_timeout_ms: int = 1_000) -> None:
        self.path = Path(path)
        self.interval_s, self.idle_s = interval_s, idle_s
        self.busy_timeout_ms = busy_timeout_ms
        self.checkpoints = 0  # PASSIVE checkpoints run
        self.last: tuple[int, int] | None = None  # (frames in the WAL, frames of them in the file) then
        self.last_error: str | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def poke(self) -> None:
        """A commit happened: checkpoint soon."""
        if self._stop.is_set():
            return
        with self._lock:
            self._wake.set()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"wal-checkpoint {self.path}",
                                                daemon=True)
                self._thread.start()

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop the thread, after the checkpoint it is running (if any) has finished."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    def _run(self) -> None:
        try:
            db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        except sqlite3.Error as exc:
            self._failed(exc)
            with self._lock:
                self._thread = None
            return
        try:
            while not self._stop.is_set():
                if not self._wake.wait(self.idle_s):
                    with self._lock:  # a poke now either finds this thread still waiting or starts a new one
                        if not self._wake.is_set():
                            self._thread = None
                            return
                self._wake.clear()
                if self._stop.is_set():
                    break
                self._checkpoint(db)
                self._stop.wait(self.interval_s)  # commits during the pause wake the next round
        finally:
            db.close()

    def _checkpoint(self, db: sqlite3.Connection) -> None:
        try:
            _busy, frames, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:
            self._failed(exc)
            return
        self.checkpoints += 1
        self.last = (frames, copied)
        self.last_error = None

    def _failed(self, exc: sqlite3.Error) -> None:
        if self.last_error is None:
            log.warning("background checkpoint of %s failed (%s); the writer's own checkpoints go on", self.path, exc)
        self.last_error = str(exc)
