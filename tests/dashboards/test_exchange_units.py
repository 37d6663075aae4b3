"""Exchange formats on a hand-made selection: onion hosts, XMR addresses and e-mail/jabber contacts map to
the right MISP and STIX types; crawled markup and escape codes stay literal text."""

from __future__ import annotations

from pathlib import Path

from dashboards.selection import Selection

ONION = "http://" + "a" * 56 + ".onion/vendor/x"
XMR = "4" + "A" * 94
SHA = "ab" * 32


def _selection() -> Selection:
    capture = {"id": "cap-1", "url": ONION, "sha256": SHA, "fetched_at": "2026-09-01T12:00:00+00:00", "network": "tor"}
    vendor = {"id": "ven-1", "site": "onionmarket", "name": "Säljare[/x]\x1b]0;pwnd\x07", "url": ONION,
              "first_seen": "2026-09-01T12:00:00+00:00", "last_seen": "2026-09-02T12:00:00+00:00",
              "pgp_fingerprints": [], "crypto_addresses": [{"currency": "XMR", "address": XMR}],
              "contacts": [{"kind": "email", "value": "x@example.org"}, {"kind": "jabber", "value": "x@jabber.example.org"}],
              "capture_id": "cap-1", "capture_sha256": SHA}
    return Selection(label="vendor x", vendors=[vendor], captures={"cap-1": capture},
                     supports={"cap-1": [{"kind": "vendor", "id": "ven-1", "label": "vendor onionmarket/x"}]})


def test_misp_onion_xmr_and_contacts(tmp_path: Path) -> None:
    from pymisp import MISPEvent

    from dashboards.misp_export import write_misp

    write_misp(_selection(), tmp_path / "e.json")
    event = MISPEvent()
    event.load_file(str(tmp_path / "e.json"))
    objects = {o.name: {a.object_relation: a.value for a in o.attributes} for o in event.objects}
    assert objects["tor-hiddenservice"]["address"] == "a" * 56 + ".onion"
    assert objects["coin-address"] == {"address-xmr": XMR, "symbol": "XMR"}
    assert {(a.type, a.value) for a in event.attributes} >= {("email-src", "x@example.org"),
                                                            ("jabber-id", "x@jabber.example.org")}


def test_stix_types_and_literal_names(tmp_path: Path) -> None:
    from stix2validator import ValidationOptions, validate_file

    from dashboards.stix_export import write_stix

    write_stix(_selection(), tmp_path / "b.json")
    assert validate_file(str(tmp_path / "b.json"), ValidationOptions(version="2.1")).is_valid
    import json

    objects = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))["objects"]
    types = {o["type"] for o in objects}
    assert {"email-addr", "x-sokhund-crypto-address", "url", "threat-actor", "observed-data"} <= types
    actor = next(o for o in objects if o["type"] == "threat-actor")
    assert actor["name"] == "Säljare[/x]\x1b]0;pwnd\x07"  # data stays data; only terminals escape it


def test_pdf_escapes_markup_and_control_characters(tmp_path: Path) -> None:
    from pypdf import PdfReader

    from dashboards.dossier import build_pdf

    sel = _selection()
    profile = {"query": "<b>x</b>", "vendors": sel.vendors, "listings": [], "timeline": [], "turnover_by_week": [],
               "identities": [], "sites": ["onionmarket"], "aliases": [sel.vendors[0]["name"]]}
    build_pdf(profile, sel, tmp_path / "d.pdf")
    text = " ".join(p.extract_text() for p in PdfReader(tmp_path / "d.pdf").pages)
    assert "Vendor dossier: <b>x</b>" in text and "Säljare[/x]\\x1b]0;pwnd\\x07" in text and "\x1b" not in text
