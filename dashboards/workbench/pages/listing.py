"""A listing: its latest state, the observation history (price, stock, sold counter) as charts and a
table, the price per gram or per unit, shipping options, and the capture behind each fact."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template

from dashboards.workbench import audit
from dashboards.workbench.auth import require_role
from dashboards.workbench.backend import get_backend
from dashboards.workbench.charts import Series, line_chart
from indexer.base import SearchFilters

bp = Blueprint("listing", __name__)
NAV: tuple = ()


def observations(listing_id: str) -> list[dict[str, Any]]:
    rows = list(get_backend().iter_docs("listing_observation", SearchFilters(extra={"listing": listing_id})))
    return sorted(rows, key=lambda r: (r.get("observed_at") or "", r.get("run_id") or ""))


@bp.route("/listing/<listing_id>")
@require_role("analyst")
def show(listing_id: str) -> Any:
    listing = get_backend().get("listing", listing_id)
    if listing is None:
        abort(404, "No such listing in the index.")
    audit.record("open.listing", listing_id, site=listing.get("site"), title=(listing.get("title") or "")[:200])
    obs = observations(listing_id)
    day = [(o.get("observed_at") or "")[:10] for o in obs]
    price_chart = line_chart([Series("price (SEK)", list(zip(day, [o.get("price_sek") for o in obs], strict=True)))],
                             "Price over time", " kr")
    counters = [Series("sold counter", list(zip(day, [o.get("sold") for o in obs], strict=True)), "s2"),
                Series("stock", list(zip(day, [o.get("stock") for o in obs], strict=True)), "s3"),
                Series("feedback", list(zip(day, [o.get("feedback_count") for o in obs], strict=True)), "s4")]
    counter_chart = line_chart([s for s in counters if any(v is not None for _d, v in s.points)],
                               "Sold counter, stock and feedback")
    return render_template("listing.html", listing=listing, observations=obs, price_chart=price_chart,
                           counter_chart=counter_chart)
