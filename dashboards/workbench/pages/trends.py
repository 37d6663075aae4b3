"""Trends: turnover per site, vendor or substance and per method, median price per gram and per dose,
new vendors, the Swedish share, and the estimated domestic shipments per week by postal method with its
method and uncertainty band. Charts are SVG written on the server."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from analytics.turnover import PERIODS
from dashboards.workbench import audit, trends_view
from dashboards.workbench.auth import require_role
from dashboards.workbench.backend import get_backend
from dashboards.workbench.bands import BandSeries, band_chart
from dashboards.workbench.charts import Series, line_chart
from dashboards.workbench.vendor_view import METHOD_TEXT

bp = Blueprint("trends", __name__)
NAV = (("trends.index", "Trends", "analyst"),)
CSS = ("s1", "s2", "s3", "s4")
SHIPMENT_METHODS = ("letter", "registered_letter", "tracked_parcel", "unknown")


def _label(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"  # a legend, not the record: tables hold it all


def _series(rows: list[dict[str, Any]], key: str, value: str, keys: list[str]) -> list[Series]:
    return [Series(_label(k), [(str(r["period"]), r[value]) for r in rows if str(r[key]) == k], CSS[i % 4])
            for i, k in enumerate(keys)]


@bp.route("/trends")
@require_role("analyst")
def index() -> Any:
    by = request.args.get("by") if request.args.get("by") in trends_view.BY else "site"
    period = request.args.get("period") if request.args.get("period") in PERIODS else None
    t = trends_view.build(get_backend(), by, period)
    audit.record("open.trends", by, period=t["period"])
    grouped = t["turnover"]["grouped"]
    charts = {
        "turnover_by": line_chart(_series(grouped, "key", "value_sek", trends_view.top_keys(grouped, "key", "value_sek")),
                                  f"Turnover per {t['period']} by {by} (SEK, best estimate, top {trends_view.TOP})", " kr"),
        "turnover_methods": line_chart(_series(t["turnover"]["per_method"], "method", "value_sek",
                                               ["best", "counter", "feedback", "feedback_corrected"]),
                                       f"Turnover per {t['period']} by method (SEK)", " kr"),
        "price_per_g": line_chart(_series(t["price_per_g"], "substance", "median_sek_per_g",
                                          trends_view.top_keys(t["price_per_g"], "substance", "listings")),
                                  "Median price per gram (SEK/g), most listed substances", " kr"),
        "price_per_unit": line_chart(_series(t["price_per_unit"], "substance", "median_sek_per_unit",
                                             trends_view.top_keys(t["price_per_unit"], "substance", "listings")),
                                     "Median price per unit or dose (SEK), most listed substances", " kr"),
        "new_vendors": line_chart([Series("new vendors", [(r["period"], r["count"]) for r in t["new_vendors"]], "s2")],
                                  f"New vendors per {t['period']} (without each site's baseline crawl)"),
        "swedish_share": line_chart([Series("Swedish share", [(r["period"], 100 * r["share"]) for r in t["swedish_share"]],
                                            "s3")], "Share of active vendors that are Swedish (score ≥ 0.5)", " %"),
    }
    ship, ship_methods, ship_weeks = t["shipments"], [], []
    if ship is not None:
        ship_methods = [m for m in SHIPMENT_METHODS if any(r.method == m and r.high > 0 for r in ship.rows)]
        charts["shipments"] = band_chart(
            [BandSeries(m.replace("_", " "), [(r.week_start.isoformat(), r.estimate, r.low, r.high)
                                              for r in ship.rows if r.method == m], CSS[SHIPMENT_METHODS.index(m)])
             for m in ship_methods],
            "Estimated domestic shipments per week by method (line: estimate; band: low–high)")
        weeks: dict[str, dict[str, Any]] = {}
        for r in ship.rows:  # one row per week, a column per method
            weeks.setdefault(r.week_start.isoformat(), {})[r.method] = r
        ship_weeks = sorted(weeks.items())
    return render_template("trends.html", t=t, by=by, charts=charts, periods=PERIODS, bys=trends_view.BY,
                           methods=METHOD_TEXT, ship=ship, ship_methods=ship_methods, ship_weeks=ship_weeks,
                           selected_period=period)
