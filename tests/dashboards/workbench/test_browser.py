"""The workbench in a real browser: Playwright with Debian chromium against a `sokhund serve` subprocess
on 127.0.0.1 over a crawled testbed day and a hostile market. Log in, search, open a listing and its
evidence, and prove that no crawled payload runs: a loopback sentinel gets no connection and no DOM flag
is set. Screenshots of the main pages go to /tmp/workbench-shots/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.dashboards.workbench import world as hostile_world
from tests.dashboards.workbench.conftest import PASSWORD, ROOT, free_port

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which("chromium"), reason="Debian chromium is not installed (make setup installs it)"),
]

SHOTS = Path("/tmp/workbench-shots")
# Our payloads set data-pwned, the testbed's planted ones (testbed/data/hostile.yaml) set window.__xss.
FLAG = ("document.documentElement.dataset.pwned || (window.top && window.top.document.documentElement.dataset.pwned)"
        " || window.__xss || null")


@dataclass
class Served:
    url: str
    world: hostile_world.World
    process: subprocess.Popen


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], env=env, input=stdin, text=True,
                          capture_output=True, timeout=120, cwd=ROOT)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("workbench") / "home"
    home.mkdir()
    sentinel = hostile_world.Sentinel()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOKHUND_HOME", str(home))
        mp.setenv("SOKHUND_XSS_SENTINEL", sentinel.url)  # the testbed's planted payloads call our sentinel
        world = hostile_world.build(home, sentinel)
    assert sentinel.hits == [], f"the crawl itself reached the sentinel: {sentinel.hits}"
    env = {**os.environ, "SOKHUND_HOME": str(home), "PYTHONPATH": str(ROOT)}
    for name, role in (("anna", "analyst"), ("root", "admin")):
        done = _cli(env, "users", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD + "\n")
        assert done.returncode == 0, done.stderr
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--port", str(port)], env=env, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/login", timeout=2).read()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"sokhund serve did not start: {process.stdout.read() if process.stdout else ''}")
            time.sleep(0.2)
    try:
        yield Served(url, world, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        sentinel.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    from crawler.render import CHROMIUM_ARGS, chromium_path

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser: Any, served: Served) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.console_messages = []
    page.on("console", lambda msg: page.console_messages.append(msg.text))
    yield page
    context.close()


def _login(page: Any, served: Served, user: str = "anna") -> None:
    page.goto(f"{served.url}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{served.url}/search")


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _own_csp_violations(page: Any) -> list[str]:
    return [m for m in page.console_messages if "Content Security Policy" in m]


def test_anonymous_visitors_only_see_the_login(page: Any, served: Served) -> None:
    capture = served.world.hostile_captures[0]
    for path in ("/", "/search?q=kokain", f"/listing/{served.world.hostile_listing}", f"/evidence/{capture}",
                 f"/evidence/{capture}/page", "/audit"):
        page.goto(served.url + path)
        assert page.url.startswith(f"{served.url}/login"), path
        assert "Kokain" not in page.content()
    _shot(page, "login")


def test_search_kokain_lists_cocaine_listings_with_vendor_names(page: Any, served: Served) -> None:
    _login(page, served)
    page.fill("input[name=q]", "kokain")
    page.click("form.search button[type=submit]")
    page.wait_for_selector("#result-count")
    count = page.inner_text("#result-count")
    assert " of " in count and "listings" in count, count
    rows = page.locator("table.hits tbody tr")
    total = int(count.split(" of ")[1].split()[0])
    assert total >= 5 and count.startswith(f"1–{min(20, total)} of ") and rows.count() == min(20, total)
    substances = rows.locator("td:nth-child(4)").all_inner_texts()
    assert all(t.startswith("cocaine") for t in substances), substances
    vendors = rows.locator("td:nth-child(2) a")
    assert vendors.count() > 0 and not vendors.first.inner_text().startswith("ven-")  # names, not ids
    assert vendors.first.get_attribute("href").startswith("/vendor/ven-")
    assert page.locator(".facets a", has_text="flugsvamp").count() == 1
    assert _own_csp_violations(page) == []  # no inline script or style on our own pages
    _shot(page, "search")
    page.goto(f"{served.url}/search?kind=listing&site=flugsvamp")  # every flugsvamp listing: several pages
    page.click(".pager a:has-text('next')")
    assert page.inner_text("#result-count").startswith("21–40 of ")
    assert page.locator(".facets a.clear", has_text="flugsvamp").count() == 1


@pytest.mark.xfail(strict=True, reason="cross-language substance expansion comes with the searchcli branch: "
                   "remove this mark after merging it")
def test_search_kokain_also_finds_nordbazaars_cocaine(page: Any, served: Served) -> None:
    _login(page, served)
    page.goto(f"{served.url}/search?q=kokain&site=nordbazaar")
    substances = page.locator("table.hits tbody td:nth-child(4)").all_inner_texts()
    assert len(substances) >= 3 and all(t.startswith("cocaine") for t in substances), substances


def test_listing_page_shows_history_chart_and_evidence(page: Any, served: Served) -> None:
    _login(page, served)
    page.goto(f"{served.url}/search?q=kokain&site=flugsvamp")
    page.click("table.hits tbody tr:first-child td:first-child a")
    page.wait_for_selector("svg.chart")
    assert page.locator("svg.chart polyline, svg.chart circle").count() >= 1
    assert "SEK per" in page.inner_text("table.facts") or "per unit" in page.inner_text("table.facts")
    assert page.locator("table.hits tbody tr").count() >= 1  # observations
    _shot(page, "listing")
    page.click("table.facts a.evidence")
    page.wait_for_selector("#verification")
    assert "match" in page.inner_text("#verification")
    frame = page.frame_locator("iframe.archived")
    assert frame.locator("body").inner_text(timeout=10_000).strip()
    assert _own_csp_violations(page) == [] or all("archived" not in m for m in page.console_messages)
    _shot(page, "evidence")


def test_archived_hostile_pages_stay_inert_in_the_viewer(page: Any, served: Served) -> None:
    _login(page, served)
    sentinel = served.world.sentinel
    assert len(served.world.hostile_captures) == 3
    for capture in served.world.hostile_captures:
        page.goto(f"{served.url}/evidence/{capture}")
        page.wait_for_selector("iframe.archived")
        frame = page.frame(url=lambda u, c=capture: u.endswith(f"/evidence/{c}/page"))
        assert frame is not None
        frame.wait_for_load_state("load")
        page.wait_for_timeout(1500)  # let anything that would fire (timers, refresh, autofocus) fire
        assert page.evaluate(FLAG) is None
        assert frame.evaluate("document.documentElement.dataset.pwned || null") is None
        assert frame.url.endswith(f"/evidence/{capture}/page")  # no meta refresh navigated it away
        assert page.url == f"{served.url}/evidence/{capture}"
    _shot(page, "evidence-hostile")
    # opened directly (outside the viewer's iframe): the CSP sandbox still keeps it inert
    page.goto(f"{served.url}/evidence/{served.world.hostile_captures[0]}/page")
    page.wait_for_timeout(1500)
    assert page.evaluate(FLAG) is None
    assert sentinel.hits == [], sentinel.hits


def test_hostile_strings_stay_text_on_the_workbench_pages(page: Any, served: Served) -> None:
    _login(page, served, "root")
    page.goto(f"{served.url}/listing/{served.world.hostile_listing}")
    assert page.locator("h1").inner_text().startswith("<script>")  # shown, as text
    assert "\\u202e" in page.locator("h1").inner_text()
    page.goto(f"{served.url}/search?q=kokain&site=hostilemarket")
    page.goto(f"{served.url}/search?kind=vendor&site=hostilemarket")
    assert page.locator("table.hits td a", has_text='"><img').count() >= 1
    _shot(page, "search-hostile")
    page.goto(f"{served.url}/audit")
    _shot(page, "audit")
    assert page.evaluate(FLAG) is None
    assert served.world.sentinel.hits == []
    assert _own_csp_violations(page) == []


def test_export_downloads_a_package_and_is_audited(page: Any, served: Served) -> None:
    _login(page, served, "root")
    capture = served.world.hostile_captures[0]
    page.goto(f"{served.url}/evidence/{capture}")
    with page.expect_download() as info:
        page.click("form[action$='/export'] button")
    path = info.value.path()
    import zipfile

    with zipfile.ZipFile(path) as archive:
        assert "manifest.json" in archive.namelist() and "verify_package.py" in archive.namelist()
    page.goto(f"{served.url}/audit?action=export")
    assert capture in page.inner_text("table.audit")


def test_the_testbeds_planted_payloads_stay_inert(page: Any, served: Served) -> None:
    """The vendors, listings, feedback, PGP blocks and thread the testbed plants (its hostile.yaml) on
    every page that shows them: search of each kind, the listing pages, the evidence of each listing."""
    _login(page, served, "root")
    visited = 0
    for path in ("/search?q=Kvitter&kind=vendor", "/search?q=GNIK&kind=vendor", "/search?q=Kvitter&kind=post",
                 "/search?kind=feedback&site=flugsvamp", "/search?q=hasch", "/search?q=ketamine",
                 "/search?q=mdma+crystal", "/search?q=kokain"):
        page.goto(served.url + path)
        assert page.evaluate(FLAG) is None, path
        visited += page.locator("table.hits tbody tr").count()
    assert page.locator("table.hits td", has_text="<img src=x onerror").count() >= 1  # shown, as text
    page.goto(f"{served.url}/search?q=Kvitter&kind=vendor")
    assert page.locator("table.hits td", has_text="Kvitter").count() >= 1
    assert len(served.world.planted_listings) >= 4  # 2 per planted vendor (testbed/data/hostile.yaml)
    for listing in served.world.planted_listings:
        page.goto(f"{served.url}/listing/{listing}")
        assert page.evaluate(FLAG) is None, listing
        page.click("table.facts a.evidence")
        page.wait_for_selector("iframe.archived")
        page.wait_for_timeout(800)
        assert page.evaluate(FLAG) is None, listing
        frame = next(f for f in page.frames if f.url.endswith("/page"))
        assert frame.evaluate("window.__xss || null") is None, listing
    page.goto(f"{served.url}/listing/{served.world.planted_listings[-1]}")
    _shot(page, "listing-planted")
    assert visited >= 5
    assert served.world.sentinel.hits == [], served.world.sentinel.hits
