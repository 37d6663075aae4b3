"""Scrapy's cookie middleware, scoped to the site's own hosts, with the Public Suffix List read from
tldextract's bundled snapshot.

Scope: a request outside the spider's ``scope`` (``crawler.scope``: base URL and mirrors, ports
included, which a cookie jar alone ignores) gets no Cookie header, and its Set-Cookie is not kept.

Scrapy's own middleware asks tldextract, whose default downloads the list from the internet the first
time a cookie carries a domain (system DNS look-ups from a Tor crawl, even with tor down). The snapshot
is never refreshed here: a slightly old suffix list only affects which parent domains a cookie may claim.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from http.cookiejar import Cookie
from typing import Any

from scrapy.downloadermiddlewares.cookies import CookiesMiddleware
from scrapy.http import Request, Response
from scrapy.utils.httpobj import urlparse_cached
from tldextract import TLDExtract

# cache_dir=None and no URLs: tldextract uses only the snapshot shipped inside the package.
OFFLINE_SUFFIXES = TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True,
                              include_psl_private_domains=True)


@lru_cache(maxsize=4096)
def is_public_suffix(domain: str) -> bool:
    """True for a public suffix (``co.uk``, ``github.io``): nobody may set a cookie for all of it."""
    return not OFFLINE_SUFFIXES(domain).domain


class OfflineCookiesMiddleware(CookiesMiddleware):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # tldextract builds its suffix trie on the first look-up (a second of CPU): before the crawl
        # starts, not in the middle of it
        OFFLINE_SUFFIXES("example.com")

    def _offsite(self, request: Request) -> bool:
        scope = getattr(self.crawler.spider, "scope", None)
        return scope is not None and not scope.contains(request.url)

    def process_request(self, request: Request, spider: Any = None) -> Any:
        if self._offsite(request):
            request.headers.pop(b"Cookie", None)
            self.crawler.stats.inc_value("sokhund/cookies_withheld_offsite")
            return None
        return super().process_request(request)

    def _get_request_cookies(self, jar: Any, request: Request) -> Sequence[Cookie]:
        # Cookies given on the request (the site's session) hold for the whole site: path "/". With the
        # default path (the page's directory) the jar would keep a copy per directory and send duplicates.
        cookies = super()._get_request_cookies(jar, request)
        for cookie in cookies:
            if not cookie.path_specified:
                cookie.path, cookie.path_specified = "/", True
        return cookies

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Any:
        if self._offsite(request):
            return response  # another host's Set-Cookie never enters the site's jar
        return super().process_response(request, response)

    def _process_cookies(self, cookies: Iterable[Cookie], *, jar: Any, request: Request) -> None:
        host = (urlparse_cached(request).hostname or "").lower().rstrip(".")
        if not host:
            return
        for cookie in cookies:
            domain = cookie.domain.lstrip(".").lower()
            if domain and is_public_suffix(domain):
                # a cookie for a whole public suffix is kept only as a host cookie of that very host
                if domain != host:
                    continue
                cookie.domain = host
            jar.set_cookie_if_ok(cookie, request)
