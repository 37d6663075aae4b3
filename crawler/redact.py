"""Secrets never reach evidence or logs: session cookies and authorisation headers are replaced by a
keyed hash (HMAC-SHA256 with a per-installation key), so two captures can be shown to share a session
without revealing it.

The key lives in ``$SOKHUND_HOME/secrets/redaction.key`` (created on first use, mode 0600). Without the
key nobody can test a guessed cookie against the hashes in an exported package.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from crawler import paths

PREFIX = "redacted-hmac-"
# Request headers whose values are credentials; Set-Cookie in responses hands out the same secrets.
SECRET_REQUEST_HEADERS = {"cookie", "authorization", "proxy-authorization"}
SECRET_RESPONSE_HEADERS = {"set-cookie", "www-authenticate-info"}
_MIN_SECRET_LEN = 6  # shorter values ("1", "sv") are too common to scrub from log lines safely

_lock = threading.Lock()
_key: bytes | None = None
_key_home: Path | None = None
_key_where: tuple[str | None, str] | None = None
_known: set[str] = set()


def _key_path() -> Path:
    return paths.home() / "secrets" / "redaction.key"


def key() -> bytes:
    """The installation's redaction key (per $SOKHUND_HOME)."""
    global _key, _key_home, _key_where
    # every header of every capture asks: the data directory is resolved again only when the variable or
    # the working directory it may be relative to changed
    where = (os.environ.get("SOKHUND_HOME"), os.getcwd())
    if _key is not None and _key_where == where:
        return _key
    home = paths.home()
    with _lock:
        if _key is not None and _key_home == home:
            _key_where = where
            return _key
        path = _key_path()
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(path.parent, 0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
        _key, _key_home, _key_where = path.read_bytes(), home, where
        return _key


def keyed_hash(value: str) -> str:
    """``redacted-hmac-<16 hex>``: equal for equal secrets, useless for recovering them."""
    return _keyed_hash(key(), value)


@lru_cache(maxsize=4096)
def _keyed_hash(secret: bytes, value: str) -> str:  # the same session cookie goes out with every request
    return PREFIX + hmac.new(secret, value.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def remember(values: Iterable[str]) -> None:
    """Secret values that must be scrubbed from log lines wherever they appear."""
    with _lock:
        _known.update(v for v in values if v and len(v) >= _MIN_SECRET_LEN)


def _cookie_pairs(value: str) -> str:
    out = []
    for part in value.split(";"):
        name, sep, val = part.strip().partition("=")
        if not name:
            continue
        out.append(f"{name}={keyed_hash(val)}" if sep else keyed_hash(name))
    return "; ".join(out)


def _set_cookie(value: str) -> str:
    head, _, attributes = value.partition(";")
    name, sep, val = head.strip().partition("=")
    redacted = f"{name}={keyed_hash(val)}" if sep else keyed_hash(name)
    return redacted + (";" + attributes if attributes else "")


def _authorization(value: str) -> str:
    scheme, sep, credentials = value.strip().partition(" ")
    return f"{scheme} {keyed_hash(credentials)}" if sep else keyed_hash(value)


def redact_header(name: str, value: str) -> str:
    lower = name.lower()
    if lower == "cookie":
        return _cookie_pairs(value)
    if lower == "set-cookie":
        return _set_cookie(value)
    if lower in SECRET_REQUEST_HEADERS or lower in SECRET_RESPONSE_HEADERS:
        return _authorization(value)
    return value


def redact_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers with every credential replaced by its keyed hash (names and order kept)."""
    cookie_values = [v for k, v in headers if k.lower() == "cookie"]
    for value in cookie_values:
        remember(part.partition("=")[2].strip() for part in value.split(";"))
    return [(k, redact_header(k, v)) for k, v in headers]


_HEADER_IN_TEXT = re.compile(r"(?im)\b(cookie|set-cookie|authorization|proxy-authorization)(['\"]?\s*[:=,]\s*['\"]?)([^'\"\r\n]+)")


def redact_text(text: str) -> str:
    """A log line with known secret values and credential headers replaced."""
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, keyed_hash(value))
    return _HEADER_IN_TEXT.sub(lambda m: m.group(1) + m.group(2) + _scrub(m.group(3)), text)


def _scrub(value: str) -> str:
    return value if PREFIX in value else _cookie_pairs(value) if "=" in value else keyed_hash(value)


class RedactingFilter(logging.Filter):
    """Rewrites every record that passes a handler, whichever logger emitted it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave the record to the handler's own error path
            return True
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_filter() -> None:
    """Attach the filter to every handler of the root logger (Scrapy's LOG_FILE and stderr handlers)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
