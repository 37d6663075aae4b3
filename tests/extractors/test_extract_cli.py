"""The ``sokhund extract`` command: JSON contract on --text, --stdin and --page."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cli.main import main
from extractors.base import SUMMARY_FIELDS
from tests.conftest import shared_data

ADAPTER = Path(__file__).resolve().parents[1] / "data" / "hansa2017_adapter.yaml"


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_extract_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["extract", "--text", "Koks 1g 800 kr, skickas från Sverige", "--date", "2024-01-01"]) == 0
    [out] = _lines(capsys)
    assert set(out) == {"text", "lang", "entities", "summary"}
    assert set(SUMMARY_FIELDS) <= set(out["summary"])
    assert out["summary"]["substance"] == "cocaine"
    assert out["summary"]["pgp_fingerprints"] is None  # missing -> null
    for e in out["entities"]:
        assert set(e) == {"label", "start", "end", "text", "value"}


def test_extract_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("Kola 1g 800kr\nWeed 5g $50 ships from Sweden\n\n"))
    assert main(["extract", "--stdin", "--kind", "title"]) == 0
    outs = _lines(capsys)
    assert len(outs) == 3
    assert outs[1]["summary"]["ships_from"] == "SE"
    assert outs[2]["entities"] == [] and outs[2]["summary"]["substance"] is None


def test_extract_page_listing(capsys: pytest.CaptureFixture[str]) -> None:
    page = shared_data("hansa-html-2017", "hansamkt2rr6nfg3.onion_listing_56750_.htm")
    assert main(["extract", "--page", str(page), "--site", str(ADAPTER), "--url",
                 "http://hansamkt2rr6nfg3.onion/listing/56750/"]) == 0
    [out] = _lines(capsys)
    assert out["page_type"] == "listing"
    assert out["fields"]["title"] == "Teva Codeine Phosphate 60mg 28 tab"
    n = out["normalised"]
    assert n["price"] == {"amount": 27.6, "currency": "USD"}
    assert (n["ships_from"], n["ships_to"]) == ("GB", ["WW"])
    assert (n["substance"], n["units"]) == ("codeine", 28)
    assert "title" in out["extracted"] and "description" in out["extracted"]


def test_extract_page_pgp(capsys: pytest.CaptureFixture[str]) -> None:
    page = shared_data("hansa-html-2017", "hansamkt2rr6nfg3.onion_vendor_tramapro_pgp_.htm")
    assert main(["extract", "--page", str(page), "--site", str(ADAPTER), "--page-type", "vendor_pgp"]) == 0
    [out] = _lines(capsys)
    assert out["normalised"]["pgp_fingerprints"] == ["74A29D27F5470DE93C762BA3224CACAF3704D3FF"]


def test_extract_page_needs_a_page_type(capsys: pytest.CaptureFixture[str]) -> None:
    page = shared_data("hansa-html-2017", "hansamkt2rr6nfg3.onion_listing_56750_.htm")
    assert main(["extract", "--page", str(page), "--site", str(ADAPTER)]) != 0
