"""`sokhund users add|passwd|remove|list`: scriptable with --password-stdin, no tty."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cli.main import main
from dashboards.workbench import users
from dashboards.workbench.store import Store


def _run(monkeypatch: pytest.MonkeyPatch, argv: list[str], stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(argv)


def test_add_passwd_remove_list(sokhund_home: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(monkeypatch, ["users", "add", "anna", "--role", "admin", "--password-stdin"], "första lösenordet\n") == 0
    store = Store(sokhund_home / "workbench.sqlite")
    assert users.verify(store, "anna", "första lösenordet") == "admin"
    assert _run(monkeypatch, ["users", "add", "anna", "--password-stdin"], "ett annat lösen\n") == 1
    assert "already exists" in capsys.readouterr().err
    assert _run(monkeypatch, ["users", "passwd", "anna", "--password-stdin"], "andra lösenordet\n") == 0
    assert users.verify(store, "anna", "första lösenordet") is None
    assert users.verify(store, "anna", "andra lösenordet") == "admin"
    assert _run(monkeypatch, ["users", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("anna\tadmin\t")
    assert _run(monkeypatch, ["users", "remove", "anna"]) == 0
    assert users.verify(store, "anna", "andra lösenordet") is None
    assert _run(monkeypatch, ["users", "remove", "anna"]) == 1


def test_short_passwords_bad_names_and_roles_are_refused(sokhund_home: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(monkeypatch, ["users", "add", "bo", "--password-stdin"], "kort\n") == 1
    assert "at least" in capsys.readouterr().err
    assert _run(monkeypatch, ["users", "add", "bo/../x", "--password-stdin"], "tillräckligt långt\n") == 1
    with pytest.raises(SystemExit):
        _run(monkeypatch, ["users", "add", "bo", "--role", "root", "--password-stdin"], "tillräckligt långt\n")


def test_without_password_stdin_it_asks_twice(sokhund_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["tillräckligt långt", "något helt annat"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["users", "add", "bo"]) == 1  # the two differ
    answers = iter(["tillräckligt långt", "tillräckligt långt"])
    assert main(["users", "add", "bo"]) == 0


def test_serve_refuses_a_public_address_without_tls(sokhund_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--host", "0.0.0.0"]) == 1
    assert "--tls-cert" in capsys.readouterr().err
    assert main(["serve", "--host", "10.1.2.3", "--tls-cert", "x.pem"]) == 1  # a cert without its key


def test_bind_rules() -> None:
    from dashboards.workbench.server import check_bind

    assert check_bind("127.0.0.1", False, False) is None and check_bind("::1", False, False) is None
    assert check_bind("localhost", False, False) is None
    assert check_bind("192.0.2.7", True, False) is None
    assert "WITHOUT TLS" in check_bind("192.0.2.7", False, True)
    with pytest.raises(ValueError):
        check_bind("192.0.2.7", False, False)
