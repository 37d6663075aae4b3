"""A site's own hosts: its base URL (as overridden per run) and its mirrors.

Links, redirects and session cookies stay inside this scope. Hosts are compared as ``host:port`` in
lower case with a trailing dot removed (``x.onion.`` is ``x.onion``), with the scheme's default port
filled in, so no spelling of the same name escapes (or sneaks into) the scope.
"""

from __future__ import annotations

from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def host_key(url: str) -> str | None:
    """``host:port`` of an http(s) URL, normalised; None for other schemes or unparsable URLs."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return f"{host}:{port or _DEFAULT_PORTS[scheme]}"


class SiteScope:
    """Which URLs belong to one site."""

    def __init__(self, urls: list[str]) -> None:
        self.hosts = frozenset(k for k in (host_key(u) for u in urls) if k)

    @classmethod
    def of(cls, adapter: object) -> SiteScope:
        return cls([adapter.url(), *adapter.mirrors])  # type: ignore[attr-defined]

    def contains(self, url: str) -> bool:
        key = host_key(url)
        return key is not None and key in self.hosts
