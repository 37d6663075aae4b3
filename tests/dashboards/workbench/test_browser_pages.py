"""The vendor, identities, alerts, trends and campaigns pages in a real browser: Playwright with Debian
chromium against a `sokhund serve` subprocess over two crawled testbed days (pages_world.py). Open the new
Swedish vendor from its alert, see its evidence and acknowledge the alert (and the audit shows it); open a
vendor's identity page with a PGP link; the trends page draws its charts; the testbed's planted hostile
vendor names stay inert. Screenshots go to /tmp/workbench-shots/pages-*.png."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.dashboards.workbench import pages_world
from tests.dashboards.workbench.conftest import PASSWORD, ROOT, free_port
from tests.dashboards.workbench.test_browser import FLAG, SHOTS, _cli, _login, _own_csp_violations, browser
from tests.dashboards.workbench.world import Sentinel

__all__ = ["browser"]  # the module-scoped chromium of test_browser.py, shared here
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which("chromium"), reason="Debian chromium is not installed (make setup installs it)"),
]
XSS = "window.__xss || document.documentElement.dataset.pwned || null"  # what the planted payloads would set
FINGERPRINT = re.compile(r"\b[0-9A-F]{40}\b")


@dataclass
class Served:
    url: str
    world: pages_world.PagesWorld


@pytest.fixture(scope="module")
def served_pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("workbench-pages") / "home"
    home.mkdir()
    sentinel = Sentinel()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOKHUND_HOME", str(home))
        world = pages_world.build(home, sentinel)
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
        yield Served(url, world)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        sentinel.close()


@pytest.fixture()
def page(browser: Any, served_pages: Served) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.console_messages = []
    page.on("console", lambda msg: page.console_messages.append(msg.text))
    yield page
    context.close()


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"pages-{name}.png"), full_page=True)


def test_open_the_new_swedish_vendor_from_its_alert_and_acknowledge_it(page: Any, served_pages: Served) -> None:
    served, world = served_pages, served_pages.world
    _login(page, served)
    page.click("header nav a:has-text('Alerts')")
    link = page.locator(f"a.alert-link[href='/alerts/{world.alert_id}']")
    assert "New Swedish vendor" in link.inner_text()
    _shot(page, "alerts")
    link.click()
    page.wait_for_selector("#alert-state")
    assert page.inner_text("#alert-state") == "new"
    vendor_name = page.locator("#entity a[href^='/vendor/']").first.inner_text()
    _shot(page, "alert")
    page.click("#evidence a.evidence >> nth=0")  # the vendor profile as captured
    page.wait_for_selector("#verification")
    assert "match" in page.inner_text("#verification")
    page.go_back()
    page.click(f"#entity a[href='/vendor/{world.new_vendor_id}']")
    page.wait_for_selector("#swedish")
    assert page.locator("h1").inner_text() == vendor_name
    assert "ships from se" in page.inner_text("#swedish")
    assert "letter" in page.inner_text("#shipping").lower()
    page.go_back()
    page.click("#alert-ack")
    page.wait_for_selector("#alert-state")
    assert page.inner_text("#alert-state") == "acknowledged"
    assert "anna" in page.inner_text("table.history")
    _shot(page, "alert-acknowledged")
    page.goto(f"{served.url}/alerts")
    assert page.locator(f"a.alert-link[href='/alerts/{world.alert_id}']").count() == 0  # no longer new
    page.context.clear_cookies()
    _login(page, served, "root")
    page.goto(f"{served.url}/audit?action=alert")
    audit = page.inner_text("table.audit")
    assert "alert.ack" in audit and world.alert_id in audit and "anna" in audit
    assert _own_csp_violations(page) == []


def test_a_vendor_identity_page_with_its_pgp_link(page: Any, served_pages: Served) -> None:
    served = served_pages
    _login(page, served)
    page.goto(f"{served.url}/identities")
    group = page.locator("#groups tbody tr", has=page.locator(".strength-strong")).first
    assert FINGERPRINT.search(group.inner_text())  # the fingerprint in full
    _shot(page, "identities")
    group.locator("a[href^='/vendor/']").first.click()
    page.wait_for_selector("#links")
    links = page.inner_text("#links")
    assert "pgp fingerprint" in links and FINGERPRINT.search(links)
    assert page.locator("#identity tbody tr").count() >= 2  # aliases on both markets
    evidence = page.locator("#links a.evidence")
    assert evidence.count() >= 2  # each side of the link with the capture it was read from
    assert "Turnover per" in page.inner_text("#turnover") and page.locator("#turnover svg.chart").count() == 1
    _shot(page, "vendor")
    evidence.first.click()
    page.wait_for_selector("#verification")
    assert "match" in page.inner_text("#verification")


def test_trends_and_campaigns_pages_draw_their_charts_and_runs(page: Any, served_pages: Served) -> None:
    served = served_pages
    _login(page, served)
    page.goto(f"{served.url}/trends")
    assert page.locator("svg.chart").count() >= 5
    assert page.locator("svg.chart polyline, svg.chart circle").count() >= 10
    assert "feedback_corrected" in page.inner_text("#turnover")
    _shot(page, "trends")
    page.goto(f"{served.url}/campaigns")
    assert "pages" in page.inner_text("table.hits") and "cron '0 4 * * *'" in page.inner_text("table.hits")
    assert page.locator("section.run").count() == 2
    _shot(page, "campaigns")
    assert _own_csp_violations(page) == []


def test_planted_hostile_vendor_names_stay_inert_on_these_pages(page: Any, served_pages: Served) -> None:
    served = served_pages
    _login(page, served)
    page.goto(f"{served.url}/vendors")
    hostile = page.locator("table.hits a[href^='/vendor/']", has_text="<script>")
    assert hostile.count() >= 1  # shown as text
    hostile.first.click()
    page.wait_for_selector("#identity")
    assert "<script>" in page.locator("h1").inner_text() and "\\u202e" in page.locator("h1").inner_text()
    _shot(page, "vendor-hostile")
    for path in ("/vendors", "/identities", "/alerts?state=all", "/trends?by=vendor", "/campaigns"):
        page.goto(served.url + path)
        page.wait_for_timeout(300)
        assert page.evaluate(XSS) is None, path
    assert page.evaluate(FLAG) is None
    assert served.world.sentinel.hits == [], served.world.sentinel.hits
