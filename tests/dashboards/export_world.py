"""A two-market world on 127.0.0.1 for the evidence and export tests: the same vendor sells on both
(one PGP key, one Wickr handle), crawled for real into a private $SOKHUND_HOME, and one watch-list alert."""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FINGERPRINT = "8F3A21C49B07D6E15A2F44C09E1D7B36C5A80F12"
BTC = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
HOSTILE_TITLE = '=HYPERLINK("http://127.0.0.1/x","klick") <b>Kokain</b> 1 g'
LONG_DESCRIPTION = "Ren kokain, skickas med PostNord brev från Sverige. " * 200  # ~10k chars, full in exports

ADAPTER = """
name: {name}
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

PROFILE = ("Kontakt: wickr gronbrevet52. PGP fingerprint: 8F3A 21C4 9B07 D6E1 5A2F  44C0 9E1D 7B36 C5A8 0F12. "
           f"BTC: {BTC}. Skickar från Sverige med PostNord brev, Swish.")


def _pages(vendor: str, titles: list[str]) -> dict[str, str]:
    pages = {"/": "<html><a href='/logout'>ut</a><a class=vendor href='/vendor/v1'>v</a>"
                  + "".join(f"<a class=item href='/item/{i}'>{i}</a>" for i in range(1, len(titles) + 1)) + "</html>",
             "/vendor/v1": f"<html><a href='/logout'>ut</a><h1>{vendor}</h1><div class=profile>{PROFILE}</div></html>"}
    for i, title in enumerate(titles, start=1):
        pages[f"/item/{i}"] = (f"<html><a href='/logout'>ut</a><h1>{html.escape(title)}</h1><span class=price>{700 + i * 100} kr</span>"
                               f"<span class=seller>{vendor}</span><div class=desc>{LONG_DESCRIPTION}</div></html>")
    return pages


def _handler(pages: dict[str, str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            html = pages.get(self.path)
            body = (html or "").encode("utf-8")
            self.send_response(200 if html else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def served(pages: dict[str, str]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(pages))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def build_world(home: Path, adapters_dir: Path) -> dict[str, str]:
    """Crawl both markets into ``home`` ($SOKHUND_HOME must point there) and fire a watch-list alert.
    Returns ids: alert, a listing capture."""
    from cli.main import main
    from crawler.runner import run_crawl
    from indexer.base import open_backend

    alfa = _pages("Grönbrevet52", ["Kokain 1 g", HOSTILE_TITLE])
    beta = _pages("GreenLetter", ["Cocaine 2 g"])
    with served(alfa) as alfa_url, served(beta) as beta_url:
        files = []
        for name, url in (("alfa", alfa_url), ("beta", beta_url)):
            path = adapters_dir / f"{name}.yaml"
            path.write_text(ADAPTER.format(name=name, base=url), encoding="utf-8")
            files.append(str(path))
        run_crawl(files, as_of="2026-09-01T12:00:00+00:00", run_id="w1")
    assert main(["alerts", "watch", "add", "--kind", "pgp", FINGERPRINT, "--note", "test"]) == 0
    backend = open_backend()
    try:
        alert = next(backend.iter_docs("alert"))
        listing = next(d for d in backend.iter_docs("listing") if d["title"] == "Kokain 1 g")
    finally:
        backend.close()
    return {"alert": alert["id"], "listing_capture": listing["capture_id"], "listing": listing["id"]}
