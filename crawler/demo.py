"""``sokhund demo``: the whole job on the simulated world.

Start the testbed on 127.0.0.1 (optionally as onion services on a private Tor network), then for each
simulated day: crawl every site, roll up vendors, evaluate alerts, advance the world. End with a
summary (pages, listings, vendors, observations, new vendors per day), trend plots and the world's
ground truth beside them."""

from __future__ import annotations

import os
import shutil
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from crawler import paths
from crawler.adapters import load_all
from crawler.runner import CrawlResult, run_crawl


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


def _after_crawl(result: CrawlResult) -> list[Any]:
    """Analyse → alert for one crawl: vendor roll-up, then the alert rules (fire once per entity)."""
    from indexer.base import open_backend

    backend = open_backend()
    try:
        try:
            from indexer.rollup import rollup
        except ImportError:
            rollup = None
        if rollup is not None:
            rollup(backend)
        try:
            from indexer.alerts import evaluate_alerts
        except ImportError:
            return []
        return list(evaluate_alerts(backend, result.run_id) or [])
    finally:
        backend.close()


def run_demo(days: int = 7, seed: int = 7, use_tor: bool = False, out: str | None = None) -> int:
    from testbed.server import Testbed

    console = Console()
    out_dir = Path(out) if out else paths.sub("demo")
    out_dir.mkdir(parents=True, exist_ok=True)
    state = paths.testbed_dir() / f"demo-seed{seed}"
    shutil.rmtree(state, ignore_errors=True)  # a fresh world every demo; the index keeps its history
    adapters = load_all()
    rows: list[dict[str, Any]] = []
    with ExitStack() as stack:
        testbed = Testbed(seed=seed, state_dir=state)
        testbed.start()
        stack.callback(testbed.stop)
        urls = dict(testbed.urls)
        if use_tor:
            from tor.testnet import start_testnet_for

            urls = stack.enter_context(start_testnet_for(urls, console=console))
        sites = [name for name in adapters if name in urls and not any(p.render for p in adapters[name].pages.values())]
        rendered = [name for name in adapters if name in urls and name not in sites]
        if rendered and shutil.which("chromium"):
            sites += rendered
        os.environ.update(_site_env(urls, testbed.session_cookies))
        console.print(f"[bold]Sökhund demo[/]: seed {seed}, {days} simulated days from {testbed.today}, sites: {', '.join(sites)}")
        for name in sites:
            console.print(f"  {name:12} {urls[name]}")
        from crawler.commands import _progress

        for day in range(days):
            as_of = f"{testbed.today}T12:00:00+00:00"
            console.rule(f"day {day} · {testbed.today}")
            with _progress(console) as update:
                result = run_crawl(sites, as_of=as_of, run_id=f"demo-s{seed}-{testbed.today}", use_tor=use_tor,
                                   progress=update)
            alerts = _after_crawl(result)
            counts = _counts(as_of)
            rows.append({"day": day, "date": testbed.today, "pages": result.pages, **counts,
                         "new_vendors": len(result.new_vendor_ids) if day else 0, "alerts": len(alerts),
                         "invalid": result.invalid_pages(), "errors": result.errors})
            for alert in alerts:
                console.print(f"[red]ALERT[/] {getattr(alert, 'title', alert)}")
            if day < days - 1:
                testbed.advance()
        truth_dir = out_dir / "truth"
        testbed.write_truth(truth_dir)
    _summary(console, rows)
    plots = _plots(out_dir)
    console.print(f"ground truth: {truth_dir}")
    for plot in plots:
        console.print(f"plot: {plot}")
    console.print("next: [bold]sokhund search kokain[/], [bold]sokhund vendors --swedish[/], [bold]sokhund alerts[/], "
                  "[bold]sokhund trends --by substance[/]")
    return 0


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
        from indexer.trends import write_trend_plots
    except ImportError:
        return []
    from indexer.base import open_backend

    backend = open_backend()
    try:
        return list(write_trend_plots(backend, out_dir))
    finally:
        backend.close()
