"""Helpers for the alert and campaign tests: index documents the way a crawl writes them, a real local
webhook receiver that can fail its first N requests, a real local SMTP server, and crawl functions that
campaigns can be pointed at by reference (``tests.alerts_support:flaky_crawl``)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from indexer.base import IndexBackend, open_backend
from indexer.models import Capture, Listing, ListingObservation, Post, Vendor, VendorObservation


def _capture(site: str, url: str, as_of: str, run_id: str) -> Capture:
    sha = hashlib.sha256(f"{url}|{as_of}".encode()).hexdigest()
    return Capture(id=Capture.make_id(site, url, sha, as_of), url=url, site=site, fetched_at=as_of, observed_at=as_of,
                   status=200, sha256=sha, warc_file=f"{run_id}.warc.gz", warc_offset=0, page_type="vendor",
                   campaign_run=run_id)


def crawl_docs(backend: IndexBackend, site: str, run_id: str, as_of: str, *, vendors: list[dict[str, Any]] = (),
               listings: list[dict[str, Any]] = (), posts: list[dict[str, Any]] = ()) -> None:
    """Write what one crawl of ``site`` would index: captures, vendors (keeping ``first_seen``), vendor and
    listing observations, listings and posts."""
    docs: list[Any] = []
    for v in vendors:
        vid = Vendor.make_id(site, v["name"])
        cap = _capture(site, f"http://127.0.0.1/{site}/vendor/{v['name']}", as_of, run_id)
        existing = backend.get("vendor", vid) or {}
        vendor = Vendor(id=vid, site=site, name=v["name"], alias_norm=v["name"].lower(), url=cap.url,
                        first_seen=existing.get("first_seen") or as_of, last_seen=as_of,
                        capture_id=cap.id, capture_sha256=cap.sha256,
                        **{k: val for k, val in v.items() if k != "name"})
        obs = VendorObservation(id=VendorObservation.make_id(vid, run_id), vendor=vid, site=site, name=v["name"],
                                observed_at=as_of, run_id=run_id, swedish_score=vendor.swedish_score,
                                capture_id=cap.id, capture_sha256=cap.sha256)
        docs += [cap, vendor, obs]
    for lst in listings:
        lid = Listing.make_id(site, lst["listing_id"])
        cap = _capture(site, f"http://127.0.0.1/{site}/listing/{lst['listing_id']}", as_of, run_id)
        existing = backend.get("listing", lid) or {}
        vendor_id = Vendor.make_id(site, lst["vendor"])
        fields = {k: val for k, val in lst.items() if k not in ("listing_id", "vendor")}
        listing = Listing(id=lid, site=site, listing_id=lst["listing_id"], url=cap.url, vendor=lst["vendor"],
                          vendor_id=vendor_id, first_seen=existing.get("first_seen") or as_of, last_seen=as_of,
                          capture_id=cap.id, capture_sha256=cap.sha256, **fields)
        obs = ListingObservation(id=ListingObservation.make_id(lid, run_id), listing=lid, site=site,
                                 listing_id=lst["listing_id"], vendor=lst["vendor"], vendor_id=vendor_id,
                                 observed_at=as_of, run_id=run_id, ships_from=listing.ships_from,
                                 substance=listing.substance, capture_id=cap.id, capture_sha256=cap.sha256)
        docs += [cap, listing, obs]
    for p in posts:
        pid = Post.make_id(site, p["post_id"])
        cap = _capture(site, f"http://127.0.0.1/{site}/post/{p['post_id']}", as_of, run_id)
        existing = backend.get("post", pid) or {}
        docs += [cap, Post(id=pid, site=site, url=cap.url, first_seen=existing.get("first_seen") or as_of,
                           last_seen=as_of, capture_id=cap.id, capture_sha256=cap.sha256, **p)]
    backend.upsert(docs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ----------------------------------------------------------------------------------- webhook receiver
@dataclass
class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 that answers 503 to its first ``fail_first`` POSTs, then 200."""

    fail_first: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)  # every POST body, failed ones included
    accepted: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.requests.append(body)
                if len(receiver.requests) <= receiver.fail_first:
                    self.send_response(503)
                    self.end_headers()
                    self.wfile.write(b"try later")
                    return
                receiver.accepted.append(body)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ----------------------------------------------------------------------------------- crawl functions
@dataclass
class FakeCrawlResult:
    run_id: str
    ok: bool = True
    as_of: str = ""
    stats: dict[str, Any] = field(default_factory=dict)
    new_vendor_ids: list[str] = field(default_factory=list)


def _counter(name: str) -> int:
    path = Path(os.environ["SOKHUND_HOME"]) / f"{name}.count"
    n = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(n))
    return n


def flaky_crawl(sites: list[str], *, as_of: str | None = None, run_id: str | None = None, use_tor: bool = False,
                page_budget: int | None = None, max_depth: int | None = None, index_url: str | None = None,
                settings: dict[str, Any] | None = None) -> FakeCrawlResult:
    """Raises on its first call; afterwards indexes one more (Swedish) vendor per call, a day apart."""
    n = _counter("flaky_crawl")
    if n == 1:
        raise RuntimeError("simulated crawl failure (tor circuit down)")
    day = f"2024-05-{n:02d}T06:00:00+00:00"
    backend = open_backend(index_url)
    try:
        for site in sites:
            # Swedish vendors as the roll-up sees them: SE shipping, SEK prices, Swedish text, PostNord.
            crawl_docs(backend, site, run_id or f"run-{n}", day, vendors=[
                {"name": f"vendor{i}", "swedish_score": 0.9, "swedish_signals": ["ships_from:SE"],
                 "profile": "Vi skickar alltid från Sverige med PostNord, brev inom 1-2 dagar."}
                for i in range(2, n + 1)
            ], listings=[
                {"listing_id": f"l{i}", "vendor": f"vendor{i}", "title": f"Hasch {i} g, skickas som brev",
                 "ships_from": "SE", "currency": "SEK", "price": 100.0 * i}
                for i in range(2, n + 1)
            ])
    finally:
        backend.close()
    stats = {site: {"pages": 10, "items": {"listing": 3, "vendor": 2}, "errors": 0, "invalid_pages": {"ddos": 1}} for site in sites}
    return FakeCrawlResult(run_id=run_id or "", as_of=day, stats=stats,
                           new_vendor_ids=[Vendor.make_id(s, f"vendor{n}") for s in sites])
