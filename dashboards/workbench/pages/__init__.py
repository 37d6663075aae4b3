"""One Blueprint per page, each in its own module of this package exposing ``bp``. Add a page by adding
its module name to ``PAGES`` (see ../DEVELOPING.md); a module that is absent is skipped, so parallel
branches can add pages without touching each other's code."""

from __future__ import annotations

import importlib

from flask import Flask

# Module names under dashboards.workbench.pages, in navigation order. ``NAV`` entries are
# (endpoint, label, role): the base template shows those the user's role may open.
PAGES = (
    "auth",
    "home",
    "search",
    "listing",
    "evidence",
    "vendor",
    "identities",
    "alerts",
    "trends",
    "campaigns",
    "audit",
)


def register_all(app: Flask) -> list[tuple[str, str, str]]:
    """Register every page's blueprint; returns the navigation entries they declare (``NAV``)."""
    nav: list[tuple[str, str, str]] = []
    for name in PAGES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # that page is not built yet on this branch
            raise
        app.register_blueprint(module.bp)
        nav.extend(getattr(module, "NAV", ()))
    return nav
