"""What the workbench needs to run: where the index is, where its own state lives, cookie and
login-limit settings. Built by ``sokhund serve`` or by tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class WorkbenchConfig:
    index_url: str | None = None  # same conventions as `sokhund search --index` (None: embedded SQLite)
    store_path: Path | None = None  # default $SOKHUND_HOME/workbench.sqlite
    tls: bool = False  # served over HTTPS: session cookies get the Secure flag
    idle_timeout_s: int = 30 * 60  # a session unused this long ends
    absolute_timeout_s: int = 12 * 3600  # and every session ends this long after login
    login_max_failures: int = 5  # failures per user, and per address, within the window
    login_window_s: int = 15 * 60  # lock-out window
    per_page: int = 20
    testing: bool = False

    def resolved_store_path(self) -> Path:
        if self.store_path is not None:
            return Path(self.store_path)
        from crawler import paths

        return paths.home() / "workbench.sqlite"
