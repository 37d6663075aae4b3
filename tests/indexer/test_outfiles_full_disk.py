"""Exports and plots on a full disk (a real ENOSPC on a tiny tmpfs): an error that names the file, exit 1,
and no short file left behind that would look like a complete export."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main
from indexer.models import Listing
from indexer.sqlite import SQLiteBackend
from tests.faults import fill, tiny_disk


@pytest.fixture()
def index(tmp_path: Path) -> Path:
    path = tmp_path / "index.sqlite"
    backend = SQLiteBackend(path)
    backend.upsert([Listing(id=Listing.make_id("s", str(i)), site="s", listing_id=str(i),
                            title=f"Kokain {i} g " + "ren och fin " * 20, substance="cocaine") for i in range(300)])
    backend.close()
    return path


@pytest.mark.parametrize("fmt", ["tsv", "csv", "xlsx", "json"])
def test_exports_on_a_full_disk_leave_nothing(tmp_path: Path, index: Path, capsys: pytest.CaptureFixture[str],
                                              fmt: str) -> None:
    with tiny_disk(tmp_path / "disk", 64) as disk:
        filler = fill(disk, leave_bytes=8192)
        out = disk / f"export.{fmt}"
        assert main(["search", "kokain", "--limit", "300", "--index", str(index), "--format", fmt,
                     "--out", str(out)]) == 1
        err = capsys.readouterr().err
        assert "cannot write" in err and "No space left on device" in err and "nothing was written" in err
        assert "Traceback" not in err and "[Errno" not in err
        assert sorted(p.name for p in disk.iterdir()) == [filler.name]  # no short file, no temporary file


def test_plot_on_a_full_disk_leaves_nothing(tmp_path: Path, index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with tiny_disk(tmp_path / "disk", 64) as disk:
        filler = fill(disk, leave_bytes=1024)
        assert main(["trends", "--index", str(index), "--plot", str(disk / "p.png")]) == 1
        assert f"cannot write {disk / 'p.png'}" in capsys.readouterr().err
        assert sorted(p.name for p in disk.iterdir()) == [filler.name]
