"""The parts a crawl cannot do without: the index pipeline and the WARC evidence middleware.

Without them a crawl fetches pages and keeps nothing (plain Scrapy settings, e.g. a crawl started outside
the project or with an override that removed them). The worker and the spider refuse to start then.
"""

from __future__ import annotations

from typing import Any

REQUIRED_COMPONENTS = {
    "ITEM_PIPELINES": "crawler.pipelines.index.IndexPipeline",
    "DOWNLOADER_MIDDLEWARES": "crawler.middlewares.evidence.WarcCaptureMiddleware",
}


class MissingPipelineError(RuntimeError):
    """The crawl's settings lack the index pipeline or the evidence middleware."""


def missing_components(settings: Any) -> list[str]:
    """``SETTING: component`` for each required component that the (merged) settings do not enable."""
    return [f"{name}: {path}" for name, path in REQUIRED_COMPONENTS.items()
            if settings.getwithbase(name).get(path) is None]


def require_components(settings: Any, site: str) -> None:
    missing = missing_components(settings)
    if missing:
        raise MissingPipelineError(f"refusing to crawl {site}: the crawl would keep nothing; missing "
                                   + ", ".join(missing))
