"""``sokhund tor …``: the private Tor network for the demo, and a Tor health check.

    sokhund tor testnet up --service flugsvamp=127.0.0.1:8081 --service forum=127.0.0.1:8082
    sokhund tor testnet status
    sokhund tor testnet down
    sokhund tor check --control 127.0.0.1:9051      # NEWNYM rate limit, circuits, bootstrap
    sokhund tor onion ADDRESS …                      # validate v3 onion addresses
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _default_dir() -> Path:
    from crawler import paths

    return paths.sub("tor") / "testnet"


def register(subparsers: Any) -> None:
    tor = subparsers.add_parser("tor", help="Tor: private test network, health check, onion validation")
    tor_sub = tor.add_subparsers(dest="tor_command", metavar="TOR_COMMAND")

    testnet = tor_sub.add_parser("testnet", help="a private Tor network on 127.0.0.1 (demo and tests)")
    testnet.add_argument("--dir", type=Path, default=None, help="state directory (default $SOKHUND_HOME/tor/testnet)")
    net_sub = testnet.add_subparsers(dest="testnet_command", metavar="ACTION")
    up = net_sub.add_parser("up", help="boot the network and expose local services as onion services")
    up.add_argument("--service", action="append", default=[], metavar="NAME=HOST:PORT[@ONIONPORT]",
                    help="a local HTTP service to expose (repeat); the onion port defaults to 80")
    up.add_argument("--timeout", type=float, default=55.0, help="seconds per boot attempt (default 55)")
    up.add_argument("--json", action="store_true", help="print the state as JSON")
    up.set_defaults(func=_testnet_up)
    down = net_sub.add_parser("down", help="stop every process of the network (by PID)")
    down.set_defaults(func=_testnet_down)
    status = net_sub.add_parser("status", help="show onions, ports and which processes run")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=_testnet_status)
    testnet.set_defaults(func=lambda args: (testnet.print_help(), 2)[1])

    check = tor_sub.add_parser("check", help="connect to a tor control port and print circuit health")
    check.add_argument("--control", default=None, help="HOST:PORT (default $SOKHUND_TOR_CONTROL or 127.0.0.1:9051)")
    check.add_argument("--password", default=None, help="control password (default: cookie authentication)")
    check.add_argument("--cookie", default=None, help="path of the control auth cookie")
    check.set_defaults(func=_check)

    onion = tor_sub.add_parser("onion", help="validate v3 onion addresses (checksum, version)")
    onion.add_argument("addresses", nargs="+")
    onion.set_defaults(func=_onion)
    tor.set_defaults(func=lambda args: (tor.print_help(), 2)[1])


def _testnet_up(args: argparse.Namespace) -> int:
    from tor.testnet import PrivateTorNetwork, parse_service_spec, status_from_state

    base = args.dir or _default_dir()
    existing, alive = status_from_state(base)
    if existing is not None and any(alive.values()):
        print(f"a private Tor network already runs from {base}; run 'sokhund tor testnet down' first",
              file=sys.stderr)
        return 1
    services = dict(parse_service_spec(spec) for spec in args.service)
    network = PrivateTorNetwork(base, services, owned=False)  # outlives this command; 'down' stops it
    state = network.up(timeout=args.timeout)
    if args.json:
        print(json.dumps(_summary(state), indent=2))
        return 0
    print(f"private Tor network up in {state.boot_seconds:.1f}s (state: {network.state_file})")
    for name in state.onions:
        print(f"  {name:<16} {state.url(name)}")
    print(f"  SOCKS  {state.socks}   (SOKHUND_TOR_SOCKS={state.socks})")
    print(f"  control {state.control}  (SOKHUND_TOR_CONTROL={state.control} SOKHUND_TOR_COOKIE={state.cookie_path})")
    return 0


def _summary(state: Any) -> dict[str, Any]:
    return {
        "onions": state.onions,
        "urls": {name: state.url(name) for name in state.onions},
        "socks": state.socks,
        "control": state.control,
        "cookie": state.cookie_path,
        "pids": {n.name: n.pid for n in state.nodes},
        "boot_seconds": state.boot_seconds,
    }


def _testnet_down(args: argparse.Namespace) -> int:
    from tor.testnet import down_from_state

    base = args.dir or _default_dir()
    killed = down_from_state(base)
    print(f"stopped {len(killed)} tor processes" + (f": {' '.join(map(str, killed))}" if killed else ""))
    return 0


def _testnet_status(args: argparse.Namespace) -> int:
    from tor.testnet import status_from_state, tor_rss_bytes

    base = args.dir or _default_dir()
    state, alive = status_from_state(base)
    if state is None:
        print(f"no private Tor network recorded in {base}")
        return 1
    if args.json:
        print(json.dumps({**_summary(state), "running": alive}, indent=2))
        return 0 if all(alive.values()) else 1
    running = [n for n in state.nodes if alive.get(n.name)]
    rss = tor_rss_bytes([n.pid for n in running if n.pid]) / 2**20
    print(f"private Tor network in {base}: {len(running)}/{len(state.nodes)} processes running, {rss:.0f} MiB RSS")
    for node in state.nodes:
        print(f"  {node.name:<8} {node.role:<9} pid {node.pid or '-':<8} {'running' if alive.get(node.name) else 'STOPPED'}")
    for name in state.onions:
        print(f"  onion {name:<16} {state.url(name)}")
    print(f"  SOCKS {state.socks}  control {state.control}")
    return 0 if all(alive.values()) else 1


def _check(args: argparse.Namespace) -> int:
    import os

    from tor.controller import DEFAULT_CONTROL, TorController

    control = args.control or os.environ.get("SOKHUND_TOR_CONTROL") or DEFAULT_CONTROL
    with TorController.attach(control, password=args.password, cookie_path=args.cookie) as ctl:
        health = ctl.health()
        wait = ctl.controller.get_newnym_wait()
        print(f"tor {ctl.controller.get_version()} at {control}, pid {ctl.pid}")
        print(f"  bootstrap {health.bootstrap_percent}%  open circuits {health.circuits_open}  "
              f"next NEWNYM in {wait:.1f}s")
        for circ in ctl.circuits():
            owner = f" site={circ.socks_username}" if circ.socks_username else ""
            print(f"  circuit {circ.id:>4} {circ.status:<9} {circ.purpose:<16}{owner}")
    return 0


def _onion(args: argparse.Namespace) -> int:
    from tor.onion import OnionAddressError, parse_onion

    bad = 0
    for address in args.addresses:
        try:
            print(f"ok   {parse_onion(address).host}")
        except OnionAddressError as exc:
            bad += 1
            print(f"BAD  {exc}")
    return 1 if bad else 0
