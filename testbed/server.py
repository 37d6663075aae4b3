"""Serve the testbed world over HTTP on 127.0.0.1: one ThreadingHTTPServer per site, one shared world.

    from testbed.server import Testbed
    tb = Testbed(seed=7, rate_limit=None, ddos=False)
    tb.start(); print(tb.urls, tb.session_cookies); tb.advance(); tb.write_truth("out"); tb.stop()

Admin endpoints on every site's server (loopback clients only, no gate): ``GET /__admin/state``,
``POST /__admin/advance?days=N``, ``GET /__admin/xss`` (the hits on ``/__xss_sentinel``, which every
site answers with 204 and counts: planted payloads call it, see :mod:`testbed.hostile`). World state (config + day) is saved to ``state_dir/state.json`` so
``sokhund testbed advance`` in another process agrees with a running ``serve``.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from testbed import hostile
from testbed import truth as truth_mod
from testbed.entities import SITE_FORUM, SITE_NB, SITE_SHOP, SITE_SV, SITES, WorldConfig
from testbed.gate import DEFAULT_RATE_LIMIT, Gate, captcha_code, is_loopback, parse_cookies, session_value
from testbed.sites import flugsvamp, forum, nordbazaar, shop
from testbed.web import Response, html_response, json_response, query_int
from testbed.world import World

RENDERERS = {SITE_SV: flugsvamp, SITE_NB: nordbazaar, SITE_FORUM: forum, SITE_SHOP: shop}
MARKETS = (SITE_SV, SITE_NB)
# Markets whose DDoS queue needs JavaScript: no Set-Cookie, no meta refresh; a script earns the cookie.
JS_GATED = (SITE_NB,)
LOGIN_PATHS = {SITE_SV: ("/login", "/captcha.svg"), SITE_NB: ("/auth", "/auth/captcha.svg")}
STATE_FILE = "state.json"
SERVER_FILE = "server.json"


def captcha_svg(code: str) -> bytes:
    letters = "".join(
        f"<text x=\"{12 + i * 22}\" y=\"{30 + (i % 3) * 4}\" transform=\"rotate({(i * 37) % 21 - 10} {12 + i * 22} 30)\">"
        f"{c}</text>" for i, c in enumerate(code)
    )
    svg = (
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"150\" height=\"50\" font-family=\"monospace\" font-size=\"22\">"
        "<rect width=\"150\" height=\"50\" fill=\"#eee\"/><path d=\"M0 20 Q75 50 150 15\" stroke=\"#999\" fill=\"none\"/>"
        f"{letters}</svg>"
    )
    return svg.encode("utf-8")


class Testbed:
    """The whole simulated world, served. See the module docstring."""

    __test__ = False  # not a pytest class

    def __init__(
        self,
        seed: int = 7,
        start_date: str = "2026-09-01",
        state_dir: str | Path | None = None,
        rate_limit: float | None = DEFAULT_RATE_LIMIT,
        ddos: bool = True,
        new_swedish_vendor_day: int = 3,
        ddos_delay: float = 1.0,
        port_base: int | None = None,
        prehistory_days: int = 30,
        resume: bool = True,
    ) -> None:
        if state_dir is None:
            from crawler import paths

            state_dir = paths.testbed_dir()
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.config = WorldConfig(seed, start_date, new_swedish_vendor_day, prehistory_days)
        self.rate_limit, self.ddos, self.ddos_delay, self.port_base = rate_limit, ddos, ddos_delay, port_base
        self.lock = threading.RLock()
        self.world = World(self.config)
        saved = load_state(self.state_dir)
        if resume and saved and saved["config"] == asdict(self.config) and saved["day"] > 0:
            self.world.advance(saved["day"])
        self._save()
        self._state_mtime = self._mtime()
        self._checked = time.monotonic()
        self.gates = {
            site: Gate(seed, site, ddos and site in MARKETS, ddos_delay, rate_limit, site in MARKETS) for site in SITES
        }
        self.servers: dict[str, ThreadingHTTPServer] = {}
        self.threads: list[threading.Thread] = []
        self.xss_hits: list[dict[str, str]] = []  # requests to /__xss_sentinel (a planted payload ran)

    # ---- public API ----------------------------------------------------------------------------
    @property
    def day(self) -> int:
        return self.world.day

    @property
    def today(self) -> str:
        return self.world.today

    @property
    def urls(self) -> dict[str, str]:
        return {site: f"http://127.0.0.1:{srv.server_address[1]}" for site, srv in self.servers.items()}

    @property
    def session_cookies(self) -> dict[str, dict[str, str]]:
        return {site: {self.gates[site].names["session"]: session_value(self.config.seed, site)} for site in MARKETS}

    def start(self) -> dict[str, str]:
        for i, site in enumerate(SITES):
            port = self.port_base + i if self.port_base else 0
            server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
            server.daemon_threads = True
            server.testbed = self  # type: ignore[attr-defined]
            server.site = site  # type: ignore[attr-defined]
            self.servers[site] = server
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                      name=f"testbed-{site}", daemon=True)
            thread.start()
            self.threads.append(thread)
        (self.state_dir / SERVER_FILE).write_text(
            json.dumps({"pid": os.getpid(), "urls": self.urls}, indent=1), encoding="utf-8")
        return self.urls

    def stop(self) -> None:
        for server in self.servers.values():
            server.shutdown()
            server.server_close()
        for thread in self.threads:
            thread.join(timeout=5)
        self.servers.clear()
        self.threads.clear()
        (self.state_dir / SERVER_FILE).unlink(missing_ok=True)

    def advance(self, days: int = 1) -> int:
        with self.lock:
            self.world.advance(days)
            self._save()
            self._state_mtime = self._mtime()
            return self.world.day

    def truth(self) -> dict[str, Any]:
        with self.lock:
            return truth_mod.build(self.world)

    def write_truth(self, out_dir: str | Path) -> list[Path]:
        with self.lock:
            return truth_mod.write(self.world, out_dir)

    def captcha(self, site: str) -> str:
        return captcha_code(self.config.seed, site)

    def __enter__(self) -> Testbed:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- internals -----------------------------------------------------------------------------
    def _mtime(self) -> float:
        try:
            return (self.state_dir / STATE_FILE).stat().st_mtime
        except OSError:
            return 0.0

    def _save(self) -> None:
        tmp = self.state_dir / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps({"config": asdict(self.config), "day": self.world.day}, indent=1), encoding="utf-8")
        tmp.replace(self.state_dir / STATE_FILE)

    def sync_from_disk(self) -> None:
        """Catch up when another process (``sokhund testbed advance``) moved the saved day on."""
        now = time.monotonic()
        if now - self._checked < 0.5:
            return
        self._checked = now
        mtime = self._mtime()
        if mtime == self._state_mtime:
            return
        with self.lock:
            self._state_mtime = mtime
            saved = load_state(self.state_dir)
            if saved and saved["config"] == asdict(self.config) and saved["day"] > self.world.day:
                self.world.advance(saved["day"] - self.world.day)

    def render(self, site: str, path: str, query: str) -> Response:
        with self.lock:
            return self.world.cached(("page", site, path, query),
                                     lambda: RENDERERS[site].render(self.world, path, query))

    def admin(self, method: str, path: str, query: str) -> Response:
        if path == "/__admin/state":
            return json_response(self.admin_state())
        if path == "/__admin/xss":
            with self.lock:
                return json_response({"hits": list(self.xss_hits)})
        if path == "/__admin/advance" and method == "POST":
            self.advance(max(1, query_int(query, "days", 1)))
            return json_response(self.admin_state())
        return Response(404, b"unknown admin endpoint", "text/plain")

    def admin_state(self) -> dict[str, Any]:
        return {"day": self.day, "today": self.today, "seed": self.config.seed, "urls": self.urls,
                "session_cookies": self.session_cookies}


def js_gate(page: str, gate: Gate, delay: float) -> str:
    """Turn a queue page into one only a browser passes: the queue cookie is set by script after the
    wait, then the page reloads (plain HTTP clients never get the cookie)."""
    page = re.sub(r'<meta http-equiv="refresh"[^>]*>', "", page)
    script = (f"<script>setTimeout(function(){{document.cookie='{gate.names['queue']}={gate.queue_cookie()}; path=/';"
              f"location.reload();}},{int((delay + 0.3) * 1000)});</script>")
    return page.replace("</body>", script + "</body>", 1)


def load_state(state_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((state_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # keep-alive + separate header/body writes would hit delayed ACKs
    server_version = "nginx"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet server
        return

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        tb: Testbed = self.server.testbed  # type: ignore[attr-defined]
        site: str = self.server.site  # type: ignore[attr-defined]
        path, _, query = self.path.partition("?")
        body = b""
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 65536)) if length else b""
        tb.sync_from_disk()
        if path == hostile.SENTINEL_PATH:  # a planted payload ran somewhere: count it, answer nothing
            with tb.lock:
                tb.xss_hits.append({"site": site, "query": query, "referer": self.headers.get("Referer") or ""})
            return self._send(Response(204, b"", "text/plain", {"Access-Control-Allow-Origin": "*"}), tb)
        if path.startswith("/__admin/"):
            if not is_loopback(self.client_address[0]):
                return self._send(Response(403, b"admin endpoints are loopback-only", "text/plain"), tb)
            return self._send(tb.admin(method, path, query), tb)
        self._send(self._route(tb, site, method, path, query, body), tb)

    def _route(self, tb: Testbed, site: str, method: str, path: str, query: str, body: bytes) -> Response:
        gate = tb.gates[site]
        cookies = parse_cookies(self.headers.get("Cookie"))
        kind = gate.verdict(cookies)
        wall = RENDERERS[site].wall if site in MARKETS else None
        if kind in ("rate_limit", "ban"):
            text = wall(kind, tb.today, tb.ddos_delay) if wall else "<h1>429 Too Many Requests</h1>"
            return html_response(text, 429 if kind == "rate_limit" else 403, **{"Retry-After": "1"})
        if kind == "ddos" and wall and site in JS_GATED:
            return html_response(js_gate(wall("ddos", tb.today, tb.ddos_delay), gate, tb.ddos_delay))
        if kind == "ddos" and wall:
            cookie = cookies.get(gate.names["queue"])
            headers = {} if gate.queue_ok(cookie, now=time.time() + gate.ddos_delay + 1) else {
                "Set-Cookie": f"{gate.names['queue']}={gate.queue_cookie()}; Path=/; HttpOnly"}
            return html_response(wall("ddos", tb.today, tb.ddos_delay), **headers)
        if site in MARKETS:
            login_path, captcha_path = LOGIN_PATHS[site]
            if path == captcha_path:
                return Response(200, captcha_svg(tb.captcha(site)), "image/svg+xml")
            if path == login_path and method == "POST":
                answer = (parse_qs(body.decode("utf-8", "replace")).get("captcha") or [""])[0]
                if answer.strip().upper() == tb.captcha(site):
                    cookie = f"{gate.names['session']}={session_value(tb.config.seed, site)}; Path=/; HttpOnly"
                    return Response(302, b"", headers={"Location": "/", "Set-Cookie": cookie})
                kind = "login"
            if kind == "login" or path == login_path:
                return html_response(RENDERERS[site].wall("login", tb.today, tb.ddos_delay))
        return tb.render(site, path, query)

    def _send(self, response: Response, tb: Testbed) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("X-Testbed-Date", tb.today)
        self.send_header("X-Testbed-Day", str(tb.day))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
