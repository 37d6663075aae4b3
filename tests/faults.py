"""Real faults for the reliability tests: a tiny tmpfs that fills up (a real ENOSPC), files to fill it."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def tiny_disk(where: Path, size_kb: int) -> Iterator[Path]:
    """A tmpfs of ``size_kb`` mounted at ``where`` (needs root; the test skips otherwise)."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=0755", "tmpfs", str(where)],
                          capture_output=True, text=True, timeout=20)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to simulate a full disk: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=20)


def fill(disk: Path, leave_bytes: int = 0) -> Path:
    """Fill ``disk`` until at most ``leave_bytes`` are free; returns the filler file (delete it to free space)."""
    import shutil

    filler = disk / "filler.bin"
    with filler.open("wb") as fh:
        while shutil.disk_usage(disk).free > leave_bytes:
            chunk = min(1 << 16, shutil.disk_usage(disk).free - leave_bytes)
            try:
                fh.write(b"\0" * max(chunk, 1))
                fh.flush()
            except OSError:
                break
    return filler
