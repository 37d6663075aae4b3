"""The evidence viewer against archived pages built to escape it, in Debian chromium: charset tricks (a
UTF-16 byte-order mark, UTF-7, NUL bytes in tag names), every way a page can name a URL that test_browser's
hostile market does not already try (srcset, <svg><use>, CSS @import/@font-face/url() in style elements and
attributes, <base>, <noscript>, <template>, ping, srcdoc, poster, formaction, MathML href), and captures
served as image/svg+xml and text/xml. A loopback sentinel counts every TCP connection; none may arrive.

The workbench runs in a real HTTP server (werkzeug, threaded) on 127.0.0.1 over WARC records written by the
crawler's own WarcStore, so the bytes go through the same path as crawled evidence."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.dashboards.workbench.conftest import PASSWORD, free_port
from tests.dashboards.workbench.world import Sentinel

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which("chromium"), reason="Debian chromium is not installed (make setup installs it)"),
]

FLAG = "document.documentElement.dataset.pwned || window.__xss || null"


def _tricks(s: str) -> dict[str, tuple[str, bytes]]:
    """name -> (Content-Type as archived, body)."""
    refresh = f'<meta http-equiv="refresh" content="0;url={s}/refresh">'
    utf16 = (f"<html><head>{refresh}<link rel=preconnect href={s}><link rel=prefetch href={s}/prefetch>"
             f"</head><body><iframe src={s}/iframe></iframe><a href={s}/a>a</a>utf-16</body></html>")
    urls = f"""<html><head>
<META\fHTTP-EQUIV="Refresh" CONTENT="0; URL={s}/refresh-ff"><BaSe HREF="{s}/base/">
<style>@import "{s}/import.css"; @font-face {{font-family: f; src: url({s}/font.woff)}} body {{font-family: f}}</style>
<LiNk rel=modulepreload href={s}/mod.js><link rel=dns-prefetch href={s}>
</head><body background="{s}/body-bg.png">
<img src="relative.png"><img srcset="{s}/srcset.png 1x, {s}/srcset2.png 2x">
<picture><source srcset="{s}/source.png"><img src="x.png" alt=""></picture>
<svg><use href="{s}/use.svg#x"/><image href="{s}/svg-image.png"/><a href="{s}/svg-a"><text y="20">svg link</text></a></svg>
<div style="background: url({s}/style-attr.png)">styled</div>
<noscript><link rel=preconnect href={s}><img src="{s}/noscript.png"></noscript>
<template><link rel=preconnect href={s}><img src="{s}/template.png"></template>
<a id=pinger href="{s}/ping-target" ping="{s}/ping">ping</a>
<iframe srcdoc="<img src={s}/srcdoc.png><script>parent.document.documentElement.dataset.pwned='srcdoc'</script>"></iframe>
<table background="{s}/table-bg.png"><tr><td>cell</td></tr></table>
<video poster="{s}/poster.png" src="{s}/v.mp4"><track src="{s}/track.vtt"></video>
<form action="{s}/form"><button id=go formaction="{s}/formaction">go</button></form>
<math><mi href="{s}/mathml">m</mi></math>
<a\x00 href="{s}/nul-a">nul</a><me\x00ta http-equiv=refresh content="0;url={s}/nul-meta">
</body></html>"""
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" onload="document.documentElement.dataset.pwned=\'svg\'">'
           f'<image href="{s}/svg-file.png"/><script>window.__xss=1</script></svg>')
    xml = f'<?xml version="1.0"?><?xml-stylesheet type="text/xsl" href="{s}/xsl"?><r/>'
    utf7 = f"+ADw-script+AD4-window.__xss=1+ADw-/script+AD4-+ADw-img src={s}/utf7.png+AD4-"
    return {
        "utf16-bom": ("text/html; charset=utf-8", b"\xff\xfe" + utf16.encode("utf-16-le")),
        "utf16-be-bom": ("text/html", b"\xfe\xff" + utf16.encode("utf-16-be")),
        "urls": ("text/html; charset=UTF-8", urls.encode()),
        "svg": ("image/svg+xml", svg.encode()),
        "xml": ("text/xml", xml.encode()),
        "utf7": ("text/html; charset=utf-7", utf7.encode()),
    }


@dataclass
class Viewer:
    url: str
    sentinel: Sentinel
    captures: dict[str, str]  # trick name -> capture id


@pytest.fixture(scope="module")
def viewer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Viewer]:
    from werkzeug.serving import make_server

    from crawler.warc import WarcStore
    from dashboards.workbench import users
    from dashboards.workbench.app import create_app
    from dashboards.workbench.config import WorkbenchConfig
    from indexer.base import open_backend
    from indexer.models import Capture

    home = tmp_path_factory.mktemp("viewer") / "home"
    sentinel = Sentinel()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOKHUND_HOME", str(home))
        store = WarcStore(home / "warc" / "probe", "run1")
        captures, docs = {}, []
        for name, (content_type, body) in _tricks(sentinel.url).items():
            url = f"http://probe.example/{name}"
            written = store.write_capture(url, 200, [("Content-Type", content_type)], body)
            cap = Capture(id=Capture.make_id("probe", url, written.sha256, "2026-01-01T00:00:00+00:00"), url=url,
                          site="probe", status=200, sha256=written.sha256, length=written.length,
                          warc_file=str(written.path.relative_to(home)), warc_offset=written.offset,
                          fetched_at="2026-01-01T00:00:00+00:00")
            captures[name] = cap.id
            docs.append(cap)
        store.close()
        backend = open_backend()
        backend.upsert(docs)
        backend.close()
        app = create_app(WorkbenchConfig())
        users.add(app.extensions["sokhund_store"], "anna", "analyst", PASSWORD)
        server = make_server("127.0.0.1", free_port(), app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield Viewer(f"http://127.0.0.1:{server.server_port}", sentinel, captures)
        finally:
            server.shutdown()
            sentinel.close()


@pytest.fixture(scope="module")
def page(viewer: Viewer) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    from crawler.render import CHROMIUM_ARGS, chromium_path

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{viewer.url}/login")
        page.fill("input[name=username]", "anna")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{viewer.url}/search")
        yield page
        browser.close()


@pytest.mark.parametrize("trick", list(_tricks("http://s")))
def test_the_viewer_reaches_no_one(page: Any, viewer: Viewer, trick: str) -> None:
    capture, before = viewer.captures[trick], len(viewer.sentinel.hits)
    page.goto(f"{viewer.url}/evidence/{capture}")
    frame = page.frame(url=lambda u: u.endswith(f"/evidence/{capture}/page"))
    assert frame is not None
    frame.wait_for_load_state("load")
    for selector in ("#go", "#pinger"):  # what an analyst might click inside the frame
        if frame.locator(selector).count():
            frame.locator(selector).click(timeout=2000, no_wait_after=True)
    page.wait_for_timeout(1200)  # refreshes, preconnects, lazy loads
    assert page.evaluate(FLAG) is None
    assert frame.url.endswith(f"/evidence/{capture}/page")
    assert page.url == f"{viewer.url}/evidence/{capture}"
    page.goto(f"{viewer.url}/evidence/{capture}/page")  # opened on its own, outside the viewer
    page.wait_for_timeout(800)
    assert page.evaluate(FLAG) is None
    assert viewer.sentinel.hits[before:] == [], trick
