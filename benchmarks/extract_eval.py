"""Evaluate the extractor: precision, recall and F1 per field, and throughput (docs/s, one core).

    .venv/bin/python benchmarks/extract_eval.py [--sets gold,hansa,hansa_sample,agora,hansa_html,lang,speed]

Sets (see extractors/SCHEMA.md for the fields):
- gold: tests/data/sv_gold.jsonl, Swedish/Swenglish texts labelled by hand, per entity type;
- hansa: Hansa onionscan 2016 (14.8k rows): price+currency from the price column, ships-from from the
  field (normalised; gold = hand mapping tests/data/hansa_shipsfrom_labels.json) and from the title
  alone, substance class (detected or not) from the title vs category == Drugs;
- hansa_sample: 200 Hansa titles with hand-labelled substance and class (tests/data/hansa_sample_labels.jsonl);
- agora: Agora 2014 (cannabis subcategories): substance class vs subcat, ships-from/to vs from/to. The
  rows are split by a hash of the product title (``agora_half``) into a dev half, the only one used to
  tune the lexicon, and a held-out half; class scores are printed for both halves and overall;
- hansa_html: 5 saved listing pages and 5 vendor PGP pages, hand-labelled (tests/data/hansa_html_labels.json);
- lang: language identification on the gold set and Hansa titles;
- speed: titles/s and descriptions/s on one core.
"""

from __future__ import annotations

import argparse
import csv
import glob
import hashlib
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from extractors.base import ExtractRequest  # noqa: E402

SHARED = Path(os.environ.get("SOKHUND_SHARED_DATA") or ROOT.parent / "shared" / "data")
TESTDATA = ROOT / "tests" / "data"
LABELS = ("SUBSTANCE", "QUANTITY", "PRICE", "SHIP_FROM", "SHIP_TO", "SHIPPING", "PAYMENT", "CONTACT",
          "CRYPTO_ADDRESS", "PGP_KEY")


# Prices and quantities are compared as multisets (two "10ml" are two quantities); the other labels
# as the set of distinct values per text.
MULTISET_LABELS = ("QUANTITY", "PRICE")


class PRF:
    def __init__(self) -> None:
        self.tp = self.fp = self.fn = 0

    def add(self, pred: Counter[Any], gold: Counter[Any]) -> None:
        inter = sum((pred & gold).values())
        self.tp += inter
        self.fp += sum(pred.values()) - inter
        self.fn += sum(gold.values()) - inter

    def scores(self) -> dict[str, float]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return {"p": round(p, 3), "r": round(r, 3), "f1": round(f, 3), "tp": self.tp, "fp": self.fp, "fn": self.fn}


def _num(x: float) -> float:
    return round(float(x), 3)


def entity_key(label: str, value: dict[str, Any]) -> Any:
    """The normalised value of one predicted entity, comparable with the gold labels."""
    if label == "SUBSTANCE":
        return value["name"]
    if label == "QUANTITY":
        return (_num(value["count"]), "pcs") if value.get("count") is not None else (_num(value["value"]), value["unit"])
    if label == "PRICE":
        return (_num(value["amount"]), value["currency"])
    if label in ("SHIP_FROM", "SHIP_TO"):
        return value["code"]
    if label == "SHIPPING":
        return f"{value['kind']}:{value['value']}"
    if label == "PAYMENT":
        return value["method"]
    if label == "CONTACT":
        return f"{value['kind']}:{value['value'] or ''}"
    if label == "CRYPTO_ADDRESS":
        return value["address"]
    if label == "PGP_KEY":
        return value["fingerprint"]
    return None


def gold_key(label: str, item: Any) -> Any:
    if label in ("QUANTITY", "PRICE"):
        return (_num(item[0]), item[1])
    if label == "CRYPTO_ADDRESS" and str(item).lower().startswith("bc1"):
        return str(item).lower()
    return item


def load_gold(path: Path = TESTDATA / "sv_gold.jsonl") -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if "text" in r]


def eval_gold(extractor: Any, rows: list[dict[str, Any]] | None = None, verbose: bool = False) -> dict[str, dict[str, float]]:
    rows = rows if rows is not None else load_gold()
    results = extractor.extract([ExtractRequest(text=r["text"], kind=r.get("kind", "description"), date="2024-01-01") for r in rows])
    prf = {label: PRF() for label in LABELS}
    for row, res in zip(rows, results, strict=True):
        for label in LABELS:
            pred = Counter(entity_key(e["label"], e["value"]) for e in res["entities"] if e["label"] == label)
            gold = Counter(gold_key(label, x) for x in row["expected"].get(label, []))
            if label not in MULTISET_LABELS:  # a substance named twice in one ad is one substance
                pred, gold = Counter(set(pred)), Counter(set(gold))
            prf[label].add(pred, gold)
            if verbose and pred != gold:
                print(f"  [{row['id']}] {label}: pred={dict(pred)} gold={dict(gold)} :: {row['text'][:90]}")
    return {label: p.scores() for label, p in prf.items()}


# ------------------------------------------------------------------ Hansa onionscan 2016


def hansa_rows() -> list[list[str]]:
    path = SHARED / "hansa-onionscan-2016" / "hansa-marketplace-listings-december-2016.csv"
    with path.open(encoding="utf-8", errors="replace") as fh:
        rows = list(csv.reader(fh, skipinitialspace=True))
    return [r for r in rows if len(r) >= 6 and r[4].startswith("USD")]


def eval_hansa(extractor: Any) -> dict[str, dict[str, float]]:
    from extractors.normalise import country_code

    rows = hansa_rows()
    labels = json.loads((TESTDATA / "hansa_shipsfrom_labels.json").read_text(encoding="utf-8"))["labels"]
    # price column: "USD 340.00", expected amount parsed by hand rule (strip "USD ", drop thousands commas)
    price_prf = PRF()
    res = extractor.extract([ExtractRequest(text=r[4], kind="title") for r in rows])
    for r, out in zip(rows, res, strict=True):
        cur, amount = r[4].split(" ", 1)
        gold = Counter([(_num(float(amount.replace(",", ""))), cur)])
        p = out["summary"]["price"]
        pred = Counter([(_num(p["amount"]), p["currency"])]) if p else Counter()
        price_prf.add(pred, gold)
    titles = extractor.extract([ExtractRequest(text=r[2], kind="title") for r in rows])
    field_prf, title_prf, class_prf = PRF(), PRF(), PRF()
    for r, out in zip(rows, titles, strict=True):
        field = r[6] if len(r) > 6 else ""
        gold_code = labels.get(field) if field else None
        if field:
            pred = country_code(field)
            field_prf.add(Counter([pred] if pred else []), Counter([gold_code] if gold_code else []))
            t = out["summary"]["ships_from"]
            title_prf.add(Counter([t] if t else []), Counter([gold_code] if (gold_code and t) else []) if t else Counter())
        is_drug = r[5] == "Drugs"
        has_class = out["summary"]["substance_class"] is not None
        class_prf.add(Counter(["drug"] if has_class else []), Counter(["drug"] if is_drug else []))
    return {
        "price+currency (price column)": price_prf.scores(),
        "ships_from (field, normalised)": field_prf.scores(),
        "ships_from (title only, precision where it fires)": title_prf.scores(),
        "substance detected vs category Drugs": class_prf.scores(),
    }


def eval_hansa_sample(extractor: Any) -> dict[str, dict[str, float]]:
    rows = [json.loads(x) for x in (TESTDATA / "hansa_sample_labels.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    rows = [r for r in rows if "title" in r]
    res = extractor.extract([ExtractRequest(text=r["title"], kind="title") for r in rows])
    cls, sub = PRF(), PRF()
    for r, out in zip(rows, res, strict=True):
        s = out["summary"]
        cls.add(Counter([s["substance_class"]] if s["substance_class"] else []), Counter([r["class"]] if r["class"] else []))
        sub.add(Counter([s["substance"]] if s["substance"] else []), Counter([r["substance"]] if r["substance"] else []))
    return {"substance_class (200 hand-labelled)": cls.scores(), "substance (200 hand-labelled)": sub.scores()}


# ------------------------------------------------------------------ Agora 2014


def agora_half(product: str) -> str:
    """'dev' or 'heldout': a stable split by a hash of the title (every row of a title in one half)."""
    return "dev" if hashlib.sha1(product.strip().encode("utf-8")).digest()[0] % 2 == 0 else "heldout"


def eval_agora(extractor: Any) -> dict[str, dict[str, float]]:
    from extractors.normalise import country_code

    rows: list[dict[str, str]] = []
    for f in sorted(glob.glob(str(SHARED / "agora-2014" / "*.csv"))):
        with open(f, encoding="utf-8", errors="replace") as fh:
            rows.extend(csv.DictReader(fh))
    uniq = {}
    for r in rows:
        uniq.setdefault((r["product"], r["from"].strip(), r["to"].strip()), r)
    items = list(uniq.values())
    titles = extractor.extract([ExtractRequest(text=r["product"], kind="title") for r in items])
    ship_texts = [f"Ships from: {r['from'].strip()}\nShips to: {r['to'].strip()}" for r in items]
    ships = extractor.extract([ExtractRequest(text=t, kind="title") for t in ship_texts])
    cls, frm, to = PRF(), PRF(), PRF()
    half_cls = {"dev": PRF(), "heldout": PRF()}
    n_half = Counter(agora_half(r["product"]) for r in items)
    for r, t, s in zip(items, titles, ships, strict=True):
        gold_class = "cannabis" if r["subcat"] == "Cannabis" else None
        pc = t["summary"]["substance_class"]
        cls.add(Counter([pc] if pc else []), Counter([gold_class] if gold_class else []))
        half_cls[agora_half(r["product"])].add(Counter([pc] if pc else []), Counter([gold_class] if gold_class else []))
        src = r["from"].strip().replace("From: ", "").split(" To:")[0]
        gf = country_code(src) if src not in ("NA", "", "Internet") else None
        if src in ("World",):
            gf = "WW"
        pf = s["summary"]["ships_from"]
        frm.add(Counter([pf] if pf else []), Counter([gf] if gf else []))
        dst = r["to"].strip()
        gt = _agora_to(dst)
        pt = s["summary"]["ships_to"] or []
        to.add(Counter(pt), Counter(gt))
    return {
        f"substance_class vs subcat ({len(items)} unique product/from/to)": cls.scores(),
        f"  dev half ({n_half['dev']}, used for tuning)": half_cls["dev"].scores(),
        f"  held-out half ({n_half['heldout']}, not used for tuning)": half_cls["heldout"].scores(),
        "ships_from vs from": frm.scores(),
        "ships_to vs to": to.scores(),
    }


def _agora_to(dst: str) -> list[str]:
    """Hand rule for Agora's free-text 'to' column: NA = not given; 'worldwide except …' = WW."""
    low = dst.lower().strip(" .")
    if low in ("na", ""):
        return []
    if low.startswith(("worldwide", "world wide", "wolrdwide", "world", "earth")):
        return ["WW"]
    table = {"usa": ["US"], "usa only": ["US"], "europe": ["EU"], "eu": ["EU"], "european union": ["EU"],
             "eu (scandinavia fe)": ["EU"], "europe & switzerland": ["EU", "CH"], "australia": ["AU"],
             "australia only": ["AU"], "uk": ["GB"], "canada": ["CA"], "north america": ["US", "CA"],
             "sweden": ["SE"], "germany": ["DE"]}
    return table.get(low, [])


# ------------------------------------------------------------------ Hansa saved pages


def eval_hansa_html(extractor: Any) -> dict[str, dict[str, float]]:
    from crawler.adapters import load_adapter
    from crawler.parsing import parse_page
    from extractors.cli import _normalise_fields
    from extractors.normalise import country_code

    labels = json.loads((TESTDATA / "hansa_html_labels.json").read_text(encoding="utf-8"))
    adapter = load_adapter(str(TESTDATA / "hansa2017_adapter.yaml"))
    out: dict[str, PRF] = {k: PRF() for k in ("substance", "substance_class", "price", "ships_from", "ships_to", "units", "quantity_g", "pgp_fingerprint")}
    for fname, gold in labels["pages"].items():
        html = (SHARED / "hansa-html-2017" / fname).read_text(encoding="utf-8", errors="replace")
        url = gold["url"]
        ptype = adapter.page_type(url)
        assert ptype is not None
        item = parse_page(adapter.pages[ptype], html, "http://hansamkt2rr6nfg3.onion" + url)[0]
        reqs = [ExtractRequest(text=item[k], kind="title" if k == "title" else "description") for k in ("title", "description") if isinstance(item.get(k), str)]
        results = extractor.extract(reqs)
        merged = _normalise_fields(item, results, adapter.currency, country_code)
        for key, prf in out.items():
            if key not in gold:
                continue
            g = gold[key]
            if key == "pgp_fingerprint":
                p = (merged.get("pgp_fingerprints") or [None])[0]
            elif key == "price":
                p = merged.get("price")
                p = [_num(p["amount"]), p["currency"]] if p else None
                g = [_num(g[0]), g[1]] if g else None
            else:
                p = merged.get(key)
            prf.add(Counter([json.dumps(p, sort_keys=True)] if p is not None else []),
                    Counter([json.dumps(g, sort_keys=True)] if g is not None else []))
    return {k: v.scores() for k, v in out.items()}


# ------------------------------------------------------------------ language, speed


def eval_lang() -> dict[str, dict[str, float]]:
    from extractors import lang as langid

    rows = load_gold()
    ok_h = sum(1 for r in rows if langid.detect(r["text"], use_langdetect=False) == r["lang"])
    ok_l = sum(1 for r in rows if langid.detect(r["text"], use_langdetect=True) == r["lang"])
    und = sum(1 for r in rows if langid.detect(r["text"], use_langdetect=False) is None)
    return {"gold set language accuracy": {"heuristic": round(ok_h / len(rows), 3), "with_langdetect_for_long": round(ok_l / len(rows), 3),
                                          "undetermined_heuristic": und, "n": len(rows)}}


def eval_speed(extractor: Any) -> dict[str, dict[str, float]]:
    rows = hansa_rows()
    titles = [r[2] for r in rows]
    extractor.extract([ExtractRequest(text=t, kind="title") for t in titles[:500]])  # warm up
    t0 = time.perf_counter()
    extractor.extract([ExtractRequest(text=t, kind="title") for t in titles])
    dt = time.perf_counter() - t0
    out = {"titles (Hansa 2016, fast path)": {"docs": len(titles), "seconds": round(dt, 2), "docs_per_s": round(len(titles) / dt)}}
    long_texts, short_texts = _descriptions()
    for name, texts in (("full listing descriptions (Hansa 2017 pages)", long_texts), ("short ads/posts (gold set)", short_texts)):
        docs = [texts[i % len(texts)] for i in range(1000)]
        extractor.extract([ExtractRequest(text=d, kind="description") for d in docs[:50]])
        t1 = time.perf_counter()
        extractor.extract([ExtractRequest(text=d, kind="description") for d in docs])
        dd = time.perf_counter() - t1
        out[name] = {"docs": len(docs), "avg_chars": round(sum(map(len, docs)) / len(docs)), "seconds": round(dd, 2),
                     "docs_per_s": round(len(docs) / dd)}
    return out


def _descriptions() -> tuple[list[str], list[str]]:
    """Real listing descriptions (the Hansa 2017 saved listing pages) and the gold-set ads/posts."""
    from parsel import Selector

    long_texts: list[str] = []
    for f in sorted(glob.glob(str(SHARED / "hansa-html-2017" / "*listing_*_.htm"))):
        sel = Selector(text=Path(f).read_text(encoding="utf-8", errors="replace"))
        desc = " ".join(sel.xpath('//h3[u[contains(., "Listing Details")]]/following-sibling::*//text()').getall())
        if desc.strip():
            long_texts.append(" ".join(desc.split()))
    short_texts = [r["text"] for r in load_gold() if r.get("kind") != "title"]
    return long_texts, short_texts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="gold,hansa,hansa_sample,agora,hansa_html,lang,speed")
    ap.add_argument("--verbose", action="store_true", help="print the gold-set disagreements")
    args = ap.parse_args(argv)
    from extractors.pipeline import SpacyExtractor

    extractor = SpacyExtractor()
    report: dict[str, Any] = {}
    for name in args.sets.split(","):
        t = time.perf_counter()
        if name == "gold":
            report[name] = eval_gold(extractor, verbose=args.verbose)
        elif name == "hansa":
            report[name] = eval_hansa(extractor)
        elif name == "hansa_sample":
            report[name] = eval_hansa_sample(extractor)
        elif name == "agora":
            report[name] = eval_agora(extractor)
        elif name == "hansa_html":
            report[name] = eval_hansa_html(extractor)
        elif name == "lang":
            report[name] = eval_lang()
        elif name == "speed":
            report[name] = eval_speed(extractor)
        print(f"== {name} ({time.perf_counter() - t:.1f}s)")
        for field, s in report[name].items():
            print(f"  {field:55s} " + "  ".join(f"{k}={v}" for k, v in s.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
