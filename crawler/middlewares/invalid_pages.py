"""Downloader middleware: invalid pages (DDoS queue, captcha, login wall, ban, 429) are never parsed as
content. Each kind gets its reaction: wait and retry, back off, rotate the Tor circuit, or stop the
site and tell the analyst (session expired). A detector that fired on words alone is ignored when the
page has the site's normal structure (``crawler.detectors.PageStructure``): a seller cannot stop a site
by writing "captcha" in a listing."""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request, Spider
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import reactor, task

from crawler.adapters import Detector
from crawler.detectors import MAX_INSPECT_BYTES, PageStructure, classify, generic_detectors
from crawler.page_tree import parse_for_detectors
from crawler.sink import IndexSink

log = logging.getLogger(__name__)


class SiteStopped(IgnoreRequest):
    """The site was stopped (session expired / captcha): the analyst must act before it is crawled again."""


class InvalidPageMiddleware:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.sink = IndexSink.from_crawler(crawler)
        self.max_backoff = crawler.settings.getfloat("SOKHUND_MAX_BACKOFF", 30.0)
        self.stopped: dict[str, str] = {}
        self._structures: dict[tuple[str, str | None], PageStructure] = {}

    @classmethod
    def from_crawler(cls, crawler: Any) -> InvalidPageMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider) -> None:
        site = request.meta.get("site", "")
        if site in self.stopped:
            raise SiteStopped(f"site {site} stopped: {self.stopped[site]}")

    async def process_response(self, request: Request, response: Response, spider: Spider) -> Response | Request:
        adapter = getattr(spider, "adapter", None)
        detectors: list[Detector] = adapter.detectors if adapter is not None else []
        # the generic set minus what the adapter switched off (`generic_detectors: false`, `detectors.disable`)
        generic = None if adapter is None else adapter.generic_enabled(generic_detectors())
        structure = None
        if adapter is not None:
            page_type = request.meta.get("page_type") or adapter.page_type(response.url)
            key = (adapter.name, page_type)
            structure = self._structures.get(key)
            if structure is None:  # the same few per site: built once, not per response
                structure = self._structures[key] = PageStructure.of(adapter, page_type)
        tree = None
        if adapter is not None:  # parsed once: the spider reuses this tree (crawler/page_tree.py)
            tree = parse_for_detectors(response, min(MAX_INSPECT_BYTES, adapter.politeness.max_body_bytes))
        overruled: list[str] = []
        verdict = classify(response.status, response.headers, response.body, detectors, generic=generic,
                           structure=structure, overruled=overruled, tree=tree)
        for reason in overruled:
            self.crawler.stats.inc_value("sokhund/detector_overruled")
            log.info("%s: %s", response.url, reason)
        if verdict is None:
            return response
        site = request.meta.get("site", "")
        stats = self.crawler.stats
        stats.inc_value(f"sokhund/invalid/{verdict.kind}")
        capture = request.meta.get("capture")
        if capture is not None:
            capture.invalid_kind = verdict.kind
            self.sink.add([capture])
        tries = request.meta.get("invalid_tries", 0) + 1
        limit = getattr(verdict, "max_retries", 5)
        reaction = verdict.reaction
        if reaction == "stop" or tries > limit:
            reason = (
                f"{verdict.kind} page at {response.url} ({verdict.condition}); "
                + ("the session has expired or needs a captcha: paste a fresh session cookie into the site's config"
                   if reaction == "stop" else f"gave up after {limit} retries")
            )
            if reaction == "stop":
                self.stopped[site] = reason
                stats.set_value("sokhund/site_stopped", reason)
                log.error("ALERT: stopping site %s: %s", site, reason)
                self.crawler.engine.close_spider(spider, f"site_stopped:{verdict.kind}")
            else:
                log.warning("dropping %s: %s", response.url, reason)
            raise IgnoreRequest(reason)
        delay = getattr(verdict, "wait_seconds", 2.0)
        if reaction == "backoff":
            delay = min(self.max_backoff, delay * (2 ** (tries - 1)))
            stats.inc_value("sokhund/backoff")
        elif reaction == "rotate":
            stats.inc_value("sokhund/rotate")
            _rotate_identity(self.crawler, site)
        elif reaction == "render":
            delay = 0.0  # the browser does the waiting
        log.info("%s page at %s: %s, retry %d in %.1fs", verdict.kind, response.url, reaction, tries, delay)
        if delay > 0:
            await maybe_deferred_to_future(task.deferLater(reactor, delay, lambda: None))
        retry = request.replace(dont_filter=True)
        retry.meta["invalid_tries"] = tries
        retry.meta.pop("capture", None)
        if reaction == "render":
            from crawler.render import render_meta

            run_id = self.crawler.settings.get("SOKHUND_RUN_ID", "run")
            markers = _challenge_markers(detectors, verdict)
            retry.meta.update(render_meta(site, run_id, request.url, keep_page=True, wait_gone=markers))
        return retry


def _challenge_markers(detectors: list[Detector], verdict: Any) -> list[str]:
    """CSS selectors that mark the challenge page (from the detector that fired): rendering waits until
    they are gone."""
    if getattr(verdict, "source", "") != "adapter" or not 0 <= verdict.index < len(detectors):
        return []
    return [m.css for m in detectors[verdict.index].any if m.css]


def _rotate_identity(crawler: Any, site: str) -> None:
    """Ban reaction: ask Tor for a new circuit for this site (no-op for clearnet crawls)."""
    try:
        from tor.scrapy_routing import request_new_identity
    except ImportError:
        return
    try:
        request_new_identity(crawler, site)
    except Exception as exc:
        log.warning("could not rotate the Tor identity for %s: %s", site, exc)
