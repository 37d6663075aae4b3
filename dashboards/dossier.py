"""Vendor dossier PDF (reportlab): identity across sites with evidence, timeline, listings and prices,
turnover with its method, shipping (PostNord letters vs parcels), Swedish signals and the evidence hashes.

Crawled text is escaped before it reaches reportlab's paragraph markup (a vendor named ``<b>`` stays text).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from dashboards.selection import Selection

_FONT_FILES = (("DejaVuSans", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
               ("DejaVuSans-Bold", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"))
METHODS = {
    "counter": "sold counters: the rise of a listing's 'sold N' between two crawls x its price",
    "feedback": "feedback lower bound: one sale per new feedback x the price at that time",
    "feedback_corrected": "feedback corrected: feedback sales divided by the site's estimated feedback rate",
}


def _fonts() -> tuple[str, str]:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if all(Path(f).is_file() for _, f in _FONT_FILES):
        for name, file in _FONT_FILES:
            if name not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont(name, file))
        return "DejaVuSans", "DejaVuSans-Bold"
    return "Helvetica", "Helvetica-Bold"  # Latin-1 only (å ä ö are fine)


def _text(value: Any) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}".replace(",", " ")
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value) or "–"
    if isinstance(value, dict):
        return f"{value.get('kind')}: {value.get('value')}" if "kind" in value else str(value)
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in str(value))


def shipping_summary(listings: list[dict[str, Any]]) -> dict[str, int]:
    """How many listings offer each carrier / method (PostNord, letter, parcel …)."""
    counts: Counter[str] = Counter()
    for listing in listings:
        seen = set()
        normalised = (listing.get("entities") or {}).get("shipping") or []  # the extractor's kind/value
        for item in normalised + list(listing.get("shipping") or []):
            if isinstance(item, dict) and item.get("value"):
                seen.add(f"{item.get('kind')}: {item['value']}")
            elif isinstance(item, dict) and item.get("text"):
                seen.add(f"option as listed: {item['text']}")
        counts.update(seen)
    return dict(sorted(counts.items(), key=lambda kv: (kv[0].startswith("option"), -kv[1], kv[0])))


def build_pdf(profile: dict[str, Any], sel: Selection, out: Path) -> Path:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    regular, bold = _fonts()
    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"], fontName=regular, fontSize=8.5, leading=11)
    small = ParagraphStyle("small", parent=body, fontSize=7, leading=9)
    h1 = ParagraphStyle("h1", parent=styles["Heading1"], fontName=bold, fontSize=16)
    h2 = ParagraphStyle("h2", parent=styles["Heading2"], fontName=bold, fontSize=12, spaceBefore=8)

    def para(value: Any, style: Any = body) -> Any:
        return Paragraph(escape(_text(value)), style)

    def table(header: list[str], rows: list[list[Any]], widths: list[float] | None = None) -> Any:
        data = [[Paragraph(f"<b>{escape(h)}</b>", small) for h in header]]
        data += [[para(v, small) for v in row] for row in rows] or [[para("none", small)] + [""] * (len(header) - 1)]
        t = Table(data, colWidths=widths, repeatRows=1)
        t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        return t

    story: list[Any] = [
        Paragraph(escape(f"Vendor dossier: {_text(profile.get('query'))}"), h1),
        para(f"Generated {datetime.now(UTC).isoformat(timespec='seconds')} by Sökhund from the index and its WARC "
             f"evidence. Sites: {_text(profile.get('sites'))}. Aliases: {_text(profile.get('aliases'))}. "
             f"First seen {_text(profile.get('first_seen'))}, last seen {_text(profile.get('last_seen'))}."),
        Paragraph("Identity across sites", h2),
        table(["site", "name", "first seen", "last seen", "PGP fingerprints", "contacts", "addresses", "capture sha256"],
              [[v.get("site"), v.get("name"), v.get("first_seen"), v.get("last_seen"), v.get("pgp_fingerprints"),
                v.get("contacts"), v.get("crypto_addresses"), v.get("capture_sha256")] for v in profile.get("vendors", [])],
              [20 * mm, 22 * mm, 19 * mm, 19 * mm, 30 * mm, 25 * mm, 25 * mm, 22 * mm]),
    ]
    for ident in profile.get("identities") or []:
        story.append(para(f"Linked identity {ident.get('id')}: {ident.get('strength')} link, confidence "
                          f"{ident.get('confidence')}, names {_text(ident.get('names'))}"))
        story.append(table(["strength", "type", "value", "evidence (capture sha256)"],
                           [[e.get("strength"), e.get("type"), e.get("value"),
                             [f"{c.get('site')}/{c.get('name')}: {c.get('sha256')}" for c in e.get("captures") or []]]
                            for e in ident.get("evidence") or []], [18 * mm, 25 * mm, 55 * mm, 82 * mm]))
    story += [
        Paragraph("Timeline", h2),
        table(["date", "event", "site", "details", "capture sha256"],
              [[e.get("date"), e.get("event"), e.get("site"),
                ", ".join(f"{k}={_text(v)}" for k, v in e.items()
                          if k not in ("date", "event", "site", "capture_id", "capture_sha256") and v is not None),
                e.get("capture_sha256")] for e in profile.get("timeline", [])],
              [28 * mm, 28 * mm, 20 * mm, 62 * mm, 42 * mm]),
        Paragraph("Listings and prices", h2),
        table(["site", "listing", "title", "substance", "g", "price", "SEK", "SEK/g", "first – last seen"],
              [[x.get("site"), x.get("listing_id"), x.get("title"), x.get("substance"), x.get("quantity_g"),
                f"{_text(x.get('price'))} {x.get('currency') or ''}", x.get("price_sek"), x.get("price_per_g_sek"),
                f"{_text(x.get('first_seen'))[:10]} – {_text(x.get('last_seen'))[:10]}"] for x in profile.get("listings", [])],
              [20 * mm, 14 * mm, 36 * mm, 20 * mm, 9 * mm, 20 * mm, 18 * mm, 13 * mm, 30 * mm]),
        Paragraph("Turnover by week", h2),
        para("Methods: " + " · ".join(f"{k}: {v}" for k, v in METHODS.items())),
        table(["week", "method", "units", "value SEK", "units without a price"],
              [[t.get("week"), t.get("method"), t.get("units"), t.get("value_sek"), t.get("unvalued_units")]
               for t in profile.get("turnover_by_week", [])]),
        para("Feedback rates applied: " + (", ".join(f"{site}: {float(r.get('rate') or 0):.3f} ({r.get('source')})" for site, r in
                                                    (profile.get("feedback_rates_applied") or {}).items()) or "none")),
        Paragraph("Shipping", h2),
        table(["carrier / method", "listings"], [[k, v] for k, v in shipping_summary(sel.listings).items()]),
        para("PostNord letters vs parcels: letters = 'method: letter', parcels = 'method: parcel' above."),
        Paragraph("Swedish signals", h2),
        table(["site", "name", "score", "signals"],
              [[v.get("site"), v.get("name"), v.get("swedish_score"), v.get("swedish_signals")] for v in profile.get("vendors", [])],
              [20 * mm, 30 * mm, 15 * mm, 115 * mm]),
        Paragraph("Evidence hashes", h2),
        para("Each fact above cites a capture: the HTTP response archived in WARC 1.1 (sha256 of the body as served). "
             "`sokhund evidence verify ID` re-checks one; `sokhund evidence export` packages them."),
        table(["capture", "fetched at", "network", "sha256", "URL"],
              [[c["id"], c.get("fetched_at"), c.get("network"), c.get("sha256"), c.get("url")]
               for c in sorted(sel.captures.values(), key=lambda c: str(c.get("fetched_at")))],
              [30 * mm, 28 * mm, 15 * mm, 55 * mm, 52 * mm]),
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = SimpleDocTemplate(str(out), pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=15 * mm, title=f"Vendor dossier {profile.get('query')}", author="Sökhund")
    doc.build(story)
    return out
