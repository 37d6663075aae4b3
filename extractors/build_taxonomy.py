"""Regenerate ``data/substances_tripsit.json`` from the TripSit drugs database (ISC licence).

Run by a developer, never at run time: ``python -m extractors.build_taxonomy PATH/TO/drugs.json``.
It keeps facts only (names, aliases, categories), maps TripSit categories to Sökhund classes and drops
aliases that are ordinary words (see ``data/alias_stoplist.txt``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data"

# TripSit category -> Sökhund class, in priority order (first match wins).
CATEGORY_CLASS: tuple[tuple[str, str], ...] = (
    ("opioid", "opioid"),
    ("benzodiazepine", "benzodiazepine"),
    ("empathogen", "empathogen"),
    ("dissociative", "dissociative"),
    ("psychedelic", "psychedelic"),
    ("stimulant", "stimulant"),
    ("barbiturate", "depressant"),
    ("depressant", "depressant"),
    ("deliriant", "other_medicine"),
    ("nootropic", "other_medicine"),
    ("ssri", "other_medicine"),
)
SKIP_NAMES = {"alcohol", "caffeine", "nicotine", "ethanol", "tylenol", "acetaminophen", "paracetamol"}


def stoplist() -> set[str]:
    path = DATA / "alias_stoplist.txt"
    return {
        line.strip().lower()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }


def keep_alias(alias: str, stop: set[str]) -> bool:
    a = alias.strip().lower()
    if a in stop or len(a) < 3:
        return False
    # three-letter aliases only when they carry a digit or are well-known abbreviations
    return not (len(a) == 3 and a.isalpha() and a not in {"lsd", "dmt", "dxm", "pcp", "mxe", "ghb", "gbl", "thc", "cbd", "xtc", "mda", "ket", "oxy"})


def build(drugs_json: Path) -> dict[str, object]:
    raw = json.loads(drugs_json.read_text(encoding="utf-8"))
    stop = stoplist()
    out = []
    for key, entry in sorted(raw.items()):
        if key in SKIP_NAMES:
            continue
        cats = entry.get("categories") or []
        cls = next((c for cat, c in CATEGORY_CLASS if cat in cats), None)
        if cls is None:
            continue
        if key == "cannabis":
            cls = "cannabis"
        aliases = sorted({a.lower() for a in [key, *(entry.get("aliases") or [])] if keep_alias(a, stop)})
        if aliases:
            out.append({"name": key, "class": cls, "en": aliases, "tripsit_categories": cats})
    return {
        "source": "TripSit drugs database, drugs.json (github.com/TripSit/drugs @ 83670cb6), ISC licence",
        "generated_by": "extractors/build_taxonomy.py",
        "substances": out,
    }


def main(argv: list[str]) -> int:
    src = Path(argv[0]) if argv else Path("../shared/data/tripsit-drugs/drugs.json")
    data = build(src)
    (DATA / "substances_tripsit.json").write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(data['substances'])} substances")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
