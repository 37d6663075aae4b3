"""What a hostile value does to ``--format tsv|csv`` and what a wrong ``--index`` does: TSV stays one
reversible line per row (a literal ``\\x09`` in a value is not a tab), CSV carries no terminal escape codes,
and a zero-byte file given as the index is refused, never turned into a new empty index."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from cli.main import main
from indexer.models import Listing
from indexer.sqlite import SQLiteBackend

TITLE = "Kokain\tA\nB \x1b]0;owned\x07 \x1b[31mRED\x1b[0m"
VENDOR = "back\\x09slash"  # the text backslash-x-0-9, not a tab


@pytest.fixture()
def index(tmp_path: Path) -> Path:
    path = tmp_path / "index.sqlite"
    backend = SQLiteBackend(path)
    backend.upsert([Listing(id=Listing.make_id("s", "1"), site="s", listing_id="1", title=TITLE, vendor=VENDOR,
                            substance="cocaine")])
    backend.close()
    return path


def _unescape_tsv(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\" and value[i + 1] == "\\":
            out.append("\\")
            i += 2
        elif value[i] == "\\" and value[i + 1] == "x":
            out.append(chr(int(value[i + 2:i + 4], 16)))
            i += 4
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def test_tsv_escapes_are_reversible(index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "kokain", "--index", str(index), "--format", "tsv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    row = dict(zip(lines[0].split("\t"), lines[1].split("\t"), strict=True))
    assert "\x1b" not in lines[1]
    assert _unescape_tsv(row["title"]) == TITLE
    assert _unescape_tsv(row["vendor"]) == VENDOR


def test_csv_carries_no_terminal_escapes(index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "kokain", "--index", str(index), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    row = next(csv.DictReader(io.StringIO(out)))
    assert row["title"] == "Kokain\tA\nB \\x1b]0;owned\\x07 \\x1b[31mRED\\x1b[0m"  # tab, newline quoted by CSV


def test_a_zero_byte_index_is_refused_and_left_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "index.sqlite"
    empty.write_bytes(b"")
    for argv in (["search", "kokain"], ["vendors"], ["trends", "shipments"]):
        assert main([*argv, "--index", str(empty)]) == 1
        assert f"no index at {empty} (an empty file)" in capsys.readouterr().err
    assert empty.stat().st_size == 0
