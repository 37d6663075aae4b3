"""Benchmark the invalid-page detectors on the real pages of dark-market-scout-2024.

Prints the confusion matrix (true kind, "normal" included, x predicted kind), per-kind precision and
recall, and classifications per second. True kinds: tests/data/invalid_pages_labels.csv for
``captcha/`` pages, "normal" for ``non_captcha/`` pages.

    .venv/bin/python benchmarks/detectors.py [--split train|heldout] [--rules tests/data/generic_detectors_train_only.yaml]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from crawler.detectors import classify, generic_detectors, load_detectors  # noqa: E402

DEFAULT_DATA = (
    REPO.parent / "shared" / "data" / "dark-market-scout-2024" / "crawler" / "captcha" / "training-data"
)
LABELS = REPO / "tests" / "data" / "invalid_pages_labels.csv"
KINDS = ["normal", "ddos", "captcha", "login", "ban", "rate_limit"]


def load_pages(root: Path, split: str | None) -> list[tuple[str, str, bytes]]:
    """(file, true kind, body) for every page, optionally one half of the MD5 split of the tests."""
    with LABELS.open(encoding="utf-8", newline="") as fh:
        labels = {row["file"]: row["kind"] for row in csv.DictReader(fh)}
    pages = []
    for folder in ("captcha", "non_captcha"):
        for path in sorted((root / folder).iterdir()):
            body = path.read_bytes()
            half = "train" if hashlib.md5(body).digest()[0] % 2 == 0 else "heldout"
            if split is None or half == split:
                pages.append((path.name, labels[path.name] if folder == "captcha" else "normal", body))
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--split", choices=["train", "heldout"], default=None)
    parser.add_argument(
        "--rules", type=Path, default=None, help="a generic detectors YAML (default: built-in)"
    )
    parser.add_argument("--repeat", type=int, default=20, help="passes over all pages for the timing")
    args = parser.parse_args(argv)

    generic = load_detectors(args.rules) if args.rules else list(generic_detectors())
    pages = load_pages(args.data, args.split)
    predicted: list[tuple[str, str, str]] = []
    for name, truth, body in pages:
        verdict = classify(200, {}, body, [], generic=generic)
        predicted.append((name, truth, verdict.kind if verdict else "normal"))

    matrix = Counter((truth, guess) for _, truth, guess in predicted)
    kinds = [k for k in KINDS if any(k in pair for pair in matrix)]
    width = max(len(k) for k in kinds) + 2
    print(f"{len(pages)} pages ({args.split or 'all'}), rules: {args.rules or 'built-in generic'}")
    print("true \\ predicted".ljust(width + 6) + "".join(k.rjust(width) for k in kinds))
    for truth in kinds:
        row = "".join(str(matrix[(truth, guess)]).rjust(width) for guess in kinds)
        print(truth.ljust(width + 6) + row)

    print("\nkind".ljust(width + 1) + "precision".rjust(11) + "recall".rjust(9) + "support".rjust(9))
    for kind in kinds:
        tp = matrix[(kind, kind)]
        n_pred = sum(v for (_, g), v in matrix.items() if g == kind)
        n_true = sum(v for (t, _), v in matrix.items() if t == kind)
        precision = f"{tp / n_pred:.2f}" if n_pred else "-"
        recall = f"{tp / n_true:.2f}" if n_true else "-"
        print(kind.ljust(width) + precision.rjust(11) + recall.rjust(9) + str(n_true).rjust(9))
    wrong = [(n, t, g) for n, t, g in predicted if t != g]
    accuracy = 1 - len(wrong) / len(predicted)
    print(f"\naccuracy {accuracy:.3f}; misclassified: {wrong or 'none'}")

    total_bytes = sum(len(body) for _, _, body in pages)
    start = time.perf_counter()
    for _ in range(args.repeat):
        for _, _, body in pages:
            classify(200, {}, body, [], generic=generic)
    elapsed = time.perf_counter() - start
    runs = args.repeat * len(pages)
    print(
        f"throughput: {runs / elapsed:,.0f} classifications/s, {total_bytes * args.repeat / elapsed / 1e6:,.1f} MB/s "
        f"(mean page {total_bytes / len(pages) / 1024:,.0f} KiB, {elapsed / runs * 1000:.2f} ms/page)"
    )
    big = b"<html><body>" + b"<p>listing text</p>" * (20 * 1024 * 1024 // 18) + b"</body></html>"
    start = time.perf_counter()
    classify(200, {}, big, [], generic=generic)
    print(f"20 MB body: {(time.perf_counter() - start) * 1000:.1f} ms; HTTP 429: ", end="")
    start = time.perf_counter()
    for _ in range(10000):
        classify(429, {}, big, [], generic=generic)
    print(f"{10000 / (time.perf_counter() - start):,.0f} classifications/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
