"""Local users: argon2 password hashes, roles analyst and admin. Used by `sokhund users` and the login."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dashboards.workbench.store import Store

ROLES = ("analyst", "admin")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD = 10
_HASHER = PasswordHasher()  # argon2id with the library's current defaults
# Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("not a password of anyone")


class UserError(ValueError):
    pass


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise UserError(f"invalid user name {name!r}: letters, digits, '.', '_', '@', '-' (at most 64)")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")
    return password


def add(store: Store, name: str, role: str, password: str) -> None:
    check_name(name)
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    digest = _HASHER.hash(check_password(password))
    with store.tx() as db:
        if db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
            raise UserError(f"user {name!r} already exists (change the password with `sokhund users passwd`)")
        db.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?)", (name, role, digest, _now(), _now()))


def set_password(store: Store, name: str, password: str) -> None:
    digest = _HASHER.hash(check_password(password))
    with store.tx() as db:
        if not db.execute("UPDATE users SET password_hash = ?, updated_at = ? WHERE name = ?",
                          (digest, _now(), name)).rowcount:
            raise UserError(f"no user {name!r}")
        db.execute("DELETE FROM sessions WHERE user = ?", (name,))  # a new password ends every session


def remove(store: Store, name: str) -> None:
    with store.tx() as db:
        if not db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount:
            raise UserError(f"no user {name!r}")
        db.execute("DELETE FROM sessions WHERE user = ?", (name,))


def list_users(store: Store) -> list[dict[str, str]]:
    return [dict(r) for r in store.query("SELECT name, role, created_at, updated_at FROM users ORDER BY name")]


def role_of(store: Store, name: str) -> str | None:
    rows = store.query("SELECT role FROM users WHERE name = ?", (name,))
    return rows[0]["role"] if rows else None


def verify(store: Store, name: str, password: str) -> str | None:
    """The user's role when the password is right, else None (same work either way)."""
    rows = store.query("SELECT password_hash, role FROM users WHERE name = ?", (name,))
    digest = rows[0]["password_hash"] if rows else _DUMMY_HASH
    try:
        _HASHER.verify(digest, password)
    except (VerificationError, InvalidHashError):
        return None
    if not rows:
        return None
    if _HASHER.check_needs_rehash(digest):
        set_password(store, name, password)
    return rows[0]["role"]
