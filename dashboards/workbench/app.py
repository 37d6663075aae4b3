"""The workbench application factory: ``create_app(config) -> Flask``."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

from flask import Flask, render_template, url_for
from markupsafe import Markup

from dashboards.workbench import auth, backend, security, text
from dashboards.workbench.config import WorkbenchConfig
from dashboards.workbench.pages import register_all
from dashboards.workbench.store import Store
from indexer.base import IndexError_


def endpoint_url(endpoint: str, fallback: str, **values: Any) -> str:
    """``url_for`` when that page exists on this build, else the path it will have."""
    try:
        return url_for(endpoint, **values)
    except Exception:  # werkzeug.routing.BuildError: the page's blueprint is not registered
        return fallback


def vendor_url(vendor_id: str | None) -> str:
    return endpoint_url("vendor.show", f"/vendor/{quote(str(vendor_id or ''), safe='')}", vendor_id=vendor_id or "")


def csrf_field() -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(auth.CSRF_FIELD, auth.csrf_token())


def create_app(config: WorkbenchConfig | None = None) -> Flask:
    config = config or WorkbenchConfig()
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(
        SECRET_KEY=secrets.token_bytes(32),  # Flask's own cookie session is unused; sessions are server-side
        TESTING=config.testing,
        MAX_CONTENT_LENGTH=1 << 20,  # forms only
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.jinja_env.autoescape = True  # every template, whatever its extension
    app.jinja_env.finalize = text.finalize
    app.jinja_env.filters.update(num=text.number, clip=text.clip, safe_href=text.safe_href, visible=text.visible)
    app.jinja_env.globals.update(csrf_field=csrf_field, vendor_url=vendor_url, endpoint_url=endpoint_url)
    app.extensions["sokhund_config"] = config
    app.extensions["sokhund_store"] = Store(config.resolved_store_path())
    auth.init_app(app)
    security.init_app(app, tls=config.tls)
    backend.init_app(app)
    nav = register_all(app)
    app.jinja_env.globals["NAV"] = nav

    @app.errorhandler(400)
    @app.errorhandler(401)
    @app.errorhandler(403)
    @app.errorhandler(404)
    @app.errorhandler(429)
    def error(exc: Any) -> tuple[str, int]:
        return render_template("error.html", code=exc.code, name=exc.name, description=exc.description), exc.code

    @app.errorhandler(IndexError_)
    def index_down(exc: IndexError_) -> tuple[str, int]:
        # the backend's message names the index and what to do; never a traceback
        return render_template("error.html", code=503, name="Index unavailable", description=str(exc)), 503

    return app
