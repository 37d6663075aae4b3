"""What an export or an evidence package is about: a vendor (with the identities linked to it), an alert,
a search query or a list of captures — resolved to the index documents and the captures behind them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from indexer.base import IndexBackend, SearchFilters

# Index kinds whose documents cite a capture (capture_id / capture_sha256).
FACT_KINDS = ("listing", "listing_observation", "vendor", "vendor_observation", "feedback", "post")


@dataclass
class Selection:
    label: str
    vendors: list[dict[str, Any]] = field(default_factory=list)
    listings: list[dict[str, Any]] = field(default_factory=list)
    posts: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    identities: list[dict[str, Any]] = field(default_factory=list)
    captures: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> capture doc
    supports: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # capture id -> facts it supports

    def add_capture(self, backend: IndexBackend, capture_id: str | None, fact: dict[str, str] | None = None) -> None:
        if not capture_id:
            return
        if capture_id not in self.captures:
            doc = backend.get("capture", capture_id)
            if doc is None:
                return
            self.captures[capture_id] = doc
        if fact and fact not in self.supports.setdefault(capture_id, []):
            self.supports[capture_id].append(fact)


def fact_label(kind: str, doc: dict[str, Any]) -> str:
    if kind in ("listing", "listing_observation"):
        return f"{kind} {doc.get('site')}/{doc.get('listing_id')}: {doc.get('title') or ''}".strip(": ")
    if kind in ("vendor", "vendor_observation"):
        return f"{kind} {doc.get('site')}/{doc.get('name')}"
    if kind == "post":
        return f"post {doc.get('site')}/{doc.get('post_id')} by {doc.get('author')}"
    if kind == "feedback":
        return f"feedback {doc.get('site')}/{doc.get('listing_id')} {doc.get('date')}"
    return f"{kind} {doc.get('id')}"


def _fact(kind: str, doc: dict[str, Any]) -> dict[str, str]:
    return {"kind": kind, "id": str(doc.get("id")), "label": fact_label(kind, doc)}


def facts_citing(backend: IndexBackend, capture_id: str) -> list[dict[str, str]]:
    """Every fact in the index whose evidence is this capture (plus alerts that cite it)."""
    found = []
    for kind in FACT_KINDS:
        for doc in backend.iter_docs(kind, SearchFilters(extra={"capture_id": capture_id})):
            found.append(_fact(kind, doc))
    for alert in backend.iter_docs("alert"):
        if any(e.get("capture_id") == capture_id for e in alert.get("evidence") or []):
            found.append({"kind": "alert", "id": str(alert["id"]), "label": f"alert {alert.get('rule')}: {alert.get('title')}"})
    return found


def _add_vendor_facts(backend: IndexBackend, sel: Selection, vendor_ids: list[str]) -> None:
    for vid in vendor_ids:
        vendor = backend.get("vendor", vid)
        if vendor is None or vendor in sel.vendors:
            continue
        sel.vendors.append(vendor)
        sel.add_capture(backend, vendor.get("capture_id"), _fact("vendor", vendor))
        for obs in backend.iter_docs("vendor_observation", SearchFilters(extra={"vendor": vid})):
            sel.add_capture(backend, obs.get("capture_id"), _fact("vendor_observation", obs))
        for listing in backend.iter_docs("listing", SearchFilters(extra={"vendor_id": vid})):
            _add_listing(backend, sel, listing)


def _add_listing(backend: IndexBackend, sel: Selection, listing: dict[str, Any]) -> None:
    if any(listing["id"] == d["id"] for d in sel.listings):
        return
    sel.listings.append(listing)
    sel.add_capture(backend, listing.get("capture_id"), _fact("listing", listing))
    for obs in backend.iter_docs("listing_observation", SearchFilters(extra={"listing": listing["id"]})):
        sel.add_capture(backend, obs.get("capture_id"), _fact("listing_observation", obs))


def _identities(backend: IndexBackend, vendor_ids: list[str]) -> tuple[list[str], list[dict[str, Any]]]:
    """The vendor ids plus those linked to them (shared PGP key, contact, address), with the links."""
    from analytics.identity import link_vendors

    links = link_vendors(backend, write=False)
    ids, groups = list(vendor_ids), []
    for vid in vendor_ids:
        group = links.group_of(vid)
        if group is not None and group.id not in {g["id"] for g in groups}:
            groups.append(group.to_dict())
            ids += [v for v in group.vendors if v not in ids]
    return ids, groups


def select_vendor(backend: IndexBackend, name: str, site: str | None = None) -> Selection:
    from analytics.profile import find_vendors

    matches = find_vendors(backend, name, site)
    if not matches:
        raise LookupError(f"no vendor named {name!r} in the index (try `sokhund vendors`)")
    ids, groups = _identities(backend, [m["id"] for m in matches])
    sel = Selection(label=f"vendor {name}", identities=groups)
    _add_vendor_facts(backend, sel, ids)
    for alert in backend.iter_docs("alert"):
        if alert.get("entity") in ids or alert.get("details", {}).get("vendor_id") in ids:
            _add_alert(backend, sel, alert)
    return sel


def _add_alert(backend: IndexBackend, sel: Selection, alert: dict[str, Any]) -> None:
    if any(alert["id"] == a["id"] for a in sel.alerts):
        return
    sel.alerts.append(alert)
    fact = {"kind": "alert", "id": str(alert["id"]), "label": f"alert {alert.get('rule')}: {alert.get('title')}"}
    for ev in alert.get("evidence") or []:
        sel.add_capture(backend, ev.get("capture_id"), fact)


def select_alert(backend: IndexBackend, alert_id: str) -> Selection:
    alert = backend.get("alert", alert_id)
    if alert is None:
        raise LookupError(f"no alert {alert_id!r} in the index (try `sokhund alerts`)")
    sel = Selection(label=f"alert {alert_id}")
    _add_alert(backend, sel, alert)
    entity, kind = alert.get("entity"), alert.get("entity_kind")
    if kind == "vendor" and entity:
        ids, sel.identities = _identities(backend, [entity])
        _add_vendor_facts(backend, sel, ids)
    elif kind == "listing" and entity and (listing := backend.get("listing", entity)):
        _add_listing(backend, sel, listing)
        if listing.get("vendor_id"):
            _add_vendor_facts(backend, sel, [listing["vendor_id"]])
    elif kind == "post" and entity and (post := backend.get("post", entity)):
        sel.posts.append(post)
        sel.add_capture(backend, post.get("capture_id"), _fact("post", post))
    return sel


def select_captures(backend: IndexBackend, capture_ids: list[str]) -> Selection:
    sel = Selection(label="captures " + ", ".join(capture_ids))
    for cid in capture_ids:
        if backend.get("capture", cid) is None:
            raise LookupError(f"no capture {cid!r} in the index")
        for fact in facts_citing(backend, cid) or [None]:
            sel.add_capture(backend, cid, fact)
    return sel


def select_query(backend: IndexBackend, query: str, limit: int = 1000) -> Selection:
    sel = Selection(label=f"query {query}")
    for hit in backend.search("listing", query or None, None, limit=limit):
        _add_listing(backend, sel, hit.doc)
    for vid in {d.get("vendor_id") for d in sel.listings if d.get("vendor_id")}:
        vendor = backend.get("vendor", vid)
        if vendor and vendor not in sel.vendors:
            sel.vendors.append(vendor)
            sel.add_capture(backend, vendor.get("capture_id"), _fact("vendor", vendor))
    return sel


def select(backend: IndexBackend, *, vendor: str | None = None, alert: str | None = None,
           captures: list[str] | None = None, query: str | None = None, site: str | None = None) -> Selection:
    if vendor:
        return select_vendor(backend, vendor, site)
    if alert:
        return select_alert(backend, alert)
    if captures:
        return select_captures(backend, captures)
    if query is not None:
        return select_query(backend, query)
    raise ValueError("say what to export: --vendor NAME, --alert ID, --capture ID or --query TEXT")
