"""Vendor identities as the workbench shows them: the linker's groups (analytics.identity.link_vendors:
shared PGP fingerprint = strong, shared contact or crypto address = medium) merged further by the pairs
analysts confirmed (reviews.py), the candidates still open, and those already decided.

A confirmed candidate counts as a link here only: groups it joins are shown as one identity of strength
``confirmed`` (an analyst's call, named with who and when), and the pair leaves the open candidates. The
index's VendorIdentity documents, the CLI and the exports keep the linker's own result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analytics.identity import IdentityResult
from dashboards.workbench import cached, reviews
from dashboards.workbench.store import Store
from indexer.base import IndexBackend
from indexer.models import stable_id

CONFIRMED = "confirmed"
STRENGTH_TEXT = {
    "strong": "strong: the same full PGP fingerprint",
    "medium": "medium: the same contact handle or crypto address",
    CONFIRMED: "confirmed by an analyst (similar aliases, reviewed)",
    "candidate": "candidate only: similar aliases, never merged by itself",
}


@dataclass
class Group:
    id: str
    vendors: list[str]
    strength: str  # strong | medium | confirmed
    confidence: float | None
    evidence: list[dict[str, Any]] = field(default_factory=list)  # the linker's evidence items
    confirmations: list[dict[str, Any]] = field(default_factory=list)  # review rows that joined it


@dataclass
class Candidate:
    id: str
    vendors: list[str]
    similarity: float | None
    evidence: list[dict[str, Any]]
    review: dict[str, Any] | None = None  # the latest decision, if any


@dataclass
class IdentityView:
    vendors: dict[str, dict[str, Any]]  # id -> vendor doc (every vendor in the index)
    groups: list[Group]
    open_candidates: list[Candidate]
    decided: list[Candidate]  # confirmed or rejected, newest decision first
    generic_values: list[dict[str, Any]]

    def group_of(self, vendor_id: str) -> Group | None:
        return next((g for g in self.groups if vendor_id in g.vendors), None)

    def candidates_of(self, vendor_id: str) -> list[Candidate]:
        return [c for c in [*self.open_candidates, *self.decided] if vendor_id in c.vendors]


def _find(parent: dict[str, str], x: str) -> str:
    parent.setdefault(x, x)
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def build(backend: IndexBackend, store: Store, result: IdentityResult | None = None) -> IdentityView:
    vendors = {v["id"]: v for v in backend.iter_docs("vendor")}
    result = result or cached.vendor_links(backend)
    decisions = reviews.current(store)
    confirmed = [(r, r["pair"].split(" ")) for r in decisions.values() if r["decision"] == "confirm"]
    confirmed = [(r, pair) for r, pair in confirmed if all(v in vendors for v in pair)]

    parent: dict[str, str] = {}
    for ident in result.identities:
        for member in ident.vendors[1:]:
            parent[_find(parent, member)] = _find(parent, ident.vendors[0])
    for _r, (a, b) in confirmed:
        parent[_find(parent, b)] = _find(parent, a)
    members: dict[str, list[str]] = {}
    for vid in parent:
        members.setdefault(_find(parent, vid), []).append(vid)

    groups = []
    for ids in members.values():
        ids.sort(key=lambda i: (str(vendors.get(i, {}).get("site")), str(vendors.get(i, {}).get("name")), i))
        parts = [ident for ident in result.identities if ident.vendors[0] in ids]
        joins = [r for r, pair in confirmed if pair[0] in ids]
        if len(parts) == 1 and not joins:
            ident = parts[0]
            groups.append(Group(ident.id, ids, ident.strength, ident.confidence, list(ident.evidence)))
            continue
        evidence = [item for ident in parts for item in ident.evidence]
        groups.append(Group(stable_id("vidw", *sorted(ids)), ids, CONFIRMED, None, evidence, joins))
    groups.sort(key=lambda g: ({"strong": 0, "medium": 1, CONFIRMED: 2}.get(g.strength, 3), -len(g.vendors), g.id))

    open_candidates, decided = [], []
    for cand in result.candidates:
        item = cand.evidence[0] if cand.evidence else {}
        entry = Candidate(cand.id, list(cand.vendors), item.get("similarity"), list(cand.evidence),
                          decisions.get(reviews.pair_key(*cand.vendors)))
        if entry.review is not None:
            decided.append(entry)
        elif _find(parent, cand.vendors[0]) != _find(parent, cand.vendors[1]):
            open_candidates.append(entry)
    # A pair confirmed earlier that the linker no longer proposes is still shown among the decisions.
    listed = {reviews.pair_key(*c.vendors) for c in decided}
    for key, review in decisions.items():
        pair = key.split(" ")
        if key not in listed and all(v in vendors for v in pair):
            decided.append(Candidate(review.get("candidate_id") or stable_id("vidc", *pair), pair, None, [], review))
    decided.sort(key=lambda c: str((c.review or {}).get("at")), reverse=True)
    open_candidates.sort(key=lambda c: (-(c.similarity or 0.0), c.id))
    return IdentityView(vendors, groups, open_candidates, decided, list(result.generic_values))
