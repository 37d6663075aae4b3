"""Shared pytest setup. Each area keeps its fixtures in its own ``tests/fixtures_<area>.py`` plugin,
listed here, so parallel work never edits the same fixture file."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

# ../shared/data next to the checkout; SOKHUND_SHARED_DATA points elsewhere (a git worktree in /work/wt/NAME)
SHARED_DATA = Path(os.environ.get("SOKHUND_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")

pytest_plugins: list[str] = ["tests.fixtures_tor", "tests.es_cluster", "tests.fixtures_worlds", "pytester"]


@pytest.fixture()
def sokhund_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private data directory per test, so no two tests share state."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("SOKHUND_HOME", str(home))
    return home


# Under pytest-xdist (`-n 2 --dist loadfile`, as `make test` runs) tests/xdist_scopes.py keeps the files that
# share an expensive session fixture (the Elasticsearch cluster, the private Tor network, a crawled world)
# on one worker, so each is built once per run; every other file is a unit of its own, as loadfile does.
if importlib.util.find_spec("xdist") is not None:
    pytest_plugins.append("tests.xdist_scopes")


def shared_data(*parts: str) -> Path:
    """Path into ../shared/data; tests that need it skip cleanly when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not present: {path}")
    return path


os.environ.setdefault("SOKHUND_TEST", "1")

