"""The evidence viewer: a capture's metadata, the facts it supports, its sha256 checked live against the
WARC record, the screenshot, the archived page rendered inert, and an evidence-package export.

The archived page is served by its own route with ``Content-Security-Policy: default-src 'none'`` (no
script, style, frame, font or connection; images only from the archive route) plus the CSP ``sandbox``
directive, so it stays inert even when opened outside the viewer's ``<iframe sandbox>``; links, meta
refreshes and resource hints are renamed away first (``inert.py``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, after_this_request, render_template, request, send_file

from crawler import paths
from dashboards import evidence
from dashboards.selection import select_captures
from dashboards.workbench import audit, auth, inert
from dashboards.workbench.auth import require_role
from dashboards.workbench.backend import get_backend

bp = Blueprint("evidence", __name__)
NAV: tuple = ()
ASSET_PREFIX = "/evidence/asset/"  # the only place an archived page may load images from


def archived_page_csp(host_url: str) -> str:
    return (f"default-src 'none'; img-src {host_url.rstrip('/')}{ASSET_PREFIX}; "
            "sandbox; frame-ancestors 'self'; form-action 'none'; base-uri 'none'")


def _capture(capture_id: str) -> dict[str, Any]:
    cap = get_backend().get("capture", capture_id)
    if cap is None:
        abort(404, "No such capture in the index.")
    return cap


def _verification(cap: dict[str, Any]) -> dict[str, Any]:
    if not cap.get("warc_file"):
        return {"ok": False, "problems": ["no WARC record (the fetch failed)"]}
    report = evidence.VerifyReport()
    evidence.verify_capture(cap, report)
    return {"ok": report.ok, "problems": report.problems}


def _declared_type(cap: dict[str, Any]) -> str:
    """The archived response's own Content-Type header (text/html when it had none)."""
    record = evidence.response_record(cap)
    head = record.block.partition(b"\r\n\r\n")[0].decode("latin-1")
    return next((line.split(":", 1)[1].strip() for line in head.split("\r\n")[1:]
                 if line.lower().startswith("content-type:")), "text/html")


@bp.route("/evidence/<capture_id>")
@require_role("analyst")
def show(capture_id: str) -> Any:
    cap = _capture(capture_id)
    audit.record("open.evidence", capture_id, url=cap.get("url"))
    info = evidence.show(get_backend(), capture_id)
    return render_template("evidence.html", cap=cap, info=info, verification=_verification(cap),
                           has_screenshot=_screenshot_path(cap) is not None)


@bp.route("/evidence/<capture_id>/page")
@require_role("analyst")
def page(capture_id: str) -> Response:
    cap = _capture(capture_id)
    if not cap.get("warc_file"):
        abort(404, "This capture has no archived body.")
    body = evidence.page_bytes(cap)
    content_type = inert.served_type(_declared_type(cap), body)
    if content_type.startswith("text/html"):
        body = inert.inert_html(body)
    response = Response(body, content_type=content_type)
    response.headers["Content-Security-Policy"] = archived_page_csp(request.host_url)
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Content-Disposition"] = "inline"
    return response


def _screenshot_path(cap: dict[str, Any]) -> Path | None:
    shot = cap.get("screenshot")
    if not shot:
        return None
    path = paths.resolve_data_path(shot)
    return path if path.is_file() else None


@bp.route("/evidence/<capture_id>/screenshot.png")
@require_role("analyst")
def screenshot(capture_id: str) -> Response:
    path = _screenshot_path(_capture(capture_id))
    if path is None:
        abort(404, "This capture has no screenshot.")
    return send_file(path, mimetype="image/png")


@bp.route("/evidence/<capture_id>/export", methods=["POST"])
@require_role("analyst")
def export(capture_id: str) -> Response:
    _capture(capture_id)
    selection = select_captures(get_backend(), [capture_id])
    folder = Path(tempfile.mkdtemp(prefix="sokhund-web-export-"))
    out = folder / f"evidence-{capture_id}.zip"
    manifest = evidence.build_package(selection, out, exported_by=f"{auth.current_user()} (workbench)")
    audit.record("export.evidence", capture_id, files=len(manifest.get("files") or []))

    @after_this_request
    def _cleanup(response: Response) -> Response:
        response.call_on_close(lambda: (out.unlink(missing_ok=True), folder.rmdir()))
        return response

    return send_file(out, mimetype="application/zip", as_attachment=True, download_name=out.name)
