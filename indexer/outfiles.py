"""Files the commands write for analysts (``--out``, ``--plot``): whole or not at all. A full disk or a
missing folder must not leave a shorter file that looks like a complete export; the error names the file.

Low in the stage order (``indexer``) so the crawler's, analytics' and dashboards' commands can all use it.
"""

from __future__ import annotations

import os
from pathlib import Path


class OutputError(OSError):
    """A file could not be written; nothing (not even part of it) was left at its path."""

    def __str__(self) -> str:
        return str(self.strerror)


def write_whole(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    part = path.with_name(f".{path.name}.part-{os.getpid()}")
    try:
        with part.open("wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(part, path)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise OutputError(exc.errno, f"cannot write {path}: {exc.strerror or exc}; nothing was written") from None
    return path
