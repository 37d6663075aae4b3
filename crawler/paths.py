"""One data directory holds all state (index, WARC, JOBDIR, testbed), so two runs never share it by accident."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_HOME = ".sokhund"


def home() -> Path:
    """The data directory: $SOKHUND_HOME, else ./.sokhund. Created on first use."""
    path = Path(os.environ.get("SOKHUND_HOME") or DEFAULT_HOME).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def sub(name: str) -> Path:
    """A named subdirectory of the data directory (warc, jobs, testbed, alerts …), created on demand."""
    path = home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def index_path() -> Path:
    return home() / "index.sqlite"


def warc_dir() -> Path:
    return sub("warc")


def jobs_dir() -> Path:
    return sub("jobs")


def testbed_dir() -> Path:
    return sub("testbed")
