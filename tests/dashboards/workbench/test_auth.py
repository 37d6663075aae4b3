"""Logins, sessions, CSRF, the login rate limit, roles, and the route walk: no route answers an anonymous
visitor with anything but a redirect to the login page or 401."""

from __future__ import annotations

import sqlite3
import time

import pytest
from werkzeug.routing import Rule

from dashboards.workbench import auth
from dashboards.workbench.app import create_app
from dashboards.workbench.config import WorkbenchConfig
from tests.dashboards.workbench.conftest import PASSWORD, Workbench, csrf_of, login, page_csrf

# A value per URL variable name, so every rule can be built (unknown names get "x").
SAMPLE_VALUES = {"filename": "workbench.css"}


def _url(rule: Rule) -> str:
    path = rule.rule
    for name in rule.arguments:
        path = path.replace(f"<{name}>", SAMPLE_VALUES.get(name, "x"))
        for conv in ("string", "path", "int", "float", "uuid"):
            path = path.replace(f"<{conv}:{name}>", SAMPLE_VALUES.get(name, "1" if conv in ("int", "float") else "x"))
    return path


def _cookie(response, name: str = auth.COOKIE) -> str | None:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(f"{name}="):
            return header
    return None


def test_every_route_refuses_anonymous(workbench: Workbench) -> None:
    rules = [r for r in workbench.app.url_map.iter_rules() if r.endpoint not in auth.PUBLIC_ENDPOINTS]
    assert len(rules) >= 8, [r.rule for r in rules]  # search, listing, evidence (4), audit, logout, home …
    walked = []
    for rule in rules:
        url = _url(rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            client = workbench.client(None)
            if method == "GET":
                response = client.get(url)
                assert response.status_code == 302, (url, response.status_code)
                assert response.headers["Location"].startswith("/login"), url
            else:
                # with an anonymous session's valid CSRF token, so it is the login check that refuses
                token = csrf_of(client.get("/login").get_data(as_text=True))
                response = client.open(url, method=method, data={"csrf_token": token})
                assert response.status_code == 401, (method, url, response.status_code)
            assert "Content-Security-Policy" in response.headers
            walked.append((method, rule.endpoint))
    assert ("GET", "evidence.page") in walked and ("POST", "evidence.export") in walked
    assert ("GET", "audit.index") in walked and ("GET", "evidence.screenshot") in walked


def test_login_sets_a_strict_httponly_cookie_and_rotates_the_session(workbench: Workbench) -> None:
    client = workbench.client(None)
    page = client.get("/login")
    anonymous = _cookie(page)
    assert anonymous and "HttpOnly" in anonymous and "SameSite=Strict" in anonymous and "Secure" not in anonymous
    token = csrf_of(page.get_data(as_text=True))
    old_value = anonymous.split(";")[0].split("=", 1)[1]
    done = client.post("/login", data={"username": "analyst", "password": PASSWORD, "csrf_token": token})
    assert done.status_code == 302
    fresh = _cookie(done)
    assert fresh and fresh.split(";")[0].split("=", 1)[1] != old_value  # a new session id at login
    assert "HttpOnly" in fresh and "SameSite=Strict" in fresh
    assert client.get("/search").status_code == 200
    # the pre-login session id is dead: a fixated cookie gives an attacker nothing
    other = workbench.client(None)
    other.set_cookie(auth.COOKIE, old_value)
    assert other.get("/search").status_code == 302


def test_secure_cookie_flag_when_served_over_tls(sokhund_home) -> None:
    app = create_app(WorkbenchConfig(testing=True, tls=True))
    response = app.test_client().get("/login")
    assert "Secure" in _cookie(response)
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_wrong_password_and_unknown_user_are_refused_alike(workbench: Workbench) -> None:
    for name, password in (("analyst", "wrong password!"), ("nobody", PASSWORD)):
        client = workbench.client(None)
        token = csrf_of(client.get("/login").get_data(as_text=True))
        response = client.post("/login", data={"username": name, "password": password, "csrf_token": token})
        assert response.status_code == 401 and "Wrong user name or password" in response.get_data(as_text=True)
        assert client.get("/search").status_code == 302


def test_csrf_missing_is_400_and_wrong_is_403(workbench: Workbench) -> None:
    client = workbench.client("analyst")
    assert client.post("/logout").status_code == 400
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert client.get("/search").status_code == 200  # still logged in: nothing happened
    assert client.post("/logout", data={"csrf_token": page_csrf(client)}).status_code == 302
    assert client.get("/search").status_code == 302
    # login itself needs the token too (login CSRF)
    anonymous = workbench.client(None)
    assert anonymous.post("/login", data={"username": "analyst", "password": PASSWORD}).status_code == 400


def test_another_sessions_token_is_refused(workbench: Workbench) -> None:
    anna, bo = workbench.client("analyst"), workbench.client("admin")
    assert anna.post("/logout", data={"csrf_token": page_csrf(bo)}).status_code == 403


def _attempt(workbench: Workbench, name: str, password: str, ip: str) -> int:
    client = workbench.app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": name, "password": password, "csrf_token": token}).status_code


def test_five_failures_lock_the_user_even_from_other_addresses(workbench: Workbench) -> None:
    for i in range(5):
        assert _attempt(workbench, "analyst", "wrong password!", f"10.0.0.{i}") == 401
    assert _attempt(workbench, "analyst", PASSWORD, "10.0.0.99") == 429  # the right password, but locked
    assert _attempt(workbench, "admin", PASSWORD, "10.0.0.99") == 302  # another user is not affected


def test_five_failures_from_one_address_lock_that_address(workbench: Workbench) -> None:
    for i in range(5):
        assert _attempt(workbench, f"guess{i}", "wrong password!", "10.1.1.1") == 401
    assert _attempt(workbench, "admin", PASSWORD, "10.1.1.1") == 429
    assert _attempt(workbench, "admin", PASSWORD, "10.1.1.2") == 302


def test_lockout_ends_after_the_window(workbench: Workbench) -> None:
    for _ in range(5):
        _attempt(workbench, "analyst", "wrong password!", "10.2.2.2")
    assert _attempt(workbench, "analyst", PASSWORD, "10.2.2.3") == 429
    store = workbench.app.extensions["sokhund_store"]
    window = workbench.app.extensions["sokhund_config"].login_window_s
    with store.tx() as db:  # the failures age past the window (no sleeping in unit tests)
        db.execute("UPDATE login_failures SET at = at - ?", (window + 1,))
    assert _attempt(workbench, "analyst", PASSWORD, "10.2.2.3") == 302


@pytest.mark.parametrize("column", ["last_seen", "created_at"])
def test_idle_and_absolute_expiry(workbench: Workbench, column: str) -> None:
    client = workbench.client("analyst")
    assert client.get("/search").status_code == 200
    config = workbench.app.extensions["sokhund_config"]
    age = (config.idle_timeout_s if column == "last_seen" else config.absolute_timeout_s) + 5
    with workbench.app.extensions["sokhund_store"].tx() as db:
        db.execute(f"UPDATE sessions SET {column} = ? WHERE user = 'analyst'", (time.time() - age,))
    assert client.get("/search").status_code == 302


def test_open_redirect_after_login_is_refused(workbench: Workbench) -> None:
    client = workbench.client(None)
    token = csrf_of(client.get("/login").get_data(as_text=True))
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token,
                                               "next": target})
        assert response.headers["Location"] == "/", target
        token = page_csrf(client)
        client.post("/logout", data={"csrf_token": token})
        token = csrf_of(client.get("/login").get_data(as_text=True))


def test_audit_viewer_is_admin_only(workbench: Workbench) -> None:
    assert workbench.client("analyst").get("/audit").status_code == 403
    page = workbench.client("admin").get("/audit")
    assert page.status_code == 200 and "login.success" in page.get_data(as_text=True)
    assert "/audit" not in workbench.client("analyst").get("/search").get_data(as_text=True)  # not in the nav


def test_a_new_password_or_removal_ends_the_users_sessions(workbench: Workbench) -> None:
    from dashboards.workbench import users

    store = workbench.app.extensions["sokhund_store"]
    client = workbench.client("analyst")
    users.set_password(store, "analyst", "ett helt nytt lösen")
    assert client.get("/search").status_code == 302
    client = login(workbench.app.test_client(), "analyst", "ett helt nytt lösen")
    users.remove(store, "analyst")
    assert client.get("/search").status_code == 302


def test_passwords_are_argon2_hashes(workbench: Workbench) -> None:
    db = sqlite3.connect(workbench.home / "workbench.sqlite")
    hashes = [h for (h,) in db.execute("SELECT password_hash FROM users")]
    db.close()
    assert hashes and all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)


def test_every_response_carries_the_csp(workbench: Workbench) -> None:
    client = workbench.client("analyst")
    for path in ("/search", "/search?q=x", "/login", "/nope", "/listing/missing", "/static/workbench.css"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "'unsafe-inline'" not in csp, path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        if not path.startswith("/static/"):  # shipped CSS may be cached; data never
            assert response.headers["Cache-Control"] == "no-store"
