"""The identities overview: linked identities, candidates not merged, and the analyst's confirm / reject
(POST with CSRF, recorded with who and when, append-only history, shown on the vendor page; a confirmed
pair is one identity in the workbench views)."""

from __future__ import annotations

import sqlite3

import pytest

from dashboards.workbench import audit
from tests.dashboards.workbench.conftest import Workbench, page_csrf
from tests.dashboards.workbench.hostile import assert_inert
from tests.dashboards.workbench.pages_data import FP, seeded


def _section(page: str, name: str) -> str:
    start = page.index(f'<section id="{name}"')
    return page[start:page.index("</section>", start)]


def test_overview_lists_linked_identities_and_open_candidates(workbench: Workbench) -> None:
    ids = seeded(workbench)
    page = workbench.client("analyst").get("/identities").get_data(as_text=True)
    groups, candidates = _section(page, "groups"), _section(page, "candidates")
    assert f"/vendor/{ids.a}" in groups and f"/vendor/{ids.b}" in groups and FP in groups and "strong" in groups
    assert f"/vendor/{ids.c}" in candidates and f"/vendor/{ids.d}" in candidates
    assert f"/vendor/{ids.c}" not in groups  # similar aliases alone never merge
    assert 'value="confirm"' in candidates and 'name="csrf_token"' in candidates
    assert_inert(page)


def test_confirming_a_candidate_needs_csrf_and_records_who_and_when(workbench: Workbench) -> None:
    ids = seeded(workbench)
    client = workbench.client("analyst")
    form = {"vendors": f"{ids.c} {ids.d}", "decision": "confirm", "note": "samma <b>skrivstil</b>"}
    assert client.post("/identities/review", data=form).status_code == 400  # no token
    assert client.post("/identities/review", data={**form, "csrf_token": "wrong"}).status_code == 403
    done = client.post("/identities/review", data={**form, "csrf_token": page_csrf(client)})
    assert done.status_code == 303
    page = client.get("/identities").get_data(as_text=True)
    decided, groups = _section(page, "decided"), _section(page, "groups")
    assert "confirmed" in decided and "analyst" in decided and "samma &lt;b&gt;skrivstil&lt;/b&gt;" in decided
    assert f"/vendor/{ids.c}" in groups and f"/vendor/{ids.d}" in groups  # now one identity here
    assert f"/vendor/{ids.c}" not in _section(page, "candidates")
    vendor = client.get(f"/vendor/{ids.c}").get_data(as_text=True)
    assert "Kalle_Knark1" in vendor and "confirmed by <strong>analyst</strong>" in vendor
    with workbench.app.app_context():
        assert [(e["user"], e["action"]) for e in audit.entries(action="identity.")] == [("analyst", "identity.confirm")]


def test_a_rejected_candidate_stays_apart_and_can_be_reopened(workbench: Workbench) -> None:
    ids = seeded(workbench)
    client = workbench.client("admin")
    token = page_csrf(client)
    client.post("/identities/review", data={"vendors": f"{ids.d} {ids.c}", "decision": "reject", "csrf_token": token})
    page = client.get("/identities").get_data(as_text=True)
    assert "rejected" in _section(page, "decided") and f"/vendor/{ids.c}" not in _section(page, "groups")
    assert "rejected</span> by <strong>admin</strong>" in client.get(f"/vendor/{ids.c}").get_data(as_text=True)
    client.post("/identities/review", data={"vendors": f"{ids.c} {ids.d}", "decision": "reopen", "csrf_token": token})
    assert f"/vendor/{ids.c}" in _section(client.get("/identities").get_data(as_text=True), "candidates")


def test_reviews_of_unknown_vendors_are_refused_and_history_is_append_only(workbench: Workbench) -> None:
    ids = seeded(workbench)
    client = workbench.client("analyst")
    token = page_csrf(client)
    assert client.post("/identities/review", data={"vendors": f"{ids.c} ven-nope", "decision": "confirm",
                                                   "csrf_token": token}).status_code == 404
    assert client.post("/identities/review", data={"vendors": ids.c, "decision": "confirm",
                                                   "csrf_token": token}).status_code == 400
    client.post("/identities/review", data={"vendors": f"{ids.c} {ids.d}", "decision": "confirm", "csrf_token": token})
    db = sqlite3.connect(workbench.app.extensions["sokhund_store"].path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE identity_review_events SET user = 'someone else'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM identity_review_events")
    db.close()
