"""Index benchmark: bulk upsert rate, search latency and size on a synthetic listing index.

python -m benchmarks.index                      # 50k listings in a temporary SQLite index
python -m benchmarks.index --docs 10000 --queries 200
python -m benchmarks.index --url http://127.0.0.1:9200   # Elasticsearch (indices prefixed sokhund-bench)
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from indexer.base import IndexBackend, SearchFilters, open_backend
from indexer.models import Listing

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


def synthetic_listings(n: int, seed: int = 1) -> list[Listing]:
    rng = random.Random(seed)
    vendors = [f"vendor{i:04d}" for i in range(max(10, n // 100))]
    out = []
    subs = list(SUBSTANCES)
    for i in range(n):
        sub = rng.choice(subs)
        cls, names = SUBSTANCES[sub]
        grams = rng.choice([1, 2, 5, 10, 25, 50, 100])
        price = round(grams * rng.uniform(80, 900), 2)
        site = rng.choice(SITES)
        day = rng.randrange(0, 365)
        seen = time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_700_000_000 + day * 86400 + rng.randrange(86400))
        )
        out.append(
            Listing(
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
        )
    return out


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


def run(backend: IndexBackend, n_docs: int, n_queries: int, batch: int) -> dict[str, float]:
    docs = synthetic_listings(n_docs)
    t0, c0 = time.perf_counter(), time.process_time()
    for start in range(0, len(docs), batch):
        backend.upsert(docs[start : start + batch])
    upsert_s = time.perf_counter() - t0
    upsert_cpu = time.process_time() - c0
    t0 = time.perf_counter()
    backend.upsert(docs[: min(len(docs), 10_000)])
    reupsert_rate = min(len(docs), 10_000) / (time.perf_counter() - t0)
    latencies = []
    for q, f in queries(n_queries):
        t = time.perf_counter()
        backend.search("listing", q, f, limit=20)
        latencies.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    backend.terms("listing", "vendor", size=20)
    terms_ms = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    backend.date_histogram("listing", "last_seen", "week", sum_field="price_sek")
    hist_ms = (time.perf_counter() - t) * 1000
    return {
        "docs": n_docs,
        "upsert_docs_per_s": n_docs / upsert_s,
        "upsert_docs_per_cpu_s": n_docs / upsert_cpu,
        "reupsert_docs_per_s": reupsert_rate,
        "search_p50_ms": statistics.median(latencies),
        "search_p95_ms": percentile(latencies, 95),
        "terms_ms": terms_ms,
        "week_histogram_ms": hist_ms,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=50_000)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--batch", type=int, default=5_000, help="documents per upsert call")
    ap.add_argument(
        "--url", default=None, help="sqlite:///path or http://es:9200 (default: temporary SQLite)"
    )
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sokhund-bench-") as tmp:
        if args.url and args.url.startswith("http"):
            from indexer.elastic import ElasticBackend

            backend: IndexBackend = ElasticBackend(
                args.url, prefix="sokhund-bench", refresh=False, spool_dir=Path(tmp) / "spool"
            )
        else:
            backend = open_backend(args.url or f"sqlite:///{Path(tmp) / 'bench.sqlite'}")
        stats = run(backend, args.docs, args.queries, args.batch)
        size = getattr(backend, "size_bytes", None)
        print(f"backend            {backend!r}")
        print(f"listings           {stats['docs']:,}")
        print(
            f"bulk upsert        {stats['upsert_docs_per_s']:,.0f} docs/s wall, "
            f"{stats['upsert_docs_per_cpu_s']:,.0f} docs per CPU-second (batches of {args.batch:,})"
        )
        print(f"re-upsert (same)   {stats['reupsert_docs_per_s']:,.0f} docs/s")
        print(
            f"search latency     p50 {stats['search_p50_ms']:.2f} ms, p95 {stats['search_p95_ms']:.2f} ms "
            f"over {args.queries} queries (limit 20, half with filters)"
        )
        print(f"terms(vendor)      {stats['terms_ms']:.1f} ms")
        print(f"week histogram     {stats['week_histogram_ms']:.1f} ms")
        if callable(size):
            total = size()
            print(f"db size            {total / 1e6:.1f} MB ({total / stats['docs']:.0f} bytes/listing)")
        backend.close()


if __name__ == "__main__":
    main()
