"""``sokhund es …``: a real local Elasticsearch 8.x cluster on 127.0.0.1 (demo, tests, analysts' laptops).

    sokhund es up [--nodes 3] [--port 9200] [--heap-mb 512] [--security]
    sokhund es status [--json]
    sokhund es down
    sokhund es init [--url URL] [--prefix sokhund] [--no-indices] [--json]

State (node directories, ``cluster.json`` with PIDs and ports) lives in ``$SOKHUND_HOME/es/cluster``
unless ``--home`` names another directory; the distribution is cached once (see indexer.localcluster).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _default_dir() -> Path:
    from crawler import paths

    return paths.sub("es") / "cluster"


def register(subparsers: Any) -> None:
    es = subparsers.add_parser("es", help="a local Elasticsearch 8.x cluster on 127.0.0.1 (demo and tests)")
    es.add_argument("--home", type=Path, default=None,
                    help="cluster state directory (default $SOKHUND_HOME/es/cluster)")
    es_sub = es.add_subparsers(dest="es_command", metavar="ACTION")
    up = es_sub.add_parser("up", help="start the cluster and wait until it is yellow or green")
    up.add_argument("--nodes", type=int, default=1, help="number of nodes (default 1)")
    up.add_argument("--port", type=int, default=None, help="HTTP port of the first node (default: a free one)")
    up.add_argument("--heap-mb", type=int, default=512, help="JVM heap per node in MB (default 512)")
    up.add_argument("--security", action="store_true",
                    help="enable security with file-realm users 'sokhund' (superuser) and 'sokhund_reader'")
    up.add_argument("--password", default="sokhund-secret", help="password of both users (with --security)")
    up.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for health (default 180)")
    up.add_argument("--json", action="store_true", help="print the state as JSON")
    up.set_defaults(func=_up)
    down = es_sub.add_parser("down", help="stop every node (by PID)")
    down.set_defaults(func=_down)
    status = es_sub.add_parser("status", help="show nodes, ports, health and memory")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=_status)
    init = es_sub.add_parser(
        "init", help="install Sökhund's index templates (and plain indices) in a cluster: the writer's setup",
        description="Install the index templates (analyzer chosen from what the cluster can run, data-stream "
        "lifecycle for observations) and create the plain indices. Needs a user allowed to manage index "
        "templates; readers (search, vendors, trends) never need this. Credentials come from "
        "SOKHUND_ES_API_KEY or SOKHUND_ES_USER/SOKHUND_ES_PASSWORD, the CA from SOKHUND_ES_CA.")
    init.add_argument("--url", default=None, help="cluster URL (default $SOKHUND_ES_URL, else the local cluster)")
    init.add_argument("--prefix", default="sokhund", help="index name prefix (default sokhund)")
    init.add_argument("--no-indices", action="store_true", help="templates only; the first write creates indices")
    init.add_argument("--json", action="store_true")
    init.set_defaults(func=_init)
    es.set_defaults(func=lambda args: (es.print_help(), 2)[1])


def _summary(state: Any) -> dict[str, Any]:
    return {
        "url": state.url,
        "cluster_name": state.cluster_name,
        "version": state.version,
        "security": state.security,
        "username": state.username,
        "nodes": [{"name": n.name, "pid": n.pid, "http": n.url, "transport_port": n.transport_port}
                  for n in state.nodes],
        "boot_seconds": state.boot_seconds,
    }


def _up(args: argparse.Namespace) -> int:
    from indexer.localcluster import LocalCluster, LocalClusterError, status_from_state

    base = args.home or _default_dir()
    existing, info = status_from_state(base)
    if existing is not None and any(info["running"].values()):
        print(f"an Elasticsearch cluster already runs from {base} ({existing.url}); run 'sokhund es down' "
              "first", file=sys.stderr)
        return 1
    cluster = LocalCluster(base, nodes=args.nodes, base_http_port=args.port, heap_mb=args.heap_mb,
                           security=args.security, password=args.password,
                           owned=False)  # outlives this command; 'sokhund es down' stops it
    try:
        state = cluster.up(timeout=args.timeout)
    except LocalClusterError as exc:
        print(f"sokhund es up: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(_summary(state), indent=2))
        return 0
    print(f"Elasticsearch {state.version}: {len(state.nodes)} node(s) up in {state.boot_seconds:.1f}s "
          f"(state: {cluster.state_file})")
    for node in state.nodes:
        print(f"  {node.name:<8} {node.url}  transport 127.0.0.1:{node.transport_port}  pid {node.pid}")
    print(f"  SOKHUND_ES_URL={state.url}")
    if state.security:
        print(f"  users: {state.username} (superuser), sokhund_reader (read-only); password {args.password!r}")
    return 0


def _down(args: argparse.Namespace) -> int:
    from indexer.localcluster import down_from_state

    base = args.home or _default_dir()
    stopped = down_from_state(base)
    print(f"stopped {len(stopped)} Elasticsearch node(s)" + (f": {' '.join(map(str, stopped))}" if stopped else ""))
    return 0


def _status(args: argparse.Namespace) -> int:
    from indexer.localcluster import status_from_state

    base = args.home or _default_dir()
    state, info = status_from_state(base)
    if state is None:
        print(f"no Elasticsearch cluster recorded in {base}")
        return 1
    running = info["running"]
    ok = all(running.values()) and info["health"] is not None
    if args.json:
        print(json.dumps({**_summary(state), "running": running, "health": info["health"],
                          "rss_bytes": info["rss_bytes"]}, indent=2))
        return 0 if ok else 1
    health = info["health"] or {}
    print(f"Elasticsearch {state.version} in {base}: {sum(running.values())}/{len(state.nodes)} nodes running, "
          f"health {health.get('status', 'UNREACHABLE')}, {info['rss_bytes'] / 2**20:.0f} MiB RSS")
    for node in state.nodes:
        print(f"  {node.name:<8} {node.url:<24} pid {node.pid or '-':<8} "
              f"{'running' if running.get(node.name) else 'STOPPED'}")
    return 0 if ok else 1


def _init(args: argparse.Namespace) -> int:
    import os

    from indexer.base import IndexError_
    from indexer.elastic import ElasticBackend
    from indexer.localcluster import status_from_state

    url = args.url or os.environ.get("SOKHUND_ES_URL")
    if not url:
        state, _ = status_from_state(args.home or _default_dir())
        url = state.url if state is not None else None
    if not url:
        print("sokhund es init: no cluster: pass --url, set SOKHUND_ES_URL or run 'sokhund es up'", file=sys.stderr)
        return 1
    backend = ElasticBackend(url, prefix=args.prefix)
    try:
        done = backend.init(create_indices=not args.no_indices)
    except IndexError_ as exc:
        print(f"sokhund es init: {exc}", file=sys.stderr)
        return 1
    finally:
        backend.close()
    if args.json:
        print(json.dumps(done, indent=2))
        return 0
    print(f"{done['url']}: {len(done['templates'])} index templates ({done['analysis']} analyzer), "
          f"{len(done['created_indices'])} indices created, data streams {', '.join(done['data_streams'])} "
          f"(created by the first write, retention {done['data_retention']})")
    return 0
