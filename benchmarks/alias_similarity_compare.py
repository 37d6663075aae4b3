"""difflib's ratio vs rapidfuzz's Indel similarity on real vendor aliases.

Takes every vendor name from the real market data in ../shared/data (Hansa 2016 listings, Agora 2014,
Nexus/WeTheNorth/Kerberos/Torzon 2024), forms the pairs ``analytics.identity.find_edges`` would score
(same first two normalised characters), and prints how often the two measures differ and how many pairs
each puts over the candidate threshold, plus the time per pair.

    .venv/bin/python benchmarks/alias_similarity_compare.py [--threshold 0.88] [--max-names 3000]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections import defaultdict
from difflib import SequenceMatcher
from pathlib import Path

from rapidfuzz.distance import Indel

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analytics.identity import normalise_alias  # noqa: E402

DATA = Path(os.environ.get("SOKHUND_SHARED_DATA") or ROOT.parent / "shared" / "data")


def real_vendor_names(data: Path) -> list[str]:
    names: set[str] = set()
    hansa = data / "hansa-onionscan-2016"
    for path in sorted(hansa.glob("*.csv")):
        with path.open(encoding="utf-8", errors="replace", newline="") as fh:
            names.update(row[3].strip() for row in csv.reader(fh, skipinitialspace=True) if len(row) > 3)
    for path in sorted((data / "agora-2014").glob("*.csv")):
        with path.open(encoding="utf-8", errors="replace", newline="") as fh:
            names.update(str(row.get("vendor") or "").strip() for row in csv.DictReader(fh))
    scout = data / "dark-market-scout-2024" / "dashboard" / "data" / "vendors.csv"
    if scout.exists():
        with scout.open(encoding="utf-8", errors="replace", newline="") as fh:
            names.update(str(row.get("name") or "").strip() for row in csv.DictReader(fh))
    return sorted(n for n in names if n)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threshold", type=float, default=0.88)
    parser.add_argument("--max-names", type=int, default=3000)
    parser.add_argument("--data", default=str(DATA))
    args = parser.parse_args()
    names = real_vendor_names(Path(args.data))[: args.max_names]
    blocks: dict[str, list[str]] = defaultdict(list)
    for name in names:
        norm = normalise_alias(name)
        if norm:
            blocks[norm[:2]].append(norm)
    pairs = [(a, b) for block in blocks.values() for i, a in enumerate(block) for b in block[i + 1 :] if a != b]
    t0 = time.perf_counter()
    old = [SequenceMatcher(None, a, b).ratio() for a, b in pairs]
    t1 = time.perf_counter()
    new = [Indel.normalized_similarity(a, b) for a, b in pairs]
    t2 = time.perf_counter()
    differ = [(a, b, o, n) for (a, b), o, n in zip(pairs, old, new, strict=True) if abs(o - n) > 1e-9]
    over_old = {p for p, o in zip(pairs, old, strict=True) if o >= args.threshold}
    over_new = {p for p, n in zip(pairs, new, strict=True) if n >= args.threshold}
    print(f"real vendor names: {len(names)}   scored pairs (same 2-char block): {len(pairs)}")
    print(f"pairs where the scores differ: {len(differ)} ({len(differ) / max(len(pairs), 1):.2%}); "
          f"largest gap {max((n - o for _, _, o, n in differ), default=0.0):.3f}")
    print(f"pairs >= {args.threshold}: difflib {len(over_old)}, rapidfuzz {len(over_new)}, "
          f"only rapidfuzz {len(over_new - over_old)}, only difflib {len(over_old - over_new)}")
    for a, b in sorted(over_new - over_old)[:10]:
        print(f"   new candidate: {a} ~ {b}")
    print(f"time per pair: difflib {1e6 * (t1 - t0) / max(len(pairs), 1):.2f} us, "
          f"rapidfuzz {1e6 * (t2 - t1) / max(len(pairs), 1):.2f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
