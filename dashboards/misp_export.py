"""MISP events with ``pymisp``, offline (MISPEvent / MISPObject to JSON; no server needed).

One event per vendor (the accounts linked across sites are one vendor) or per alert. Objects use MISP's
own templates: ``person`` (handle and aliases), ``tor-hiddenservice`` for onion hosts, ``url`` for
profile and listing pages, ``coin-address`` for BTC/XMR, ``pgp-meta`` plus a ``pgp-public-key``
attribute for keys, ``user-account`` for contacts (jabber: ``jabber-id``; e-mail: ``email-src``).
Every attribute's comment names the capture and its sha256. Tags: TLP and the ``dark-web`` taxonomy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dashboards.selection import Selection

TAGS = ("tlp:amber", 'dark-web:topic="drugs-narcotics"')


def _comment(sel: Selection, capture_id: Any) -> str:
    cap = sel.captures.get(str(capture_id)) if capture_id else None
    if not cap:
        return "Sökhund"
    return f"Sökhund capture {cap['id']} sha256 {cap.get('sha256')} ({cap.get('fetched_at')})"


def _object(name: str, comment: str) -> Any:
    from pymisp import MISPObject

    obj = MISPObject(name, strict=True)
    obj.comment = comment
    return obj


def _vendor_objects(sel: Selection, vendor: dict[str, Any], aliases: list[str]) -> list[Any]:
    comment = _comment(sel, vendor.get("capture_id"))
    objects = []
    person = _object("person", comment)
    person.add_attribute("handle", value=vendor.get("name") or vendor["id"])
    for alias in aliases:
        if alias != vendor.get("name"):
            person.add_attribute("alias", value=alias)
    for contact in vendor.get("contacts") or []:
        if contact.get("kind"):
            person.add_attribute("instant-messaging-used", value=str(contact["kind"]))
    objects.append(person)
    url = vendor.get("url")
    if url:
        host = urlsplit(url).hostname or ""
        if host.endswith(".onion"):
            onion = _object("tor-hiddenservice", comment)
            onion.add_attribute("address", value=host)
            onion.add_attribute("first-seen", value=vendor.get("first_seen"))
            onion.add_attribute("last-seen", value=vendor.get("last_seen"))
            objects.append(onion)
        page = _object("url", comment)
        page.add_attribute("url", value=url)
        objects.append(page)
    for fingerprint in vendor.get("pgp_fingerprints") or []:
        key = _object("pgp-meta", comment)
        key.add_attribute("key-id", value=fingerprint, comment=f"full v4 fingerprint (40 hex); {comment}")
        key.add_attribute("user-id-name", value=vendor.get("name") or "")
        objects.append(key)
    for address in vendor.get("crypto_addresses") or []:
        value = address.get("address") if isinstance(address, dict) else str(address)
        currency = (address.get("currency") if isinstance(address, dict) else None) or (
            "XMR" if value[:1] in "48" and len(value) > 90 else "BTC")
        coin = _object("coin-address", comment)
        coin.add_attribute("address-xmr" if currency == "XMR" else "address", value=value)
        coin.add_attribute("symbol", value=currency)
        objects.append(coin)
    for contact in vendor.get("contacts") or []:
        kind, value = contact.get("kind"), contact.get("value")
        if not value or kind in ("email", "jabber"):
            continue
        account = _object("user-account", comment)
        account.add_attribute("username", value=value)
        account.add_attribute("account-type", value=str(kind))
        objects.append(account)
    for obj in objects:
        for attribute in obj.attributes:
            if not getattr(attribute, "comment", None):
                attribute.comment = comment
    return objects


def _vendor_attributes(event: Any, sel: Selection, vendor: dict[str, Any]) -> None:
    comment = _comment(sel, vendor.get("capture_id"))
    for contact in vendor.get("contacts") or []:
        if contact.get("value") and contact.get("kind") == "email":
            event.add_attribute("email-src", contact["value"], category="Social network", comment=comment, to_ids=False)
        elif contact.get("value") and contact.get("kind") == "jabber":
            event.add_attribute("jabber-id", contact["value"], category="Social network", comment=comment, to_ids=False)
    if vendor.get("pgp_key"):
        event.add_attribute("pgp-public-key", vendor["pgp_key"], category="Person", comment=comment, to_ids=False)


def _event(sel: Selection, info: str, date: Any) -> Any:
    from pymisp import MISPEvent

    event = MISPEvent()
    event.info = info
    event.distribution = 0  # this organisation only: the partner decides on sharing further
    event.threat_level_id = 2
    event.analysis = 1
    if date:
        event.set_date(str(date)[:10])
    for tag in TAGS:
        event.add_tag(tag)
    return event


def _fill(event: Any, sel: Selection, vendors: list[dict[str, Any]]) -> None:
    aliases = sorted({str(v.get("name")) for v in vendors if v.get("name")})
    for vendor in vendors:
        for obj in _vendor_objects(sel, vendor, aliases):
            event.add_object(obj)
        _vendor_attributes(event, sel, vendor)
    ids = {v["id"] for v in vendors}
    for listing in sel.listings:
        if listing.get("vendor_id") in ids and listing.get("url"):
            page = _object("url", _comment(sel, listing.get("capture_id")))
            page.add_attribute("url", value=listing["url"])
            page.add_attribute("text", value=f"listing: {listing.get('title')} — {listing.get('price')} "
                                             f"{listing.get('currency') or ''}".strip())
            for attribute in page.attributes:
                attribute.comment = page.comment
            event.add_object(page)
    for cid, cap in sel.captures.items():
        if any(f["kind"] in ("vendor", "alert") for f in sel.supports.get(cid, [])):
            event.add_attribute("sha256", cap["sha256"], category="Artifacts dropped", to_ids=False,
                                comment=f"WARC capture {cid} of {cap.get('url')} ({cap.get('fetched_at')})")


def build_events(sel: Selection) -> list[Any]:
    """One MISPEvent per alert (with its vendor), else one per vendor identity."""
    events = []
    if sel.alerts and len(sel.alerts) == 1 and not sel.label.startswith("vendor"):
        alert = sel.alerts[0]
        event = _event(sel, f"Sökhund alert: {alert.get('title')}", alert.get("fired_at"))
        _fill(event, sel, sel.vendors)
        events.append(event)
        return events
    groups: list[list[dict[str, Any]]] = []
    placed: set[str] = set()
    for group in sel.identities:
        members = [v for v in sel.vendors if v["id"] in (group.get("vendors") or [])]
        if members:
            groups.append(members)
            placed.update(v["id"] for v in members)
    groups += [[v] for v in sel.vendors if v["id"] not in placed]
    for members in groups:
        names = ", ".join(sorted({f"{v.get('name')} ({v.get('site')})" for v in members}))
        event = _event(sel, f"Sökhund vendor: {names}", min(str(v.get("first_seen") or "") for v in members) or None)
        _fill(event, sel, members)
        for alert in sel.alerts:
            if alert.get("entity") in {v["id"] for v in members}:
                event.add_attribute("text", f"alert {alert.get('rule')}: {alert.get('title')}", category="Other",
                                    comment=f"fired {alert.get('fired_at')}", to_ids=False)
        events.append(event)
    return events


def write_misp(sel: Selection, out: Path) -> list[Any]:
    """One event: the MISP event JSON (``{"Event": …}``); several: ``{"response": [{"Event": …}, …]}``."""
    events = build_events(sel)
    if not events:
        raise LookupError(f"nothing to export for {sel.label}: no vendor or alert")
    docs = [json.loads(e.to_json()) for e in events]
    payload = {"Event": docs[0]} if len(docs) == 1 else {"response": [{"Event": d} for d in docs]}
    out.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return events
