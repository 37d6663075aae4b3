"""Campaigns: schedule, last and next runs, per-site stats of each run, and failures."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template

from dashboards.workbench import campaign_view
from dashboards.workbench.auth import require_role
from dashboards.workbench.backend import get_backend

bp = Blueprint("campaigns", __name__)
NAV = (("campaigns.index", "Campaigns", "analyst"),)


@bp.route("/campaigns")
@require_role("analyst")
def index() -> Any:
    return render_template("campaigns.html", c=campaign_view.build(get_backend()))


@bp.route("/campaigns/run/<run_id>")
@require_role("analyst")
def run(run_id: str) -> Any:
    doc = get_backend().get("campaign_run", run_id)
    if doc is None:
        abort(404, "No such campaign run.")
    return render_template("campaign_run.html", r=campaign_view.summarise(doc))
