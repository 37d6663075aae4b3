"""``sokhund dashboards``: import the Kibana saved objects, or rebuild them from the index templates."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("dashboards", help="Kibana dashboards: import them into Kibana, or rebuild the file",
                       description="Kibana saved objects for the Elasticsearch backend "
                       "(dashboards/kibana/sokhund.ndjson): data views, trend panels and one dashboard.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    imp = actions.add_parser("import", help="upload the saved objects to Kibana (saved objects import API)")
    imp.add_argument("kibana_url", help="e.g. http://127.0.0.1:5601")
    imp.add_argument("--space", help="Kibana space (default: the default space)")
    imp.add_argument("--no-overwrite", action="store_true", help="keep objects that already exist")
    imp.set_defaults(func=cmd_import)
    build = actions.add_parser("build", help="regenerate dashboards/kibana/sokhund.ndjson")
    build.set_defaults(func=cmd_build)


def cmd_import(args: argparse.Namespace) -> int:
    from dashboards.kibana import import_dashboards

    answer = import_dashboards(args.kibana_url, overwrite=not args.no_overwrite, space=args.space)
    print(json.dumps({k: answer.get(k) for k in ("success", "successCount", "errors") if k in answer}))
    return 0 if answer.get("success") else 1


def cmd_build(args: argparse.Namespace) -> int:
    from dashboards import build

    build.main()
    return 0
