"""The world the browser tests serve: one testbed day (flugsvamp, nordbazaar, snackis) crawled for real,
plus a small hostile market whose pages carry XSS payloads as text (title, vendor, description) and as
live markup that would call a loopback sentinel or set a DOM flag if it ever ran. A sentinel counts every
TCP connection it gets (not just HTTP requests)."""

from __future__ import annotations

import html
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.dashboards.export_world import served
from tests.dashboards.workbench.hostile import IMG, LONG_WORD, RLO, SCRIPT

VENDOR = IMG + " Grönbrevet" + RLO
TITLE = f"{SCRIPT} Kokain 1 g {RLO}"

ADAPTER = """
name: hostilemarket
kind: market
language: sv
base_url: {base}
currency: SEK
politeness: {{concurrency: 2}}
start: ['/']
pages:
  index:
    url_pattern: '^/$'
    follow:
      - css: 'a.item::attr(href)'
      - css: 'a.vendor::attr(href)'
  item:
    url_pattern: '^/item/(?P<id>\\d+)$'
    item: listing
    fields:
      listing_id: {{from_url: id}}
      title: {{css: 'h1::text'}}
      price: {{css: '.price::text', type: number}}
      vendor: {{css: '.seller::text'}}
      description: {{css: '.desc', type: text}}
  vendor:
    url_pattern: '^/vendor/(?P<vid>[a-z0-9]+)$'
    item: vendor
    fields:
      name: {{css: 'h1::text'}}
      profile: {{css: '.profile', type: text}}
"""


class Sentinel:
    """A TCP listener on 127.0.0.1 that records every connection (and the first request line, if any)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.hits: list[str] = []
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            conn.settimeout(1)
            try:
                line = conn.recv(200).split(b"\r\n", 1)[0].decode("latin-1")
            except OSError:
                line = "(connection, no request)"
            self.hits.append(line or "(connection, no request)")
            try:
                conn.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                pass
            conn.close()

    def close(self) -> None:
        self._stop = True
        self.sock.close()


def active_markup(sentinel: str) -> str:
    """Live markup an archived page could carry: every way to run script or reach the network unasked."""
    flag = "document.documentElement.dataset.pwned"
    return f"""
<script>{flag}='inline'; new Image().src='{sentinel}/inline-script'; try {{ top.document.documentElement.dataset.pwned='top'; }} catch (e) {{}}</script>
<script src="{sentinel}/script.js"></script>
<img src="{sentinel}/img.png" onerror="{flag}='onerror'">
<img src="x" onerror="{flag}='onerror-x'; fetch('{sentinel}/onerror')">
<svg><script>{flag}='svg'</script></svg>
<link rel="stylesheet" href="{sentinel}/style.css">
<link rel="prefetch" href="{sentinel}/prefetch">
<link rel="preconnect" href="{sentinel}">
<style>@import url("{sentinel}/import.css"); body {{ background: url("{sentinel}/bg.png"); }}</style>
<iframe src="{sentinel}/frame"></iframe>
<object data="{sentinel}/object"></object>
<embed src="{sentinel}/embed">
<video src="{sentinel}/video.mp4" autoplay></video>
<audio src="{sentinel}/audio.mp3" autoplay></audio>
<input type="image" src="{sentinel}/input.png">
<form action="{sentinel}/form" method="post"><input name="a" value="b" autofocus onfocus="{flag}='onfocus'; this.form.submit()"></form>
<a id="js" href="javascript:{flag}='link'">klicka</a>
<a id="off" href="{sentinel}/link">länk</a>
<body onload="{flag}='onload'">
<details open ontoggle="{flag}='ontoggle'"><summary>x</summary></details>
"""


def pages(sentinel: str) -> dict[str, str]:
    live = active_markup(sentinel)
    logout = "<a href='/logout'>ut</a>"
    desc = html.escape(f"Ren kokain {IMG} {LONG_WORD} javascript:alert(1)")
    return {
        "/": f"<html>{logout}<a class=vendor href='/vendor/v1'>v</a><a class=item href='/item/1'>1</a>"
             "<a class=item href='/item/2'>2</a></html>",
        "/item/1": f"<html><head><title>x</title></head><body>{logout}<h1>{html.escape(TITLE)}</h1>"
                   f"<span class=price>800 kr</span><span class=seller>{html.escape(VENDOR)}</span>"
                   f"<div class=desc>{desc}</div>{live}</body></html>",
        "/item/2": f"<html><head><meta http-equiv='refresh' content='0;url={sentinel}/meta-refresh'></head><body>{logout}"
                   f"<h1>Kokain 2 g</h1><span class=price>1500 kr</span><span class=seller>{html.escape(VENDOR)}</span>"
                   f"<div class=desc>Skickas med PostNord brev från Sverige.</div></body></html>",
        "/vendor/v1": f"<html>{logout}<h1>{html.escape(VENDOR)}</h1><div class=profile>{html.escape(SCRIPT)} "
                      f"Skickar från Sverige med PostNord brev.</div>{live}</html>",
    }


@dataclass
class World:
    home: Path
    sentinel: Sentinel
    hostile_listing: str = ""
    hostile_captures: list[str] = field(default_factory=list)  # captures of pages with live markup
    planted_listings: list[str] = field(default_factory=list)  # the testbed's own hostile listings


@contextmanager
def hostile_market(home: Path, sentinel: Sentinel) -> Iterator[str]:
    with served(pages(sentinel.url)) as url:
        adapter = home.parent / "hostilemarket.yaml"
        adapter.write_text(ADAPTER.format(base=url), encoding="utf-8")
        yield str(adapter)


def build(home: Path, sentinel: Sentinel, testbed_seed: int = 5) -> World:
    """Crawl the testbed day and the hostile market into ``home`` ($SOKHUND_HOME must point there)."""
    from crawler.runner import run_crawl
    from indexer.base import open_backend
    from tests.e2e_world import crawl_days

    crawl_days(home, seed=testbed_seed, days=1, sites=["flugsvamp", "nordbazaar", "snackis"])
    with hostile_market(home, sentinel) as adapter:
        result = run_crawl([adapter], as_of="2026-09-01T12:00:00+00:00", run_id="hostile1")
        assert result.ok, result.finish_reasons
    world = World(home, sentinel)
    backend = open_backend()
    try:
        listing = next(d for d in backend.iter_docs("listing") if d["site"] == "hostilemarket" and d["listing_id"] == "1")
        world.hostile_listing = listing["id"]
        markers = ("<", "\u202e", "onmouseover", "W" * 100)
        world.planted_listings = sorted(d["id"] for d in backend.iter_docs("listing") if d["site"] != "hostilemarket"
                                        and any(m in (d.get("title") or "") for m in markers))
        world.hostile_captures = sorted(c["id"] for c in backend.iter_docs("capture")
                                        if c["site"] == "hostilemarket" and c["url"].endswith(("/item/1", "/item/2", "/vendor/v1")))
    finally:
        backend.close()
    return world
