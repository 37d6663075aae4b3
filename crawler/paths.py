"""One data directory holds all state (index, WARC, JOBDIR, testbed), so two runs never share it by accident."""

from __future__ import annotations

import os
import re
from pathlib import Path

DEFAULT_HOME = ".sokhund"
# A run id names folders under the data directory (jobs, runs, spool): no path separators, no "..".
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_run_id(run_id: str) -> str:
    if not RUN_ID.fullmatch(run_id) or ".." in run_id:
        raise ValueError(f"invalid run id {run_id!r}: use letters, digits, '.', '_' and '-' (at most 128, no "
                         "'..'); it names folders under $SOKHUND_HOME")
    return run_id


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
