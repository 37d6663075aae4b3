"""Vendor identity links scored against the testbed's true identities.

Crawls the testbed (or reuses an index + truth), links vendors, and scores pairs of vendor profiles:
a predicted pair is two vendors in the same linked group; a true pair is two vendors with the same
``identity_id`` in the truth. Recall is over true pairs whose two vendors are both in the index (a vendor
the crawl never saw cannot be linked); the recall over all true pairs is reported too.

Targets: strong-link precision 1.0, recall ≥ 0.95.

    .venv/bin/python benchmarks/identity_eval.py [--days 2] [--seed 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from itertools import combinations
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

VendorKey = tuple[str, str]  # (site, casefolded name)


def _key(label: str) -> VendorKey:
    site, _, name = label.partition(":")
    return site, name.casefold()


def _pairs(groups: Iterable[Iterable[VendorKey]]) -> set[frozenset[VendorKey]]:
    out: set[frozenset[VendorKey]] = set()
    for group in groups:
        for a, b in combinations(sorted(set(group)), 2):
            out.add(frozenset((a, b)))
    return out


def score_identity(
    identities: Iterable[Any],
    truth_vendors: Iterable[dict[str, Any]],
    *,
    indexed: Iterable[VendorKey] | None = None,
) -> dict[str, Any]:
    """Pairwise precision/recall per strength (``strong``, ``medium``, ``strong+medium``, ``candidate``).

    ``identities``: VendorIdentity docs or dicts (``names`` as ``site:name``, ``strength``);
    ``truth_vendors``: the testbed's ``vendors`` rows (site, vendor, identity_id);
    ``indexed``: the (site, name) vendors present in the index, for the observable recall."""
    truth_of: dict[VendorKey, str] = {(r["site"], str(r["vendor"]).casefold()): r["identity_id"] for r in truth_vendors}
    by_ident: dict[str, list[VendorKey]] = defaultdict(list)
    for key, ident in truth_of.items():
        by_ident[ident].append(key)
    true_pairs = _pairs(by_ident.values())
    seen = set(indexed) if indexed is not None else None
    observable = {p for p in true_pairs if seen is None or p <= seen}
    predicted: dict[str, set[frozenset[VendorKey]]] = defaultdict(set)
    for ident in identities:
        data = ident.to_dict() if hasattr(ident, "to_dict") else dict(ident)
        pairs = _pairs([[_key(n) for n in data.get("names") or []]])
        predicted[data.get("strength") or "?"] |= pairs
    predicted["strong+medium"] = predicted.get("strong", set()) | predicted.get("medium", set())
    out: dict[str, Any] = {"true_pairs": len(true_pairs), "observable_true_pairs": len(observable)}
    for strength in ("strong", "medium", "strong+medium", "candidate"):
        pred = predicted.get(strength, set())
        correct = pred & true_pairs
        wrong = sorted(sorted(f"{s}:{n}" for s, n in p) for p in pred - true_pairs)
        out[strength] = {
            "predicted_pairs": len(pred),
            "correct": len(correct),
            "precision": round(len(correct) / len(pred), 4) if pred else None,
            "recall": round(len(correct & observable) / len(observable), 4) if observable else None,
            "recall_all": round(len(correct) / len(true_pairs), 4) if true_pairs else None,
            "false_pairs": wrong[:20],
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=2, help="simulated days to crawl (default 2)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--home", help="data directory (default: a new temporary one)")
    parser.add_argument("--reuse", action="store_true", help="score the crawl already in --home (from turnover_eval)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from analytics.identity import link_vendors
    from benchmarks.turnover_eval import crawl_testbed, load_crawl
    from indexer.base import open_backend

    home = Path(args.home or tempfile.mkdtemp(prefix="sokhund-identity-"))
    index_url, truth, _ = load_crawl(home) if args.reuse else crawl_testbed(args.days, args.seed, home)
    backend = open_backend(index_url)
    try:
        result = link_vendors(backend, write=True)
        indexed = [(str(v.get("site")), str(v.get("name")).casefold()) for v in backend.iter_docs("vendor")]
    finally:
        backend.close()
    scores = score_identity(result.identities + result.candidates, truth["vendors"], indexed=indexed)
    scores["vendors_indexed"] = len(indexed)
    scores["vendors_true"] = len(truth["vendors"])
    scores["generic_values_ignored"] = len(result.generic_values)
    strong = scores["strong"]
    ok = strong["precision"] in (None, 1.0) and (strong["recall"] or 0) >= 0.95
    scores["ok"] = ok
    if args.json:
        print(json.dumps(scores, ensure_ascii=False))
    else:
        print(f"vendors indexed {len(indexed)} of {len(truth['vendors'])}; true cross-profile pairs "
              f"{scores['true_pairs']} ({scores['observable_true_pairs']} observable)")
        for strength in ("strong", "medium", "strong+medium", "candidate"):
            s = scores[strength]
            print(f"{strength:14} predicted {s['predicted_pairs']:4}  correct {s['correct']:4}  precision "
                  f"{s['precision']}  recall {s['recall']} (all: {s['recall_all']})")
            for pair in s["false_pairs"][:5]:
                print(f"    false pair: {pair}")
        print("targets: strong precision 1.0, recall ≥ 0.95:", "OK" if ok else "MISS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
