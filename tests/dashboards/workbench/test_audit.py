"""The audit trail records who searched, opened and exported what, and cannot be rewritten."""

from __future__ import annotations

import json
import sqlite3

import pytest

from dashboards.workbench.store import Store
from indexer.models import Listing
from tests.dashboards.workbench.conftest import Workbench


def _rows(workbench: Workbench) -> list[sqlite3.Row]:
    return workbench.app.extensions["sokhund_store"].query("SELECT * FROM audit ORDER BY seq")


def test_searches_openings_and_logins_are_recorded(workbench: Workbench) -> None:
    backend = workbench.backend()
    listing = Listing(id=Listing.make_id("alfa", "9"), site="alfa", listing_id="9", title="Kokain 1 g")
    backend.upsert([listing])
    backend.close()
    client = workbench.client("analyst")
    client.get("/search?q=kokain&ships_from=se")
    client.get(f"/listing/{listing.id}")
    workbench.client(None).post("/login")  # no CSRF: refused before anything else, not a login attempt
    rows = _rows(workbench)
    actions = [(r["user"], r["action"], r["target"]) for r in rows]
    assert ("analyst", "login.success", "analyst") in actions
    assert ("analyst", "search", "kokain") in actions
    assert ("analyst", "open.listing", listing.id) in actions
    search = next(r for r in rows if r["action"] == "search")
    assert json.loads(search["details"])["filters"] == {"ships_from": "se"}
    assert search["ip"] == "127.0.0.1" and search["at"].endswith("+00:00")


def test_failed_logins_are_recorded_with_the_name_tried(workbench: Workbench) -> None:
    from tests.dashboards.workbench.test_auth import _attempt

    _attempt(workbench, "admin", "not the password", "10.9.9.9")
    row = _rows(workbench)[-1]
    assert (row["action"], row["user"], row["ip"]) == ("login.failure", "admin", "10.9.9.9")


def test_audit_rows_cannot_be_changed_or_deleted(workbench: Workbench) -> None:
    workbench.client("analyst").get("/search?q=x")
    path = workbench.home / "workbench.sqlite"
    db = sqlite3.connect(path)  # even a direct connection to the file, bypassing the application
    before = db.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
    assert before >= 2
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE audit SET user = 'someone else'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM audit WHERE action = 'search'")
    db.execute("INSERT INTO audit (at, action) VALUES ('2026-01-01T00:00:00+00:00', 'appended')")  # appending works
    db.commit()
    assert db.execute("SELECT COUNT(*) FROM audit").fetchone()[0] == before + 1
    db.close()
    Store(path)  # reopening keeps the triggers (and does not recreate anything)
    db = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("DELETE FROM audit")
    db.close()


def test_admin_page_filters_by_user_and_action(workbench: Workbench) -> None:
    workbench.client("analyst").get("/search?q=hemligt")
    admin = workbench.client("admin")
    page = admin.get("/audit?user=analyst&action=search").get_data(as_text=True)
    assert "hemligt" in page and "login.success" not in page
