"""``sokhund_bm25``: FTS5's bm25 with caller-given document frequencies (see ``fts_rank.c`` for why).

Python's ``sqlite3`` cannot load extensions, so the C function is compiled once (``cc``, the SQLite headers
of ``libsqlite3-dev``) into the user's cache and registered with ``sqlite3_auto_extension`` of the SQLite
library Python uses: every connection opened afterwards has it. :func:`available` says whether it worked;
when it did not (no compiler, a statically linked SQLite, ``SOKHUND_SQLITE_FAST_RANK=0``), searches rank
with FTS5's own bm25() as before, the same matches in the same order, only slower at a million listings.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

FUNCTION = "sokhund_bm25"
_SOURCE = Path(__file__).with_name("fts_rank.c")


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sokhund"


def _built() -> Path | None:
    """The compiled extension for this source (compiled now if needed), or None."""
    source = _SOURCE.read_bytes()
    tag = hashlib.sha256(source + sqlite3.sqlite_version.encode()).hexdigest()[:16]
    target = _cache_dir() / f"fts_rank-{tag}.so"
    if target.exists():
        return target
    cc = shutil.which(os.environ.get("CC", "cc"))
    if cc is None:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        out = Path(tmp) / target.name
        done = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", str(out), str(_SOURCE), "-lm"],
                              capture_output=True, timeout=120)
        if done.returncode != 0 or not out.exists():
            return None
        os.replace(out, target)  # whole or not at all: another process may build it at the same time
    return target


@functools.cache
def _install() -> bool:
    if os.environ.get("SOKHUND_SQLITE_FAST_RANK", "1") == "0":
        return False
    try:
        built = _built()
        if built is None:
            return False
        ext = ctypes.CDLL(str(built))
        lib = ctypes.CDLL("libsqlite3.so.0")  # already loaded by _sqlite3 when it links it dynamically
        if lib.sqlite3_libversion_number() != sqlite3.sqlite_version_info[0] * 1_000_000 + \
                sqlite3.sqlite_version_info[1] * 1000 + sqlite3.sqlite_version_info[2]:
            return False
        lib.sqlite3_auto_extension.argtypes = [ctypes.c_void_p]
        if lib.sqlite3_auto_extension(ctypes.cast(ext.sokhund_rank_init, ctypes.c_void_p)) != 0:
            return False
        _install.keep = ext  # type: ignore[attr-defined]  # the library must stay loaded
    except (OSError, AttributeError, subprocess.SubprocessError):
        return False
    return _works()


def _works() -> bool:
    """Whether a new connection has the function and it scores as bm25() does."""
    db = sqlite3.connect(":memory:")
    try:
        db.execute("CREATE VIRTUAL TABLE t USING fts5(a, b)")
        db.executemany("INSERT INTO t VALUES (?, ?)", [("x y", "x"), ("y", "z x x"), ("z", "z")])
        rows = db.execute(f"SELECT bm25(t, 2.0, 1.0), {FUNCTION}(t, '', 2.0, 1.0) FROM t WHERE t MATCH 'x'").fetchall()
        return len(rows) == 2 and all(abs(a - b) < 1e-12 for a, b in rows)
    except sqlite3.Error:
        return False
    finally:
        db.close()


def available() -> bool:
    """Register the function for connections opened from now on; True when they will have it."""
    return _install()
