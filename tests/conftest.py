"""Shared pytest setup. Each area keeps its fixtures in its own ``tests/fixtures_<area>.py`` plugin,
listed here, so parallel work never edits the same fixture file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# ../shared/data next to the checkout; SOKHUND_SHARED_DATA points elsewhere (a git worktree in /work/wt/NAME)
SHARED_DATA = Path(os.environ.get("SOKHUND_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")

pytest_plugins: list[str] = ["tests.fixtures_tor", "tests.es_cluster", "tests.fixtures_worlds"]


@pytest.fixture()
def sokhund_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private data directory per test, so no two tests share state."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("SOKHUND_HOME", str(home))
    return home


# Under pytest-xdist (`-n 2 --dist loadfile`, as `make test` runs) a test file runs whole on one worker, so a
# module fixture is set up once; a session fixture (the Elasticsearch cluster, a crawled world, the private
# Tor network) is set up at most once per worker. (Grouping them onto one worker with `--dist loadgroup`
# does not work with pytest 9: xdist 3.8 tags the group onto `item._nodeid`, which pytest 9 no longer reads.)


def shared_data(*parts: str) -> Path:
    """Path into ../shared/data; tests that need it skip cleanly when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not present: {path}")
    return path


os.environ.setdefault("SOKHUND_TEST", "1")

