"""`sokhund demo`, the main job, run as a user runs it (a subprocess with its own data directory)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.demo import _prepare_home


@pytest.mark.slow
def test_demo_two_days(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "SOKHUND_HOME": str(home), "COLUMNS": "160"}
    proc = subprocess.run([sys.executable, "-m", "cli.main", "demo", "--days", "2"], env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "what each simulated day's crawl saw" in out
    assert "2026-09-01" in out and "2026-09-02" in out
    assert "sokhund users add admin --role admin" in out and "sokhund serve" in out  # how to open the workbench
    plots = sorted((home / "demo").glob("*.png"))
    assert len(plots) >= 4 and all(p.read_bytes()[:4] == b"\x89PNG" for p in plots)
    assert (home / "demo" / "truth").is_dir()

    from indexer.sqlite import SQLiteBackend

    index = SQLiteBackend(home / "index.sqlite")
    runs = list(index.iter_docs("campaign_run"))
    assert len(runs) == 2 and {r["status"] for r in runs} == {"ok"}
    assert all(r["stats"]["pages"] > 500 for r in runs)
    day0, day1 = sorted(runs, key=lambda r: r["as_of"])
    assert all(c["complete"] for c in day0["stats"]["coverage"].values())  # day 0 is every site's baseline
    assert day0["stats"]["new_vendors"] == 0  # as the demo's table says (it printed 86 in history before)
    assert index.count("listing") > 700 and index.count("post") > 200
    # the search the README suggests finds Swedish cocaine listings
    search = subprocess.run([sys.executable, "-m", "cli.main", "search", "kokain", "--json"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert search.returncode == 0 and search.stdout.count("\n") >= 5


def test_demo_refuses_a_home_with_other_crawls(sokhund_home: Path) -> None:
    (sokhund_home / "index.sqlite").write_bytes(b"")
    with pytest.raises(RuntimeError, match="holds other crawls"):
        _prepare_home()


def test_demo_resets_its_own_home(sokhund_home: Path) -> None:
    _prepare_home()
    (sokhund_home / "index.sqlite").write_bytes(b"old demo")
    (sokhund_home / "warc").mkdir()
    _prepare_home()
    assert sorted(p.name for p in sokhund_home.iterdir()) == ["DEMO"]


def test_demo_reset_keeps_the_workbench_users(sokhund_home: Path) -> None:
    from dashboards.workbench import users
    from dashboards.workbench.store import Store

    users.add(Store(sokhund_home / "workbench.sqlite"), "anna", "admin", "ett långt lösenord")
    _prepare_home()  # a home with only workbench users is not "other crawls"
    (sokhund_home / "index.sqlite").write_bytes(b"old demo")
    _prepare_home()
    assert not (sokhund_home / "index.sqlite").exists()
    assert [u["name"] for u in users.list_users(Store(sokhund_home / "workbench.sqlite"))] == ["anna"]


def test_demo_ends_with_how_to_open_the_workbench(sokhund_home: Path) -> None:
    import io

    from rich.console import Console

    from cli.demo import _print_workbench_hint
    from dashboards.workbench import users
    from dashboards.workbench.store import Store

    buffer = io.StringIO()
    _print_workbench_hint(Console(file=buffer, width=200), None)
    assert "users add admin --role admin" in buffer.getvalue() and "sokhund serve " in buffer.getvalue()
    assert f"SOKHUND_HOME={sokhund_home}" in buffer.getvalue()
    users.add(Store(sokhund_home / "workbench.sqlite"), "anna", "admin", "ett långt lösenord")
    buffer = io.StringIO()
    _print_workbench_hint(Console(file=buffer, width=200), "http://127.0.0.1:9200")
    assert "users add" not in buffer.getvalue() and "sokhund serve --index http://127.0.0.1:9200" in buffer.getvalue()
