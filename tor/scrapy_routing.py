"""Fail-closed Tor routing for Scrapy.

Wiring (settings; see tor/README.md)::

    DOWNLOAD_HANDLERS = {"http": "tor.scrapy_routing.TorDownloadHandler",
                         "https": "tor.scrapy_routing.TorDownloadHandler"}
    DOWNLOADER_MIDDLEWARES = {"tor.scrapy_routing.TorFailClosedMiddleware": 960}
    TWISTED_DNS_RESOLVER = "tor.scrapy_routing.OnionRefusingResolver"   # DNS_RESOLVER before Scrapy 2.19
    SOKHUND_TOR_SOCKS = "127.0.0.1:9050"
    SOKHUND_TOR_CONTROL = "127.0.0.1:9051"      # optional: NEWNYM, circuit health

A request is a *Tor request* when its host ends in ``.onion``, when ``request.meta["network"] == "tor"``,
or when ``request.meta["site"]`` names a site whose adapter says ``network: tor`` (or is listed in
``SOKHUND_TOR_SITES``). The download handler sends Tor requests only through tor's SOCKS port with
``socks5h`` semantics (tor resolves the name) and SOCKS credentials ``(site, generation)`` — with
``IsolateSOCKSAuth`` each site gets its own circuits, and bumping the generation gives the site a fresh
circuit. There is no code path from a Tor request to a direct connection: when no SOCKS route is
configured or tor does not answer, the handler raises :class:`TorUnavailableError`; the middleware then
pauses the engine, waits until tor answers again and re-schedules the request (nothing is dropped).
Everything else goes to the ordinary handler (``SOKHUND_TOR_FALLBACK_HANDLER``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import httpx
from scrapy import Request, Spider, signals
from scrapy.exceptions import DownloadFailedError, DownloadTimeoutError, IgnoreRequest, NotConfigured
from scrapy.http import Headers, Response
from scrapy.resolver import CachingThreadedResolver
from scrapy.responsetypes import responsetypes
from scrapy.utils.asyncio import is_asyncio_available
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler, load_object
from twisted.internet import defer
from twisted.internet.error import DNSLookupError

from tor.controller import DEFAULT_SOCKS, TorControlError, TorController, parse_endpoint
from tor.onion import OnionAddressError, is_onion_host, parse_onion

log = logging.getLogger(__name__)

DEFAULT_FALLBACK_HANDLER = "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler"
ROUTER_ATTR = "_sokhund_tor_router"
NO_ROUTE = ("none", "off", "0", "false", "")


class TorUnavailableError(Exception):
    """No Tor route: not configured, or tor's SOCKS port does not answer. The request was NOT sent."""


class TorCircuitError(DownloadFailedError):
    """tor answered but could not reach the site (circuit / onion descriptor / connection failure)."""


class TorRoutingNotInstalled(IgnoreRequest):
    """The crawl's http/https download handler is not :class:`TorDownloadHandler`: Tor requests are refused."""


class OnionRequestError(Exception):
    """A request for a malformed onion address (the message names it and says why)."""


# ---- settings ----------------------------------------------------------------------------------------


@dataclass
class TorRouteSettings:
    socks: tuple[str, int] | None
    control: tuple[str, int] | None
    control_password: str | None
    control_cookie: str | None
    tor_sites: frozenset[str]
    probe_interval: float
    max_wait: float  # 0 = wait for tor as long as it takes
    circuit_retries: int
    pause_engine: bool
    newnym_on_ban: bool
    guard_system_resolver: bool
    fallback_handler: str

    @classmethod
    def from_settings(cls, settings: Any) -> TorRouteSettings:
        def get(name: str, default: Any = None) -> Any:
            value = settings.get(name)
            if value in (None, ""):
                value = os.environ.get(name, default)
            return default if value in (None, "") else value

        socks = str(get("SOKHUND_TOR_SOCKS", DEFAULT_SOCKS)).strip()
        if socks.lower() in NO_ROUTE:
            socks = ""
        control = get("SOKHUND_TOR_CONTROL")
        sites = get("SOKHUND_TOR_SITES", [])
        if isinstance(sites, str):
            sites = [s.strip() for s in sites.split(",") if s.strip()]
        return cls(
            socks=parse_endpoint(socks) if socks else None,
            control=parse_endpoint(control) if control else None,
            control_password=get("SOKHUND_TOR_CONTROL_PASSWORD"),
            control_cookie=get("SOKHUND_TOR_COOKIE"),
            tor_sites=frozenset(sites),
            probe_interval=float(get("SOKHUND_TOR_PROBE_INTERVAL", 1.0)),
            max_wait=float(get("SOKHUND_TOR_MAX_WAIT", 0)),
            circuit_retries=int(get("SOKHUND_TOR_CIRCUIT_RETRIES", 8)),
            pause_engine=_bool(get("SOKHUND_TOR_PAUSE_ENGINE", True)),
            newnym_on_ban=_bool(get("SOKHUND_TOR_NEWNYM_ON_BAN", True)),
            guard_system_resolver=_bool(get("SOKHUND_TOR_GUARD_SYSTEM_RESOLVER", True)),
            fallback_handler=str(get("SOKHUND_TOR_FALLBACK_HANDLER", DEFAULT_FALLBACK_HANDLER)),
        )


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


# ---- the router: one per crawler, shared by handler, middleware and the ban hook ------------------------


@dataclass
class RotationResult:
    site: str
    generation: int
    newnym: str  # "sent", "rate-limited (next in Ns)", "no control port", "disabled", "pending"


class TorRouter:
    """Which requests go through Tor, with which isolation credentials, and whether tor is up."""

    def __init__(self, crawler: Any, config: TorRouteSettings) -> None:
        self.crawler = crawler
        self.config = config
        self.generations: dict[str, int] = {}
        self.up = config.socks is not None
        self.down_since: float | None = None if self.up else time.monotonic()
        self._last_probe = 0.0
        self._last_warning = 0.0
        self._site_network: dict[str, str] = {}
        self._controller: TorController | None = None
        self._control_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sokhund-tor-control")
        self.pending: list[Any] = []  # control-port futures (NEWNYM) still running
        if crawler is not None:
            crawler.signals.connect(self._spider_opened, signal=signals.spider_opened)
            crawler.signals.connect(self._spider_closed, signal=signals.spider_closed)

    @classmethod
    def for_crawler(cls, crawler: Any) -> TorRouter:
        router = getattr(crawler, ROUTER_ATTR, None)
        if router is None:
            router = cls(crawler, TorRouteSettings.from_settings(crawler.settings))
            setattr(crawler, ROUTER_ATTR, router)
        return router

    @property
    def stats(self) -> Any:
        return self.crawler.stats if self.crawler is not None else None

    def _inc(self, key: str, count: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(key, count)

    # ---- which route --------------------------------------------------------------------------------

    def site_network(self, site: str) -> str:
        if site in self.config.tor_sites:
            return "tor"
        if site not in self._site_network:
            network = "clearnet"
            spider = getattr(self.crawler, "spider", None)
            adapter = getattr(spider, "adapter", None)
            if adapter is not None and getattr(adapter, "name", None) == site:
                network = adapter.network
            else:
                try:
                    from crawler.adapters import load_adapter

                    network = load_adapter(site).network
                except Exception:  # unknown site name: decided by the host alone
                    network = "clearnet"
            self._site_network[site] = network
        return self._site_network[site]

    def is_tor_request(self, request: Request) -> bool:
        if is_onion_host(urlparse_cached(request).hostname):
            return True
        if request.meta.get("network") == "tor":
            return True
        site = request.meta.get("site")
        return bool(site) and self.site_network(str(site)) == "tor"

    def isolation_key(self, request: Request) -> str:
        """The SOCKS username: the site name, else the onion host (so two onions never share a circuit)."""
        site = request.meta.get("site")
        if site:
            return str(site)
        return urlparse_cached(request).hostname or "default"

    def credentials(self, key: str) -> tuple[str, str]:
        return key, f"sokhund-{self.generations.get(key, 0)}"

    def proxy_url(self, key: str) -> str:
        if self.config.socks is None:
            raise TorUnavailableError("no Tor route configured (set SOKHUND_TOR_SOCKS=HOST:PORT)")
        user, password = self.credentials(key)
        host, port = self.config.socks
        return f"socks5h://{user}:{password}@{host}:{port}"

    # ---- up / down --------------------------------------------------------------------------------------

    def mark_down(self, reason: str) -> None:
        if not self.up:
            return
        self.up = False
        self.down_since = time.monotonic()
        self._last_warning = 0.0
        self._inc("tor/down_events")
        engine = getattr(self.crawler, "engine", None)
        if self.config.pause_engine and engine is not None:
            engine.pause()
        log.warning("Tor route is down (%s): crawl paused; Tor requests wait and are never sent directly", reason)

    def _mark_up(self) -> None:
        if self.up:
            return
        waited = time.monotonic() - (self.down_since or time.monotonic())
        self.up = True
        self.down_since = None
        if self.stats is not None:
            self.stats.inc_value("tor/paused_seconds", round(waited, 1))
        engine = getattr(self.crawler, "engine", None)
        if engine is not None and engine.paused:
            engine.unpause()
        log.warning("Tor route is back after %.1fs: crawl resumed", waited)

    async def probe(self) -> bool:
        """Does tor's SOCKS port speak SOCKS5 (and, with a control port, is tor bootstrapped)?"""
        if self.config.socks is None:
            return False
        host, port = self.config.socks
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2)
            try:
                writer.write(b"\x05\x01\x00")
                await writer.drain()
                ok = await asyncio.wait_for(reader.readexactly(2), 2) == b"\x05\x00"
            finally:
                writer.close()
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            return False
        if ok and self.config.control is not None:
            percent = await asyncio.get_running_loop().run_in_executor(self._executor, self._bootstrap_percent)
            ok = percent is None or percent >= 100
        return ok

    def _bootstrap_percent(self) -> int | None:
        ctl = self.controller()
        if ctl is None:
            return None
        try:
            return ctl.bootstrap_percent()
        except Exception:
            return None

    def gave_up(self) -> bool:
        if self.up or not self.config.max_wait or self.down_since is None:
            return False
        return time.monotonic() - self.down_since > self.config.max_wait

    async def wait_until_up(self) -> None:
        """Return when tor answers; raise TorUnavailableError after SOKHUND_TOR_MAX_WAIT (0 = never)."""
        while not self.up:
            if self.config.socks is None:
                raise TorUnavailableError("no Tor route configured (set SOKHUND_TOR_SOCKS=HOST:PORT)")
            if not getattr(self.crawler, "crawling", True):
                # the crawl is stopping (SIGTERM, Ctrl-C): a held request would keep the graceful stop
                # waiting for a tor that may never come back; it stays unsent and is crawled on resume
                raise TorUnavailableError("crawl stopping while tor is down; request not sent")
            if self.gave_up():
                engine = getattr(self.crawler, "engine", None)
                if engine is not None and engine.paused:
                    # let the queued Tor requests reach this point and fail too, instead of hanging
                    log.error("gave up waiting for tor at %s:%s after %.0fs (SOKHUND_TOR_MAX_WAIT): failing "
                              "Tor requests; none was sent directly", *self.config.socks, self.config.max_wait)
                    engine.unpause()
                raise TorUnavailableError(
                    f"tor at {self.config.socks[0]}:{self.config.socks[1]} down for more than "
                    f"{self.config.max_wait:.0f}s (SOKHUND_TOR_MAX_WAIT); request not sent")
            waited = time.monotonic() - (self.down_since or time.monotonic())
            if waited - self._last_warning >= 30:
                self._last_warning = waited
                log.warning("still waiting for tor at %s:%s (%.0fs); Tor requests are held, not sent",
                            *self.config.socks, waited)
            await asyncio.sleep(self.config.probe_interval)
            now = time.monotonic()
            if self.up or now - self._last_probe < self.config.probe_interval:
                continue
            self._last_probe = now
            if await self.probe():
                self._mark_up()

    # ---- control port: NEWNYM, circuit rotation, health ------------------------------------------------

    def controller(self) -> TorController | None:
        """The control connection, (re)attached on demand; None without SOKHUND_TOR_CONTROL or when down."""
        if self.config.control is None:
            return None
        with self._control_lock:
            if self._controller is not None and self._controller.is_alive():
                return self._controller
            try:
                self._controller = TorController.attach(
                    self.config.control, password=self.config.control_password, cookie_path=self.config.control_cookie
                )
                self._controller.watch_circuits()
            except TorControlError as exc:
                log.debug("tor control port unavailable: %s", exc)
                self._controller = None
            return self._controller

    def rotate(self, site: str) -> RotationResult:
        """New circuit for ``site``: new SOCKS credentials now; NEWNYM + close its circuits in the background."""
        generation = self.generations.get(site, 0) + 1
        self.generations[site] = generation
        self._inc("tor/rotations")
        if not self.config.newnym_on_ban:
            return RotationResult(site, generation, "disabled")
        if self.config.control is None:
            return RotationResult(site, generation, "no control port")
        self.pending.append(self._executor.submit(self._newnym_and_close, site))
        return RotationResult(site, generation, "pending")

    def _newnym_and_close(self, site: str) -> str:
        ctl = self.controller()
        if ctl is None:
            self._inc("tor/newnym_failed")
            return "no control connection"
        try:
            result = ctl.new_identity()
            closed = ctl.rotate_site(site)
        except Exception as exc:
            self._inc("tor/newnym_failed")
            log.warning("NEWNYM for %s failed: %s", site, exc)
            return f"failed: {exc}"
        if result.sent:
            self._inc("tor/newnym_sent")
            if self.stats is not None:
                self.stats.set_value("tor/last_newnym", time.time())
        else:
            self._inc("tor/newnym_rate_limited")
        log.info("rotated Tor identity for %s: NEWNYM %s, closed circuits %s", site,
                 "sent" if result.sent else result.reason, closed)
        return "sent" if result.sent else result.reason

    def record_health(self) -> None:
        if self.stats is None or self._controller is None:
            return
        try:
            health = self._controller.health()
        except Exception:
            return
        for key, value in health.as_stats().items():
            if key not in ("tor/newnym_sent", "tor/newnym_rate_limited"):
                self.stats.set_value(key, value)

    def _spider_opened(self, spider: Spider | None = None) -> None:
        if self.config.control is not None:  # start counting circuits built / failed during the crawl
            self.pending.append(self._executor.submit(self.controller))

    def _spider_closed(self, spider: Spider | None = None) -> None:
        for future in self.pending:
            try:
                future.result(timeout=5)
            except Exception as exc:
                log.debug("control-port task failed: %s", exc)
        self.pending.clear()
        try:
            self._executor.submit(self.record_health).result(timeout=5)
        except Exception:
            pass
        self.close()

    def close(self) -> None:
        if self._controller is not None:
            self._controller.close()
            self._controller = None
        self._executor.shutdown(wait=False)


def scrapy_settings(adapter: Any = None) -> dict[str, Any]:
    """Settings that route a crawl through Tor (fail closed). Put Playwright's handler, if any, in
    ``SOKHUND_TOR_FALLBACK_HANDLER`` — never in ``DOWNLOAD_HANDLERS``, which must stay ours."""
    socks = os.environ.get("SOKHUND_TOR_SOCKS") or DEFAULT_SOCKS
    settings: dict[str, Any] = {
        "DOWNLOAD_HANDLERS": {"http": "tor.scrapy_routing.TorDownloadHandler",
                              "https": "tor.scrapy_routing.TorDownloadHandler"},
        "DOWNLOADER_MIDDLEWARES": {"tor.scrapy_routing.TorFailClosedMiddleware": 960},
        "TWISTED_DNS_RESOLVER": "tor.scrapy_routing.OnionRefusingResolver",
        "SOKHUND_TOR_SITES": [adapter.name] if adapter is not None else [],
    }
    if socks.strip().lower() not in NO_ROUTE:
        host, port = parse_endpoint(socks)
        settings["SOKHUND_TOR_SOCKS"] = f"{host}:{port}"
        settings["SOKHUND_BROWSER_PROXY"] = f"socks5://{host}:{port}"  # chromium: no SOCKS auth, no isolation
    for name in ("SOKHUND_TOR_CONTROL", "SOKHUND_TOR_COOKIE", "SOKHUND_TOR_CONTROL_PASSWORD"):
        if os.environ.get(name):
            settings[name] = os.environ[name]
    return settings


def request_new_identity(crawler: Any, site: str) -> RotationResult:
    """Ban hook: give ``site`` a new Tor circuit (new isolation credentials; NEWNYM if tor allows one now)."""
    return TorRouter.for_crawler(crawler).rotate(site)


# ---- the download handler ---------------------------------------------------------------------------------


class TorDownloadHandler:
    """``http``/``https`` handler: Tor requests over SOCKS5h with per-site credentials; the rest go to
    ``SOKHUND_TOR_FALLBACK_HANDLER`` (Scrapy's HTTP/1.1 handler by default)."""

    lazy = False

    def __init__(self, crawler: Any) -> None:
        if not is_asyncio_available():
            raise NotConfigured("TorDownloadHandler needs Scrapy's asyncio reactor (TWISTED_REACTOR default)")
        self.crawler = crawler
        self.router = TorRouter.for_crawler(crawler)
        if self.router.config.guard_system_resolver:
            install_system_resolver_guard()
        fallback_cls = load_object(self.router.config.fallback_handler)
        self.fallback = build_from_crawler(fallback_cls, crawler)
        self.default_maxsize = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        self.pool_size = max(1, crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"))
        self._transports: dict[str, httpx.AsyncHTTPTransport] = {}

    @classmethod
    def from_crawler(cls, crawler: Any) -> TorDownloadHandler:
        return cls(crawler)

    async def download_request(self, request: Request, spider: Spider | None = None) -> Response:
        if self.router.is_tor_request(request):
            if request.meta.get("playwright"):
                return await self._render_over_tor(request)
            return await self._download_tor(request)
        return await self._fallback(request)

    async def _render_over_tor(self, request: Request) -> Response:
        """A Tor page that needs a browser: only through a Playwright handler whose chromium uses tor's
        SOCKS port as its proxy (chromium resolves names on the proxy side). Otherwise refused."""
        proxy = str((self.crawler.settings.getdict("PLAYWRIGHT_LAUNCH_OPTIONS").get("proxy") or {}).get("server", ""))
        socks = self.router.config.socks
        wanted = {f"socks5://{socks[0]}:{socks[1]}", f"socks5h://{socks[0]}:{socks[1]}"} if socks else set()
        if "playwright" not in type(self.fallback).__module__ or proxy not in wanted:
            raise TorRoutingNotInstalled(
                f"refusing to render {request.url}: rendering a Tor page needs SOKHUND_TOR_FALLBACK_HANDLER = "
                f"scrapy-playwright's handler and PLAYWRIGHT_LAUNCH_OPTIONS proxy {sorted(wanted) or 'to tor'}, "
                f"got handler {type(self.fallback).__name__} and proxy {proxy or 'none'}")
        if not self.router.up:
            raise TorUnavailableError(f"tor at {socks} is down")
        self.router._inc("tor/rendered")
        return await self._fallback(request)

    async def _fallback(self, request: Request) -> Response:
        if inspect.iscoroutinefunction(self.fallback.download_request):
            return await self.fallback.download_request(request)
        # an old-style (Deferred, with spider) handler, e.g. some third-party handlers
        return await maybe_deferred_to_future(self.fallback.download_request(request, self.crawler.spider))

    def _transport(self, proxy_url: str) -> httpx.AsyncHTTPTransport:
        transport = self._transports.get(proxy_url)
        if transport is None:
            limits = httpx.Limits(max_connections=self.pool_size, max_keepalive_connections=self.pool_size)
            transport = httpx.AsyncHTTPTransport(proxy=httpx.Proxy(proxy_url), limits=limits, trust_env=False)
            self._transports[proxy_url] = transport
        return transport

    async def _download_tor(self, request: Request) -> Response:
        host = urlparse_cached(request).hostname or ""
        if is_onion_host(host):
            try:
                parse_onion(host)
            except OnionAddressError as exc:
                raise OnionRequestError(f"refusing {request.url}: {exc}") from None
        if request.meta.get("proxy"):
            self.router._inc("tor/ignored_proxy_meta")
        key = self.router.isolation_key(request)
        proxy_url = self.router.proxy_url(key)  # raises TorUnavailableError without a route
        if not self.router.up:
            raise TorUnavailableError(f"tor at {self.router.config.socks} is down")
        timeout = float(request.meta.get("download_timeout") or self.crawler.settings.getfloat("DOWNLOAD_TIMEOUT"))
        headers = [(k.decode("latin-1"), v.decode("latin-1"))
                   for k, values in request.headers.items() for v in values
                   if k.lower() != b"proxy-authorization"]
        hx_request = httpx.Request(
            request.method, request.url, headers=headers, content=request.body or None,
            extensions={"timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}},
        )
        started = time.monotonic()
        try:
            return await asyncio.wait_for(self._fetch(self._transport(proxy_url), hx_request, request, started), timeout)
        except TimeoutError:
            raise DownloadTimeoutError(f"Getting {request.url} over Tor took longer than {timeout} seconds.") from None
        except httpx.TimeoutException as exc:
            raise DownloadTimeoutError(f"Getting {request.url} over Tor timed out: {exc}") from exc
        except (httpx.TransportError, OSError) as exc:
            if not await self.router.probe():
                self.router.mark_down(f"{type(exc).__name__}: {exc}")
                raise TorUnavailableError(f"tor at {self.router.config.socks} does not answer: {exc}") from exc
            raise TorCircuitError(f"Tor could not reach {request.url}: {exc or type(exc).__name__}") from exc

    async def _fetch(self, transport: httpx.AsyncHTTPTransport, hx_request: httpx.Request,
                     request: Request, started: float) -> Response:
        hx_response = await transport.handle_async_request(hx_request)
        try:
            request.meta["download_latency"] = time.monotonic() - started
            headers = Headers()
            for name, value in hx_response.headers.raw:
                headers.appendlist(name, value)
            maxsize = int(request.meta.get("download_maxsize", self.default_maxsize) or 0)
            body = BytesIO()
            async for chunk in hx_response.aiter_raw():
                body.write(chunk)
                if maxsize and body.tell() > maxsize:
                    raise DownloadFailedError(f"{request.url}: body larger than DOWNLOAD_MAXSIZE ({maxsize} bytes)")
        finally:
            await hx_response.aclose()
        payload = body.getvalue()
        respcls = responsetypes.from_args(headers=headers, url=request.url, body=payload)
        self.router._inc("tor/responses")
        return respcls(url=request.url, status=hx_response.status_code, headers=headers, body=payload,
                       protocol=hx_response.extensions.get("http_version", b"HTTP/1.1").decode("ascii", "replace"))

    async def close(self) -> None:
        for transport in self._transports.values():
            try:
                await transport.aclose()
            except Exception as exc:  # closing a transport of a dead tor
                log.debug("closing Tor transport: %s", exc)
        close = getattr(self.fallback, "close", None)
        if close is not None:
            result = close()
            if isinstance(result, defer.Deferred):
                await maybe_deferred_to_future(result)
            elif asyncio.iscoroutine(result):
                await result


# ---- the downloader middleware: wait for tor, never drop, never go direct ---------------------------------


class TorFailClosedMiddleware:
    """Holds Tor requests while tor is down (the engine is paused) and re-schedules the ones that failed
    because tor was down. Circuit failures are retried with back-off (``SOKHUND_TOR_CIRCUIT_RETRIES``)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.router = TorRouter.for_crawler(crawler)
        self.not_installed = routing_not_installed(crawler.settings)
        if self.not_installed:
            log.error("Tor requests will be refused: %s", self.not_installed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> TorFailClosedMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if not self.router.is_tor_request(request):
            return None
        if self.not_installed:
            # another handler (plain HTTP/1.1, Playwright …) would send this request directly: refuse it
            self.router._inc("tor/refused_not_installed")
            raise TorRoutingNotInstalled(f"refusing {request.url}: {self.not_installed}")
        request.meta["sokhund_tor"] = self.router.isolation_key(request)
        if not self.router.up:
            self.router._inc("tor/requests_held")
            await self.router.wait_until_up()
        return None

    async def process_exception(self, request: Request, exception: BaseException,
                                spider: Spider | None = None) -> Request | None:
        if isinstance(exception, TorUnavailableError):
            if self.router.config.socks is None:
                self.router._inc("tor/no_route")
                return None  # Tor switched off (SOKHUND_TOR_SOCKS=none): fail the request, never go direct
            if not getattr(self.crawler, "crawling", True) and not request.meta.get("tor_kept"):
                self.router._inc("tor/requests_kept_for_resume")  # stopping: into the JOBDIR queue, unsent
                kept = request.replace(dont_filter=True)
                kept.meta["tor_kept"] = True
                return kept
            self.router.mark_down(str(exception))
            if self.router.gave_up():
                return None  # SOKHUND_TOR_MAX_WAIT exceeded: the request fails (it was never sent)
            self.router._inc("tor/requests_requeued")
            await self.router.wait_until_up()
            retry = request.replace(dont_filter=True)
            retry.meta["tor_requeued"] = request.meta.get("tor_requeued", 0) + 1
            return retry
        if isinstance(exception, TorCircuitError):
            tries = request.meta.get("tor_circuit_tries", 0) + 1
            if tries > self.router.config.circuit_retries:
                self.router._inc("tor/circuit_gave_up")
                return None
            self.router._inc("tor/circuit_retries")
            await asyncio.sleep(min(30.0, 0.5 * 2 ** (tries - 1)))
            retry = request.replace(dont_filter=True)
            retry.meta["tor_circuit_tries"] = tries
            return retry
        return None


def routing_not_installed(settings: Any) -> str | None:
    """Why Tor requests could leave this crawl without Tor (None when TorDownloadHandler serves http/https)."""
    handlers = settings.getwithbase("DOWNLOAD_HANDLERS")
    for scheme in ("http", "https"):
        path = handlers.get(scheme)
        try:
            cls = load_object(path) if isinstance(path, str) else path
        except Exception:
            cls = None
        if not (isinstance(cls, type) and issubclass(cls, TorDownloadHandler)):
            return (f"DOWNLOAD_HANDLERS[{scheme!r}] is {path!r}, not tor.scrapy_routing.TorDownloadHandler "
                    "(put other handlers, e.g. Playwright's, in SOKHUND_TOR_FALLBACK_HANDLER)")
    return None


# ---- resolver guards -----------------------------------------------------------------------------------


class OnionRefusingResolver(CachingThreadedResolver):
    """Scrapy's DNS resolver (``TWISTED_DNS_RESOLVER``, formerly ``DNS_RESOLVER``) that refuses .onion names instead of asking the system."""

    def getHostByName(self, name: str, timeout: Any = ()) -> defer.Deferred[str]:
        if is_onion_host(name):
            return defer.fail(DNSLookupError(f"refusing to resolve onion name {name!r} outside Tor"))
        return super().getHostByName(name, timeout)


_guard_lock = threading.Lock()
_guard_installed = False
refused_lookups: list[str] = []


def install_system_resolver_guard() -> None:
    """Make ``socket.getaddrinfo`` / ``gethostbyname`` / ``gethostbyname_ex`` refuse .onion names in this
    process (defence in depth: no library can leak an onion name to the system resolver)."""
    global _guard_installed
    with _guard_lock:
        if _guard_installed:
            return

        def refuse(original: Callable[..., Any]) -> Callable[..., Any]:
            def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
                if isinstance(host, (str, bytes)) and is_onion_host(host):
                    name = host.decode("ascii", "replace") if isinstance(host, bytes) else host
                    refused_lookups.append(name)
                    raise socket.gaierror(socket.EAI_NONAME, f"refusing to resolve onion name {name!r} outside Tor")
                return original(host, *args, **kwargs)

            guarded.__wrapped__ = original  # type: ignore[attr-defined]
            return guarded

        socket.getaddrinfo = refuse(socket.getaddrinfo)
        socket.gethostbyname = refuse(socket.gethostbyname)
        socket.gethostbyname_ex = refuse(socket.gethostbyname_ex)
        _guard_installed = True
