"""How much of each site a crawl covered, and the record of every crawl run in the index.

A site's *baseline* (what "new vendor" is measured against) must be a complete crawl: a crawl cut short by
its page budget, its depth limit, a stopped session or an early shutdown saw only part of the site, and
every vendor it missed would later look new. So every crawl records, per site, whether it was complete
and why not, in the run's ``CampaignRun`` document (``stats.coverage``). Crawls started by hand
(``sokhund crawl``) get a ``CampaignRun`` of their own with ``campaign: manual``; a campaign run already
has one and only gains the coverage.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from indexer.base import IndexBackend
from indexer.models import CampaignRun

MANUAL = "manual"  # campaign name of runs started with `sokhund crawl`
ENDED_NORMALLY = ("finished", "closespider_pagecount")


def site_coverage(stats: dict[str, Any], *, page_budget: int | None, max_depth: int | None) -> dict[str, Any]:
    """Per-site coverage from the crawl's final stats: ``complete`` and, when not, the ``reason``."""
    reasons: list[str] = []
    finish = stats.get("finish_reason")
    if finish == "closespider_pagecount":
        reasons.append(f"page budget of {page_budget or '?'} pages reached")
    elif finish not in (None, "finished"):
        reasons.append(f"crawl ended early ({finish})")
    elif finish is None:
        reasons.append("the crawl did not report how it ended")
    if stats.get("depth_limited"):  # links beyond max_depth were not followed (pagination does not count)
        reasons.append(f"{stats['depth_limited']} links beyond the depth limit {max_depth or '?'} not followed")
    if stats.get("site_stopped"):
        reasons.append(f"site stopped: {stats['site_stopped']}")
    if not stats.get("pages"):
        reasons.append("no page fetched")
    return {"complete": not reasons, "reason": "; ".join(reasons) or None, "pages": stats.get("pages", 0),
            "errors": stats.get("errors", 0), "page_budget": page_budget, "max_depth": max_depth}


def site_failure(stats: dict[str, Any]) -> str | None:
    """Why a site's crawl failed outright (nothing usable came back), or None. A partial crawl (budget or
    depth reached) is not a failure."""
    if stats.get("site_stopped"):
        return f"site stopped: {stats['site_stopped']}"
    if not stats.get("pages"):
        errors = stats.get("errors", 0)
        return f"no page fetched ({errors} error{'s' if errors != 1 else ''}; is the site reachable?)"
    finish = stats.get("finish_reason")
    if finish is not None and finish not in ENDED_NORMALLY:
        return f"crawl ended early ({finish})"
    return None


def run_status(site_stats: dict[str, dict[str, Any]]) -> tuple[str, dict[str, str]]:
    """``ok`` / ``partial`` (some sites failed) / ``failed`` (all did), with the reason per failed site."""
    failures = {site: why for site, s in site_stats.items() if (why := site_failure(s))}
    if not failures:
        return "ok", {}
    return ("failed" if len(failures) == len(site_stats) else "partial"), failures


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def record_run(backend: IndexBackend, run_id: str, *, as_of: str, sites: list[str],
               site_stats: dict[str, dict[str, Any]], coverage: dict[str, dict[str, Any]],
               started_at: str | None = None) -> None:
    """Write the crawl's coverage into its ``CampaignRun``; create a ``manual`` run when there is none (a
    crawl started by hand). A resumed run keeps the coverage of the sites it does not crawl again."""
    doc = backend.get("campaign_run", run_id)
    if doc is not None:
        stats = dict(doc.get("stats") or {})
        stats["coverage"] = {**(stats.get("coverage") or {}), **coverage}
        run = CampaignRun.from_dict({**doc, "stats": stats})
        backend.upsert([run])  # type: ignore[list-item]
        return
    status, failures = run_status({s: site_stats.get(s, {}) for s in sites})
    totals = {"pages": sum(int(site_stats.get(s, {}).get("pages") or 0) for s in sites),
              "errors": sum(int(site_stats.get(s, {}).get("errors") or 0) for s in sites)}
    items: dict[str, int] = {}
    invalid: dict[str, int] = {}
    for s in sites:
        for kind, n in (site_stats.get(s, {}).get("items") or {}).items():
            items[kind] = items.get(kind, 0) + int(n)
        for kind, n in (site_stats.get(s, {}).get("invalid_pages") or {}).items():
            invalid[kind] = invalid.get(kind, 0) + int(n)
    stats: dict[str, Any] = {**totals, "items": sum(items.values()), "items_by_kind": items,
                             "invalid_pages": invalid, "coverage": coverage, "trigger": MANUAL}
    if failures:
        stats["site_failures"] = failures
    backend.upsert([CampaignRun(
        id=run_id, campaign=MANUAL, started_at=started_at or _now(), finished_at=_now(), as_of=as_of,
        status=status, stats=stats,
        error="; ".join(f"{site}: {why}" for site, why in failures.items()) or None,
    )])


# ----------------------------------------------------------------------------------- baselines
@dataclass(frozen=True)
class Baseline:
    """A site's baseline crawl: its as-of time and run id (``run_id`` is empty when only vendors are known);
    ``from_coverage`` when it is the first crawl recorded as complete."""

    as_of: str
    run_id: str = ""
    from_coverage: bool = False


def _parse(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def coverage_baselines(backend: IndexBackend, sites: Iterable[str] | None = None
                       ) -> dict[str, Baseline | None]:
    """Per site with recorded coverage: its first complete crawl, or None while no crawl of the site has
    been complete yet (then nothing on that site is "new"). Sites without any coverage record (an index
    written before coverage was recorded) are absent: the caller falls back to the first crawl."""
    wanted = set(sites) if sites is not None else None
    seen: dict[str, list[tuple[datetime, str, str]]] = {}
    for run in backend.iter_docs("campaign_run"):
        as_of = _parse(run.get("as_of"))
        for site, cov in ((run.get("stats") or {}).get("coverage") or {}).items():
            if wanted is not None and site not in wanted:
                continue
            slot = seen.setdefault(site, [])
            if as_of is not None and isinstance(cov, dict) and cov.get("complete"):
                slot.append((as_of, str(run.get("as_of")), str(run["id"])))
    return {site: (Baseline(min(found)[1], min(found)[2], True) if found else None)
            for site, found in seen.items()}
