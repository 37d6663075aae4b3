"""Redirects stay on the site's own hosts, like links.

Scrapy's HTTP 30x and ``<meta refresh>`` middlewares, with one rule added: a redirect to a host outside
the site's scope (base URL and mirrors, see ``crawler.scope``) is recorded on the page's capture and in
the stats, and never fetched: no session cookie, no DNS look-up and no connection goes to that host.
A request without a site (no spider scope) may not be redirected anywhere else either.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware, RedirectMiddleware
from scrapy.exceptions import IgnoreRequest

from crawler.scope import SiteScope, host_key

log = logging.getLogger(__name__)


class OffsiteRedirect(IgnoreRequest):
    """A redirect left the site's hosts: recorded, not followed."""


class _OnSiteOnly:
    crawler: Any

    def _redirect(self, redirected: Request, request: Request, reason: Any) -> Request:
        scope: SiteScope | None = getattr(self.crawler.spider, "scope", None)
        allowed = scope.contains(redirected.url) if scope is not None else host_key(redirected.url) == host_key(request.url)
        if allowed:
            # the cookie middleware sets Cookie again from the (host-scoped) jar; a copied header would
            # be sent twice
            redirected.headers.pop(b"Cookie", None)
            return super()._redirect(redirected, request, reason)  # type: ignore[misc]
        message = f"off-site redirect ({reason}) from {request.url} to {redirected.url}: recorded, not followed"
        self.crawler.stats.inc_value("sokhund/offsite_redirects")
        log.warning("%s", message)
        capture = request.meta.get("capture")
        if capture is not None:
            capture.parse_error = message
            from crawler.sink import IndexSink

            IndexSink.from_crawler(self.crawler).add([capture])
        raise OffsiteRedirect(message)


class SiteRedirectMiddleware(_OnSiteOnly, RedirectMiddleware):
    """HTTP 301/302/303/307/308 within the site."""


class SiteMetaRefreshMiddleware(_OnSiteOnly, MetaRefreshMiddleware):
    """``<meta http-equiv=refresh>`` within the site."""
