"""Language identification: the shipped detector (function words + langdetect) against lingua.

Corpora, each with its language known independently of any detector:

- ``gold``: tests/data/sv_gold.jsonl (hand-labelled Swedish and English titles, ads and posts);
- ``long``: real posts and pages from ../shared/data: the Flashback thread posts (Swedish), the Hansa 2017
  listing and vendor pages and the two Empire listing descriptions (English);
- ``bios``: real long vendor bios (Nexus 2024, ../shared/data/dark-market-scout-2024) on which the detectors
  disagree, hand-labelled in benchmarks/data/lang_bios_labels.json (French and German among them: the
  fallback's job is to keep those from being called Swedish or English);
- ``titles``: Hansa 2016 listing titles (an English-language market: every title is English or
  language-less; the figure that matters is how many are called Swedish).

Methods (the process's peak memory after each is printed, so the heavy lingua ones run last): ``shipped`` (extractors.lang.detect as the pipeline calls it: langdetect only for texts of 200+
characters with a weak heuristic margin), ``heuristic``, ``langdetect`` (every text), ``lingua-sv-en``
(lingua restricted to the two pipeline languages), ``lingua-nordic`` (sv, en, da, nb, nn, de, nl, fi),
``long>langdetect`` (langdetect for every text of 200+ characters, whatever the heuristic's margin),
``heuristic+lingua`` (the shipped rule with lingua-nordic in langdetect's place), ``heuristic>lingua``
(lingua-sv-en also for every text the heuristic leaves undecided), ``lingua-all-low`` and ``lingua-all``
(all 75 languages, low and high accuracy mode; only with ``--all-languages``). Accuracy counts a text right
when the method's answer equals the label (None is wrong). Speed: texts per second over all corpora,
after one warm-up pass (the first call of a lingua detector loads its models; printed separately).

    .venv/bin/python benchmarks/lang_eval.py [--titles 2000] [--all-languages] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DATA = Path(os.environ.get("SOKHUND_SHARED_DATA") or ROOT.parent / "shared" / "data")
Sample = tuple[str, str]  # (text, expected language)


def gold() -> list[Sample]:
    rows = [json.loads(line) for line in (ROOT / "tests" / "data" / "sv_gold.jsonl").read_text("utf-8").splitlines()
            if line.strip()]
    return [(r["text"], r["lang"]) for r in rows if "text" in r and r.get("lang")]


def _text(nodes: list[str]) -> str:
    return re.sub(r"\s+", " ", " ".join(nodes)).strip()


def long_real() -> list[Sample]:
    from parsel import Selector

    out: list[Sample] = []
    page = DATA / "flashback-html-miroli" / "sample_page.html"
    if page.exists():
        sel = Selector(text=page.read_text(encoding="utf-8", errors="replace"))
        out += [(_text(n.css("::text").getall()), "sv") for n in sel.css("[id^=post_message_]")]
    hansa = DATA / "hansa-html-2017"
    for path in sorted(hansa.glob("*_listing_*_.htm")) + sorted(hansa.glob("*_vendor_*_.htm")):
        if path.name.endswith(("_feedback_.htm", "_terms_.htm", "_pgp_.htm")):
            continue
        sel = Selector(text=path.read_text(encoding="utf-8", errors="replace"))
        out.append((_text(sel.css(".container ::text").getall())[:2000], "en"))
    expected = DATA / "msc-darkweb-2019" / "expected_values.json"
    if expected.exists():
        values = json.loads(expected.read_text(encoding="utf-8")).values()
        out += [(str(v.get("value") if isinstance(v, dict) else v), "en") for v in values]
    return [(t, lang) for t, lang in out if t]


def bios() -> list[Sample]:
    labels = json.loads((ROOT / "benchmarks" / "data" / "lang_bios_labels.json").read_text(encoding="utf-8"))
    path = DATA / "dark-market-scout-2024" / "dashboard" / "data" / "vendors.csv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        rows = {r["name"]: re.sub(r"\s+", " ", r.get("about_text") or "").strip() for r in csv.DictReader(fh)}
    return [(rows[name], lang) for name, lang in labels.items() if not name.startswith("_") and rows.get(name)]


def hansa_titles(limit: int) -> list[Sample]:
    out: list[Sample] = []
    for path in sorted((DATA / "hansa-onionscan-2016").glob("*.csv")):
        with path.open(encoding="utf-8", errors="replace", newline="") as fh:
            out += [(row[2], "en") for row in csv.reader(fh, skipinitialspace=True) if len(row) > 2 and row[2]]
    return out[:limit]


def methods(all_languages: bool = False) -> dict[str, Callable[[str], str | None]]:
    from langdetect import DetectorFactory
    from langdetect import detect as ld_detect
    from lingua import Language, LanguageDetectorBuilder

    from extractors import lang as langid

    DetectorFactory.seed = 0

    def langdetect_all(text: str) -> str | None:
        try:
            return ld_detect(text[:2000])
        except Exception:
            return None

    def lingua_detector(detector: Any) -> Callable[[str], str | None]:
        def run(text: str) -> str | None:
            found = detector.detect_language_of(text[:2000])
            return found.iso_code_639_1.name.lower() if found else None

        return run

    def lingua(*langs: Language) -> Callable[[str], str | None]:
        return lingua_detector(LanguageDetectorBuilder.from_languages(*langs).build())

    L = Language
    lingua_sv_en = lingua(L.SWEDISH, L.ENGLISH)
    lingua_nordic = lingua(L.SWEDISH, L.ENGLISH, L.DANISH, L.BOKMAL, L.NYNORSK, L.GERMAN, L.DUTCH, L.FINNISH)

    def heuristic_lingua(text: str) -> str | None:
        found, margin = langid.heuristic(text)
        if len(text) >= 200 and (found is None or margin < 0.5):
            return lingua_nordic(text)
        return found

    def heuristic_then_lingua(text: str) -> str | None:
        found, margin = langid.heuristic(text)
        if found is None or (len(text) >= 200 and margin < 0.5):
            return lingua_sv_en(text)
        return found

    def long_langdetect(text: str) -> str | None:
        return langdetect_all(text) if len(text) >= 200 else langid.detect(text, use_langdetect=False)

    found: dict[str, Callable[[str], str | None]] = {
        "shipped": lambda t: langid.detect(t, use_langdetect=True),
        "heuristic": lambda t: langid.detect(t, use_langdetect=False),
        "langdetect": langdetect_all,
        "lingua-sv-en": lingua_sv_en,
        "lingua-nordic": lingua_nordic,
        "long>langdetect": long_langdetect,
        "heuristic+lingua": heuristic_lingua,
        "heuristic>lingua": heuristic_then_lingua,
    }
    if all_languages:  # all 75 languages: trigram models only (about 300 MB), then high accuracy (about 1 GB)
        found["lingua-all-low"] = lingua_detector(
            LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode().build())
        found["lingua-all"] = lingua_detector(LanguageDetectorBuilder.from_all_languages().build())
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--titles", type=int, default=2000, help="Hansa titles to score (default 2000)")
    parser.add_argument("--all-languages", action="store_true",
                        help="also lingua with all 75 languages (loads about 1 GB of models; off by default)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    corpora = {"gold": gold(), "long": long_real(), "bios": bios(), "titles": hansa_titles(args.titles)}
    everything = [t for rows in corpora.values() for t, _ in rows]
    report: dict[str, Any] = {"n": {k: len(v) for k, v in corpora.items()}, "methods": {}}
    for name, run in methods(args.all_languages).items():
        t0 = time.perf_counter()
        run("Kokain 1g 800 kr, skickas med PostNord")  # first call: lingua loads its models here
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        answers = [run(t) for t in everything]
        rate = len(everything) / (time.perf_counter() - t0)
        row: dict[str, Any] = {"first_call_s": round(first, 3), "texts_per_s": round(rate),
                               "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}
        i = 0
        for corpus, rows in corpora.items():
            got = answers[i : i + len(rows)]
            i += len(rows)
            row[f"{corpus}_accuracy"] = round(sum(g == e for g, (_, e) in zip(got, rows, strict=True)) / max(len(rows), 1), 3)
            if corpus == "titles":
                row["titles_called_sv"] = sum(g == "sv" for g in got)
            if corpus == "gold":
                sv_rows = [(g, e) for g, (_, e) in zip(got, rows, strict=True) if e == "sv"]
                en_rows = [(g, e) for g, (_, e) in zip(got, rows, strict=True) if e == "en"]
                row["gold_sv_recall"] = round(sum(g == e for g, e in sv_rows) / max(len(sv_rows), 1), 3)
                row["gold_en_recall"] = round(sum(g == e for g, e in en_rows) / max(len(en_rows), 1), 3)
        report["methods"][name] = row
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"corpora: {report['n']}")
    cols = ["gold_accuracy", "gold_sv_recall", "gold_en_recall", "long_accuracy", "bios_accuracy",
            "titles_accuracy", "titles_called_sv", "texts_per_s", "first_call_s", "max_rss_mb"]
    heads = [c.replace("_accuracy", "") for c in cols]
    print(f"{'method':17}" + "".join(f"{h:>{len(h) + 2}}" for h in heads))
    for name, row in report["methods"].items():
        print(f"{name:17}" + "".join(f"{row[c]!s:>{len(h) + 2}}" for c, h in zip(cols, heads, strict=True)))
    print("columns: accuracy per corpus; gold recall per language; titles_called_sv = English titles called "
          "Swedish; texts/s after warm-up; first call (model loading) in s; process max RSS after the method, MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
