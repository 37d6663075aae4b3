"""Findings of the hostile review of the workbench core (each test failed before its fix): open redirects
through characters browsers drop, evidence cached by the browser, archived pages whose BOM switches the
browser to a charset the inert rewrite cannot read, and link builders fed reserved ``url_for`` arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboards.workbench import inert
from indexer.models import Capture
from tests.dashboards.workbench.conftest import PASSWORD, Workbench, csrf_of, login


@pytest.mark.parametrize("target", ["/\t/evil.example/", "/\n/evil.example/", "/\r\n/evil.example/",
                                    "/\\/evil.example/", "/x\x00y"])
def test_login_next_with_characters_browsers_drop_is_no_redirect_off_site(workbench: Workbench, target: str) -> None:
    # "/<TAB>/evil.example" passed the old check and Werkzeug sent "Location: //evil.example"
    client = workbench.client(None)
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": "analyst", "password": PASSWORD, "csrf_token": token,
                                           "next": target})
    assert response.status_code == 302 and response.headers["Location"] == "/", response.headers.get("Location")
    # the same through the GET of an already logged-in user
    again = client.get("/login", query_string={"next": target})
    assert again.status_code == 302 and again.headers["Location"] == "/"


def test_an_ordinary_next_still_comes_back(workbench: Workbench) -> None:
    client = workbench.client(None)
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": "analyst", "password": PASSWORD, "csrf_token": token,
                                           "next": "/search?q=kokain%20ren&kind=listing"})
    assert response.headers["Location"] == "/search?q=kokain%20ren&kind=listing"


def test_screenshots_and_other_files_of_police_data_are_never_stored_by_the_browser(workbench: Workbench) -> None:
    # send_file answered "Cache-Control: no-cache" (stored, revalidated) with an ETag: evidence on disk
    shot = workbench.home / "warc" / "alfa" / "screenshots" / "x.png"
    shot.parent.mkdir(parents=True)
    shot.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
    backend = workbench.backend()
    backend.upsert([Capture(id="cap-shot", site="alfa", url="http://x.onion/", screenshot=str(shot.relative_to(
        workbench.home)))])
    backend.close()
    response = workbench.client("analyst").get("/evidence/cap-shot/screenshot.png")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "ETag" not in response.headers and "Last-Modified" not in response.headers


@pytest.mark.parametrize("bom, encoding", [(b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")])
def test_an_archived_page_with_a_utf16_bom_is_shown_as_text(bom: bytes, encoding: str) -> None:
    # A BOM outranks the Content-Type charset in the browser: the page would be read as UTF-16, where the
    # byte-level rename of <meta>, <a>, <iframe> … sees no tag at all.
    body = bom + '<meta http-equiv="refresh" content="0;url=http://evil.example/"><a href="http://evil.example/">x'.encode(
        encoding)
    assert inert.served_type("text/html; charset=utf-8", body).startswith("text/plain")
    assert inert.served_type("text/html", b"\xef\xbb\xbf<p>utf-8 BOM is ASCII-compatible</p>").startswith("text/html")
    assert inert.served_type("text/html; charset=windows-1252", b"<p>ok</p>") == "text/html; charset=windows-1252"
    assert inert.served_type("text/html; charset=utf-16", b"<p>x</p>").startswith("text/plain")
    assert inert.served_type("image/svg+xml", b"<svg onload=x>") == "text/plain; charset=utf-8"
    assert inert.served_type("text/xml", b"<x/>").startswith("text/plain")
    assert inert.served_type("image/png", b"\x89PNG") == "image/png"


@pytest.mark.parametrize("extra", ["_method=POST", "_external=1", "_anchor=x", "_scheme=javascript&_external=1"])
def test_search_links_ignore_reserved_url_for_arguments(workbench: Workbench, extra: str) -> None:
    # search_url passed every query parameter to url_for: "_method=POST" was a 500 (BuildError), "_external"
    # made absolute links from the Host header, "_anchor" appended a fragment.
    client = workbench.client("analyst")
    response = client.get(f"/search?q=x&site=alfa&{extra}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'class="clear" href="/search?q=x"' in page


def test_login_success_is_audited_before_the_session_exists(sokhund_home: Path) -> None:
    # If the audit write fails, no session may have been handed out (the trail is written before the action).
    from dashboards.workbench import users
    from dashboards.workbench.app import create_app
    from dashboards.workbench.config import WorkbenchConfig
    from indexer.base import open_backend

    open_backend().close()
    app = create_app(WorkbenchConfig(testing=False))  # errors become 500 responses, as under gunicorn
    store = app.extensions["sokhund_store"]
    users.add(store, "analyst", "analyst", PASSWORD)
    with store.tx() as db:  # a real failure of the audit insert for logins only
        db.execute("CREATE TRIGGER fail_login_audit BEFORE INSERT ON audit WHEN NEW.action = 'login.success' "
                   "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": "analyst", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 500
    assert client.get("/search").status_code == 302  # not logged in
    assert not store.query("SELECT 1 FROM sessions WHERE user = 'analyst'")
    store.close()


def test_login_helper_still_works(workbench: Workbench) -> None:
    assert login(workbench.app.test_client(), "admin").get("/audit").status_code == 200


def test_the_stores_wal_and_shm_files_are_owner_only_too(tmp_path: Path) -> None:
    # the store chmodded only workbench.sqlite: its -wal (password hashes, CSRF tokens) stayed 0644
    from dashboards.workbench import users
    from dashboards.workbench.store import Store

    path = tmp_path / "workbench.sqlite"
    store = Store(path)
    users.add(store, "anna", "analyst", PASSWORD)
    files = sorted(tmp_path.iterdir())
    assert {f.name for f in files} >= {"workbench.sqlite", "workbench.sqlite-wal", "workbench.sqlite-shm"}
    assert {f.name: oct(f.stat().st_mode & 0o777) for f in files} == {f.name: "0o600" for f in files}
    store.close()  # the last connection removes -wal and -shm
    path.chmod(0o644)  # a store left by an older version
    reopened = Store(path)
    assert {f.name: oct(f.stat().st_mode & 0o777) for f in tmp_path.iterdir()} == {f.name: "0o600" for f in files}
    reopened.close()


def test_a_huge_query_string_is_not_repeated_in_every_link(workbench: Workbench) -> None:
    # the query was cut to 500 characters for the search, but every facet and pager link carried it whole
    client = workbench.client("analyst")
    huge = "kokain " * 3000
    response = client.get("/search", query_string={"q": huge, "site": "alfa" * 1000, "vendor": "v" * 5000})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert len(page) < 20_000, len(page)
    rows = workbench.app.extensions["sokhund_store"].query("SELECT details FROM audit WHERE action = 'search'")
    assert len(rows[-1]["details"]) < 1000
