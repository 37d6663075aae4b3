"""``sokhund``: the one command-line entry point. Each package owns its sub-commands in its own ``cli.py``
(crawler: crawl, sites; indexer: search, vendors; analytics: vendor, trends; alerts; campaigns; tor;
testbed; extractors; dashboards) and the demo lives beside this module; none of them import each other."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Modules that expose ``register(subparsers)``. Import is cheap: heavy imports live in the handlers.
COMMAND_MODULES = (
    "crawler.cli",
    "crawler.adapter_cli",
    "indexer.cli",
    "indexer.es_cli",
    "cli.demo",
    "testbed.cli",
    "extractors.cli",
    "tor.cli",
    "analytics.cli",
    "alerts.cli",
    "campaigns.cli",
    "dashboards.cli",
    "dashboards.evidence_cli",
    "dashboards.export_cli",
    "dashboards.workbench_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sokhund",
        description=(
            "Sökhund watches dark-web and open-web drug markets: crawl sites through site adapters "
            "(over Tor where needed), extract substances/prices/shipping/contacts, index them, and "
            "follow vendors and turnover over time. State lives in $SOKHUND_HOME (default ./.sokhund)."
        ),
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # that part of the product is not installed in this build
            raise
        module.register(sub)
    _add_format_options(parser)
    return parser


FORMATS = ("table", "json", "csv", "tsv", "xlsx")


def _add_format_options(parser: argparse.ArgumentParser) -> None:
    """Every command that prints ``--json`` also offers ``--format csv|xlsx|json`` (full values, built from
    its JSON contract) with ``--out FILE``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _add_format_options(child)
    options = {o for a in parser._actions for o in a.option_strings}
    if "--json" in options and "--format" not in options and "--out" not in options:
        parser.add_argument("--format", dest="output_format", choices=FORMATS, default="table",
                            help="table (default), json, csv, tsv or xlsx: every field, every value in full")
        parser.add_argument("--out", dest="format_out", metavar="FILE",
                            help="with --format: write here (xlsx needs it; csv of several tables: a folder)")


def _run_formatted(args: argparse.Namespace) -> int:
    """Run the command with ``--json`` and turn what it prints into CSV / XLSX / a JSON file."""
    import contextlib
    import io
    from pathlib import Path

    from dashboards.tables import tables_from_json, write_tables

    args.json = True
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = int(args.func(args) or 0)
    out = Path(args.format_out) if args.format_out else None
    if args.output_format == "json":
        if out is None:
            sys.stdout.write(buffer.getvalue())
        else:
            from indexer.outfiles import write_whole

            write_whole(out, buffer.getvalue())
        return code
    written = write_tables(tables_from_json(buffer.getvalue(), args.command), args.output_format, out,
                           sys.stdout)
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    return code


def _reader_left() -> int:
    """``sokhund search … | head -1``: the reader has what it wanted. Exit 0 without a traceback, and
    point stdout at /dev/null so the interpreter's final flush does not complain either."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        if getattr(args, "output_format", "table") != "table":
            return _run_formatted(args)
        return int(args.func(args) or 0)
    except BrokenPipeError:
        return _reader_left()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a readable error instead of a traceback; -v shows the traceback
        if args.verbose:
            raise
        print(f"sokhund {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
