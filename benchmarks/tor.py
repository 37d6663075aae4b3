"""Tor benchmark: private-network boot time, crawl throughput over the onion vs direct, tor memory.

    .venv/bin/python benchmarks/tor.py [--pages 300] [--concurrency 8]

Boots the private Tor network (tor/testnet.py) with one local HTTP site exposed as an onion service,
then crawls the same site twice with the same Scrapy settings and concurrency — once through its onion
address (tor.scrapy_routing: SOCKS5h with per-site isolation) and once directly on 127.0.0.1 — and prints
pages/s for both, their ratio, the median request latency, and the peak RSS of the tor processes.
Each crawl runs in its own process (Scrapy's reactor is one per process).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    pages = 300

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        match = re.fullmatch(r"/p/(\d+)", self.path)
        index = int(match.group(1)) if match else -1
        links = ""
        if index < 0:  # the index page links every page
            links = "".join(f'<a href="/p/{i}">{i}</a>' for i in range(self.pages))
        body = (f"<html><body><h1>page {index}</h1><p>{'lorem ipsum ' * 200}</p>{links}</body></html>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def crawl_main(config_path: str) -> None:
    """Child process: crawl ``start`` (and every page it links) and write timings as JSON."""
    config = json.loads(Path(config_path).read_text())
    import scrapy
    from scrapy.crawler import CrawlerProcess

    latencies: list[float] = []
    times: list[float] = []

    class BenchSpider(scrapy.Spider):
        name = "bench"

        async def start(self) -> Any:
            yield scrapy.Request(config["start"], meta={"site": "bench", "network": config["network"]})

        def parse(self, response: Any) -> Any:
            latencies.append(response.meta.get("download_latency", 0.0))
            times.append(time.monotonic())
            for href in response.css("a::attr(href)").getall():
                yield response.follow(href, meta={"site": "bench", "network": config["network"]})

    process = CrawlerProcess(settings={
        "DOWNLOAD_HANDLERS": {"http": "tor.scrapy_routing.TorDownloadHandler",
                              "https": "tor.scrapy_routing.TorDownloadHandler"},
        "DOWNLOADER_MIDDLEWARES": {"tor.scrapy_routing.TorFailClosedMiddleware": 960},
        "SOKHUND_TOR_SOCKS": config["socks"],
        "CONCURRENT_REQUESTS": config["concurrency"],
        "CONCURRENT_REQUESTS_PER_DOMAIN": config["concurrency"],
        "LOG_LEVEL": "WARNING",
        "TELNETCONSOLE_ENABLED": False,
        "ROBOTSTXT_OBEY": False,
    })
    process.crawl(BenchSpider)
    process.start()
    Path(config["out"]).write_text(json.dumps({"latencies": latencies, "times": times}))


def run_crawl(start: str, network: str, socks: str, concurrency: int, workdir: Path) -> dict[str, float]:
    cfg = workdir / f"{network}.json"
    out = workdir / f"{network}-out.json"
    cfg.write_text(json.dumps({"start": start, "network": network, "socks": socks,
                               "concurrency": concurrency, "out": str(out)}))
    subprocess.run([sys.executable, __file__, "--crawl", str(cfg)], cwd=REPO, check=True)
    data = json.loads(out.read_text())
    times, latencies = data["times"], data["latencies"]
    span = times[-1] - times[0]  # first response → last response: excludes process start-up
    pages = len(times) - 1
    return {"pages": len(times), "pages_per_s": pages / span if span > 0 else float("inf"),
            "median_latency_ms": statistics.median(latencies) * 1000,
            "p90_latency_ms": statistics.quantiles(latencies, n=10)[-1] * 1000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--crawl", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.crawl:
        crawl_main(args.crawl)
        return 0

    import psutil

    from tor.testnet import PrivateTorNetwork, tor_rss_bytes

    _Handler.pages = args.pages
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]

    with tempfile.TemporaryDirectory(prefix="sokhund-torbench-") as tmp:
        work = Path(tmp)
        network = PrivateTorNetwork(work / "net", {"bench": f"127.0.0.1:{port}"})
        started = time.monotonic()
        try:
            state = network.up()
            boot = time.monotonic() - started
            pids = state.pids()
            peak = {"rss": tor_rss_bytes(pids)}
            stop = threading.Event()

            def sample() -> None:
                while not stop.wait(0.2):
                    peak["rss"] = max(peak["rss"], tor_rss_bytes(pids))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            onion = run_crawl(state.url("bench", "/"), "tor", state.socks, args.concurrency, work)
            direct = run_crawl(f"http://127.0.0.1:{port}/", "clearnet", state.socks, args.concurrency, work)
            stop.set()
            sampler.join()
            per_process = {n.name: psutil.Process(n.pid).memory_info().rss / 2**20 for n in state.nodes if n.pid}
        finally:
            network.down()
            server.shutdown()

    print("Tor benchmark (private network on 127.0.0.1)")
    print(f"  network boot (keys → onion reachable): {boot:6.1f} s   (up() measured {state.boot_seconds:.1f} s)")
    print(f"  pages per crawl:                        {onion['pages']:6d}     concurrency {args.concurrency}")
    print(f"  over the onion:  {onion['pages_per_s']:7.1f} pages/s   median latency {onion['median_latency_ms']:6.1f} ms"
          f"   p90 {onion['p90_latency_ms']:6.1f} ms")
    print(f"  direct:          {direct['pages_per_s']:7.1f} pages/s   median latency {direct['median_latency_ms']:6.1f} ms"
          f"   p90 {direct['p90_latency_ms']:6.1f} ms")
    print(f"  onion / direct throughput:              {onion['pages_per_s'] / direct['pages_per_s']:6.2f}")
    print(f"  peak RSS of the tor processes:          {peak['rss'] / 2**20:6.0f} MiB  "
          f"({', '.join(f'{k} {v:.0f}' for k, v in per_process.items())} MiB at the end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
