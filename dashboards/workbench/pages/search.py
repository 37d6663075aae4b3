"""Search across listings, vendors, posts and feedback, with facets, "N of M" and pages. The query goes
to the backend's own search (which expands substance names across languages where it does so)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, url_for

from dashboards.workbench import audit, searching
from dashboards.workbench.auth import require_role
from dashboards.workbench.backend import get_backend
from indexer.base import SearchFilters

bp = Blueprint("search", __name__)
NAV = (("search.index", "Search", "analyst"),)

FILTER_PARAMS = ("site", "substance", "class", "ships_from", "vendor", "price_min", "price_max", "since", "until")
SEARCH_PARAMS = frozenset(("q", "kind", "page", *FILTER_PARAMS))
MAX_QUERY, MAX_FILTER = 500, 200  # characters of a query and of a filter value that are used (and linked)


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def filters_from(args: Any) -> SearchFilters:
    def text(name: str) -> str | None:
        value = (args.get(name) or "").strip()
        return value[:MAX_FILTER] or None

    return SearchFilters(site=text("site"), vendor=text("vendor"), substance=text("substance"),
                         substance_class=text("class"), ships_from=(text("ships_from") or "").upper() or None,
                         price_min=_float(args.get("price_min")), price_max=_float(args.get("price_max")),
                         date_from=text("since"), date_to=text("until"))


def search_url(**changes: Any) -> str:
    """This search with some parameters changed (None removes one); any change but the page resets it.
    Only the search's own parameters are kept: a visitor's ``_method``, ``_external``, ``_anchor`` … would
    be url_for's reserved arguments (a 500, an absolute link from the Host header, a fragment)."""
    params = {k: v[:MAX_QUERY if k == "q" else MAX_FILTER] for k, v in request.args.items()
              if k in SEARCH_PARAMS and v not in ("", None)}  # cut as used: no link repeats a huge value
    if "page" not in changes:
        params.pop("page", None)
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    return url_for("search.index", **params)


@bp.route("/search")
@require_role("analyst")
def index() -> Any:
    query = (request.args.get("q") or "").strip()[:MAX_QUERY]
    kind = request.args.get("kind") if request.args.get("kind") in searching.KINDS else "listing"
    filters = filters_from(request.args)
    page = _int(request.args.get("page"), 1)
    searched = bool(query) or any(request.args.get(p) for p in FILTER_PARAMS) or "kind" in request.args
    result = searching.run(get_backend(), kind, query or None, filters, page=page) if searched else None
    if searched:
        audit.record("search", query or None, kind=kind, page=page,
                     filters={p: request.args[p][:MAX_FILTER] for p in FILTER_PARAMS if request.args.get(p)})
    return render_template("search.html", query=query, kind=kind, result=result, args=request.args,
                           kinds=searching.KINDS, facet_labels=dict(searching.FACETS.get(kind, ())),
                           search_url=search_url, filter_params=FILTER_PARAMS)
