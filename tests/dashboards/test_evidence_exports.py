"""Evidence commands and exchange formats on a real crawl of two loopback markets: show, verify (and a
flipped byte), an evidence package checked by its own verifier under a clean interpreter, a STIX bundle
the validator accepts, a MISP event pymisp reads back, CSV/XLSX with full values, and a dossier PDF."""

from __future__ import annotations

import csv
import gzip
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from tests.dashboards.export_world import BTC, FINGERPRINT, HOSTILE_TITLE, LONG_DESCRIPTION, build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("exportworld") / "home"
    home.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOKHUND_HOME", str(home))
        ids = build_world(home, home.parent)
    yield {"home": home, **ids}


@pytest.fixture()
def home(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOKHUND_HOME", str(world["home"]))
    return world["home"]


def test_show_names_the_capture_and_the_facts_citing_it(world: dict[str, Any], home: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    cap = world["listing_capture"]
    html = tmp_path / "page.html"
    assert main(["evidence", "show", cap, "--json", "--html", str(html)]) == 0
    info = json.loads(capsys.readouterr().out.splitlines()[0])
    assert info["url"].endswith("/item/1") and info["site"] == "alfa" and info["status"] == 200
    assert info["network"] == "clearnet" and len(info["sha256"]) == 64 and info["warc_file"].startswith("warc/alfa/")
    assert {"kind": "listing", "id": world["listing"], "label": "listing alfa/1: Kokain 1 g"} in info["facts"]
    assert b"<h1>Kokain 1 g</h1>" in html.read_bytes()
    assert main(["evidence", "show", cap, "--body"]) == 0
    out = capsys.readouterr().out
    assert "facts citing it" in out and "Kokain 1 g" in out and "<h1>" not in out


def test_verify_all_passes_then_fails_on_one_flipped_byte(world: dict[str, Any], tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "home"
    shutil.copytree(world["home"], copy)
    monkeypatch.setenv("SOKHUND_HOME", str(copy))
    assert main(["evidence", "verify", "--all"]) == 0
    assert capsys.readouterr().out.startswith("OK: ")
    # flip one byte of a served page inside its gzip member (re-compressed, so only the digest can tell)
    from indexer.base import open_backend

    backend = open_backend()
    cap = backend.get("capture", world["listing_capture"])
    backend.close()
    warc = copy / cap["warc_file"]
    raw = warc.read_bytes()
    head, member_rest = raw[: cap["warc_offset"]], raw[cap["warc_offset"]:]
    decompressor = __import__("zlib").decompressobj(31)
    record = bytearray(decompressor.decompress(member_rest))
    tail = decompressor.unused_data
    at = record.index(b"Kokain 1 g")
    record[at] ^= 0x20  # 'K' -> 'k'
    warc.write_bytes(head + gzip.compress(bytes(record)) + tail)
    assert main(["evidence", "verify", "--all"]) == 1
    out = capsys.readouterr().out
    assert "WARC-Payload-Digest: sha256 mismatch" in out and world["listing_capture"] in out
    assert main(["evidence", "verify", world["listing_capture"]]) == 1
    capsys.readouterr()
    warc.unlink()
    assert main(["evidence", "verify", world["listing_capture"]]) == 1
    assert "missing" in capsys.readouterr().out


def test_package_for_an_alert_verifies_on_a_clean_interpreter(world: dict[str, Any], home: Path, tmp_path: Path) -> None:
    package = tmp_path / "out" / "alert.zip"
    assert main(["evidence", "export", "--alert", world["alert"], "--out", str(package), "--exported-by", "Analytiker A"]) == 0
    unpacked = tmp_path / "elsewhere"
    with zipfile.ZipFile(package) as archive:
        archive.extractall(unpacked)
    manifest = json.loads((unpacked / "manifest.json").read_text(encoding="utf-8"))
    assert {f["path"] for f in manifest["files"]} >= {"verify_package.py", "CHAIN_OF_CUSTODY.txt"}
    assert manifest["alerts"][0]["id"] == world["alert"]
    supported = {f["kind"] for c in manifest["captures"] for f in c["supports"]}
    assert {"vendor", "listing", "alert"} <= supported
    custody = (unpacked / "CHAIN_OF_CUSTODY.txt").read_text(encoding="utf-8")
    assert "Analytiker A" in custody and "campaign run w1" in custody and "network clearnet" in custody
    # a clean machine: isolated interpreter (-I: no PYTHONPATH, no site-packages of ours), another cwd
    env = {"PATH": os.environ.get("PATH", "/usr/bin")}
    for target in (package, unpacked):
        done = subprocess.run([sys.executable, "-I", str(unpacked / "verify_package.py"), str(target)],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.startswith("OK: ")
    # tampering is caught: a changed WARC byte, and a file nobody listed
    warc = next((unpacked / "warc").iterdir())
    data = bytearray(warc.read_bytes())
    data[len(data) // 2] ^= 0x01
    warc.write_bytes(bytes(data))
    (unpacked / "extra.txt").write_text("x", encoding="utf-8")
    done = subprocess.run([sys.executable, "-I", str(unpacked / "verify_package.py"), str(unpacked)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "sha256 differs from the manifest" in done.stdout
    assert "extra.txt: not listed" in done.stdout
    assert main(["evidence", "check-package", str(unpacked)]) == 1


def test_stix_bundle_is_valid_and_cites_its_captures(world: dict[str, Any], home: Path, tmp_path: Path) -> None:
    from stix2validator import ValidationOptions, validate_file

    out = tmp_path / "vendor.json"
    assert main(["export", "stix", "--vendor", "Grönbrevet52", "--out", str(out)]) == 0
    result = validate_file(str(out), ValidationOptions(version="2.1"))
    assert result.is_valid, [str(e) for e in result.object_results for e in e.errors]
    bundle = json.loads(out.read_text(encoding="utf-8"))
    by_type: dict[str, list[dict[str, Any]]] = {}
    for obj in bundle["objects"]:
        by_type.setdefault(obj["type"], []).append(obj)
    actors = {a["name"]: a for a in by_type["threat-actor"]}
    assert set(actors) == {"Grönbrevet52", "GreenLetter"}
    assert actors["Grönbrevet52"]["aliases"] == ["GreenLetter"]
    links = [r for r in by_type["relationship"] if {r["source_ref"], r["target_ref"]} == {a["id"] for a in actors.values()}]
    assert links and 0 < links[0]["confidence"] <= 100 and FINGERPRINT in links[0]["description"]
    assert {o["fingerprint"] for o in by_type["x-sokhund-pgp-key"]} == {FINGERPRINT}
    assert BTC in {o["address"] for o in by_type["x-sokhund-crypto-address"]}
    assert {"user_id": "gronbrevet52", "account_type": "wickr"}.items() <= by_type["user-account"][0].items()
    for obj in by_type["threat-actor"] + by_type["report"] + by_type["observed-data"]:
        refs = [r for r in obj.get("external_references", []) if r["source_name"] == "sokhund-capture"]
        assert refs and len(refs[0]["hashes"]["SHA-256"]) == 64, obj["id"]
    assert HOSTILE_TITLE in {r["name"] for r in by_type["report"]}


def test_misp_event_loads_back_with_valid_attributes(world: dict[str, Any], home: Path, tmp_path: Path) -> None:
    from pymisp import MISPEvent
    from pymisp.abstract import describe_types

    out = tmp_path / "alert.misp.json"
    assert main(["export", "misp", "--alert", world["alert"], "--out", str(out)]) == 0
    event = MISPEvent()
    event.load_file(str(out))
    assert event.info.startswith("Sökhund alert: ") and {t.name for t in event.tags} >= {"tlp:amber"}
    attributes = list(event.attributes) + [a for o in event.objects for a in o.attributes]
    known = set(describe_types["types"])
    assert attributes and all(a.type in known for a in attributes)
    for attribute in attributes:
        assert attribute.category in describe_types["categories"]
        assert attribute.type in describe_types["category_type_mappings"][attribute.category]
    values = {(a.object_relation, a.value) for o in event.objects for a in o.attributes}
    assert ("address", BTC) in values and ("key-id", FINGERPRINT) in values and ("username", "gronbrevet52") in values
    assert {o.name for o in event.objects} >= {"person", "coin-address", "pgp-meta", "user-account", "url"}
    assert all("sha256" in (getattr(a, "comment", "") or "") for o in event.objects for a in o.attributes)


def test_csv_and_xlsx_keep_full_values_and_no_formulas(world: dict[str, Any], home: Path, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    assert main(["export", "xlsx", "--vendor", "Grönbrevet52", "--out", str(tmp_path / "v.xlsx")]) == 0
    book = load_workbook(tmp_path / "v.xlsx")
    assert {"vendors", "listings", "alerts", "identities", "captures"} <= set(book.sheetnames)
    rows = list(book["listings"].iter_rows(values_only=True))
    header = rows[0]
    by_title = {r[header.index("title")]: r for r in rows[1:]}
    assert HOSTILE_TITLE in by_title  # the text itself, not a formula
    assert book["listings"].cell(row=2, column=header.index("title") + 1).data_type == "s"
    assert by_title["Kokain 1 g"][header.index("description")] == LONG_DESCRIPTION.strip()
    assert main(["export", "csv", "--vendor", "Grönbrevet52", "--out", str(tmp_path / "v.csv")]) == 0
    with (tmp_path / "v-listings.csv").open(encoding="utf-8-sig") as fh:
        listed = {r["title"]: r for r in csv.DictReader(fh)}
    assert "'" + HOSTILE_TITLE in listed and listed["Kokain 1 g"]["description"] == LONG_DESCRIPTION.strip()
    with (tmp_path / "v-vendors.csv").open(encoding="utf-8-sig") as fh:
        vendors = list(csv.DictReader(fh))
    assert {v["name"] for v in vendors} == {"Grönbrevet52", "GreenLetter"}
    assert all(v["pgp_fingerprints"] == FINGERPRINT and len(v["capture_sha256"]) == 64 for v in vendors)


def test_vendor_dossier_pdf_text(world: dict[str, Any], home: Path, tmp_path: Path) -> None:
    from pypdf import PdfReader

    out = tmp_path / "dossier.pdf"
    assert main(["report", "vendor", "Grönbrevet52", "--pdf", str(out)]) == 0
    text = " ".join(page.extract_text() for page in PdfReader(out).pages)
    flat = " ".join(text.split())
    for expected in ("Vendor dossier: Grönbrevet52", "Identity across sites", "GreenLetter", "Timeline",
                     "Listings and prices", "Turnover by week", "Shipping", "PostNord", "Swedish signals",
                     "Evidence hashes", "<b>Kokain</b>"):
        assert expected in flat, expected
    from indexer.base import open_backend

    backend = open_backend()
    cap = backend.get("capture", world["listing_capture"])
    backend.close()
    assert cap["sha256"] in text.replace("\n", "")


def test_every_json_command_also_writes_csv_and_xlsx(world: dict[str, Any], home: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from openpyxl import load_workbook

    assert main(["search", "kokain", "--format", "csv"]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert {"id", "title", "capture_sha256"} <= set(rows[0]) and "Kokain 1 g" in {r["title"] for r in rows}
    assert main(["vendors", "--format", "xlsx", "--out", str(tmp_path / "vendors.xlsx")]) == 0
    sheet = load_workbook(tmp_path / "vendors.xlsx")["vendors"]
    header = [c.value for c in sheet[1]]
    names = {row[header.index("name")] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert names == {"Grönbrevet52", "GreenLetter"}
    assert main(["vendor", "Grönbrevet52", "--format", "xlsx", "--out", str(tmp_path / "vendor.xlsx")]) == 0
    assert {"vendor", "vendors", "listings", "timeline"} <= set(load_workbook(tmp_path / "vendor.xlsx").sheetnames)
    listings = load_workbook(tmp_path / "vendor.xlsx")["listings"]
    assert HOSTILE_TITLE in {c.value for col in listings.iter_cols() for c in col}
    assert main(["alerts", "--format", "csv", "--out", str(tmp_path / "a.csv")]) == 0
    with (tmp_path / "a-alerts.csv").open(encoding="utf-8-sig") as fh:
        assert len(list(csv.DictReader(fh))) == 2
    assert main(["vendors", "--format", "json", "--out", str(tmp_path / "v.jsonl")]) == 0
    assert len((tmp_path / "v.jsonl").read_text(encoding="utf-8").splitlines()) == 2
