"""The audit trail, for admins: newest first, filtered by user or action."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from dashboards.workbench import audit
from dashboards.workbench.auth import require_role

bp = Blueprint("audit", __name__)
NAV = (("audit.index", "Audit", "admin"),)
PER_PAGE = 100


@bp.route("/audit")
@require_role("admin")
def index() -> Any:
    user = (request.args.get("user") or "").strip() or None
    action = (request.args.get("action") or "").strip() or None
    try:
        page = max(1, int(request.args.get("page") or 1))
    except ValueError:
        page = 1
    rows = audit.entries(user=user, action=action, limit=PER_PAGE + 1, offset=(page - 1) * PER_PAGE)
    return render_template("audit.html", rows=rows[:PER_PAGE], more=len(rows) > PER_PAGE, page=page,
                           user=user or "", action=action or "")
