"""Sessions, login, CSRF and roles.

Server-side sessions: the cookie holds a random token, the store holds its sha256, the user, the CSRF
token and the times (idle and absolute expiry). A visitor who is not logged in gets an anonymous
session only to carry the login form's CSRF token; logging in replaces it with a new session id.
Every route needs a logged-in user except the endpoints in ``PUBLIC_ENDPOINTS``."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Flask, Response, abort, current_app, g, redirect, request, url_for

from dashboards.workbench.config import WorkbenchConfig
from dashboards.workbench.store import Store

COOKIE = "sokhund_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
# Reachable without a login: the login form itself and the shipped CSS/JS (code, no data).
PUBLIC_ENDPOINTS = frozenset({"auth.login", "static"})
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Session:
    token_hash: str
    user: str | None
    role: str | None
    csrf: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def store() -> Store:
    return current_app.extensions["sokhund_store"]


def config() -> WorkbenchConfig:
    return current_app.extensions["sokhund_config"]


def client_ip() -> str:
    return request.remote_addr or "?"


def _load(token: str | None) -> Session | None:
    if not token:
        return None
    cfg, now = config(), time.time()
    rows = store().query(
        "SELECT s.token_hash, s.user, s.csrf, s.created_at, s.last_seen, u.role FROM sessions s "
        "LEFT JOIN users u ON u.name = s.user WHERE s.token_hash = ?", (_hash(token),))
    if not rows:
        return None
    row = rows[0]
    expired = now - row["last_seen"] > cfg.idle_timeout_s or now - row["created_at"] > cfg.absolute_timeout_s
    if expired or (row["user"] is not None and row["role"] is None):  # expired, or the user was removed
        with store().tx() as db:
            db.execute("DELETE FROM sessions WHERE token_hash = ?", (row["token_hash"],))
        return None
    if now - row["last_seen"] > 30:  # touch at most every 30 s: fewer writes, same idle expiry
        with store().tx() as db:
            db.execute("UPDATE sessions SET last_seen = ? WHERE token_hash = ?", (now, row["token_hash"]))
    return Session(row["token_hash"], row["user"], row["role"], row["csrf"])


def _new_session(user: str | None, role: str | None) -> tuple[str, Session]:
    token, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), time.time()
    with store().tx() as db:
        db.execute("DELETE FROM sessions WHERE last_seen < ? OR created_at < ?",
                   (now - config().idle_timeout_s, now - config().absolute_timeout_s))
        db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)", (_hash(token), user, csrf, now, now, client_ip()))
    return token, Session(_hash(token), user, role, csrf)


def _end(session: Session | None) -> None:
    if session is not None:
        with store().tx() as db:
            db.execute("DELETE FROM sessions WHERE token_hash = ?", (session.token_hash,))


def current_user() -> str | None:
    session: Session | None = g.get("session")
    return session.user if session else None


def current_role() -> str | None:
    session: Session | None = g.get("session")
    return session.role if session else None


def csrf_token() -> str:
    """The token every state-changing form sends (templates: ``{{ csrf_field() }}``)."""
    session: Session | None = g.get("session")
    if session is None:
        token, session = _new_session(None, None)
        g.session, g.set_cookie = session, token
    return session.csrf


def login_failures(user: str, ip: str) -> tuple[int, int]:
    since = time.time() - config().login_window_s
    by_user = store().query("SELECT COUNT(*) AS n FROM login_failures WHERE user = ? AND at > ?", (user, since))
    by_ip = store().query("SELECT COUNT(*) AS n FROM login_failures WHERE ip = ? AND at > ?", (ip, since))
    return by_user[0]["n"], by_ip[0]["n"]


def locked_out(user: str, ip: str) -> bool:
    by_user, by_ip = login_failures(user, ip)
    return max(by_user, by_ip) >= config().login_max_failures


def record_failure(user: str, ip: str) -> None:
    now = time.time()
    with store().tx() as db:
        db.execute("DELETE FROM login_failures WHERE at < ?", (now - config().login_window_s,))
        db.execute("INSERT INTO login_failures VALUES (?, ?, ?)", (now, user, ip))


def log_in(user: str, role: str) -> None:
    """A new session id for the logged-in user (the anonymous one is dropped: no session fixation)."""
    _end(g.get("session"))
    token, g.session = _new_session(user, role)
    g.set_cookie = token


def log_out() -> None:
    _end(g.get("session"))
    g.session, g.clear_cookie = None, True


def require_role(role: str) -> Callable:
    """Decorator: only users with this role (admin may do everything an analyst may)."""
    def wrap(view: Callable) -> Callable:
        @wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            if current_role() not in (role, "admin"):
                abort(403)
            return view(*args, **kwargs)
        inner.required_role = role  # type: ignore[attr-defined]
        return inner
    return wrap


def _before() -> Any:
    g.session = _load(request.cookies.get(COOKIE))
    if request.method in STATE_CHANGING:
        sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
        if not sent:
            abort(400, "missing CSRF token")
        if g.session is None or not hmac.compare_digest(sent, g.session.csrf):
            abort(403, "wrong CSRF token")
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if current_user() is None:
        if request.path.startswith("/api/") or request.method != "GET":
            abort(401)
        return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
    return None


def _after(response: Response) -> Response:
    cfg = config()
    token = g.get("set_cookie")
    if token:
        response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=cfg.tls, path="/",
                            max_age=cfg.absolute_timeout_s)
    elif g.get("clear_cookie"):
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict", secure=cfg.tls)
    return response


def init_app(app: Flask) -> None:
    app.before_request(_before)
    app.after_request(_after)
    app.jinja_env.globals.update(csrf_token=csrf_token, current_user=current_user, current_role=current_role,
                                 CSRF_FIELD=CSRF_FIELD)
