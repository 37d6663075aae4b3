"""The start page: the search."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, url_for

bp = Blueprint("home", __name__)
NAV: tuple = ()


@bp.route("/")
def index() -> Any:
    return redirect(url_for("search.index"))
