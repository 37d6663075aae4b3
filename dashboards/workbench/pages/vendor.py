"""A vendor: one identity across sites with each link's evidence and strength, timeline, listings and
prices, turnover over time with its method, the Swedish score's signals and the shipping methods; and
the vendor list it is opened from."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request

from dashboards.workbench import audit, auth, vendor_view
from dashboards.workbench.auth import require_role
from dashboards.workbench.backend import get_backend
from dashboards.workbench.charts import Series, line_chart
from dashboards.workbench.identity_view import STRENGTH_TEXT
from indexer.base import SearchFilters

bp = Blueprint("vendor", __name__)
NAV = (("vendor.index", "Vendors", "analyst"),)
CHART_METHODS = (("best", "s1"), ("counter", "s2"), ("feedback", "s3"), ("feedback_corrected", "s4"))


@bp.route("/vendors")
@require_role("analyst")
def index() -> Any:
    site = (request.args.get("site") or "").strip()[:100] or None
    swedish = request.args.get("swedish") == "1"
    vendors = list(get_backend().iter_docs("vendor", SearchFilters(site=site) if site else None))
    if swedish:
        vendors = [v for v in vendors if (v.get("swedish_score") or 0) >= 0.5]
    vendors.sort(key=lambda v: (-(v.get("swedish_score") or 0), str(v.get("name")).casefold()))
    sites = sorted({str(v.get("site")) for v in get_backend().iter_docs("vendor")})
    return render_template("vendors.html", vendors=vendors, sites=sites, site=site, swedish=swedish)


@bp.route("/vendor/<vendor_id>")
@require_role("analyst")
def show(vendor_id: str) -> Any:
    page = vendor_view.build(get_backend(), auth.store(), vendor_id)
    if page is None:
        abort(404, "No such vendor in the index.")
    audit.record("open.vendor", vendor_id, name=page.vendor.get("name"), site=page.vendor.get("site"))
    series = []
    for method, css in CHART_METHODS:
        points = [(r["period"], r["value_sek"]) for r in page.turnover if r["method"] == method]
        if points:
            series.append(Series(method, points, css))
    chart = line_chart(series, f"Turnover per {page.period} (SEK), by method", " kr")
    return render_template("vendor.html", p=page, v=page.vendor, chart=chart, methods=vendor_view.METHOD_TEXT,
                           strength_text=STRENGTH_TEXT)
