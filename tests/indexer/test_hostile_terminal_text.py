"""Crawled text is hostile in the terminal too: a vendor name or title with rich markup (``[/x]``,
``[link=…]``, ``[bold]``) or raw ANSI/OSC escape codes is printed literally, with control characters made
visible, by every command (search, vendors, vendor, trends, alerts) and channel (stdout, e-mail body)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alerts.channels import SmtpChannel, alert_text
from alerts.evaluate import evaluate
from alerts.rules import SmtpChannelConfig
from cli.main import main
from indexer.base import open_backend
from indexer.terminal import is_printable, json_line, printable
from tests.alerts_support import crawl_docs

# clear screen, set the window title (OSC 0), an OSC 8 hyperlink, an 8-bit CSI, a bidi override, a newline
HOSTILE = "Säljare[/x][bold]\x1b[2J\x1b]0;pwn\x07\x9b31m\u202eX\nfake"
TITLE = "[link=http://evil.example]klick[/link] \x1b]8;;http://evil.example\x1b\\här\x1b]8;;\x1b\\"
DAY1, DAY2 = "2026-09-01T06:00:00+00:00", "2026-09-02T06:00:00+00:00"


def _assert_literal(out: str) -> None:
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out and "\u202e" not in out
    assert "Säljare[/x][bold]" in out  # markup brackets shown as typed, not interpreted or dropped
    assert "\\x1b[2J" in out and "\\x07" in out  # the escape codes are visible


@pytest.fixture()
def hostile_index(sokhund_home: Path) -> Path:
    backend = open_backend()
    try:
        crawl_docs(backend, "flugsvamp", "r1", DAY1, vendors=[{"name": "gammal", "swedish_score": 0.9}])
        crawl_docs(backend, "flugsvamp", "r2", DAY2,
                   vendors=[{"name": HOSTILE, "swedish_score": 0.9, "swedish_signals": ["sek\x1b[8m"]}],
                   listings=[{"listing_id": "L1", "vendor": HOSTILE, "title": TITLE, "price": 100.0,
                              "currency": "SEK", "substance": "cocaine", "substance_class": "stimulants"}])
    finally:
        backend.close()
    return sokhund_home


def test_printable_makes_controls_visible_and_leaves_text_alone() -> None:
    assert printable("Grönbrevet52 [kokain]") == "Grönbrevet52 [kokain]"
    assert printable("a\x1b[2Jb\nc\u202ed\x9b") == "a\\x1b[2Jb\\x0ac\\u202ed\\x9b"
    assert printable("\ud800") == "\\ud800"  # a lone surrogate would make print() raise
    assert is_printable(printable(HOSTILE + TITLE))
    line = json_line({"name": HOSTILE})
    assert json.loads(line) == {"name": HOSTILE} and is_printable(line.replace("\\", ""))


@pytest.mark.parametrize("argv", [["search", "klick"], ["search", "--kind", "vendor", "Säljare"], ["vendors"]],
                         ids=["search", "search-vendor", "vendors"])
def test_search_and_vendors_print_hostile_names_literally(hostile_index: Path, argv: list[str],
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # one row per line, so the name is not wrapped
    assert main(argv) == 0
    out = capsys.readouterr().out
    _assert_literal(out)
    if argv[0] == "search" and "--kind" not in argv:
        assert "[link=http://evil.example]klick[/link]" in out


def test_search_json_keeps_values_and_escapes_terminal_codes(hostile_index: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "klick", "--json"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x9b" not in out and "\u202e" not in out
    row = json.loads(out.splitlines()[0])
    assert row["vendor"] == HOSTILE and row["title"] == TITLE  # the contract's values are unchanged


def test_vendor_and_trends_print_hostile_names_literally(hostile_index: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["vendor", HOSTILE]) == 0
    out = capsys.readouterr().out
    _assert_literal(out)
    assert "\\x1b[8m" in out  # a Swedish signal from the page, too
    assert main(["trends", "--by", "vendor", "--period", "day"]) == 0
    _assert_literal(capsys.readouterr().out)


def test_alerts_list_stdout_channel_and_email_body_are_literal(hostile_index: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    backend = open_backend()
    try:
        fired = evaluate(backend, "r2").fired  # the built-in stdout channel prints each alert
    finally:
        backend.close()
    assert fired, "the hostile Swedish vendor should fire new_swedish_vendor"
    _assert_literal(capsys.readouterr().out)
    assert main(["alerts"]) == 0
    _assert_literal(capsys.readouterr().out)
    alert = fired[0].to_dict()
    assert is_printable(alert_text(alert).replace("\n", ""))
    channel = SmtpChannel(SmtpChannelConfig.model_validate(
        {"name": "mail", "type": "smtp", "host": "127.0.0.1", "from": "a@example.org", "to": ["b@example.org"]}))
    msg = channel.message(alert)
    body = msg.get_body(("plain",)).get_content()
    _assert_literal(body)
    assert "\n" not in str(msg["Subject"]) and "\x1b" not in str(msg["Subject"])


def test_evidence_show_prints_the_facts_citing_a_capture_literally(hostile_index: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """`sokhund evidence show CAP` lists the facts a capture supports by their crawled titles: a bidi override
    there (the testbed's `\u202egpj.exe` listing) turned the rest of the line around on the terminal."""
    main(["search", "klick", "--json"])
    listing = json.loads(capsys.readouterr().out.splitlines()[0])
    assert main(["evidence", "show", listing["capture_id"]]) == 0
    out = capsys.readouterr().out
    assert "\u202e" not in out and "\x1b" not in out and "\\x1b]8;;" in out
    assert main(["evidence", "show", open_backend().get("vendor", next(iter(
        d["id"] for d in open_backend().iter_docs("vendor") if d["name"] == HOSTILE)))["capture_id"]]) == 0
    _assert_literal(capsys.readouterr().out)
