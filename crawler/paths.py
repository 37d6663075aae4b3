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


def home(create: bool = True) -> Path:
    """The data directory: $SOKHUND_HOME, else ./.sokhund. Created on first use, unless ``create`` is False
    (a command that only reads must not leave an empty data directory where it was started)."""
    path = Path(os.environ.get("SOKHUND_HOME") or DEFAULT_HOME).resolve()
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def sub(name: str) -> Path:
    """A named subdirectory of the data directory (warc, jobs, testbed, alerts …), created on demand."""
    path = home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def index_path(create: bool = True) -> Path:
    return home(create) / "index.sqlite"


def warc_dir() -> Path:
    return sub("warc")


def jobs_dir() -> Path:
    return sub("jobs")


def testbed_dir() -> Path:
    return sub("testbed")


def relative_to_home(path: str | Path) -> str:
    """How a file is stored in the index: relative to the data directory, so moving it keeps links."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(home()).as_posix()
    except ValueError:
        return str(resolved)  # outside the data directory: only an absolute path can find it


def resolve_data_path(stored: str | Path) -> Path:
    """A stored evidence path as a file on this machine.

    Relative paths are under ``$SOKHUND_HOME``. Absolute paths written by older versions keep working;
    when the data directory was moved, the part from ``warc/`` on is looked up under the current home.
    """
    path = Path(stored)
    if not path.is_absolute():
        return home() / path
    if path.exists():
        return path
    parts = path.parts
    if "warc" in parts:
        moved = home().joinpath(*parts[len(parts) - 1 - parts[::-1].index("warc"):])
        if moved.exists():
            return moved
    return path
