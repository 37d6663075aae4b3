"""Faults and scale-out on real engines: a real Elasticsearch (tests/es_cluster.py), a real redis-server,
the testbed's ground truth.

* The JVM of a one-node cluster is SIGKILLed in the middle of a crawl: the crawl goes on into the spool;
  after the restart the spool replays and the index holds exactly the documents the truth says.
* A 3-node cluster (one replica per shard): one node dies during ingest, ingest goes on, 0 lost.
* Two scrapy-redis workers share one frontier and index a 3-day world into that 3-node cluster.

The 3-node cluster boots once for the module (about a minute)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli.demo import _site_env
from crawler.runner import CrawlResult, run_crawl
from indexer.localcluster import LocalCluster
from indexer.models import Listing, ListingObservation
from testbed.server import Testbed
from tests.es_cluster import _start
from tests.es_world import backend, es_index_env, new_prefix, refresh

pytestmark = [pytest.mark.es, pytest.mark.slow]

SITE = "flugsvamp"


def _truth(truth: dict[str, Any], days: range) -> tuple[set[str], set[str]]:
    """(listing ids, vendor names) of SITE active on any of ``days``."""
    names = {(v["site"], str(v["vendor_id"])): v["vendor"] for v in truth["vendors"]}
    active = [r for r in truth["active"] if r["site"] == SITE and r["day"] in days]
    listings = {str(r["id"]) for r in active if r["kind"] == "listing"}
    vendors = {names[(SITE, str(r["id"]))] for r in active if r["kind"] == "vendor"}
    return listings, vendors


def _index_ids(b: Any, kind: str, field: str) -> Counter[str]:
    return Counter(str(d[field]) for d in b.iter_docs(kind) if d.get("site", SITE) == SITE)


@pytest.fixture(scope="module")
def three_nodes() -> Iterator[LocalCluster]:
    cluster, base = _start("sokhund-test-3n", nodes=3)
    try:
        yield cluster
    finally:
        cluster.down()
        shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------------- a dead JVM in the middle of a crawl
def test_sigkill_mid_crawl_spools_then_replays_exactly_the_truth(es_cluster: LocalCluster, tmp_path: Path) -> None:
    prefix, home = new_prefix("kill"), tmp_path / "home"
    probe = backend(es_cluster.url, prefix, tmp_path / "probe")
    stop, killed = threading.Event(), threading.Event()

    def kill_when_indexing() -> None:
        while not stop.is_set():
            try:
                if probe.count("listing") >= 20:  # documents are arriving: the crawl is well under way
                    es_cluster.kill_node(0)
                    killed.set()
                    return
            except Exception:  # noqa: BLE001 - not there yet
                pass
            time.sleep(0.3)

    # a week of prehistory (a third of the feedback pages): the kill still lands mid-crawl, at 20 listings
    with es_index_env(es_cluster.url, prefix, home), Testbed(seed=11, state_dir=home / "testbed", ddos=False,
                                                              prehistory_days=7) as testbed:
        os.environ.update(_site_env(testbed.urls, testbed.session_cookies))
        killer = threading.Thread(target=kill_when_indexing)
        killer.start()
        try:
            result = run_crawl([SITE], as_of=f"{testbed.today}T12:00:00+00:00", run_id="day0", timeout=600)
        finally:
            stop.set()
            killer.join(30)
            es_cluster.start_node(0)  # the session cluster comes back for the tests after this one
        truth = testbed.truth()
    assert killed.is_set(), "the JVM was not killed during the crawl"
    assert result.ok, result.finish_reasons
    spool = home / "spool"
    assert list(spool.glob(f"es-{prefix}-*.jsonl")), "nothing went to the spool while the cluster was down"
    b = backend(es_cluster.url, prefix, spool)
    try:
        b.flush_spool()
        assert b.spool_files() == []
        refresh(b)
        listings, vendors = _truth(truth, range(1))
        stored = _index_ids(b, "listing", "listing_id")
        assert set(stored) == listings and max(stored.values()) == 1  # 0 lost, 0 duplicated
        assert set(_index_ids(b, "vendor", "name")) == vendors
        observations = _index_ids(b, "listing_observation", "listing_id")
        assert set(observations) == listings and set(observations.values()) == {1}
        assert b.count("listing_observation") == len(listings)
    finally:
        b.close()
        probe.close()


# ---------------------------------------------------------------------- a dead node of three
def _primary_node(cluster: LocalCluster, index: str) -> int:
    _, shards = cluster.request("GET", f"/_cat/shards/{index}?format=json&h=prirep,node,state")
    (primary,) = [s["node"] for s in shards if s["prirep"] == "p"]
    return [n.name for n in cluster.state.nodes].index(primary)


def _docs(start: int, n: int) -> list[Any]:
    out: list[Any] = []
    for i in range(start, start + n):
        lst = Listing(id=Listing.make_id("faults", str(i)), site="faults", listing_id=str(i), title=f"Kokain {i} g",
                      price_sek=100.0 + i, first_seen="2026-09-01T12:00:00+00:00",
                      last_seen="2026-09-01T12:00:00+00:00")
        obs = ListingObservation(id=ListingObservation.make_id(lst.id, "r1"), listing=lst.id, site="faults",
                                 listing_id=str(i), observed_at="2026-09-01T12:00:00+00:00", run_id="r1")
        out += [lst, obs]
    return out


def test_node_dies_during_ingest_nothing_lost(three_nodes: LocalCluster, tmp_path: Path) -> None:
    prefix = new_prefix("node")
    first = backend(three_nodes.url, prefix, tmp_path / "spool")
    first.upsert(_docs(0, 50))
    victim = _primary_node(three_nodes, f"{prefix}-listing")
    contact = next(i for i in range(3) if i != victim)  # the client talks to a node that stays up
    first.close()
    b = backend(three_nodes.state.nodes[contact].url, prefix, tmp_path / "spool")
    b.refresh = False  # ingest at full speed; refreshed once at the end
    batches, size = 30, 200
    try:
        for n in range(batches):
            if n == 5:
                three_nodes.kill_node(victim)
            b.upsert(_docs(50 + n * size, size))
        assert b.count("listing") >= 0  # the cluster still answers with one node gone
        three_nodes.start_node(victim)
        three_nodes.wait_healthy(3, deadline=time.monotonic() + 120, status="green")
        b.flush_spool()
        refresh(b)
        total = 50 + batches * size
        assert b.count("listing") == total and b.count("listing_observation") == total
        ids = Counter(d["listing_id"] for d in b.iter_docs("listing_observation"))
        assert len(ids) == total and set(ids.values()) == {1}
        assert b.rejections == []
    finally:
        b.close()


# ---------------------------------------------------------------------- two workers, one frontier
@pytest.fixture()
def redis_url(tmp_path: Path) -> Iterator[str]:
    if not shutil.which("redis-server"):
        pytest.skip("redis-server not installed (make setup installs it)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def test_two_redis_workers_index_the_three_day_world_into_three_nodes(
    three_nodes: LocalCluster, redis_url: str, tmp_path: Path
) -> None:
    prefix, home, days = new_prefix("scale"), tmp_path / "home", 3
    per_day: list[list[CrawlResult]] = []
    with es_index_env(three_nodes.url, prefix, home), Testbed(seed=3, state_dir=home / "testbed",
                                                               ddos=False, prehistory_days=7) as testbed:
        os.environ.update(_site_env(testbed.urls, testbed.session_cookies))
        for day in range(days):
            results: list[CrawlResult] = []

            def worker(run_id: str = f"day{day}", results: list[CrawlResult] = results) -> None:
                results.append(run_crawl([SITE], as_of=f"{testbed.today}T12:00:00+00:00", run_id=run_id,
                                         settings={"SOKHUND_REDIS_URL": redis_url, "CONCURRENT_REQUESTS": 4},
                                         timeout=600))

            threads = [threading.Thread(target=worker) for _ in range(2)]
            for thread in threads:
                thread.start()
                time.sleep(0.5)
            for thread in threads:
                thread.join(600)
            per_day.append(results)
            if day < days - 1:
                testbed.advance()
        truth = testbed.truth()
    assert all(len(r) == 2 and all(x.ok for x in r) for r in per_day)
    pages = [sorted(x.pages for x in r) for r in per_day]
    assert all(p[0] > 0 for p in pages), f"both workers fetched pages every day: {pages}"
    b = backend(three_nodes.url, prefix, home / "spool")
    try:
        refresh(b)
        listings, vendors = _truth(truth, range(days))
        stored = _index_ids(b, "listing", "listing_id")
        assert len(set(stored) & listings) >= 0.99 * len(listings) and set(stored) <= listings
        assert max(stored.values()) == 1
        assert set(_index_ids(b, "vendor", "name")) == vendors
        runs = Counter((o["listing_id"], o["run_id"]) for o in b.iter_docs("listing_observation"))
        assert max(runs.values()) == 1, "one observation per listing per day, never two"
        truth_obs = {(str(r["id"]), f"day{r['day']}") for r in truth["active"]
                     if r["site"] == SITE and r["kind"] == "listing" and 0 <= r["day"] < days}
        assert len(set(runs) & truth_obs) >= 0.99 * len(truth_obs)
    finally:
        b.close()
