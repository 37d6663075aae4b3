"""Browser rendering with scrapy-playwright and Debian's chromium (never a downloaded browser).

Used for pages an adapter marks ``render: true`` (client-rendered shops) and for DDoS interstitials
that need JavaScript (detector reaction ``render``). Every rendered page is screenshotted as evidence
beside the WARC files."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from crawler import paths
from crawler.adapters import SiteAdapter

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # else Chromium phones home, which this network refuses
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError("Debian chromium is not installed: run `make setup` (apt-get install chromium)")
    return found


def needs_browser(adapter: SiteAdapter) -> bool:
    return any(p.render for p in adapter.pages.values()) or any(d.effective_reaction == "render" for d in adapter.detectors)


def playwright_settings(proxy: str | None = None) -> dict[str, Any]:
    """Scrapy settings that route requests marked ``playwright`` through chromium; others stay plain HTTP."""
    launch: dict[str, Any] = {"executable_path": chromium_path(), "headless": True, "args": CHROMIUM_ARGS}
    if proxy:
        # socks5 in Chromium resolves host names on the proxy side, so .onion names go to tor, not DNS.
        launch["proxy"] = {"server": proxy}
    return {
        # plain HTTP until a page needs rendering; then scrapy-playwright's handler (crawler/lazy_playwright.py)
        "DOWNLOAD_HANDLERS": {
            "http": "crawler.lazy_playwright.LazyPlaywrightDownloadHandler",
            "https": "crawler.lazy_playwright.LazyPlaywrightDownloadHandler",
        },
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": launch,
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": 30_000,
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": 4,
    }


def screenshot_path(site: str, run_id: str, url: str) -> Path:
    folder = paths.warc_dir() / site / "screenshots" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{hashlib.sha1(url.encode()).hexdigest()[:16]}.png"


async def add_session_cookies(page: Any, request: Any) -> None:
    """Before the browser navigates, give it the session cookies the Scrapy request carries (the
    analyst's login cookie): a page the browser reloads by itself must still be logged in."""
    cookies = request.cookies if isinstance(request.cookies, dict) else {}
    if cookies:
        await page.context.add_cookies([{"name": k, "value": str(v), "url": request.url} for k, v in cookies.items()])


def render_meta(
    site: str, run_id: str, url: str, wait_for: str | None = None, keep_page: bool = False,
    wait_gone: list[str] | None = None, timeout_ms: int = 30_000,
) -> dict[str, Any]:
    """Request meta that renders the page, waits until the network is idle (and for ``wait_for``, and
    until none of the ``wait_gone`` selectors — a challenge page's own markers — is left), and saves a
    full-page screenshot."""
    import json

    from scrapy_playwright.page import PageMethod

    methods = [PageMethod("wait_for_load_state", "networkidle")]
    if wait_gone:
        # a JS challenge sets its cookie and reloads; wait for the real page, not the challenge
        check = " && ".join(f"!document.querySelector({json.dumps(css)})" for css in wait_gone)
        methods.append(PageMethod("wait_for_function", f"() => {check}", timeout=timeout_ms))
        methods.append(PageMethod("wait_for_load_state", "networkidle"))
    if wait_for:
        methods.append(PageMethod("wait_for_selector", wait_for))
    shot = screenshot_path(site, run_id, url)
    methods.append(PageMethod("screenshot", path=str(shot), full_page=True))
    return {
        "playwright": True,
        "playwright_page_init_callback": add_session_cookies,
        "playwright_page_methods": methods,
        "playwright_include_page": keep_page,
        "screenshot": str(shot),
    }
