"""The alerts inbox: alerts with their triage state (new, acknowledged, dismissed), notes and tags, who
did what and when, bulk actions, filters by state, rule and tag, and the rules and watch-list entries
that produced them. An alert opens with its evidence and its vendor."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for

from dashboards.workbench import audit, auth, inbox, triage
from dashboards.workbench.auth import require_role
from dashboards.workbench.backend import get_backend

bp = Blueprint("alerts", __name__)
NAV = (("alerts.index", "Alerts", "analyst"),)
FILTER_STATES = (*triage.STATES, "all")


def _apply(alert_ids: list[str], action: str, value: str | None = None) -> int:
    user = auth.current_user() or "?"
    try:
        written = triage.apply(auth.store(), alert_ids, action, user, value)
    except triage.TriageError as exc:
        abort(400, str(exc))
    if action in triage.ACTIONS:
        inbox.sync_index(get_backend(), alert_ids, action != "reopen", user,
                         datetime.now(UTC).isoformat(timespec="seconds"))
    for alert_id in alert_ids:
        audit.record(f"alert.{action}", alert_id, **({"value": value} if value else {}))
    return written


def _known(alert_ids: list[str]) -> list[str]:
    known = {a["id"] for a in inbox.load(get_backend(), auth.store())}
    missing = [i for i in alert_ids if i not in known]
    if missing:
        abort(404, f"No such alert: {missing[0][:80]}")
    return alert_ids


@bp.route("/alerts")
@require_role("analyst")
def index() -> Any:
    state = request.args.get("state") if request.args.get("state") in FILTER_STATES else "new"
    rule = (request.args.get("rule") or "").strip()[:200]
    tag = (request.args.get("tag") or "").strip()[:40]
    everything = inbox.load(get_backend(), auth.store())
    shown = [a for a in everything if (state == "all" or a["state"] == state)
             and (not rule or a.get("rule") == rule or inbox.rule_base(a.get("rule")) == rule)
             and (not tag or tag in a.get("tags", []))]
    counts = {s: sum(1 for a in everything if a["state"] == s) for s in triage.STATES}
    rule_names = sorted({inbox.rule_base(a.get("rule")) for a in everything} | {str(a.get("rule")) for a in everything})
    tags = sorted({t for a in everything for t in a.get("tags", [])})
    return render_template("alerts.html", alerts=shown, total=len(everything), counts=counts, state=state, rule=rule,
                           tag=tag, rule_names=rule_names, tags=tags, states=FILTER_STATES, rules=inbox.rules())


@bp.route("/alerts/bulk", methods=["POST"])
@require_role("analyst")
def bulk() -> Any:
    ids = _known([i for i in request.form.getlist("ids") if i][:1000])
    action = request.form.get("action", "")
    if not ids:
        abort(400, "Select at least one alert.")
    if action not in (*triage.ACTIONS, "tag", "untag"):
        abort(400, "Unknown action.")
    _apply(ids, action, request.form.get("tag") if action in ("tag", "untag") else None)
    return redirect(request.form.get("back") if str(request.form.get("back", "")).startswith("/alerts")
                    else url_for("alerts.index"), code=303)


@bp.route("/alerts/<alert_id>")
@require_role("analyst")
def show(alert_id: str) -> Any:
    backend = get_backend()
    alert = inbox.find(backend, auth.store(), alert_id)
    if alert is None:
        abort(404, "No such alert.")
    audit.record("open.alert", alert_id, rule=alert.get("rule"))
    vendor_id = alert.get("entity") if alert.get("entity_kind") == "vendor" else None
    listing = backend.get("listing", alert["entity"]) if alert.get("entity_kind") == "listing" else None
    if listing:
        vendor_id = listing.get("vendor_id")
    vendor = backend.get("vendor", vendor_id) if vendor_id else None
    rules = inbox.rules()
    rule = next((r for r in rules.rules if r["name"] == inbox.rule_base(alert.get("rule"))), None)
    watch_key = str(alert.get("rule", "")).split(":", 1)[1] if ":" in str(alert.get("rule", "")) else None
    watch = next((w for w in rules.watchlist if w["key"] == watch_key), None)
    return render_template("alert.html", alert=alert, vendor=vendor, listing=listing, rule=rule, watch=watch,
                           watch_key=watch_key, history=triage.history(auth.store(), alert_id))


@bp.route("/alerts/<alert_id>/<action>", methods=["POST"])
@require_role("analyst")
def act(alert_id: str, action: str) -> Any:
    if action not in (*triage.ACTIONS, "note", "tag", "untag"):
        abort(404)
    _known([alert_id])
    value = request.form.get("note") if action == "note" else request.form.get("tag")
    _apply([alert_id], action, value if action in ("note", "tag", "untag") else None)
    return redirect(url_for("alerts.show", alert_id=alert_id), code=303)
