"""Fixtures for workbench tests: an app on a private $SOKHUND_HOME (its own index and workbench.sqlite),
users with known passwords, and logged-in test clients."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from dashboards.workbench import users
from dashboards.workbench.app import create_app
from dashboards.workbench.config import WorkbenchConfig
from indexer.base import IndexBackend, open_backend

ROOT = Path(__file__).resolve().parents[3]  # the checkout: cwd and PYTHONPATH of `sokhund serve` subprocesses
PASSWORD = "rätt häst batteri"  # long enough for users.MIN_PASSWORD
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def login(client: FlaskClient, name: str, password: str = PASSWORD) -> FlaskClient:
    """Log ``client`` in the way a browser does (GET the form for its CSRF token, POST it)."""
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": name, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def page_csrf(client: FlaskClient, path: str = "/search") -> str:
    """The logged-in session's CSRF token, as any page's forms carry it."""
    return csrf_of(client.get(path).get_data(as_text=True))


@dataclass
class Workbench:
    app: Flask
    home: Path

    def client(self, user: str | None = "analyst") -> FlaskClient:
        """A test client, logged in as ``user`` ("analyst" or "admin" exist), or anonymous with None."""
        client = self.app.test_client()
        return login(client, user) if user else client

    def backend(self) -> IndexBackend:
        return open_backend()


@pytest.fixture()
def workbench(sokhund_home: Path) -> Iterator[Workbench]:
    open_backend().close()  # an (empty) index exists, as after a first crawl: reads never create one
    app = create_app(WorkbenchConfig(testing=True))
    store = app.extensions["sokhund_store"]
    users.add(store, "analyst", "analyst", PASSWORD)
    users.add(store, "admin", "admin", PASSWORD)
    yield Workbench(app, sokhund_home)
    store.close()
