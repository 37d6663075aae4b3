"""``sokhund search`` / ``vendors`` as an analyst uses them: piped into other tools, with typos, from the
examples in ``--help``. A small real SQLite index in a private ``$SOKHUND_HOME``."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from alerts.channels import alert_text
from cli.main import build_parser, main
from indexer.models import Listing, Vendor
from indexer.sqlite import SQLiteBackend
from tests.index_behaviour import corpus

ROOT = Path(__file__).resolve().parents[2]
LONG_TITLE = "Kokain 5 g " + "mycket ren och fin kvalitet direkt från Colombia " * 3
FINGERPRINTS = [f"{i:X}" * 40 for i in range(10, 15)]  # five full 40-hex fingerprints
SHA = "c0ffee" * 10 + "abcd"  # 64 hex

# Commands whose epilog examples would crawl, serve, start tor or need a world: not run by the test.
NOT_RUN = {"crawl", "demo", "serve", "testbed", "tor", "campaign", "dashboards", "es"}


@pytest.fixture()
def home(sokhund_home: Path) -> Path:
    index = SQLiteBackend(sokhund_home / "index.sqlite")
    docs: list = corpus()
    docs.append(Listing(id=Listing.make_id("svmarket", "long"), site="svmarket", listing_id="long", title=LONG_TITLE,
                        vendor="NordiskKvalitet", substance="cocaine", substance_class="stimulant",
                        capture_sha256=SHA, last_seen="2024-03-05T10:00:00Z"))
    docs.append(Vendor(id=Vendor.make_id("svmarket", "NordiskKvalitet"), site="svmarket", name="NordiskKvalitet",
                       pgp_fingerprints=FINGERPRINTS, first_seen="2024-03-01T08:00:00Z", swedish_score=0.9,
                       capture_sha256=SHA))
    index.upsert(docs)
    index.close()
    return sokhund_home


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_piped_tables_are_full_width(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["search", "kokain"], capsys)
    assert code == 0
    assert any(LONG_TITLE.strip() in line for line in out.splitlines())  # one line, not cut at 80 columns
    code, out, _ = run(["vendors"], capsys)
    line = next(line for line in out.splitlines() if "NordiskKvalitet" in line)
    assert all(fp in line for fp in FINGERPRINTS)  # every fingerprint, each in full


def test_search_table_has_a_substance_column_and_says_n_of_m(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["search", "koks", "--limit", "2"], capsys)
    header = next(line for line in out.splitlines() if "title" in line)
    assert re.search(r"\bsubstance\b", header) and "cocaine" in out
    assert "2 of 3 listings" in err  # listings 1, 3 and the long one
    _, _, err = run(["search", "koks"], capsys)
    assert "3 of 3 listings" in err


def test_tsv_has_every_field_and_full_hashes(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["search", "koks", "--format", "tsv"], capsys)
    lines = out.splitlines()
    header = lines[0].split("\t")
    assert code == 0 and {"id", "title", "substance", "capture_sha256"} <= set(header) and len(lines) == 4
    row = next(dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:] if "long" in line)
    assert row["capture_sha256"] == SHA and row["title"] == LONG_TITLE


def test_head_ends_quietly(sokhund_home: Path) -> None:
    """``sokhund search … | head -1``: more output than a pipe holds, then the reader goes away."""
    index = SQLiteBackend(sokhund_home / "index.sqlite")
    index.upsert([Listing(id=Listing.make_id("s", str(i)), site="s", listing_id=str(i), title=f"Kokain {i} g ren",
                          substance="cocaine") for i in range(3000)])
    index.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for form in (["--json"], ["--format", "tsv"], []):
        proc = subprocess.Popen([sys.executable, "-m", "cli.main", "search", "kokain", "--limit", "3000", *form],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=str(sokhund_home))
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 0, (form, err)
        assert "Traceback" not in err and "Broken pipe" not in err and "BrokenPipe" not in err, form


def test_bad_dates_are_errors(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("2024-13-01", "yesterday", "1/3/2024"):
        with pytest.raises(SystemExit) as stop:
            main(["search", "kokain", "--since", bad])
        assert stop.value.code == 2
        assert "not an ISO date" in capsys.readouterr().err
    assert run(["search", "kokain", "--since", "2024-03-05", "--until", "2024-03-05T23:00:00Z"], capsys)[0] == 0


def test_a_missing_index_is_an_error_and_is_not_created(home: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "typo" / "index.sqlite"
    for argv in (["search", "kokain", "--index", str(missing)], ["vendors", "--index", f"sqlite:///{missing}"],
                 ["evidence", "show", "cap-x", "--index", str(missing)],
                 ["export", "json", "--query", "kokain", "--out", str(tmp_path / "x.json"), "--index", str(missing)]):
        code, out, err = run(argv, capsys)
        assert code == 1 and f"no index at {missing}" in err and not out
    assert not missing.parent.exists()


def test_reading_from_another_directory_says_where_the_index_is_looked_for(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`cd / && sokhund search kokain` after a demo elsewhere: the error names SOKHUND_HOME, and neither a
    read nor `sokhund alerts` leaves a new empty .sokhund (or index) behind in that directory."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.delenv("SOKHUND_HOME", raising=False)
    monkeypatch.delenv("SOKHUND_INDEX_URL", raising=False)
    monkeypatch.chdir(elsewhere)
    for argv in (["search", "kokain"], ["vendors"], ["alerts"], ["search", "kokain"]):
        code, out, err = run(argv, capsys)
        assert code == 1 and "no index at" in err and "SOKHUND_HOME" in err and not out, (argv, err)
    assert list(elsewhere.iterdir()) == []


def test_substance_and_class_options_take_what_analysts_write(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--substance", "kokain"], ["--substance", "Cocaine"], ["--class", "stimulants"]):
        code, out, err = run(["search", *argv, "--format", "tsv"], capsys)
        assert code == 0 and "\tcocaine\t" in out, argv
    with pytest.raises(SystemExit):
        main(["search", "--class", "stimulans"])
    assert "did you mean 'stimulant'?" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["search", "--substance", "kokian"])
    assert "unknown substance 'kokian' (did you mean" in capsys.readouterr().err


def _epilog_examples() -> list[tuple[str, list[str]]]:
    found = []
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                for line in (sub.epilog or "").splitlines():
                    if line.strip().startswith("sokhund "):
                        command = re.split(r"\s{2,}", line.strip())[0]  # what follows is a comment
                        found.append((name, shlex.split(command)[1:]))
    return found


def test_every_help_example_works(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    examples = _epilog_examples()
    assert {"search", "vendors", "trends"} <= {name for name, _ in examples}
    for name, argv in examples:
        if name in NOT_RUN:
            continue
        code, out, err = run(argv, capsys)
        assert code == 0, (argv, err)
        assert "error" not in err, (argv, err)


def test_signals_are_text_not_python_reprs() -> None:
    alert = {"rule": "watchlist", "title": "post", "details": {"swedish_signals": [
        {"signal": "swish", "weight": 0.6, "evidence": "Swish"}, "ships_from_se: skickas från Sverige"]}}
    text = alert_text(alert)
    assert "swedish_signals: swish (0.60): Swish; ships_from_se: skickas från Sverige" in text
    assert "{" not in text and "'signal'" not in text
