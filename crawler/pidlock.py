"""A pid lock file: one holder at a time, held with ``flock`` so the kernel drops it when the holder dies,
however it dies; the file names the holder's pid for the message the next one sees."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO


class LockHeld(OSError):
    """Another live process holds the lock; ``owner`` is the pid it wrote (or "?")."""

    def __init__(self, path: Path, owner: str) -> None:
        super().__init__(f"{path} is held by pid {owner}")
        self.owner = owner


def hold_pid_lock(path: Path) -> IO[str]:
    """Take the lock at ``path`` without waiting and write our pid into it; keep the handle open to hold it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        owner = handle.read().strip() or "?"
        handle.close()
        raise LockHeld(path, owner) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle
