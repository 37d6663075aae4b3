"""``sokhund alerts``: list, acknowledge, evaluate and deliver alerts; manage the watch-list."""

from __future__ import annotations

import argparse
import json
from typing import Any

from indexer.terminal import json_line, printable, signal_text

WATCH_KINDS = ("keyword", "substance", "pgp", "crypto", "contact")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "alerts",
        help="list alerts, acknowledge them, manage watch-lists",
        description="Alerts fire once per (rule, entity) and carry their evidence (captures + sha256). "
        "Without a subcommand: list unacknowledged alerts, newest first. Rules and channels: "
        "alerts/data/alert_rules.yaml, overridden by $SOKHUND_HOME/alerts/rules.yaml.",
    )
    p.add_argument("--json", action="store_true", help="one JSON alert per line")
    p.add_argument("--all", action="store_true", help="include acknowledged alerts")
    p.add_argument("--rule", help="only this rule (a prefix like 'watchlist' covers its entries)")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--index", help="index URL (default: embedded SQLite)")
    p.set_defaults(func=cmd_list)
    s = p.add_subparsers(dest="alerts_command", metavar="SUBCOMMAND")

    q = s.add_parser("ack", help="acknowledge alerts by id (or unique id prefix)")
    q.add_argument("ids", nargs="+", metavar="ID")
    q.add_argument("--index", help="index URL (default: embedded SQLite)")
    q.set_defaults(func=cmd_ack)

    q = s.add_parser("evaluate", help="evaluate the rules over the index now and deliver pending alerts")
    q.add_argument("--rule", action="append", dest="rules", help="only this rule (repeatable)")
    q.add_argument("--rules-file", help="alert rules YAML (default: $SOKHUND_HOME/alerts/rules.yaml)")
    q.add_argument("--index", help="index URL (default: embedded SQLite)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_evaluate)

    q = s.add_parser("deliver", help="retry pending deliveries in the outbox now")
    q.add_argument("--rules-file", help="alert rules YAML")
    q.set_defaults(func=cmd_deliver)

    q = s.add_parser("rules", help="show the effective rules and channels (validates the YAML)")
    q.add_argument("--rules-file", help="alert rules YAML")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_rules)

    w = s.add_parser("watch", help="watch-list: keywords, substances, PGP fingerprints, crypto addresses, contacts")
    ws = w.add_subparsers(dest="watch_command", metavar="ACTION", required=True)
    a = ws.add_parser("add", help="watch a value; retro-hunts the whole index for earlier matches")
    a.add_argument("--kind", required=True, choices=WATCH_KINDS)
    a.add_argument("value")
    a.add_argument("--note", default="", help="why it is watched (kept with the entry)")
    a.add_argument("--no-retro", action="store_true", help="do not search the existing index now")
    a.add_argument("--index", help="index URL (default: embedded SQLite)")
    a.add_argument("--rules-file", help="alert rules YAML")
    a.set_defaults(func=cmd_watch_add)
    r = ws.add_parser("remove", help="stop watching a value (alerts already fired stay)")
    r.add_argument("--kind", required=True, choices=WATCH_KINDS)
    r.add_argument("value")
    r.set_defaults(func=cmd_watch_remove)
    ls = ws.add_parser("list", help="list watched values")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_watch_list)


def _backend(args: argparse.Namespace, must_exist: bool = False) -> Any:
    from indexer.base import open_backend

    return open_backend(getattr(args, "index", None), must_exist=must_exist)


def _short(alert: dict[str, Any]) -> str:
    flag = "ack" if alert.get("acknowledged") else "NEW"
    return printable(f"{alert['id']}  {flag:3}  {alert.get('fired_at', '')[:19]}  {alert.get('rule')}: {alert.get('title')}")


def cmd_list(args: argparse.Namespace) -> int:
    from alerts.evaluate import list_alerts
    from alerts.outbox import Outbox

    backend = _backend(args, must_exist=True)  # listing only reads: never create an empty index
    try:
        alerts = list_alerts(backend, include_acknowledged=args.all, rule=args.rule, limit=args.limit)
    finally:
        backend.close()
    with Outbox() as outbox:
        for alert in alerts:
            alert["delivery"] = outbox.status(alert["id"])
    if args.json:
        for alert in alerts:
            print(json_line(alert))
        return 0
    if not alerts:
        print("no alerts" + ("" if args.all else " (unacknowledged; --all shows every alert)"))
        return 0
    for alert in alerts:
        print(_short(alert))
        details = alert.get("details") or {}
        if details.get("swedish_signals"):
            print(printable(f"    signals: {'; '.join(map(signal_text, details['swedish_signals']))}"))
        for ev in (alert.get("evidence") or [])[:2]:
            print(printable(f"    evidence: {ev.get('capture_id')} sha256={ev.get('sha256', '')} {ev.get('url', '')}"))
        pending = [c for c, d in alert["delivery"].items() if d["state"] != "sent"]
        if pending:
            print(f"    delivery pending: {', '.join(pending)}")
    return 0


def cmd_ack(args: argparse.Namespace) -> int:
    from alerts.evaluate import acknowledge

    backend = _backend(args)
    try:
        for alert_id in args.ids:
            alert = acknowledge(backend, alert_id)
            print(printable(f"acknowledged {alert.id}: {alert.title}"))
    finally:
        backend.close()
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from alerts.evaluate import evaluate
    from alerts.rules import load_config

    config = load_config(args.rules_file)
    backend = _backend(args)
    try:
        result = evaluate(backend, rules=args.rules, config=config)
    finally:
        backend.close()
    if args.json:
        print(json.dumps({"fired": [a.id for a in result.fired], "delivery": result.delivery.as_dict()}))
    else:
        print(f"{len(result.fired)} new alert(s); deliveries: {result.delivery.sent} sent, "
              f"{result.delivery.failed} failed (kept in the outbox), {result.delivery.kept} waiting for a channel")
    return 0


def cmd_deliver(args: argparse.Namespace) -> int:
    from alerts.evaluate import deliver
    from alerts.rules import load_config

    report = deliver(load_config(args.rules_file))
    print(f"deliveries: {report.sent} sent, {report.failed} failed (kept), {report.kept} waiting for a channel")
    for error in report.errors[:5]:
        print(f"  {error}")
    return 1 if report.failed else 0


def cmd_rules(args: argparse.Namespace) -> int:
    from alerts.rules import load_config

    config = load_config(args.rules_file)
    if args.json:
        print(json.dumps(config.model_dump(by_alias=True), ensure_ascii=False, indent=2))
        return 0
    print(f"sources: {', '.join(config.sources)}")
    for rule in config.rules:
        state = "on " if rule.enabled else "off"
        extra = {"new_vendor": lambda r: f"min_swedish_score={r.min_swedish_score}",
                 "ships_from_change": lambda r: f"country={r.country}",
                 "watchlist": lambda r: f"{len(r.entries)} inline entries, file={r.use_watchlist_file}"}[rule.type](rule)
        print(f"rule    {state} {rule.name:24} {rule.type:18} {extra} -> {', '.join(config.channels_for(rule))}")
    for ch in config.channels:
        print(f"channel {'on ' if ch.enabled else 'off'} {ch.name:24} {ch.type}")
    return 0


def cmd_watch_add(args: argparse.Namespace) -> int:
    from alerts.evaluate import retro_hunt
    from alerts.rules import add_watch, load_config

    config = load_config(args.rules_file)  # validate before changing anything
    entry, added = add_watch(args.kind, args.value, args.note)
    shown = entry.value if entry.norm.casefold() == entry.value.casefold() else f"{entry.value} (matched as {entry.norm})"
    print(f"{'watching' if added else 'already watched'}: {entry.kind} {shown}")
    if args.no_retro:
        return 0
    backend = _backend(args)
    try:
        fired = retro_hunt(backend, entry, config=config)
    finally:
        backend.close()
    print(f"retro-hunt: {len(fired)} earlier match(es) alerted")
    return 0


def cmd_watch_remove(args: argparse.Namespace) -> int:
    from alerts.rules import remove_watch

    if not remove_watch(args.kind, args.value):
        print(f"not watched: {args.kind} {args.value}")
        return 1
    print(f"removed: {args.kind} {args.value}")
    return 0


def cmd_watch_list(args: argparse.Namespace) -> int:
    from alerts.rules import load_watchlist

    entries = load_watchlist()
    if args.json:
        for e in entries:
            print(json.dumps(e.model_dump(), ensure_ascii=False))
        return 0
    if not entries:
        print("watch-list is empty; add with: sokhund alerts watch add --kind keyword VALUE")
    for e in entries:
        print(f"{e.kind:9} {e.value}  {e.added_at}  {e.note}".rstrip())
    return 0
