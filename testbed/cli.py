"""``sokhund testbed``: serve the simulated markets, advance simulated time, export the ground truth."""

from __future__ import annotations

import argparse
import json
import signal
import time
import urllib.request
from pathlib import Path

from testbed.gate import DEFAULT_RATE_LIMIT

EPILOG = """\
The testbed is a simulated drug-market world (Swedish market "flugsvamp", international market
"nordbazaar", forum "snackis", JS shop "tillskott") served on 127.0.0.1, deterministic from a seed,
with ground truth for scoring. State (seed, day) lives in $SOKHUND_HOME/testbed/state.json, so
`serve` and `advance` in different terminals agree. Day 0 is --start-date (default 2026-09-01).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("testbed", help="simulated markets with ground truth (for demo and tests)",
                                   description=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="testbed_command", metavar="SUBCOMMAND")

    serve = sub.add_parser("serve", help="serve all testbed sites in the foreground (Ctrl-C stops)",
                           description="Serve the four testbed sites on 127.0.0.1 and print their URLs and the "
                           "session cookies to paste into config. Resumes the saved day for the same seed.")
    _world_options(serve)
    serve.add_argument("--port-base", type=int, default=None,
                       help="flugsvamp on PORT, nordbazaar PORT+1, snackis PORT+2, tillskott PORT+3 "
                       "(default: ephemeral ports)")
    serve.add_argument("--days-ahead", type=int, default=0, help="advance this many days before serving")
    serve.add_argument("--no-ddos", action="store_true", help="switch off the DDoS-queue interstitial")
    serve.add_argument("--ddos-delay", type=float, default=1.0, help="seconds the DDoS queue makes you wait")
    serve.add_argument("--rate-limit", type=float, default=DEFAULT_RATE_LIMIT,
                       help=f"requests/s per site before HTTP 429 (token bucket, burst 2x; 0 = off; "
                       f"default {DEFAULT_RATE_LIMIT:g})")
    serve.add_argument("--reset", action="store_true", help="start again at day 0 instead of resuming")
    serve.set_defaults(func=cmd_serve)

    adv = sub.add_parser("advance", help="move simulated time on by N days",
                         description="Advance the world: talks to a running `testbed serve` (admin endpoint on "
                         "127.0.0.1) or, when none runs, updates the saved state.")
    adv.add_argument("--days", type=int, default=1, help="days to advance (default 1)")
    adv.set_defaults(func=cmd_advance)

    tru = sub.add_parser("truth", help="write the ground truth (JSONL + CSV) for the saved day",
                         description="Write sales, listings, vendors, identities, active, feedback, posts "
                         "(.jsonl and .csv) and meta.json for the world at its saved day.")
    tru.add_argument("--out", type=Path, required=True, help="output directory")
    tru.set_defaults(func=cmd_truth)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def _world_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=7, help="world seed (default 7)")
    parser.add_argument("--start-date", default="2026-09-01", help="date of day 0 (default 2026-09-01)")
    parser.add_argument("--new-swedish-vendor-day", type=int, default=3,
                        help="day the new Swedish vendor appears on flugsvamp (default 3)")


def _state_dir() -> Path:
    from crawler import paths

    return paths.testbed_dir()


def _saved() -> dict:
    from testbed.server import load_state

    saved = load_state(_state_dir())
    if not saved:
        raise RuntimeError("no testbed state yet: run `sokhund testbed serve` first")
    return saved


def _from_saved():  # noqa: ANN202 - returns a Testbed (lazy import)
    from testbed.server import Testbed

    cfg = _saved()["config"]
    return Testbed(seed=cfg["seed"], start_date=cfg["start_date"], state_dir=_state_dir(),
                   new_swedish_vendor_day=cfg["new_swedish_vendor_day"], prehistory_days=cfg["prehistory_days"])


def cmd_serve(args: argparse.Namespace) -> int:
    from testbed.server import Testbed

    tb = Testbed(seed=args.seed, start_date=args.start_date, state_dir=_state_dir(),
                 rate_limit=args.rate_limit or None, ddos=not args.no_ddos, ddos_delay=args.ddos_delay,
                 new_swedish_vendor_day=args.new_swedish_vendor_day, port_base=args.port_base,
                 resume=not args.reset)
    if args.days_ahead:
        tb.advance(args.days_ahead)

    def _term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    tb.start()
    print(f"testbed seed {args.seed}: day {tb.day} = {tb.today}")
    for site, url in tb.urls.items():
        print(f"  {site:<11} {url}")
        print(f"  {'':<11} export SOKHUND_SITE_{site.upper()}_URL={url}")
    for site, cookies in tb.session_cookies.items():
        print(f"  session cookie {site}: " + "; ".join(f"{k}={v}" for k, v in cookies.items()))
    print("advance with `sokhund testbed advance --days N` (or POST /__admin/advance). Ctrl-C stops.", flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        print("stopping")
    finally:
        tb.stop()
    return 0


def cmd_advance(args: argparse.Namespace) -> int:
    server = _state_dir() / "server.json"
    if server.exists():
        try:
            url = json.loads(server.read_text(encoding="utf-8"))["urls"]["flugsvamp"]
            req = urllib.request.Request(f"{url}/__admin/advance?days={args.days}", method="POST", data=b"")
            with urllib.request.urlopen(req, timeout=30) as resp:
                state = json.loads(resp.read())
            print(f"running testbed advanced to day {state['day']} = {state['today']}")
            return 0
        except (OSError, KeyError, ValueError):
            pass  # stale server.json: fall back to the saved state
    tb = _from_saved()
    tb.advance(args.days)
    print(f"saved testbed advanced to day {tb.day} = {tb.today}")
    return 0


def cmd_truth(args: argparse.Namespace) -> int:
    tb = _from_saved()
    written = tb.write_truth(args.out)
    print(f"truth for day {tb.day} ({tb.today}): {len(written)} files in {args.out}")
    return 0
