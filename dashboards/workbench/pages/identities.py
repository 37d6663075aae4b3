"""Identities overview: every linked identity (strong, medium, analyst-confirmed), the candidates not
merged (similar aliases) with a confirm / reject action, and the decisions taken, with who and when."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for

from dashboards.workbench import audit, auth, identity_view, reviews
from dashboards.workbench.auth import require_role
from dashboards.workbench.backend import get_backend

bp = Blueprint("identities", __name__)
NAV = (("identities.index", "Identities", "analyst"),)


@bp.route("/identities")
@require_role("analyst")
def index() -> Any:
    view = identity_view.build(get_backend(), auth.store())
    return render_template("identities.html", view=view, strength_text=identity_view.STRENGTH_TEXT,
                           history=reviews.history(auth.store())[:50])


@bp.route("/identities/review", methods=["POST"])
@require_role("analyst")
def review() -> Any:
    decision = request.form.get("decision", "")
    vendors = [v for v in request.form.get("vendors", "").split(" ") if v]
    if decision not in reviews.DECISIONS or len(set(vendors)) != 2:
        abort(400, "A review needs a decision (confirm, reject, reopen) and two vendor ids.")
    backend = get_backend()
    if any(backend.get("vendor", v) is None for v in vendors):
        abort(404, "No such vendor in the index.")
    candidate_id = (request.form.get("candidate_id") or "")[:100] or None
    reviews.decide(auth.store(), vendors, decision, auth.current_user() or "?", candidate_id=candidate_id,
                   note=request.form.get("note", ""))
    audit.record(f"identity.{decision}", candidate_id or reviews.pair_key(*vendors), vendors=vendors)
    return redirect(url_for("identities.index") + "#decided", code=303)
