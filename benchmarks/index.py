"""Index benchmark: bulk indexing rate, analyst search latency, aggregation latency, size per listing and
(Elasticsearch) JVM memory on a synthetic listing index, for SQLite and Elasticsearch side by side.

python -m benchmarks.index                                    # 50k listings, temporary SQLite index
python -m benchmarks.index --backend sqlite,es --listings 100000,1000000
python -m benchmarks.index --backend es --url http://127.0.0.1:9200   # an existing cluster (prefix sokhund-bench)

``--backend es`` without ``--url`` starts a one-node local cluster (indexer.localcluster, ``--heap-mb``) in a
temporary directory and stops it at the end. CPU heavy: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from indexer.base import IndexBackend, SearchFilters
from indexer.models import Listing
from indexer.sqlite import SQLiteBackend

SUBSTANCES = {
    "cocaine": ("stimulant", ["kokain", "koks", "snö", "cocaine", "flake"]),
    "amphetamine": ("stimulant", ["amfetamin", "tjack", "speed", "amf"]),
    "cannabis": ("cannabis", ["hasch", "gräs", "weed", "marijuana", "cannabis"]),
    "mdma": ("entactogen", ["mdma", "ecstasy", "knark", "piller"]),
    "alprazolam": ("benzodiazepine", ["xanax", "alprazolam", "benso", "tabletter"]),
    "oxycodone": ("opioid", ["oxy", "oxycodone", "opioider"]),
}
WORDS = (
    "högsta kvalité snabb leverans diskret brev postnord dhl billigt ren stark rabatt göteborg stockholm "
    "malmö uppsala swish bitcoin monero stealth vakuumförpackad garanti testad labbtestad ny batch "
    "premium quality fast shipping worldwide europe sweden tracked refund reship escrow"
).split()
COUNTRIES = ["SE", "SE", "SE", "NL", "DE", "UK", "ES", "PL"]
SITES = ["svmarket", "intlmarket", "forum", "shop"]


def iter_listings(n: int, seed: int = 1, start: int = 0, span: int | None = None,
                  shuffled_dates: bool = False) -> Iterator[Listing]:
    """Listings ``start`` … ``n - 1``, generated lazily (a million do not fit comfortably in memory at once).
    Listing ``i`` depends only on ``seed``, ``i`` and ``span``, so any slice can be regenerated.

    They arrive as a year of crawls indexes them: listing ``i`` of ``span`` (default ``n``) is seen on day
    ``365 * i / span`` (at a random time of that day), and listings past ``span`` on the last day. A crawl
    writes what it sees today, so dates grow with indexing order; random dates in random order, as earlier
    versions generated (``shuffled_dates``, ``--shuffled-dates``), touch every date-ordered index at a random place."""
    span = span or n
    vendors = [f"vendor{i:04d}" for i in range(max(10, n // 100))]
    subs = list(SUBSTANCES)
    for i in range(start, n):
        rng = random.Random(seed * 1_000_003 + i)
        sub = rng.choice(subs)
        cls, names = SUBSTANCES[sub]
        grams = rng.choice([1, 2, 5, 10, 25, 50, 100])
        price = round(grams * rng.uniform(80, 900), 2)
        site = rng.choice(SITES)
        day = rng.randrange(0, 365) if shuffled_dates else min(364, i * 365 // span)
        seen = time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_700_000_000 + day * 86400 + rng.randrange(86400))
        )
        yield Listing(
            id=Listing.make_id(site, str(i)),
            site=site,
            listing_id=str(i),
            url=f"http://{site}.onion/listing/{i}",
            title=f"{rng.choice(names).capitalize()} {grams}g {' '.join(rng.sample(WORDS, 3))}",
            description=" ".join(rng.choices(WORDS + names, k=rng.randrange(20, 80))),
            vendor=rng.choice(vendors),
            substance=sub,
            substance_class=cls,
            quantity=float(grams),
            quantity_unit="g",
            quantity_g=float(grams),
            price=price,
            currency="SEK",
            price_sek=price,
            price_per_g_sek=round(price / grams, 2),
            ships_from=rng.choice(COUNTRIES),
            ships_to=rng.sample(COUNTRIES, 2),
            payment=rng.sample(["BTC", "XMR", "Swish"], 2),
            first_seen=seen,
            last_seen=seen,
        )


def synthetic_listings(n: int, seed: int = 1) -> list[Listing]:
    return list(iter_listings(n, seed))


def queries(n: int, seed: int = 2) -> list[tuple[str | None, SearchFilters | None]]:
    rng = random.Random(seed)
    names = [w for _, ws in SUBSTANCES.values() for w in ws]
    out: list[tuple[str | None, SearchFilters | None]] = []
    for i in range(n):
        kind = i % 5
        if kind == 0:
            q: str | None = rng.choice(names)
        elif kind == 1:
            q = f"{rng.choice(names)} {rng.choice(WORDS)}"
        elif kind == 2:
            q = rng.choice(names)[:4] + "*"
        elif kind == 3:
            a = rng.randrange(len(WORDS) - 1)
            q = f'"{WORDS[a]} {WORDS[a + 1]}"'
        else:
            q = None
        f = None
        if rng.random() < 0.5:
            f = SearchFilters(
                ships_from=rng.choice(["SE", None]),
                price_min=rng.choice([None, 100.0]),
                price_max=rng.choice([None, 5000.0]),
                site=rng.choice([None, *SITES]),
            )
        out.append((q, f))
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def _timed_ms(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median wall time of ``repeat`` calls (the first one warms caches and is included)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def aggregations(backend: IndexBackend) -> dict[str, Callable[[], object]]:
    """The aggregations behind the analyst views and the Kibana panels."""
    return {
        "terms_vendor_ms": lambda: backend.terms("listing", "vendor", size=20),
        "terms_substance_se_ms": lambda: backend.terms("listing", "substance", SearchFilters(ships_from="SE")),
        "terms_ships_to_ms": lambda: backend.terms("listing", "ships_to"),
        "terms_vendor_site_ms": lambda: backend.terms("listing", "vendor", SearchFilters(site="svmarket")),
        "week_hist_sum_ms": lambda: backend.date_histogram("listing", "last_seen", "week", sum_field="price_sek"),
        "month_hist_filtered_ms": lambda: backend.date_histogram(
            "listing", "last_seen", "month", SearchFilters(substance="cocaine", price_max=5000.0)),
    }


def _chunks(it: Iterator[Listing], size: int) -> Iterator[list[Listing]]:
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def run(backend: IndexBackend, n_docs: int, n_queries: int, batch: int,
        after_load: Callable[[], None] | None = None, writer: Any = None,
        shuffled_dates: bool = False) -> dict[str, float]:
    upsert_s = upsert_cpu = 0.0
    for chunk in _chunks(iter_listings(n_docs, shuffled_dates=shuffled_dates), batch):  # generation is not timed
        t0, c0 = time.perf_counter(), time.process_time()
        backend.upsert(chunk)
        upsert_s += time.perf_counter() - t0
        upsert_cpu += time.process_time() - c0
    if after_load:
        after_load()  # Elasticsearch: refresh, so searches see everything
    again = list(iter_listings(min(n_docs, 10_000), span=n_docs, shuffled_dates=shuffled_dates))
    t0 = time.perf_counter()
    backend.upsert(again)
    reupsert_rate = len(again) / (time.perf_counter() - t0)
    if after_load:
        after_load()
    stats: dict[str, float] = {
        "docs": n_docs,
        "upsert_docs_per_s": n_docs / upsert_s,
        "upsert_docs_per_client_cpu_s": n_docs / max(upsert_cpu, 1e-9),
        "reupsert_docs_per_s": reupsert_rate,
    }
    stats.update(_reads(backend, n_queries))
    if writer is not None:  # the same reads again while another process upserts like a crawl
        with writer(n_docs) as rate:
            stats.update({f"{k}_writing": v for k, v in _reads(backend, n_queries).items()})
        stats["writer_docs_per_s"] = rate()
    return stats


def fts_floor(path: Path, n_docs: int, batch: int) -> dict[str, float]:
    """The floor for bulk indexing and size: the same listings' title and description in a plain FTS5
    table (its own content, same tokenizer), one ``executemany`` per batch, nothing else: no filters,
    no JSON, no roll-ups, no upsert by id. What every text index pays at least."""
    import sqlite3

    from indexer.sqlite import TOKENIZER

    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute(f"CREATE VIRTUAL TABLE floor USING fts5(title, description, tokenize='{TOKENIZER}')")
    elapsed = 0.0
    for chunk in _chunks(iter_listings(n_docs), batch):
        rows = [(d.title, d.description) for d in chunk]
        t0 = time.perf_counter()
        db.execute("BEGIN")
        db.executemany("INSERT INTO floor (title, description) VALUES (?, ?)", rows)
        db.execute("COMMIT")
        elapsed += time.perf_counter() - t0
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    size = sum(Path(f"{path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{path}{s}").exists())
    return {"floor_docs_per_s": n_docs / elapsed, "floor_bytes_per_listing": size / n_docs}


def _reads(backend: IndexBackend, n_queries: int) -> dict[str, float]:
    latencies = []
    for q, f in queries(n_queries):
        t = time.perf_counter()
        backend.search("listing", q, f, limit=20)
        latencies.append((time.perf_counter() - t) * 1000)
    out = {"search_p50_ms": statistics.median(latencies), "search_p95_ms": percentile(latencies, 95),
           "search_max_ms": max(latencies)}
    for name, fn in aggregations(backend).items():
        out[name] = _timed_ms(fn)
    return out


def _crawl_writer(path: str, n_docs: int, batch: int, pause: float, stop: Any, counter: Any,
                  shuffled_dates: bool = False) -> None:
    """A crawl's writes: batches of re-crawled listings (new price and last_seen) and new ones."""
    backend = SQLiteBackend(path)
    rng = random.Random(7)
    fresh = n_docs
    while not stop.is_set():
        start = rng.randrange(0, max(1, n_docs - batch))
        docs = list(iter_listings(start + batch // 2, seed=1, start=start, span=n_docs, shuffled_dates=shuffled_dates))
        for d in docs:
            d.price_sek = (d.price_sek or 0) + 1
            d.last_seen = "2024-06-01T12:00:00Z"
        docs += list(iter_listings(fresh + batch // 2, seed=1, start=fresh, span=n_docs,
                                   shuffled_dates=shuffled_dates))
        fresh += batch // 2
        backend.upsert(docs)
        with counter.get_lock():
            counter.value += len(docs)
        stop.wait(pause)
    backend.close()


class _Writer:
    """Runs :func:`_crawl_writer` in another process for the duration of a ``with`` block."""

    def __init__(self, path: Path, batch: int = 200, pause: float = 0.2, shuffled_dates: bool = False) -> None:
        self.path, self.batch, self.pause, self.shuffled_dates = path, batch, pause, shuffled_dates

    def __call__(self, n_docs: int) -> _Writer:
        self.n_docs = n_docs
        return self

    def __enter__(self) -> Callable[[], float]:
        ctx = multiprocessing.get_context("spawn")
        self.stop, self.counter = ctx.Event(), ctx.Value("q", 0)
        self.proc = ctx.Process(target=_crawl_writer, args=(str(self.path), self.n_docs, self.batch, self.pause,
                                                            self.stop, self.counter, self.shuffled_dates),
                                 daemon=True)
        self.proc.start()
        while self.counter.value == 0 and self.proc.is_alive():  # wait until it really writes
            time.sleep(0.05)
        self.t0 = time.perf_counter()
        self.written0 = self.counter.value
        return lambda: self.rate

    def __exit__(self, *exc: object) -> None:
        self.rate = (self.counter.value - self.written0) / (time.perf_counter() - self.t0)
        self.stop.set()
        self.proc.join(60)


# ---------------------------------------------------------------------- backends
class _Bench:
    """One backend under test: opens it, measures its size (and JVM RSS), cleans up."""

    def __init__(self, name: str, tmp: Path, url: str | None, heap_mb: int) -> None:
        self.name, self.tmp, self.url, self.heap_mb = name, tmp, url, heap_mb
        self.cluster: Any = None
        self.backend: Any = None

    def open(self, n: int) -> IndexBackend:
        if self.name == "sqlite":
            self.backend = SQLiteBackend(self.tmp / f"bench-{n}.sqlite")
            return self.backend
        from indexer.elastic import ElasticBackend

        url = self.url
        if url is None:
            if self.cluster is None:
                from indexer.localcluster import LocalCluster

                base = Path(tempfile.mkdtemp(prefix="sokhund-bench-es-", dir="/tmp"))
                base.chmod(0o755)  # the JVM's user must enter it
                self.cluster = LocalCluster(base / "cluster", cluster_name="sokhund-bench", heap_mb=self.heap_mb)
                self.cluster.up(timeout=300)
            url = self.cluster.url
        self.backend = ElasticBackend(url, prefix=f"sokhund-bench-{n}-{os.getpid()}", refresh=False,
                                      spool_dir=self.tmp / "spool", timeout=120.0)
        return self.backend

    def writer(self, shuffled_dates: bool = False) -> Any:
        return _Writer(self.backend.path, shuffled_dates=shuffled_dates) if self.name == "sqlite" else None

    def after_load(self) -> Callable[[], None] | None:
        if self.name != "es":
            return None
        b = self.backend
        return lambda: b.client.indices.refresh(index=f"{b.prefix}-listing")

    def size_bytes(self) -> int:
        if self.name == "sqlite":
            return int(self.backend.size_bytes())
        b = self.backend
        b.client.indices.flush(index=f"{b.prefix}-listing")
        stats = b.client.indices.stats(index=f"{b.prefix}-listing", metric="store")
        return int(stats["_all"]["primaries"]["store"]["size_in_bytes"])

    def rss_bytes(self) -> int | None:
        if self.cluster is None:
            return None
        from indexer.localcluster import es_rss_bytes

        return es_rss_bytes(self.cluster.state.pids())

    def close_backend(self) -> None:
        if self.name == "es" and self.cluster is not None:  # our own cluster: free the disk and heap
            b = self.backend
            b.client.indices.delete(index=f"{b.prefix}-*", expand_wildcards="all", ignore_unavailable=True)
        self.backend.close()

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.down()
            shutil.rmtree(self.cluster.base_dir.parent, ignore_errors=True)


ROWS = [
    ("bulk docs/s", "upsert_docs_per_s", "{:,.0f}"),
    ("bulk docs/client CPU-s", "upsert_docs_per_client_cpu_s", "{:,.0f}"),
    ("re-upsert docs/s", "reupsert_docs_per_s", "{:,.0f}"),
    *((label + suffix, key + ksuffix, fmt) for ksuffix, suffix in (("", ""), ("_writing", " +writer"))
      for label, key, fmt in (
        ("search p50 ms", "search_p50_ms", "{:.2f}"),
        ("search p95 ms", "search_p95_ms", "{:.2f}"),
        ("search max ms", "search_max_ms", "{:.1f}"),
        ("terms(vendor) ms", "terms_vendor_ms", "{:.1f}"),
        ("terms(substance|SE) ms", "terms_substance_se_ms", "{:.1f}"),
        ("terms(ships_to) ms", "terms_ships_to_ms", "{:.1f}"),
        ("terms(vendor|site) ms", "terms_vendor_site_ms", "{:.1f}"),
        ("week hist+sum ms", "week_hist_sum_ms", "{:.1f}"),
        ("month hist filtered ms", "month_hist_filtered_ms", "{:.1f}"),
    )),
    ("writer docs/s", "writer_docs_per_s", "{:,.0f}"),
    ("bytes/listing", "bytes_per_listing", "{:,.0f}"),
    ("floor: plain FTS5 docs/s", "floor_docs_per_s", "{:,.0f}"),
    ("floor: bytes/listing", "floor_bytes_per_listing", "{:,.0f}"),
    ("bulk / floor", "bulk_vs_floor", "{:.2f}"),
    ("size / floor", "size_vs_floor", "{:.2f}"),
    ("JVM RSS MB", "jvm_rss_mb", "{:,.0f}"),
]


def table(results: list[dict[str, Any]]) -> str:
    heads = [f"{r['backend']} {r['docs']:,}" for r in results]
    width = max(12, *(len(h) for h in heads))
    lines = ["".ljust(28) + "".join(h.rjust(width + 2) for h in heads)]
    for label, key, fmt in ROWS:
        cells = [fmt.format(r[key]) if r.get(key) is not None else "-" for r in results]
        lines.append(label.ljust(28) + "".join(c.rjust(width + 2) for c in cells))
    return "\n".join(lines)


# Issue 16's targets for the embedded index at 1M listings: (key, target, True when higher is better).
TARGETS = [("upsert_docs_per_s", 20_000.0, True), ("search_p95_ms", 50.0, False),
           *((k, 200.0, False) for k in ("terms_vendor_ms", "terms_substance_se_ms", "terms_ships_to_ms",
                                          "terms_vendor_site_ms", "week_hist_sum_ms", "month_hist_filtered_ms"))]


def targets(results: list[dict[str, Any]]) -> str:
    """Each figure as a ratio against its target (>= 1.0 meets it), with the machine it ran on."""
    load = os.getloadavg()
    lines = [f"targets (ratio >= 1 meets it; {os.cpu_count()} cores, load average now "
             f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}):"]
    for r in results:
        cells = []
        for key, goal, higher in TARGETS:
            for k in (key, key + "_writing"):
                if r.get(k):
                    ratio = r[k] / goal if higher else goal / r[k]
                    cells.append(f"{k}={ratio:.2f}{'' if ratio >= 1 else ' MISS'}")
        lines.append(f"  {r['backend']} {r['docs']:,}: " + ", ".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", default="sqlite", help="sqlite, es or both: sqlite,es (default sqlite)")
    ap.add_argument("--listings", "--docs", default="50000", help="listings, comma-separated: 100000,1000000")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--batch", type=int, default=5_000, help="documents per upsert call")
    ap.add_argument("--url", default=None, help="an existing Elasticsearch (default: start a local one)")
    ap.add_argument("--heap-mb", type=int, default=1024, help="heap of the local cluster's node")
    ap.add_argument("--no-writer", dest="writer", action="store_false",
                    help="skip the second round of reads while another process upserts (SQLite)")
    ap.add_argument("--no-floor", dest="floor", action="store_false",
                    help="skip the plain-FTS5 floor (SQLite bulk and size are also given as ratios to it)")
    ap.add_argument("--shuffled-dates", action="store_true",
                    help="listings dated at random, in random order (a shuffled import), instead of as a year of "
                         "crawls indexes them (dates growing with indexing order)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    names = [b.strip() for b in args.backend.split(",") if b.strip()]
    if not names or set(names) - {"sqlite", "es"}:
        ap.error("--backend takes sqlite, es or sqlite,es")
    sizes = [int(x.replace("_", "")) for x in str(args.listings).split(",")]
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="sokhund-bench-") as tmp:
        benches = [_Bench(n, Path(tmp), args.url, args.heap_mb) for n in names]
        try:
            for n in sizes:
                for bench in benches:
                    backend = bench.open(n)
                    print(f"... {bench.name}: {n:,} listings", flush=True)
                    stats: dict[str, Any] = {"backend": bench.name, **run(
                        backend, n, args.queries, args.batch, bench.after_load(),
                        bench.writer(args.shuffled_dates) if args.writer else None, args.shuffled_dates)}
                    stats["bytes_per_listing"] = bench.size_bytes() / n
                    if bench.name == "sqlite" and args.floor:
                        stats.update(fts_floor(Path(tmp) / f"floor-{n}.sqlite", n, args.batch))
                        stats["bulk_vs_floor"] = stats["upsert_docs_per_s"] / stats["floor_docs_per_s"]
                        stats["size_vs_floor"] = stats["bytes_per_listing"] / stats["floor_bytes_per_listing"]
                    rss = bench.rss_bytes()
                    stats["jvm_rss_mb"] = rss / 2**20 if rss else None
                    bench.close_backend()
                    results.append(stats)
                    print(json.dumps(stats), flush=True)  # each run's figures as soon as they exist
        finally:
            for bench in benches:
                bench.stop()
    print(f"{args.queries} analyst queries per run (words, two words, prefixes, phrases, filters only; half "
          f"with filters; limit 20); aggregation = median of 5; batches of {args.batch:,}; dates "
          + ("shuffled" if args.shuffled_dates else "growing with indexing order (a year of crawls)"))
    print(table(results))
    print(targets(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
