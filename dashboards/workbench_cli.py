"""``sokhund serve`` (the analyst workbench in the browser) and ``sokhund users add|passwd|remove|list``
(its local logins)."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="the analyst workbench in the browser (http://127.0.0.1:8800/)",
                       description="Serve the workbench: search, listings, vendors, alerts, trends and the evidence "
                       "viewer over the index. Log in with a user from `sokhund users add`. Binds to 127.0.0.1; "
                       "another address needs --tls-cert/--tls-key or --insecure-bind.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8800)
    p.add_argument("--index", help="index URL (default: embedded SQLite; es or https://es-host:9200)")
    p.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate (chain)")
    p.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    p.add_argument("--insecure-bind", action="store_true",
                   help="allow a non-loopback address without TLS (behind a TLS proxy only)")
    p.add_argument("--idle-minutes", type=int, default=30, help="a session unused this long ends (default 30)")
    p.add_argument("--session-hours", type=int, default=12, help="every session ends after this (default 12)")
    p.set_defaults(func=cmd_serve)

    u = sub.add_parser("users", help="workbench logins: add, passwd, remove, list",
                       description="Local users of the workbench (argon2 password hashes in "
                       "$SOKHUND_HOME/workbench.sqlite). Roles: analyst, admin (admins also see the audit trail).")
    actions = u.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add a user",
                             description="e.g. echo \"$PW\" | sokhund users add anna --role analyst --password-stdin")
    add.add_argument("name")
    add.add_argument("--role", choices=["analyst", "admin"], default="analyst")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    add.set_defaults(func=cmd_users_add)
    pw = actions.add_parser("passwd", help="set a user's password (ends the user's sessions)")
    pw.add_argument("name")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    pw.set_defaults(func=cmd_users_passwd)
    rm = actions.add_parser("remove", help="remove a user (ends the user's sessions; the audit trail stays)")
    rm.add_argument("name")
    rm.set_defaults(func=cmd_users_remove)
    ls = actions.add_parser("list", help="the users and their roles")
    ls.set_defaults(func=cmd_users_list)


def _store() -> Any:
    from dashboards.workbench.config import WorkbenchConfig
    from dashboards.workbench.store import Store

    return Store(WorkbenchConfig().resolved_store_path())


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the passwords differ")
    return first


def cmd_users_add(args: argparse.Namespace) -> int:
    from dashboards.workbench import users

    users.add(_store(), args.name, args.role, _password(args))
    print(f"added {args.name} ({args.role})")
    return 0


def cmd_users_passwd(args: argparse.Namespace) -> int:
    from dashboards.workbench import users

    users.set_password(_store(), args.name, _password(args))
    print(f"password of {args.name} changed; their sessions ended")
    return 0


def cmd_users_remove(args: argparse.Namespace) -> int:
    from dashboards.workbench import users

    users.remove(_store(), args.name)
    print(f"removed {args.name}")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    from dashboards.workbench import users

    for row in users.list_users(_store()):
        print(f"{row['name']}\t{row['role']}\tcreated {row['created_at']}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from dashboards.workbench import server
    from dashboards.workbench.backend import open_index
    from dashboards.workbench.config import WorkbenchConfig

    if bool(args.tls_cert) != bool(args.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    warning = server.check_bind(args.host, bool(args.tls_cert), args.insecure_bind)
    if warning:
        print(warning, file=sys.stderr)
    open_index(args.index).close()  # a wrong --index fails now, not on the first page
    config = WorkbenchConfig(index_url=args.index, tls=bool(args.tls_cert), idle_timeout_s=args.idle_minutes * 60,
                             absolute_timeout_s=args.session_hours * 3600)
    if not _store().query("SELECT 1 FROM users LIMIT 1"):
        print("no workbench user yet: add one with `sokhund users add NAME --role admin`", file=sys.stderr)
    server.serve(config, args.host, args.port, args.tls_cert, args.tls_key)
    return 0
