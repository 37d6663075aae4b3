"""Evidence an analyst can open, verify and hand over: show a capture, check every recorded digest, and
export an evidence package (WARC records, screenshots, manifest.json, chain-of-custody summary and a
standalone verifier) for a vendor, an alert or chosen captures."""

from __future__ import annotations

import getpass
import hashlib
import json
import platform
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crawler import paths, warc_check
from crawler.warc import decode_body
from dashboards.selection import Selection, facts_citing
from indexer.base import IndexBackend

PACKAGE_FORMAT = "sokhund-evidence-package/1"
VERIFIER_NAME = "verify_package.py"
CUSTODY_NAME = "CHAIN_OF_CUSTODY.txt"


def _capture(backend: IndexBackend, capture_id: str) -> dict[str, Any]:
    doc = backend.get("capture", capture_id)
    if doc is None:
        raise LookupError(f"no capture {capture_id!r} in the index (capture ids are in `--json` output)")
    return doc


def response_record(capture: dict[str, Any]) -> warc_check.WarcRecord:
    path = paths.resolve_data_path(capture["warc_file"])
    if not path.is_file():
        raise FileNotFoundError(f"WARC file {path} of capture {capture['id']} is missing")
    return warc_check.record_at(path, int(capture.get("warc_offset") or 0))


def page_bytes(capture: dict[str, Any]) -> bytes:
    """The archived page, Content-Encoding undone."""
    record = response_record(capture)
    head = record.block.partition(b"\r\n\r\n")[0].decode("latin-1")
    encoding = next((line.split(":", 1)[1].strip() for line in head.split("\r\n")[1:]
                     if line.lower().startswith("content-encoding:")), None)
    return decode_body(record.payload(), encoding)


def page_text(html: bytes) -> str:
    """Visible text of an archived page, one block per line."""
    from parsel import Selector

    text = html.decode("utf-8", "replace")
    parts = Selector(text=text or "<html></html>").xpath("//body//text()[not(ancestor::script or ancestor::style)]").getall()
    lines = [" ".join(p.split()) for p in parts]
    return "\n".join(line for line in lines if line)


def show(backend: IndexBackend, capture_id: str) -> dict[str, Any]:
    cap = _capture(backend, capture_id)
    out = {k: cap.get(k) for k in ("id", "url", "site", "fetched_at", "observed_at", "status", "network", "sha256",
                                   "length", "content_encoding", "warc_file", "warc_offset", "page_type",
                                   "invalid_kind", "parse_error", "truncated", "screenshot", "campaign_run")}
    out["warc_path"] = str(paths.resolve_data_path(cap["warc_file"]))
    out["facts"] = facts_citing(backend, capture_id)
    return out


# ---- verify -------------------------------------------------------------------------------------------


@dataclass
class VerifyReport:
    captures: int = 0
    records: int = 0
    files: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_capture(cap: dict[str, Any], report: VerifyReport) -> None:
    report.captures += 1
    try:
        record = response_record(cap)
    except FileNotFoundError as exc:
        report.problems.append(f"capture {cap['id']}: {exc}")
        return
    problems = warc_check.check_record(record)
    if not problems and hashlib.sha256(record.payload()).hexdigest() != cap.get("sha256"):
        problems.append("payload sha256 differs from the one in the index")
    report.problems.extend(f"capture {cap['id']} ({cap.get('warc_file')}@{cap.get('warc_offset')}): {p}"
                           for p in problems)


def verify(backend: IndexBackend, capture_ids: list[str] | None = None) -> VerifyReport:
    """Re-read the WARC records and check every digest. Without ids: every capture and every record of
    every WARC file under ``$SOKHUND_HOME/warc``."""
    report = VerifyReport()
    if capture_ids:
        for cid in capture_ids:
            verify_capture(_capture(backend, cid), report)
        return report
    for cap in backend.iter_docs("capture"):
        if cap.get("warc_file"):  # fetch errors have no record
            verify_capture(cap, report)
    for path in sorted(paths.warc_dir().rglob("*.warc.gz")):
        count, problems = warc_check.verify_warc_file(path)
        report.files += 1
        report.records += count
        report.problems.extend(f"{path.relative_to(paths.home())}: {p.split(': ', 1)[-1]}" for p in problems)
    return report


def relink(backend: IndexBackend) -> tuple[int, list[str]]:
    """Migrate an older data directory: absolute ``warc_file`` / ``screenshot`` paths that lie under
    ``$SOKHUND_HOME`` (or under an earlier location of it) become relative. Returns (captures changed,
    paths that could not be found)."""
    from indexer.models import Capture

    changed, missing, batch = 0, [], []
    for cap in backend.iter_docs("capture"):
        update = {}
        for key in ("warc_file", "screenshot"):
            stored = cap.get(key)
            if not stored or not Path(stored).is_absolute():
                continue
            found = paths.resolve_data_path(stored)
            if not found.exists():
                missing.append(stored)
                continue
            relative = paths.relative_to_home(found)
            if relative != stored:
                update[key] = relative
        if update:
            batch.append(Capture.from_dict(cap | update))
            changed += 1
        if len(batch) >= 500:
            backend.upsert(batch)
            batch = []
    if batch:
        backend.upsert(batch)
    return changed, sorted(set(missing))


# ---- export -------------------------------------------------------------------------------------------


def _records_of(path: Path, offset: int) -> tuple[bytes, str]:
    """The raw gzip members of a capture: its response and the records made with it (request,
    screenshot), up to the next capture. Returns (bytes, response record id)."""
    records = list(warc_check.iter_records(path, offset, limit=8))
    if not records or records[0].type != "response":
        raise ValueError(f"{path}@{offset}: not a response record")
    rid = records[0].headers.get("warc-record-id", "")
    end = None
    for record in records[1:]:
        if record.headers.get("warc-concurrent-to") != rid:
            end = record.offset
            break
    with path.open("rb") as fh:
        fh.seek(offset)
        data = fh.read() if end is None else fh.read(end - offset)
    return data, rid


def _warcinfo(path: Path) -> tuple[bytes, dict[str, str]]:
    first = next(iter(warc_check.iter_records(path, 0, limit=2)), None)
    if first is None or first.type != "warcinfo":
        return b"", {}
    following = list(warc_check.iter_records(path, 0, limit=2))
    end = following[1].offset if len(following) > 1 else path.stat().st_size
    with path.open("rb") as fh:
        raw = fh.read(end)
    info = {}
    for line in first.block.decode("utf-8", "replace").splitlines():
        key, _, value = line.partition(":")
        if value:
            info[key.strip()] = value.strip()
    return raw, info


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_package(sel: Selection, out: Path, exported_by: str | None = None) -> dict[str, Any]:
    """Write the package to ``out`` (a folder, or a .zip). Returns the manifest."""
    if not sel.captures:
        raise LookupError(f"nothing to export for {sel.label}: no captures found")
    as_zip = out.suffix.lower() == ".zip"
    work = Path(tempfile.mkdtemp(prefix="sokhund-package-")) if as_zip else out
    if work.exists() and any(work.iterdir()):
        raise FileExistsError(f"{work} is not empty: choose a new folder or a .zip")
    work.mkdir(parents=True, exist_ok=True)
    try:
        manifest = _fill(sel, work, exported_by or f"{getpass.getuser()}@{platform.node()}")
        if as_zip:
            out.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(work.rglob("*")):
                    if path.is_file():
                        archive.write(path, path.relative_to(work).as_posix())
        return manifest
    finally:
        if as_zip:
            shutil.rmtree(work, ignore_errors=True)


def _fill(sel: Selection, work: Path, exported_by: str) -> dict[str, Any]:
    (work / "warc").mkdir()
    captures, infos, written = [], {}, {}
    for cid, cap in sorted(sel.captures.items(), key=lambda kv: str(kv[1].get("fetched_at"))):
        if not cap.get("warc_file"):
            continue
        source = paths.resolve_data_path(cap["warc_file"])
        target = work / "warc" / f"{cap.get('site') or 'site'}-{source.name}"
        if target not in written:
            info_raw, info = _warcinfo(source)
            target.write_bytes(info_raw)
            written[target], infos[target.name] = True, info
        raw, rid = _records_of(source, int(cap["warc_offset"]))
        with target.open("ab") as fh:
            offset = fh.tell()
            fh.write(raw)
        entry = {k: cap.get(k) for k in ("id", "url", "site", "fetched_at", "observed_at", "status", "network",
                                         "sha256", "length", "content_encoding", "campaign_run", "page_type",
                                         "invalid_kind")}
        entry |= {"warc": f"warc/{target.name}", "offset": offset, "record_id": rid,
                  "original_warc": cap["warc_file"], "original_offset": cap["warc_offset"],
                  "supports": sel.supports.get(cid, [])}
        shot = cap.get("screenshot")
        if shot and paths.resolve_data_path(shot).is_file():
            (work / "screenshots").mkdir(exist_ok=True)
            name = f"screenshots/{cid}.png"
            shutil.copyfile(paths.resolve_data_path(shot), work / name)
            entry["screenshot"] = name
        captures.append(entry)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    shutil.copyfile(warc_check.__file__, work / VERIFIER_NAME)
    (work / CUSTODY_NAME).write_text(_custody(sel, captures, infos, exported_by, created), encoding="utf-8")
    files = [{"path": p.relative_to(work).as_posix(), "sha256": _sha256(p), "bytes": p.stat().st_size}
             for p in sorted(work.rglob("*")) if p.is_file()]
    manifest = {
        "format": PACKAGE_FORMAT,
        "created_at": created,
        "exported_by": exported_by,
        "software": "Sökhund 0.1.0",
        "subject": sel.label,
        "alerts": [{"id": a["id"], "rule": a.get("rule"), "title": a.get("title"), "fired_at": a.get("fired_at")}
                   for a in sel.alerts],
        "files": files,
        "captures": captures,
        "verify": f"python3 {VERIFIER_NAME} .",
    }
    (work / warc_check.MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def _custody(sel: Selection, captures: list[dict[str, Any]], infos: dict[str, dict[str, str]],
             exported_by: str, created: str) -> str:
    lines = [
        "CHAIN OF CUSTODY — Sökhund evidence package",
        "=" * 44,
        f"Subject:      {sel.label}",
        f"Exported by:  {exported_by}",
        f"Exported at:  {created} (UTC)",
        "Software:     Sökhund 0.1.0 (WARC 1.1 written with warcio; sha256 digests)",
        f"Captures:     {len(captures)}",
        "",
        "How it was collected",
        "--------------------",
    ]
    for name, info in sorted(infos.items()):
        lines.append(f"{name}: campaign run {info.get('isPartOf', '?')}, site {info.get('sokhund-site', '?')}, "
                     f"adapter {info.get('sokhund-adapter', '?')} (sha256 {info.get('sokhund-adapter-sha256', 'unknown')}), "
                     f"network {info.get('sokhund-network', 'unknown')}, host {info.get('hostname', '?')}")
    lines += ["", "Captures (fetched at, network, status, sha256 of the body as served, URL)", "-" * 44]
    for cap in captures:
        lines.append(f"{cap['fetched_at']}  {cap.get('network') or 'unknown':8}  {cap.get('status')}  {cap['sha256']}")
        lines.append(f"    {cap['url']}")
        lines.append(f"    record {cap['warc']}@{cap['offset']} (originally {cap['original_warc']}@{cap['original_offset']})")
        for fact in cap.get("supports") or []:
            lines.append(f"    supports: {fact['label']}")
    lines += ["", "Session cookies and authorisation headers in the request records are replaced by a keyed hash",
              "(HMAC-SHA256, key kept by the exporting installation): equal hashes mean the same session.",
              "", f"Check this package anywhere with Python 3: python3 {VERIFIER_NAME} <this folder or zip>",
              "It checks every file against manifest.json and every WARC digest."]
    return "\n".join(lines) + "\n"
