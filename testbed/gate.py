"""What stands between a client and a market page: rate limit (429, then a ban), DDoS queue, login wall.

Order per request: ban → token bucket (429) → DDoS queue cookie → session cookie. Cookies per site:

========== ================= ==============
site       DDoS-queue cookie session cookie
========== ================= ==============
flugsvamp  ``fs_queue``      ``fs_session``
nordbazaar ``nb_gate``       ``nb_auth``
========== ================= ==============

The queue cookie is ``<issued unix ms>.<signature>``; it is only accepted once ``ddos_delay`` seconds
have passed since it was issued (the page's meta refresh). The session value is a deterministic token
of the seed (:func:`session_value`), also accepted after solving the captcha on ``POST /login``.
"""

from __future__ import annotations

import hmac
import ipaddress
import threading
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie

from testbed import catalog

COOKIES = {
    "flugsvamp": {"queue": "fs_queue", "session": "fs_session"},
    "nordbazaar": {"queue": "nb_gate", "session": "nb_auth"},
}
DEFAULT_RATE_LIMIT = 100.0  # requests per second per site (token bucket refill)


def is_loopback(host: str) -> bool:
    """True only for loopback client addresses (admin endpoints refuse everyone else)."""
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def session_value(seed: int, site: str) -> str:
    return catalog.token(seed, "session", site)


def captcha_code(seed: int, site: str) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    raw = catalog.token(seed, "captcha", site, length=12)
    return "".join(alphabet[int(raw[i : i + 2], 16) % len(alphabet)] for i in range(0, 12, 2))


def parse_cookies(header: str | None) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header or "")
    except Exception:
        return {}
    return {k: m.value for k, m in jar.items()}


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float = 0.0
    stamp: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.tokens = self.burst
        self.stamp = time.monotonic()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return True
            return False


class Gate:
    """Per-site gatekeeper. ``verdict`` returns None (serve the page) or the kind of wall to show."""

    def __init__(self, seed: int, site: str, ddos: bool, ddos_delay: float, rate_limit: float | None,
                 login: bool, ban_after: int = 500, ban_seconds: float = 30.0) -> None:
        self.seed, self.site = seed, site
        self.ddos, self.ddos_delay, self.login = ddos, ddos_delay, login
        self.bucket = TokenBucket(rate_limit, max(10.0, 2 * rate_limit)) if rate_limit else None
        self.ban_after, self.ban_seconds = ban_after, ban_seconds
        self._rejected = 0
        self._banned_until = 0.0
        self._lock = threading.Lock()
        self.names = COOKIES.get(site, {"queue": f"{site}_queue", "session": f"{site}_session"})
        self._secret = catalog.token(seed, "queue-secret", site).encode()

    def queue_cookie(self, now: float | None = None) -> str:
        issued = str(int((time.time() if now is None else now) * 1000))
        sig = hmac.new(self._secret, issued.encode(), "sha256").hexdigest()[:16]
        return f"{issued}.{sig}"

    def queue_ok(self, value: str | None, now: float | None = None) -> bool:
        if not value or "." not in value:
            return False
        issued, sig = value.split(".", 1)
        good = hmac.new(self._secret, issued.encode(), "sha256").hexdigest()[:16]
        if not hmac.compare_digest(sig, good) or not issued.isdigit():
            return False
        return (time.time() if now is None else now) - int(issued) / 1000 >= self.ddos_delay

    def session_ok(self, value: str | None) -> bool:
        return bool(value) and hmac.compare_digest(value or "", session_value(self.seed, self.site))

    def verdict(self, cookies: dict[str, str]) -> str | None:
        if self.bucket is not None:
            now = time.monotonic()
            with self._lock:
                if now < self._banned_until:
                    return "ban"
            if not self.bucket.take():
                with self._lock:
                    self._rejected += 1
                    if self._rejected >= self.ban_after:
                        self._banned_until, self._rejected = now + self.ban_seconds, 0
                return "rate_limit"
            with self._lock:
                self._rejected = max(0, self._rejected - 1)
        if self.ddos and not self.queue_ok(cookies.get(self.names["queue"])):
            return "ddos"
        if self.login and not self.session_ok(cookies.get(self.names["session"])):
            return "login"
        return None
