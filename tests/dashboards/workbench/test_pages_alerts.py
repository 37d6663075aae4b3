"""The alerts inbox: states new / acknowledged / dismissed with who and when, notes and tags, bulk actions
(CSRF), filters by state, rule and tag, the rules and watch-list behind the alerts, an alert's evidence and
vendor; triage is append-only in the workbench store and mirrored on the index (`sokhund alerts` agrees)."""

from __future__ import annotations

import sqlite3

import pytest

from alerts.evaluate import list_alerts
from alerts.rules import add_watch
from dashboards.workbench import audit
from tests.dashboards.workbench.conftest import Workbench, page_csrf
from tests.dashboards.workbench.hostile import IMG, SCRIPT, assert_inert
from tests.dashboards.workbench.pages_data import FP, seeded


def _row(page: str, alert_id: str) -> str:
    start = page.index(f'value="{alert_id}"')
    return page[start:page.index("</tr>", start)]


def test_inbox_lists_new_alerts_with_their_rules_and_watch_list(workbench: Workbench) -> None:
    ids = seeded(workbench)
    add_watch("pgp", FP, note="från <i>tips</i>")
    page = workbench.client("analyst").get("/alerts").get_data(as_text=True)
    assert "2 of 2 alerts" in page and "state-new" in _row(page, ids.alert_new)
    assert SCRIPT not in page and IMG not in page  # the hostile vendor name in the title is text
    assert "new_swedish_vendor" in page and "min_swedish_score" in page  # the rule that produced it
    assert FP in page and "från &lt;i&gt;tips&lt;/i&gt;" in page  # the watch-list entry
    assert_inert(page)


def test_bulk_acknowledge_records_who_and_mirrors_the_index(workbench: Workbench) -> None:
    ids = seeded(workbench)
    client = workbench.client("analyst")
    form = {"ids": [ids.alert_new, ids.alert_watch], "action": "ack"}
    assert client.post("/alerts/bulk", data=form).status_code == 400  # no CSRF token
    assert client.post("/alerts/bulk", data={**form, "csrf_token": page_csrf(client)}).status_code == 303
    assert "0 of 2 alerts" in client.get("/alerts").get_data(as_text=True)  # new: none left
    shown = client.get("/alerts?state=acknowledged").get_data(as_text=True)
    assert "2 of 2 alerts" in shown and "analyst · " in _row(shown, ids.alert_new)
    backend = workbench.backend()
    try:
        assert list_alerts(backend) == []  # `sokhund alerts` lists unacknowledged alerts only
        assert backend.get("alert", ids.alert_new)["details"]["acknowledged_by"] == "analyst (workbench)"
    finally:
        backend.close()
    with workbench.app.app_context():
        acks = audit.entries(action="alert.ack")
    assert sorted(e["target"] for e in acks) == sorted([ids.alert_new, ids.alert_watch])


def test_dismiss_reopen_note_and_tag_one_alert(workbench: Workbench) -> None:
    ids = seeded(workbench)
    client = workbench.client("admin")
    token = page_csrf(client)
    base = f"/alerts/{ids.alert_watch}"
    assert client.post(f"{base}/dismiss", data={"csrf_token": token}).status_code == 303
    assert client.post(f"{base}/note", data={"csrf_token": token, "note": f"kolla {SCRIPT}"}).status_code == 303
    assert client.post(f"{base}/tag", data={"csrf_token": token, "tag": "göteborg"}).status_code == 303
    assert client.post(f"{base}/tag", data={"csrf_token": token, "tag": "two words"}).status_code == 400
    page = client.get(base).get_data(as_text=True)
    assert 'id="alert-state">dismissed' in page and "göteborg" in page and "kolla &lt;script&gt;" in page
    assert SCRIPT not in page
    assert "dismiss" in page and "note" in page and "admin" in page  # the history: who did what
    assert "dismissed" in client.get("/alerts?state=dismissed&tag=göteborg").get_data(as_text=True)
    assert "0 of 2 alerts" in client.get("/alerts?state=all&tag=other").get_data(as_text=True)
    client.post(f"{base}/reopen", data={"csrf_token": token})
    assert "state-new" in _row(client.get("/alerts").get_data(as_text=True), ids.alert_watch)
    assert_inert(page)


def test_filter_by_rule(workbench: Workbench) -> None:
    ids = seeded(workbench)
    client = workbench.client("analyst")
    watch = client.get("/alerts?rule=watchlist").get_data(as_text=True)
    assert "1 of 2 alerts" in watch and ids.alert_watch in watch and ids.alert_new not in watch


def test_an_alert_opens_with_its_evidence_and_vendor(workbench: Workbench) -> None:
    ids = seeded(workbench)
    page = workbench.client("analyst").get(f"/alerts/{ids.alert_new}").get_data(as_text=True)
    assert f'href="/evidence/{ids.cap_a}"' in page and f'href="/vendor/{ids.a}"' in page
    assert "file: pending" in page  # its delivery state from the outbox
    assert "ships_from_se: ships_from field: SE" in page
    assert workbench.client("analyst").get("/alerts/alert-nope").status_code == 404


def test_triage_history_is_append_only(workbench: Workbench) -> None:
    ids = seeded(workbench)
    client = workbench.client("analyst")
    client.post(f"/alerts/{ids.alert_new}/ack", data={"csrf_token": page_csrf(client)})
    db = sqlite3.connect(workbench.app.extensions["sokhund_store"].path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE alert_events SET user = 'x'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM alert_events")
    db.close()
