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


# Under pytest-xdist (`-n 2 --dist loadgroup`, as `make test` runs) a worker gets whole groups: the tests that
# share an expensive session fixture (a cluster, the private Tor network, a crawled world) form one group, so
# it is set up once per session, not once per worker; any other test is grouped with its module (module
# fixtures are set up once too). The biggest group, Elasticsearch, is scheduled first: it is the longest.
XDIST_GROUPS: dict[str, set[str]] = {
    "es": {"es_cluster", "es_url", "es_secure_cluster", "three_nodes", "campaign_world", "campaign_world_es"},
    "tor": {"tor_testnet", "onion_http_server", "tor_sentinel"},
}


def xdist_group(item: pytest.Item) -> str:
    used = set(getattr(item, "fixturenames", ()))
    named = (g for g, names in XDIST_GROUPS.items() if used & names or item.get_closest_marker(g))
    return next(named, item.nodeid.split("::", 1)[0])


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if getattr(config.option, "dist", "no") != "loadgroup":
        return
    for item in items:
        item.add_marker(pytest.mark.xdist_group(xdist_group(item)))
    items.sort(key=lambda item: xdist_group(item) != "es")  # stable: otherwise collection order


def shared_data(*parts: str) -> Path:
    """Path into ../shared/data; tests that need it skip cleanly when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not present: {path}")
    return path


os.environ.setdefault("SOKHUND_TEST", "1")
