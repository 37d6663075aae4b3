"""Per-stage CPU split of a crawl worker from py-spy's raw samples (``benchmarks/crawl.py --profile``).

py-spy samples only threads that are on CPU (no ``--idle``), so the share of samples is the share of CPU.
Each sample is one stack (root first); its stage is decided by the frames, in this order:

1. loading (imports, pipeline builds, language profiles) anywhere in the stack;
2. otherwise the frame nearest the leaf that belongs to a stage (so parsel under the spider is adapter
   parsing, parsel under a detector is detectors);
3. otherwise Scrapy/Twisted's own engine work.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

LOADING = ("importlib._bootstrap", "build_pipeline", "load_profile", "FastTitlePath.__init__", "_stopwords",
           "DetectorFactory.__init__", "load_object (scrapy/utils/misc.py", "walk_modules")
# (stage, path fragments): the first stage whose fragment occurs in a frame, scanning from the leaf up
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("detectors", ("crawler/detectors.py", "middlewares/invalid_pages.py")),
    ("WARC", ("crawler/warc.py", "middlewares/evidence.py", "warcio/", "crawler/redact.py")),
    ("extraction (NLP)", ("extractors/", "spacy/", "thinc/", "langdetect/", "srsly/")),
    ("document building", ("pipelines/documents.py", "indexer/models.py")),
    ("index writes", ("crawler/sink.py", "indexer/", "pipelines/index.py", "sqlite3")),
    ("adapter parsing", ("crawler/parsing.py", "crawler/spiders/", "crawler/adapters.py", "parsel/")),
    ("download", ("core/downloader/", "twisted/web/", "scrapy/core/http2", "twisted/internet/tcp.py",
                  "downloadermiddlewares/", "crawler/middlewares/", "scrapy/http/", "tor/")),
    ("scrapy engine", ("scrapy/", "twisted/", "asyncio/", "w3lib/", "queuelib/")),
)
ORDER = ("download", "adapter parsing", "detectors", "WARC", "extraction (NLP)", "document building",
         "index writes", "loading (imports, models)", "scrapy engine", "other")
_LINE = re.compile(r"^(.*) (\d+)$")


def py_spy() -> str | None:
    here = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


def record(pid: int, out: Path, rate: int = 200) -> subprocess.Popen[bytes]:
    """Attach py-spy to a running process; it writes ``out`` when that process exits."""
    exe = py_spy()
    if exe is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    return subprocess.Popen([exe, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw",
                             "--nonblocking", "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stage_of(stack: str) -> str:
    frames = stack.split(";")
    if any(mark in frame for frame in frames for mark in LOADING):
        return "loading (imports, models)"
    for frame in reversed(frames):
        for stage, fragments in STAGES:
            if any(f in frame for f in fragments):
                return stage
    return "other"


def split(raw: Path) -> Counter[str]:
    """Samples per stage of a py-spy raw file (``stack count`` per line)."""
    counts: Counter[str] = Counter()
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _LINE.match(line)
        if match:
            counts[stage_of(match.group(1))] += int(match.group(2))
    return counts


def top_leaves(raw: Path, n: int = 15) -> list[tuple[str, int]]:
    """The functions (own time) with the most samples: where to look next."""
    counts: Counter[str] = Counter()
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _LINE.match(line)
        if match:
            counts[match.group(1).split(";")[-1]] += int(match.group(2))
    return counts.most_common(n)


def report(raw: Path, pages: int, cpu_seconds: float) -> str:
    counts = split(raw)
    total = sum(counts.values()) or 1
    lines = [f"CPU split of the crawl worker ({total} py-spy samples; {cpu_seconds * 1000 / max(pages, 1):.2f} ms "
             f"CPU per page over {pages} pages):"]
    for stage in ORDER:
        share = counts.get(stage, 0) / total
        lines.append(f"  {stage:28s} {100 * share:5.1f} %  {share * cpu_seconds * 1000 / max(pages, 1):6.2f} ms/page")
    return "\n".join(lines)
