"""STIX 2.1 bundles with the ``stix2`` library.

- each vendor account is a ``threat-actor`` (name, aliases across linked sites, first/last seen);
- PGP fingerprints, contacts and crypto addresses are cyber observables (``email-addr`` and
  ``user-account`` for contacts; ``x-sokhund-pgp-key`` and ``x-sokhund-crypto-address``, defined by
  ``new-sco`` extension definitions in the bundle, as STIX 2.1 has no object for them), grouped per
  vendor in ``observed-data``; onion/web URLs are ``url``;
- listings and alerts are ``report`` objects; identity links are ``related-to`` relationships with
  their confidence (0–100) and evidence;
- every SDO and SRO carries the captures behind it as external references (``sokhund-capture``, capture
  id, URL and ``SHA-256``). Observables cannot hold external references in STIX 2.1; their
  ``observed-data`` carries the capture instead.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from dashboards.selection import Selection

# Fixed ids: the producer and the extension definitions are the same objects in every bundle.
PRODUCER_ID = "identity--2b0e6c1f-8a4d-4c3e-9f7a-5d1b3c9e7a20"
PGP_EXTENSION = "extension-definition--7c3d2e1f-4b5a-4e6d-8f9a-0b1c2d3e4f5a"
CRYPTO_EXTENSION = "extension-definition--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
_SCHEMAS = {
    PGP_EXTENSION: ("x-sokhund-pgp-key", "An OpenPGP public key seen on a market, by its full v4 fingerprint "
                    "(40 hex digits). Properties: fingerprint (string, required)."),
    CRYPTO_EXTENSION: ("x-sokhund-crypto-address", "A cryptocurrency address (checksum-valid) a vendor published. "
                       "Properties: address (string, required), currency (BTC or XMR)."),
}


def _id(kind: str, *parts: Any) -> str:
    """SDOs and SROs get random UUIDv4 ids, as STIX 2.1 recommends (observables derive theirs)."""
    return f"{kind}--{uuid.uuid4()}"


def _time(value: Any) -> str | None:
    if not value:
        return None
    text = str(value)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _refs(sel: Selection, *capture_ids: Any) -> list[dict[str, Any]]:
    refs = []
    for cid in dict.fromkeys(c for c in capture_ids if c):
        cap = sel.captures.get(cid)
        if cap is None or not cap.get("sha256"):
            continue
        refs.append({"source_name": "sokhund-capture", "external_id": cid, "url": cap.get("url"),
                     "hashes": {"SHA-256": cap["sha256"]},
                     "description": f"WARC capture fetched {cap.get('fetched_at')} over {cap.get('network') or 'unknown network'}"})
    return refs


def _custom_types() -> tuple[Any, Any]:
    import stix2
    from stix2.properties import StringProperty

    @stix2.CustomObservable("x-sokhund-pgp-key", [("fingerprint", StringProperty(required=True))],
                            id_contrib_props=["fingerprint"], extension_name=PGP_EXTENSION)
    class PgpKey:
        pass

    @stix2.CustomObservable("x-sokhund-crypto-address", [("address", StringProperty(required=True)),
                                                         ("currency", StringProperty())],
                            id_contrib_props=["address"], extension_name=CRYPTO_EXTENSION)
    class CryptoAddress:
        pass

    return PgpKey, CryptoAddress


_TYPES: tuple[Any, Any] | None = None


def _observables(vendor: dict[str, Any]) -> list[Any]:
    import stix2

    global _TYPES
    if _TYPES is None:
        _TYPES = _custom_types()
    pgp_key, crypto = _TYPES
    out: list[Any] = [pgp_key(fingerprint=fp) for fp in vendor.get("pgp_fingerprints") or []]
    for contact in vendor.get("contacts") or []:
        kind, value = contact.get("kind"), contact.get("value")
        if not value:
            continue
        if kind == "email":
            out.append(stix2.EmailAddress(value=value))
        else:
            out.append(stix2.UserAccount(user_id=value, account_login=value, account_type=kind))
    for address in vendor.get("crypto_addresses") or []:
        value = address.get("address") if isinstance(address, dict) else address
        currency = address.get("currency") if isinstance(address, dict) else ("XMR" if str(value)[:1] in "48" and len(str(value)) > 90 else "BTC")
        out.append(crypto(address=value, currency=currency))
    if vendor.get("url"):
        out.append(stix2.URL(value=vendor["url"]))
    return out


def build_bundle(sel: Selection) -> Any:
    """A ``stix2.Bundle`` for the selection."""
    import stix2

    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    producer = stix2.Identity(id=PRODUCER_ID, name="Sökhund", identity_class="system",
                              created="2026-01-01T00:00:00Z", modified="2026-01-01T00:00:00Z",
                              description="Sökhund crawler: market evidence archived as WARC 1.1 with sha256 digests")
    objects: list[Any] = [producer]
    objects += [stix2.ExtensionDefinition(id=ext, created_by_ref=PRODUCER_ID, name=name, description=text,
                                          schema=text, version="1.0", extension_types=["new-sco"],
                                          created="2026-01-01T00:00:00Z", modified="2026-01-01T00:00:00Z")
                for ext, (name, text) in _SCHEMAS.items()]
    actor_of: dict[str, str] = {}
    aliases: dict[str, set[str]] = {}
    name_of = {v["id"]: str(v.get("name")) for v in sel.vendors}
    for group in sel.identities:
        members = group.get("vendors") or []
        for vid in members:
            aliases.setdefault(vid, set()).update(name_of[m] for m in members if m in name_of)
    for vendor in sel.vendors:
        actor_id = _id("threat-actor", vendor["id"])
        actor_of[vendor["id"]] = actor_id
        names = sorted(aliases.get(vendor["id"], set()) - {vendor.get("name")})
        refs = _refs(sel, vendor.get("capture_id"))
        objects.append(stix2.ThreatActor(
            id=actor_id, name=vendor.get("name") or vendor["id"], created_by_ref=producer.id,
            threat_actor_types=["criminal"], aliases=names or None,
            description=f"Vendor account on {vendor.get('site')} ({vendor.get('url') or 'no profile URL'}); "
                        f"Swedish score {vendor.get('swedish_score')}",
            first_seen=_time(vendor.get("first_seen")), last_seen=_time(vendor.get("last_seen")),
            external_references=refs or None, allow_custom=True,
        ))
        observables = _observables(vendor)
        if observables:
            objects += observables
            seen = _time(vendor.get("last_seen")) or now
            observed = stix2.ObservedData(
                id=_id("observed-data", vendor["id"]), created_by_ref=producer.id,
                first_observed=_time(vendor.get("first_seen")) or seen, last_observed=seen, number_observed=1,
                object_refs=[o.id for o in observables], external_references=refs or None, allow_custom=True,
            )
            objects.append(observed)
            objects.append(stix2.Relationship(id=_id("relationship", actor_id, observed.id), source_ref=actor_id,
                                              relationship_type="related-to", target_ref=observed.id,
                                              created_by_ref=producer.id, external_references=refs or None))
    for group in sel.identities:
        members = [actor_of[v] for v in group.get("vendors") or [] if v in actor_of]
        evidence = group.get("evidence") or []
        refs = _refs(sel, *[c.get("capture_id") for e in evidence for c in e.get("captures") or []])
        why = "; ".join(f"{e.get('type')} {e.get('value')} ({e.get('strength')})" for e in evidence)
        for other in members[1:]:
            objects.append(stix2.Relationship(
                id=_id("relationship", members[0], other, group.get("id")), source_ref=members[0],
                relationship_type="related-to", target_ref=other, created_by_ref=producer.id,
                confidence=max(0, min(100, round(float(group.get("confidence") or 0) * 100))),
                description=f"same person ({group.get('strength')} link): {why}"[:2000],
                external_references=refs or None,
            ))
    for listing in sel.listings:
        actor = actor_of.get(str(listing.get("vendor_id")))
        url = stix2.URL(value=listing["url"]) if listing.get("url") else None
        if url is not None:
            objects.append(url)
        refs = _refs(sel, listing.get("capture_id"))
        price = f"{listing.get('price')} {listing.get('currency') or ''}".strip()
        objects.append(stix2.Report(
            id=_id("report", listing["id"]), name=listing.get("title") or listing["id"],
            report_types=["observed-data"], published=_time(listing.get("first_seen")) or now,
            created_by_ref=producer.id,
            description=(f"Listing {listing.get('listing_id')} on {listing.get('site')} by {listing.get('vendor')}: "
                         f"{listing.get('substance') or 'unknown substance'}, {listing.get('quantity_g')} g, {price} "
                         f"({listing.get('price_sek')} SEK), ships from {listing.get('ships_from')} to "
                         f"{', '.join(listing.get('ships_to') or []) or 'unknown'}; seen {listing.get('first_seen')} – "
                         f"{listing.get('last_seen')}"),
            object_refs=[r for r in (actor, url.id if url else None) if r] or [producer.id],
            external_references=refs or None,
        ))
    for alert in sel.alerts:
        refs = _refs(sel, *[e.get("capture_id") for e in alert.get("evidence") or []])
        targets = [actor_of[alert["entity"]]] if alert.get("entity") in actor_of else list(actor_of.values())
        objects.append(stix2.Report(
            id=_id("report", alert["id"]), name=alert.get("title") or alert["id"], report_types=["threat-report"],
            published=_time(alert.get("fired_at")) or now, created_by_ref=producer.id,
            description=f"Sökhund alert ({alert.get('rule')}) on {alert.get('entity_kind')} {alert.get('entity')}",
            object_refs=targets or [producer.id], external_references=refs or None,
        ))
    unique = {o.id: o for o in objects}
    return stix2.Bundle(objects=list(unique.values()), allow_custom=True)


def write_stix(sel: Selection, out: Any) -> Any:
    from pathlib import Path

    bundle = build_bundle(sel)
    Path(out).write_text(bundle.serialize(pretty=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return bundle
