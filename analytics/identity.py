"""Cross-site vendor identity: link Vendor docs into VendorIdentity docs, with evidence.

Evidence and what it may do:

* **strong** — the same full OpenPGP fingerprint (v4: 40 hex digits; v5/v6: 64), primary key or subkey,
  on two vendor profiles. Short key ids are never evidence.
* **medium** — the same contact handle (kind + value, e.g. Wickr ``kalle_se``) or the same crypto address.
  A value shared by more than ``max_share`` vendors is treated as generic (a market's support handle, an
  escrow address) and ignored; the report lists it.
* **medium** — ``claimed_elsewhere``: vendor A imports its rating from market M ("Verified Dream vendor,
  138 sales") and exactly one vendor on a site whose market is M has the same normalised alias. The claim
  is self-asserted and the market cannot check it (anyone may copy a famous vendor's name and numbers), so
  it never counts as strong; with the alias it is as good as a shared contact. A claim that matches no
  vendor (or several) links nothing; it is recorded in ``IdentityResult.claims``.
* **candidate** — similar normalised aliases. Listed for the analyst, **never merged** on their own.

Vendors are grouped with union-find over strong and medium edges. A group is ``strong`` when its strong
edges alone connect it, else ``medium``. Candidate pairs between different groups are written as separate
``VendorIdentity`` docs with ``strength="candidate"``. Re-running replaces the previous result (stale
identity docs are deleted), so linking is idempotent.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from rapidfuzz.distance import Indel

from extractors.structures import market_name, site_market
from indexer.base import IndexBackend
from indexer.models import VendorIdentity, stable_id

STRONG, MEDIUM, CANDIDATE = "strong", "medium", "candidate"
CONFIDENCE = {STRONG: 0.99, MEDIUM: 0.75, CANDIDATE: 0.3}
_HEX = re.compile(r"[^0-9A-F]")
_HOMOGLYPHS = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "$": "s", "@": "a",
                             "|": "l", "!": "i"})
_AFFIXES = re.compile(r"^(the|real|official)|(official|shop|store|sweden|swe|se|nl|uk|de|us|eu|team)$")


def normalise_fingerprint(value: Any) -> str | None:
    """Upper-case hex without spaces; None unless it is a full v4 (40) or v5/v6 (64) fingerprint."""
    text = str(value or "").upper()
    if text.startswith("0X"):
        text = text[2:]
    hexed = _HEX.sub("", text)
    if len(hexed) in (40, 64) and len(hexed) >= len(re.sub(r"[\s:]", "", text)):
        return hexed
    return None


def normalise_contact(contact: Any) -> tuple[str, str] | None:
    if isinstance(contact, dict):
        kind, value = str(contact.get("kind") or "").casefold(), str(contact.get("value") or "")
    else:
        kind, value = "", str(contact or "")
    value = value.strip().casefold().lstrip("@")
    value = re.sub(r"\s+", "", value)
    if len(value) < 3:
        return None
    return kind, value


def normalise_address(value: Any) -> str | None:
    text = str(value or "").strip()
    if len(text) < 20:
        return None
    return text.lower() if text.lower().startswith(("bc1", "tb1", "ltc1")) else text


def normalise_alias(name: str) -> str:
    """Case, diacritics, look-alike digits and separators folded; trailing digits and common affixes
    (``_se``, ``official`` …) dropped. Only used for *candidate* links."""
    text = unicodedata.normalize("NFKD", name.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"\d+$", "", re.sub(r"[\s_\-.]+", "", text))
    text = re.sub(r"[^a-z0-9]", "", text.translate(_HOMOGLYPHS))
    stripped = _AFFIXES.sub("", text)
    return stripped if len(stripped) >= 3 else text


def alias_similarity(a: str, b: str) -> float:
    """2 * LCS / (len a + len b) of the normalised aliases: rapidfuzz's Indel similarity, the exact form of
    what difflib's ratio approximates (never lower). On 4,735 real alias pairs (../shared/data) 11% score
    differently, but both put the same 10 pairs over 0.88 (benchmarks/alias_similarity_compare.py)."""
    na, nb = normalise_alias(a), normalise_alias(b)
    if not na or not nb:
        return 0.0
    return Indel.normalized_similarity(na, nb)


@dataclass
class Edge:
    a: str
    b: str
    strength: str
    kind: str  # pgp_fingerprint | contact | crypto_address | claimed_elsewhere | alias
    value: str
    score: float = 1.0
    detail: dict[str, Any] = field(default_factory=dict)  # extra facts for the evidence (the claim)


@dataclass
class IdentityResult:
    identities: list[VendorIdentity] = field(default_factory=list)  # strong and medium groups
    candidates: list[VendorIdentity] = field(default_factory=list)  # alias-only pairs, never merged
    generic_values: list[dict[str, Any]] = field(default_factory=list)  # ignored: shared too widely
    # every imported-rating claim: {"vendor", "site", "name", "market", "sales", "rating", "status", "matches"}
    # with status linked | no_match | ambiguous | own_market
    claims: list[dict[str, Any]] = field(default_factory=list)

    def group_of(self, vendor_id: str) -> VendorIdentity | None:
        for ident in self.identities:
            if vendor_id in ident.vendors:
                return ident
        return None


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@lru_cache(maxsize=4096)
def key_block_fingerprints(block: str) -> tuple[str, ...]:
    """Primary and subkey fingerprints of every armored public key in ``block`` (via the extractors'
    OpenPGP parser); empty when it cannot be parsed. Used when a Vendor carries its published key block
    but the crawl did not fill ``pgp_fingerprints``."""
    try:
        from extractors.pgp import find_keys
    except ImportError:
        return ()
    out: list[str] = []
    try:
        for _, _, key, _ in find_keys(block):
            if key:
                out += [key["fingerprint"], *key.get("subkeys", [])]
    except Exception:  # a malformed block is no evidence, never a crash
        return ()
    return tuple(out)


def vendor_fingerprints(vendor: dict[str, Any]) -> list[str]:
    """Normalised full fingerprints of a vendor: the indexed ones plus those of its published key block."""
    found = [*(vendor.get("pgp_fingerprints") or [])]
    if vendor.get("pgp_key"):
        found += key_block_fingerprints(str(vendor["pgp_key"]))
    return sorted({n for n in (normalise_fingerprint(fp) for fp in found) if n})


def _vendor_values(vendor: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(kind, strength, normalised value) for every piece of linking evidence on a vendor."""
    out: set[tuple[str, str, str]] = set()
    for fp in vendor_fingerprints(vendor):
        norm = normalise_fingerprint(fp)
        if norm:
            out.add(("pgp_fingerprint", STRONG, norm))
    for contact in vendor.get("contacts") or []:
        norm_c = normalise_contact(contact)
        if norm_c:
            out.add(("contact", MEDIUM, f"{norm_c[0]}:{norm_c[1]}"))
    for address in vendor.get("crypto_addresses") or []:
        norm_a = normalise_address(address)
        if norm_a:
            out.add(("crypto_address", MEDIUM, norm_a))
    return sorted(out)


def find_edges(
    vendors: list[dict[str, Any]], *, max_share: int = 4, alias_threshold: float = 0.88
) -> tuple[list[Edge], list[Edge], list[dict[str, Any]]]:
    """(strong+medium edges, candidate alias edges, generic values that were ignored)."""
    holders: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for vendor in vendors:
        for value in _vendor_values(vendor):
            holders[value].append(vendor["id"])
    edges: list[Edge] = []
    generic: list[dict[str, Any]] = []
    for (kind, strength, value), ids in sorted(holders.items()):
        ids = sorted(set(ids))
        if len(ids) < 2:
            continue
        if strength == MEDIUM and len(ids) > max_share:
            generic.append({"kind": kind, "value": value, "vendors": ids})
            continue
        for other in ids[1:]:  # a star is enough for union-find; evidence lists every holder
            edges.append(Edge(ids[0], other, strength, kind, value))
    candidates: list[Edge] = []
    blocks: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for vendor in vendors:
        norm = normalise_alias(str(vendor.get("name") or ""))
        if norm:
            blocks[norm[:2]].append(vendor)
    for block in blocks.values():
        for i, a in enumerate(block):
            for b in block[i + 1 :]:
                if a["id"] == b["id"]:
                    continue
                score = alias_similarity(str(a.get("name")), str(b.get("name")))
                if score >= alias_threshold:
                    x, y = sorted((a["id"], b["id"]))
                    candidates.append(Edge(x, y, CANDIDATE, "alias", f"{a.get('name')} ~ {b.get('name')}", score))
    return edges, candidates, generic


CLAIMED_ELSEWHERE = "claimed_elsewhere"


def find_claims(vendors: list[dict[str, Any]]) -> tuple[list[Edge], list[dict[str, Any]]]:
    """Medium edges from imported ratings whose market and alias match exactly one vendor, and every
    claim with what came of it."""
    by_market_alias: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for vendor in vendors:
        alias = normalise_alias(str(vendor.get("name") or ""))
        if alias:
            by_market_alias[(site_market(vendor.get("site")), alias)].append(vendor)
    edges: list[Edge] = []
    claims: list[dict[str, Any]] = []
    for vendor in vendors:
        own = site_market(vendor.get("site"))
        alias = normalise_alias(str(vendor.get("name") or ""))
        seen: set[str] = set()
        for rating in vendor.get("external_ratings") or []:
            if not isinstance(rating, dict) or not rating.get("market"):
                continue
            market = market_name(str(rating["market"])) or site_market(rating["market"])
            if market in seen:
                continue
            seen.add(market)
            matches = [v for v in by_market_alias.get((market, alias), []) if v["id"] != vendor["id"]]
            status = ("own_market" if market == own else "linked" if len(matches) == 1
                      else "ambiguous" if matches else "no_match")
            claim = {"vendor": vendor["id"], "site": vendor.get("site"), "name": vendor.get("name"),
                     "market": market, "sales": rating.get("sales"), "rating": rating.get("rating"),
                     "status": status, "matches": sorted(v["id"] for v in matches)}
            claims.append(claim)
            if status == "linked":
                other = matches[0]
                a, b = sorted((vendor["id"], other["id"]))
                value = f"{vendor.get('site')}:{vendor.get('name')} claims {market}:{other.get('name')}"
                edges.append(Edge(a, b, MEDIUM, CLAIMED_ELSEWHERE, value,
                                  detail={"claim": {k: claim[k] for k in ("vendor", "market", "sales", "rating")}}))
    return edges, claims


def _capture(vendor: dict[str, Any]) -> dict[str, Any]:
    return {"vendor": vendor["id"], "site": vendor.get("site"), "name": vendor.get("name"),
            "capture_id": vendor.get("capture_id") or "", "sha256": vendor.get("capture_sha256") or ""}


def _evidence(edges: list[Edge], holders: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    grouped: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    scores: dict[tuple[str, str, str], float] = {}
    details: dict[tuple[str, str, str], dict[str, Any]] = {}
    for e in edges:
        key = (e.strength, e.kind, e.value)
        grouped[key].update((e.a, e.b))
        scores[key] = max(scores.get(key, 0.0), e.score)
        details.setdefault(key, {}).update(e.detail)
    order = {STRONG: 0, MEDIUM: 1, CANDIDATE: 2}
    out = []
    for (strength, kind, value), ids in sorted(grouped.items(), key=lambda kv: (order[kv[0][0]], kv[0])):
        item: dict[str, Any] = {"strength": strength, "type": kind, "value": value, "vendors": sorted(ids),
                                "captures": [_capture(holders[i]) for i in sorted(ids)]}
        if kind == "alias":
            item["similarity"] = round(scores[(strength, kind, value)], 3)
        item.update(details.get((strength, kind, value), {}))
        out.append(item)
    return out


def _connected(members: list[str], edges: list[Edge]) -> bool:
    uf = _UnionFind()
    for m in members:
        uf.find(m)
    for e in edges:
        uf.union(e.a, e.b)
    return len({uf.find(m) for m in members}) == 1


def link_vendors(
    backend: IndexBackend, *, write: bool = True, max_share: int = 4, alias_threshold: float = 0.88
) -> IdentityResult:
    """Build VendorIdentity docs from every Vendor in the index; with ``write`` they replace the old ones."""
    vendors = list(backend.iter_docs("vendor"))
    by_id = {v["id"]: v for v in vendors}
    edges, candidate_edges, generic = find_edges(vendors, max_share=max_share, alias_threshold=alias_threshold)
    claim_edges, claims = find_claims(vendors)
    edges += claim_edges
    uf = _UnionFind()
    for e in edges:
        uf.union(e.a, e.b)
    groups: dict[str, list[str]] = defaultdict(list)
    for vid in sorted({x for e in edges for x in (e.a, e.b)}):
        groups[uf.find(vid)].append(vid)
    result = IdentityResult(generic_values=generic, claims=claims)
    for members in groups.values():
        group_edges = [e for e in edges if uf.find(e.a) == uf.find(members[0])]
        strong = _connected(members, [e for e in group_edges if e.strength == STRONG])
        strength = STRONG if strong else MEDIUM
        medium_kinds = {e.kind for e in group_edges if e.strength == MEDIUM}
        confidence = CONFIDENCE[STRONG] if strong else min(0.9, CONFIDENCE[MEDIUM] + 0.05 * (len(medium_kinds) - 1))
        result.identities.append(
            VendorIdentity(
                id=stable_id("vid", *members),
                vendors=members,
                names=[f"{by_id[m].get('site')}:{by_id[m].get('name')}" for m in members],
                strength=strength,
                confidence=confidence,
                evidence=_evidence(group_edges, by_id),
            )
        )
    for e in candidate_edges:
        if uf.find(e.a) == uf.find(e.b):
            continue  # already linked by real evidence
        result.candidates.append(
            VendorIdentity(
                id=stable_id("vidc", e.a, e.b),
                vendors=[e.a, e.b],
                names=[f"{by_id[m].get('site')}:{by_id[m].get('name')}" for m in (e.a, e.b)],
                strength=CANDIDATE,
                confidence=round(CONFIDENCE[CANDIDATE] * e.score, 3),
                evidence=_evidence([e], by_id),
            )
        )
    if write:
        docs = result.identities + result.candidates
        keep = {d.id for d in docs}
        for old in list(backend.iter_docs("vendor_identity")):
            if old["id"] not in keep:
                backend.delete("vendor_identity", old["id"])
        backend.upsert(docs)
    return result


def identities_of(backend: IndexBackend, vendor_id: str) -> list[dict[str, Any]]:
    """Stored VendorIdentity docs (groups and candidates) that include ``vendor_id``."""
    return [d for d in backend.iter_docs("vendor_identity") if vendor_id in (d.get("vendors") or [])]
