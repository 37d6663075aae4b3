"""Login and logout. Failures are rate-limited per user name and per address, and audited."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for

from dashboards.workbench import audit, auth, users

bp = Blueprint("auth", __name__)
NAV: tuple = ()
# Browsers drop tabs and newlines inside a URL and read a backslash as "/", so "/<TAB>/evil" and "/\\evil"
# both mean "//evil"; a newline would also end the Location header. A target with any control character or
# backslash is refused outright.
_UNSAFE_IN_PATH = re.compile(r"[\x00-\x1f\x7f\\]")


def _safe_next(target: str | None) -> str:
    """Only a local path: never an open redirect to another host (``//evil``, ``https:…``, ``/<TAB>/evil``)."""
    if target and target.startswith("/") and not target.startswith("//") and not _UNSAFE_IN_PATH.search(target):
        return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        if auth.current_user():
            return redirect(_safe_next(request.args.get("next")))
        return render_template("login.html", next=request.args.get("next", ""), error=None)
    name = (request.form.get("username") or "").strip()[:64]
    password = request.form.get("password") or ""
    ip = auth.client_ip()
    if auth.locked_out(name, ip):
        audit.record("login.locked", name, user=name)
        abort(429, "Too many failed logins: wait a while before trying again.")
    role = users.verify(auth.store(), name, password) if name and password else None
    if role is None:
        auth.record_failure(name, ip)
        audit.record("login.failure", name, user=name)
        return render_template("login.html", next=request.form.get("next", ""),
                               error="Wrong user name or password."), 401
    audit.record("login.success", name, user=name)  # before the session exists: no login goes unrecorded
    auth.log_in(name, role)
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    audit.record("logout")
    auth.log_out()
    return redirect(url_for("auth.login"))
