"""Session cookies for a site, from config: the adapter's ``session.cookies``, the env var
``SOKHUND_COOKIE_<SITE>`` or the one named by ``session.cookie_env``, or ``$SOKHUND_HOME/sessions/<site>.cookie`` (what the analyst pastes after
logging in by hand; the crawler never solves captchas)."""

from __future__ import annotations

import os

from crawler import paths
from crawler.adapters import SiteAdapter


def parse_cookie_string(raw: str) -> dict[str, str]:
    cookies = {}
    for part in raw.split(";"):
        if "=" in part:
            name, value = part.split("=", 1)
            if name.strip():
                cookies[name.strip()] = value.strip()
    return cookies


def session_cookies(adapter: SiteAdapter) -> dict[str, str]:
    cookies = dict(adapter.session.cookies)
    for env_name in (f"SOKHUND_COOKIE_{adapter.name.upper()}", adapter.session.cookie_env):
        if env_name and os.environ.get(env_name):
            cookies.update(parse_cookie_string(os.environ[env_name]))
    stored = paths.home() / "sessions" / f"{adapter.name}.cookie"
    if stored.exists():
        cookies.update(parse_cookie_string(stored.read_text(encoding="utf-8")))
    return cookies


def save_session_cookie(site: str, raw: str) -> None:
    folder = paths.sub("sessions")
    (folder / f"{site}.cookie").write_text(raw.strip() + "\n", encoding="utf-8")
