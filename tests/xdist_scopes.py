"""pytest plugin: how ``-n 2 --dist loadfile`` splits the suite over the xdist workers.

A session fixture is set up once per worker that runs a test needing it, and the expensive ones (a real
Elasticsearch cluster, the private Tor network, a crawled campaign world) cost minutes each. Plain
``loadfile`` scatters their files over both workers, so each is built twice; ``--dist loadgroup`` would
keep them together but its ``xdist_group`` marks do nothing under pytest 9 (xdist 3.8 renames
``item._nodeid``, which pytest 9 no longer reads). So this plugin replaces the ``loadfile`` scheduler:

* each worker records, after collection, which :data:`HEAVY` group every test belongs to (the first group
  one of whose fixtures is in the test's fixture closure, so fixtures that use them indirectly count) and
  whether it is marked ``slow``, in a JSON file the controller named (``pytest_configure_node``);
* the controller's scheduler puts every file of a group into ONE work unit (one worker builds that
  fixture once); every other file stays its own unit, as with ``loadfile``;
* units go out longest first (groups in :data:`HAND_OUT` order, then files with slow tests, then by
  test count), so the two workers end close together.

Without xdist (or without the record) nothing changes.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadFileScheduling

# group name -> session fixtures whose users share one worker; a test joins the FIRST group one of whose
# fixtures it needs. The crawled worlds (minutes each; they need the ES cluster too) are a group of their
# own, so the cluster's other users (a few more minutes: the 3-node and fault tests) can go to the other
# worker; the cluster then boots twice (about 20 s), the worlds once.
HEAVY: dict[str, tuple[str, ...]] = {
    "worlds": ("campaign_world", "campaign_world_es"),
    "elasticsearch": ("es_cluster", "es_secure_cluster"),
    "tor": ("tor_testnet",),
}
# the order the groups are handed out in: the longest first
HAND_OUT = ("elasticsearch", "worlds", "tor")
_INPUT_KEY = "sokhund_scope_record"


def _group_of(fixturenames: list[str]) -> str | None:
    names = set(fixturenames)
    return next((group for group, fixtures in HEAVY.items() if names & set(fixtures)), None)


def _file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


class GroupedFileScheduling(LoadFileScheduling):
    """``loadfile``, except that the files of one :data:`HEAVY` group form a single work unit."""

    def __init__(self, config: pytest.Config, log: Any = None) -> None:
        super().__init__(config, log)
        self.record_dir = Path(config._tmp_path_factory.getbasetemp()) / "xdist-scopes"  # type: ignore[attr-defined]
        self.record_dir.mkdir(parents=True, exist_ok=True)
        self._groups: dict[str, str] | None = None  # file -> group
        self._slow: set[str] = set()  # files with a slow test
        self._sorted = False

    def _load_record(self) -> None:
        files = sorted(self.record_dir.glob("*.json"))
        groups: dict[str, str] = {}
        if files:  # every worker collected the same tests (xdist checks): one record is enough
            record: dict[str, list[Any]] = json.loads(files[0].read_text("utf-8"))
            for nodeid, (group, slow) in record.items():
                path = _file_of(nodeid)
                if slow:
                    self._slow.add(path)
                if group and (path not in groups or list(HEAVY).index(group) < list(HEAVY).index(groups[path])):
                    groups[path] = group
        self._groups = groups

    def _split_scope(self, nodeid: str) -> str:
        if self._groups is None:
            self._load_record()
        assert self._groups is not None
        path = _file_of(nodeid)
        group = self._groups.get(path)
        return f"group:{group}" if group else path

    def _assign_work_unit(self, node: Any) -> None:
        # the base class fills the queue and hands out its first units in one method: sort before the first
        if not self._sorted:
            self._sorted = True
            order = list(HAND_OUT)

            def weight(item: tuple[str, dict[str, bool]]) -> tuple[int, int, int]:
                scope, tests = item
                if scope.startswith("group:"):
                    return (0, order.index(scope[len("group:"):]), 0)
                return (1 if scope in self._slow else 2, 0, -len(tests))

            queued = sorted(self.workqueue.items(), key=weight)
            self.workqueue = OrderedDict(queued)
        super()._assign_work_unit(node)


def pytest_configure_node(node: Any) -> None:
    """Controller: tell each worker where to write its record."""
    sched_dir = Path(node.config._tmp_path_factory.getbasetemp()) / "xdist-scopes"
    sched_dir.mkdir(parents=True, exist_ok=True)
    node.workerinput[_INPUT_KEY] = str(sched_dir / f"{node.gateway.id}.json")


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") == "loadfile":
        return GroupedFileScheduling(config, log)
    return None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Worker: record each test's group and slowness for the controller's scheduler."""
    target = getattr(config, "workerinput", {}).get(_INPUT_KEY)
    if not target:
        return
    record = {item.nodeid: [_group_of(list(getattr(item, "fixturenames", []))),
                            item.get_closest_marker("slow") is not None] for item in items}
    tmp = f"{target}.{os.getpid()}.tmp"
    Path(tmp).write_text(json.dumps(record), "utf-8")
    os.replace(tmp, target)  # whole or not at all: the controller reads it once all workers collected
