"""``sokhund trends shipments`` on an index it cannot estimate from says why, in words, instead of a table
of zeros that reads like a measured "no letters this week"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from indexer.models import Listing
from indexer.sqlite import SQLiteBackend


def _index(tmp_path: Path, listings: list[Listing]) -> Path:
    path = tmp_path / "index.sqlite"
    backend = SQLiteBackend(path)
    backend.upsert(listings)
    backend.close()
    return path


@pytest.mark.parametrize(("ships_from", "argv", "reason"), [
    (None, [], "the index holds no listings"),
    ("DE", [], "none of the 1 listings ships from SE"),
    ("SE", [], "none of the 1 listings shipping from SE has estimated sales"),
    ("SE", ["--country", "no"], "none of the 1 listings ships from NO"),
])
def test_no_estimate_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str], ships_from: str | None,
                              argv: list[str], reason: str) -> None:
    docs = [] if ships_from is None else [Listing(id=Listing.make_id("s", "1"), site="s", listing_id="1",
                                                  title="Kokain 1 g", ships_from=ships_from)]
    index = _index(tmp_path, docs)
    assert main(["trends", "shipments", "--index", str(index), *argv]) == 0
    out = capsys.readouterr().out
    assert f"no estimate: {reason}" in out
    assert "total letter" not in out
    assert main(["trends", "shipments", "--index", str(index), "--json", *argv]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["rows"] == [] and data["basis"]["listings"] == len(docs)
