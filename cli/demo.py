"""``sokhund demo``: the whole job on the simulated world.

Start the testbed on 127.0.0.1 (optionally as onion services on a private Tor network), then for each
simulated day run one campaign (crawl every site, roll up vendors, evaluate alerts) and advance the world. End with a
summary (pages, listings, vendors, observations, new vendors per day), trend plots and the world's
ground truth beside them."""

from __future__ import annotations

import argparse
import functools
import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from campaigns.config import Campaign, Schedule
from campaigns.runs import run_campaign
from crawler import paths
from crawler.adapters import load_all
from crawler.runner import run_crawl


def _site_env(urls: dict[str, str], cookies: dict[str, dict[str, str]]) -> dict[str, str]:
    env = {f"SOKHUND_SITE_{site.upper()}_URL": url for site, url in urls.items()}
    for site, jar in cookies.items():
        env[f"SOKHUND_COOKIE_{site.upper()}"] = "; ".join(f"{k}={v}" for k, v in jar.items())
    return env


def _counts(as_of: str) -> dict[str, int]:
    from indexer.base import SearchFilters, open_backend

    backend = open_backend()
    try:
        return {
            "listings": backend.count("listing", SearchFilters(date_field="last_seen", date_from=as_of, date_to=as_of)),
            "vendors": backend.count("vendor", SearchFilters(date_field="last_seen", date_from=as_of, date_to=as_of)),
            "observations": backend.count("listing_observation", SearchFilters(date_field="observed_at", date_from=as_of, date_to=as_of)),
            "feedback": backend.count("feedback"),
            "posts": backend.count("post"),
        }
    finally:
        backend.close()


def _alert_titles(alert_ids: list[str]) -> list[str]:
    from indexer.base import open_backend

    backend = open_backend()
    try:
        return [(backend.get("alert", a) or {}).get("title") or a for a in alert_ids]
    finally:
        backend.close()


# Kept across demo resets: the marker, and the workbench's users and audit trail (`sokhund users add`).
KEPT = ("DEMO", "workbench.sqlite", "workbench.sqlite-wal", "workbench.sqlite-shm")


def _prepare_home() -> None:
    """The demo needs a data directory of its own: an empty one, or one that only an earlier demo used
    (which is then reset, so every demo starts from the same clean slate)."""
    home = paths.home()
    marker = home / "DEMO"
    used = [p for p in home.iterdir() if p.name not in KEPT]
    if used and not marker.exists():
        raise RuntimeError(
            f"{home} holds other crawls; the demo will not mix with them. "
            "Run it with SOKHUND_HOME pointing at an empty directory, e.g. SOKHUND_HOME=.sokhund-demo sokhund demo"
        )
    for path in used:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    marker.write_text("this data directory belongs to `sokhund demo`, which resets it on every run\n")


@contextmanager
def _onion_world(urls: dict[str, str], console: Console) -> Iterator[dict[str, str]]:
    """Serve every testbed site as a v3 onion service on a private Tor network on 127.0.0.1, and point
    the crawl at tor's SOCKS port. Yields the onion URL of each site."""
    from tor.testnet import PrivateTorNetwork

    services = {name: url.split("://", 1)[1].rstrip("/") for name, url in urls.items()}
    network = PrivateTorNetwork(paths.sub("tor") / "demo-network", services)
    console.print("booting a private Tor network on 127.0.0.1 (3 authorities, 4 relays, onion service, client) …")
    state = network.up()
    try:
        console.print(f"Tor network up in {state.boot_seconds:.0f} s; SOCKS {state.socks}")
        os.environ.update({"SOKHUND_TOR_SOCKS": state.socks, "SOKHUND_TOR_CONTROL": state.control,
                           "SOKHUND_TOR_COOKIE": state.cookie_path})
        yield {name: state.url(name).rstrip("/") for name in services}
    finally:
        network.down()


@contextmanager
def _local_es(console: Console, keep: bool) -> Iterator[str]:
    """A local Elasticsearch cluster for the demo under ``$SOKHUND_HOME/es/cluster`` (where ``sokhund es
    status|down`` find it); stopped at the end unless ``keep``. Every index user of this process and of
    its crawl workers is pointed at it through ``SOKHUND_INDEX_URL``."""
    from indexer.localcluster import LocalCluster

    base = paths.sub("es") / "cluster"
    console.print("starting a local Elasticsearch cluster on 127.0.0.1 (about 30 s) …")
    cluster = LocalCluster(base, owned=not keep)
    state = cluster.up(timeout=float(os.environ.get("SOKHUND_ES_BOOT_TIMEOUT", "180")))
    console.print(f"Elasticsearch {state.version} up in {state.boot_seconds:.0f} s: {state.url}")
    previous = os.environ.get("SOKHUND_INDEX_URL")
    os.environ["SOKHUND_INDEX_URL"] = state.url
    try:
        yield state.url
    finally:
        if keep:
            console.print(f"Elasticsearch keeps running: SOKHUND_INDEX_URL={state.url}; stop it with "
                          "[bold]sokhund es down[/]")
        else:
            cluster.down()
            if previous is None:
                os.environ.pop("SOKHUND_INDEX_URL", None)
            else:
                os.environ["SOKHUND_INDEX_URL"] = previous


def _demo_index(index: str | None) -> str:
    """``sqlite`` (the embedded default), ``es`` (a local cluster the demo starts) or an index URL;
    default ``$SOKHUND_INDEX_URL``, else sqlite."""
    index = index or os.environ.get("SOKHUND_INDEX_URL") or "sqlite"
    return "es" if index in ("es", "elasticsearch") else index


def run_demo(days: int = 7, seed: int = 7, use_tor: bool = False, out: str | None = None,
             index: str | None = None, keep_es: bool = False) -> int:
    console = Console()
    index = _demo_index(index)
    if index != "es":
        if index != "sqlite":
            os.environ["SOKHUND_INDEX_URL"] = index
        return _run_days(console, days, seed, use_tor, out)
    from indexer.localcluster import down_from_state

    kept = paths.home() / "es" / "cluster"
    if kept.exists():
        down_from_state(kept)  # a cluster an earlier demo kept, before the reset
    _prepare_home()
    with _local_es(console, keep_es):
        return _run_days(console, days, seed, use_tor, out, prepared=True)


def _run_days(console: Console, days: int, seed: int, use_tor: bool, out: str | None,
              prepared: bool = False) -> int:
    from testbed.server import Testbed

    out_dir = Path(out) if out else paths.home() / "demo"
    if not prepared:
        _prepare_home()
    out_dir.mkdir(parents=True, exist_ok=True)
    state = paths.testbed_dir() / f"demo-seed{seed}"
    adapters = load_all()
    rows: list[dict[str, Any]] = []
    with ExitStack() as stack:
        testbed = Testbed(seed=seed, state_dir=state)
        testbed.start()
        stack.callback(testbed.stop)
        urls = dict(testbed.urls)
        if use_tor:
            urls = stack.enter_context(_onion_world(urls, console))
        sites = [name for name in adapters if name in urls and not any(p.render for p in adapters[name].pages.values())]
        rendered = [name for name in adapters if name in urls and name not in sites]
        if rendered and shutil.which("chromium"):
            sites += rendered
        os.environ.update(_site_env(urls, testbed.session_cookies))
        console.print(f"[bold]Sökhund demo[/]: seed {seed}, {days} simulated days from {testbed.today}, sites: {', '.join(sites)}")
        for name in sites:
            console.print(f"  {name:12} {urls[name]}")
        from crawler.progress_bar import CrawlProgressBar

        campaign = Campaign(
            name="demo", description="sokhund demo: every site once per simulated day",
            sites=sites, schedule=Schedule(interval_seconds=86400), tor=use_tor,
        )
        for day in range(days):
            as_of = f"{testbed.today}T12:00:00+00:00"
            console.rule(f"day {day} · {testbed.today}")
            with CrawlProgressBar(console) as update:
                crawl = functools.partial(run_crawl, progress=update)
                run = run_campaign(campaign, crawl=crawl, as_of=as_of)
            if run.status != "ok":
                console.print(f"[red]campaign run {run.id} {run.status}[/]: {run.error}")
            counts = _counts(as_of)
            alert_ids = list(run.stats.get("alert_ids") or [])
            rows.append({"day": day, "date": testbed.today, "pages": run.stats.get("pages", 0), **counts,
                         # the run's own count (as in `campaign history`): 0 on the baseline crawl
                         "new_vendors": run.stats.get("new_vendors", 0), "alerts": len(alert_ids),
                         "invalid": run.stats.get("invalid_pages", {}), "errors": run.stats.get("errors", 0)})
            for title in _alert_titles(alert_ids):
                console.print(f"[red]ALERT[/] {title}")
            if day < days - 1:
                testbed.advance()
        truth_dir = out_dir / "truth"
        testbed.write_truth(truth_dir)
        new_day = testbed.config.new_swedish_vendor_day
    _summary(console, rows)
    if days <= new_day:  # days count from 0: day N is only crawled with --days N+1
        console.print(f"the new Swedish vendor joins on day {new_day}: run with --days {new_day + 1} or more "
                      "to see its alert")
    plots = _plots(out_dir)
    console.print(f"ground truth: {truth_dir}")
    for plot in plots:
        console.print(f"plot: {plot}")
    console.print("next: [bold]sokhund search kokain[/], [bold]sokhund vendors --swedish[/], [bold]sokhund alerts[/], "
                  "[bold]sokhund trends --by substance[/]")
    _print_workbench_hint(console, os.environ.get("SOKHUND_INDEX_URL"))
    return 0


def _print_workbench_hint(console: Console, index: str | None) -> None:
    """How to open the demo data in the browser workbench (`sokhund serve`)."""
    from crawler import paths

    home = paths.home()
    prefix = "" if home == (Path.cwd() / paths.DEFAULT_HOME).resolve() else f"SOKHUND_HOME={home} "
    index_arg = f" --index {index}" if index and index not in ("sqlite",) else ""
    has_users = False
    if (home / "workbench.sqlite").exists():
        from dashboards.workbench import users
        from dashboards.workbench.store import Store

        has_users = bool(users.list_users(Store(home / "workbench.sqlite")))
    console.print("workbench (in the browser):", markup=False)
    if not has_users:
        console.print(f"  1. a first user:  {prefix}.venv/bin/sokhund users add admin --role admin", markup=False)
    console.print(f"  {'2. ' if not has_users else ''}serve it:  {prefix}.venv/bin/sokhund serve{index_arg}   "
                  "then open http://127.0.0.1:8800/ and log in", markup=False)


def _summary(console: Console, rows: list[dict[str, Any]]) -> None:
    table = Table(title="Sökhund demo: what each simulated day's crawl saw")
    for column in ("day", "date", "pages", "listings", "vendors", "observations", "feedback", "posts",
                   "new_vendors", "alerts", "invalid", "errors"):
        table.add_column(column, justify="right")
    for row in rows:
        invalid = ", ".join(f"{k}:{v}" for k, v in row["invalid"].items()) or "-"
        table.add_row(*[str(row[c]) if c != "invalid" else invalid for c in (
            "day", "date", "pages", "listings", "vendors", "observations", "feedback", "posts",
            "new_vendors", "alerts", "invalid", "errors")])
    console.print(table)


def _plots(out_dir: Path) -> list[Path]:
    try:
        from analytics.trends import write_trend_plots
    except ImportError:
        return []
    from indexer.base import open_backend

    backend = open_backend()
    try:
        return list(write_trend_plots(backend, out_dir))
    finally:
        backend.close()

def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="run the whole job on the simulated testbed world",
                       description="Starts the testbed markets and forum on 127.0.0.1, crawls them once per "
                       "simulated day into the embedded index, evaluates alerts and ends with a summary "
                       "and trend plots.")
    p.add_argument("--days", type=int, default=7, help="simulated days to crawl (default 7)")
    p.add_argument("--seed", type=int, default=7, help="world seed (default 7)")
    p.add_argument("--tor", action="store_true", help="crawl the markets as onion services over a private Tor network")
    p.add_argument("--out", default=None, help="where to write plots and truth (default $SOKHUND_HOME/demo)")
    p.add_argument("--index", default=None,
                   help="sqlite (default), es (start a local Elasticsearch cluster for the demo) or an index "
                   "URL; default $SOKHUND_INDEX_URL")
    p.add_argument("--keep-es", action="store_true",
                   help="with --index es: leave the cluster running afterwards (stop it with 'sokhund es down')")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from cli.demo import run_demo

    return run_demo(days=args.days, seed=args.seed, use_tor=args.tor, out=args.out, index=args.index,
                    keep_es=args.keep_es)
