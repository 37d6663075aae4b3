"""Vendor roll-up, run after each crawl: recompute each Vendor's aggregates from the index.

Per vendor (``Vendor.id``), from its Listing docs (``Listing.vendor_id``):

* ``listings``: listings seen in the site's latest crawl (``last_seen`` on the latest crawl day of that
  site); a vendor whose listings are all gone has 0;
* ``ships_from``: the majority country of its listings (current ones first; a tie keeps the profile's own
  country when it is one of the tied, else the alphabetically first);
* ``swedish_score`` and ``swedish_signals``: over the text the vendor wrote (profile, the listings' titles
  and descriptions) plus the structured fields (ships_from/ships_to, currencies, payment, shipping). The
  extractors' ``extractors.swedish.swedish_score`` is used when it exists; otherwise the built-in
  :func:`fallback_swedish_score`, whose signals are documented there. Both get the vendor's **market
  profile** (:func:`market_profiles`): what most listings of the site share (its language, its currency,
  shipping to Sweden) is a property of the market, not of the vendor, and is discounted.

A vendor that has listings but no Vendor doc (its profile page was not crawled) gets a minimal Vendor
doc built from its listings. Only changed docs are written, so running it twice changes nothing.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from indexer.base import IndexBackend
from indexer.models import Vendor, VendorObservation

log = logging.getLogger(__name__)

SWEDISH_THRESHOLD = 0.5  # the score from which a vendor counts as Swedish (CLI, trends, alerts)

# Built-in scorer: signal -> weight. Positive weights add up to 1.0.
WEIGHTS: dict[str, float] = {
    "ships_from:SE": 0.45,
    "text:swedish": 0.15,
    "currency:SEK": 0.1,
    "payment:swish": 0.1,
    "shipping:postnord/brev": 0.1,
    "ships_to:SE-only": 0.1,
    "ships_from:abroad": -0.2,
}
_SV_WORDS = frozenset(
    "och att det som är för med inte på till av har jag vi du skickar skickas från alltid kvalitet "
    "beställ betalning stamkunder kontakt säljare också eller finns går dagar inom sverige".split()
)
_NEGATION = re.compile(r"\b(inte|ej|icke|no|not|never|aldrig)\b")
_SWISH = re.compile(r"\bswish\b", re.IGNORECASE)
_POSTNORD = re.compile(r"\b(postnord|brev|rek|brevlådan|brevl[aå]da)\b", re.IGNORECASE)
_SEK = re.compile(r"(\d\s*(kr|sek|:-))|\bsek\b|\bkronor\b", re.IGNORECASE)
_WORD = re.compile(r"[a-zåäöéü]+")
MARKET_NORM_SHARE = 0.6  # a property of at least this share of a site's listings is the market's norm
MARKET_MIN_VENDORS = 5  # below this, a site is a vendor's own shop: its language/currency are the vendor's

SwedishScorer = Callable[[list[str], str | None, list[str]], tuple[float, list[str]]]


@dataclass
class RollupResult:
    vendors: int = 0
    updated: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    scorer: str = ""


def _mentions_unnegated(pattern: re.Pattern[str], text: str) -> bool:
    """True when ``pattern`` occurs in ``text`` without a negation in the same clause ("Swish tas INTE emot")."""
    for clause in re.split(r"[.!?;\n]", text):
        if pattern.search(clause) and not _NEGATION.search(clause.lower()):
            return True
    return False


def is_swedish_text(texts: Iterable[str]) -> bool:
    words = [w for t in texts for w in _WORD.findall(t.lower())]
    if len(words) < 5:
        return False
    hits = sum(1 for w in words if w in _SV_WORDS)
    return hits / len(words) >= 0.08


def fallback_swedish_score(
    texts: list[str],
    ships_from: str | None,
    ships_to: list[str],
    *,
    currencies: Iterable[str] = (),
    payments: Iterable[str] = (),
    langs: Iterable[str | None] = (),
    market: dict[str, Any] | None = None,
) -> tuple[float, list[str]]:
    """(score in 0..1, the signals that explain it). Signals: ``ships_from:SE``, ``text:swedish``
    (language tags or Swedish function words), ``currency:SEK`` (a SEK price or ``kr``/``:-`` in the
    text), ``payment:swish`` (not when negated: "Swish tas INTE emot"), ``shipping:postnord/brev``,
    ``ships_to:SE-only``; ``ships_from:abroad`` lowers the score when the goods ship from elsewhere.
    ``market`` (see :func:`market_profiles`): signals that are the norm of the vendor's market (Swedish
    text on a Swedish-language site, SEK on a SEK site, SE destinations where everyone ships to SE) are
    dropped: they describe the market, not the vendor."""
    signals: list[str] = []
    joined = "\n".join(t for t in texts if t)
    if ships_from == "SE":
        signals.append("ships_from:SE")
    elif ships_from:
        signals.append("ships_from:abroad")
    lang_tags = [lang for lang in langs if lang]
    if (lang_tags and Counter(lang_tags).most_common(1)[0][0] == "sv") or is_swedish_text(texts):
        signals.append("text:swedish")
    if any(str(c).upper() == "SEK" for c in currencies) or _SEK.search(joined):
        signals.append("currency:SEK")
    if any("swish" in str(p).lower() for p in payments) or _mentions_unnegated(_SWISH, joined):
        signals.append("payment:swish")
    if _POSTNORD.search(joined):
        signals.append("shipping:postnord/brev")
    if ships_to and {c.upper() for c in ships_to} == {"SE"}:
        signals.append("ships_to:SE-only")
    if market:
        norm = {"text:swedish": market.get("lang") == "sv", "currency:SEK": market.get("currency") == "SEK",
                "ships_to:SE-only": bool(market.get("ships_to_se"))}
        signals = [s for s in signals if not norm.get(s)]
    score = max(0.0, min(1.0, sum(WEIGHTS[s] for s in signals)))
    return round(score, 3), signals


def _external_scorer() -> SwedishScorer | None:
    try:
        from extractors.swedish import swedish_score  # type: ignore[import-not-found]
    except ImportError:
        return None
    return swedish_score  # type: ignore[no-any-return]


def _accepts_market(scorer: Any) -> bool:
    try:
        params = inspect.signature(scorer).parameters
    except (TypeError, ValueError):
        return False
    return "market" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _accepts(scorer: Any, name: str) -> bool:
    try:
        params = inspect.signature(scorer).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _call_external(scorer: Any, texts: list[str], ships_from: str | None, ships_to: list[str],
                   market: dict[str, Any] | None = None, shop: Any = None) -> tuple[float, list[str]] | None:
    try:
        kwargs: dict[str, Any] = {}
        if market is not None and _accepts_market(scorer):
            kwargs["market"] = market
        if shop is not None and _accepts(scorer, "shop"):
            kwargs["shop"] = shop
        result = scorer(texts, ships_from, ships_to, **kwargs)
    except Exception as exc:  # a broken extractor must not stop the roll-up; the fallback takes over
        log.warning("extractors.swedish.swedish_score failed (%s); using the built-in scorer", exc)
        return None
    if isinstance(result, dict):
        score, signals = result.get("score"), result.get("signals")
    else:
        score, signals = result
    if score is None:
        return None
    signals = list(signals or [])
    if ships_from and ships_from != "SE":
        # The listings' structured ships_from is abroad: a text mention of Sweden ("3–5 dagar till Sverige")
        # must not count as shipping from Sweden. Re-combine the remaining signals with the extractors' rule.
        kept = [s for s in signals if not (isinstance(s, dict) and s.get("signal") == "ships_from_se")]
        if len(kept) != len(signals):
            try:
                from extractors.swedish import combine
            except ImportError:
                combine = None
            if combine is not None:
                score = combine(kept) if kept else 0.0
                signals = kept
    return round(float(score), 3), signal_strings(signals)


def signal_strings(signals: Iterable[Any]) -> list[str]:
    """One ``"name: evidence"`` string per distinct signal (Vendor.swedish_signals is a list of strings;
    the extractors' signals are ``{"signal", "weight", "evidence"}`` dicts)."""
    out: dict[str, str] = {}
    for s in signals:
        if isinstance(s, dict):
            name = str(s.get("signal") or s.get("name") or "")
            evidence = str(s.get("evidence") or "")
            if name and name not in out:
                out[name] = f"{name}: {evidence}" if evidence else name
        elif str(s) and str(s).split(":")[0] not in out:
            out[str(s).split(":")[0]] = str(s)
    return list(out.values())


def _majority(values: list[str], prefer: str | None) -> str | None:
    if not values:
        return None
    counts = Counter(values)
    top = max(counts.values())
    tied = sorted(v for v, n in counts.items() if n == top)
    return prefer if prefer in tied else tied[0]


def _latest_day_per_site(listings: Iterable[dict[str, Any]]) -> dict[str, str]:
    latest: dict[str, str] = {}
    for doc in listings:
        day = str(doc.get("last_seen") or "")[:10]
        site = str(doc.get("site") or "")
        if day and day > latest.get(site, ""):
            latest[site] = day
    return latest


def site_first_days(vendors: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Per site, the first day any of its vendors was seen: the site's baseline crawl."""
    first: dict[str, str] = {}
    for v in vendors:
        day, site = str(v.get("first_seen") or "")[:10], str(v.get("site") or "")
        if day and (site not in first or day < first[site]):
            first[site] = day
    return first


def is_baseline(vendor: dict[str, Any], first_days: dict[str, str]) -> bool:
    """First seen on its site's baseline crawl: already there when we started watching."""
    day = str(vendor.get("first_seen") or "")[:10]
    return bool(day) and day <= first_days.get(str(vendor.get("site") or ""), "")


def market_profiles(listings: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per site, what is normal on that market, from its listings (data, not a list of site names):
    ``lang`` / ``currency`` when at least ``MARKET_NORM_SHARE`` of the listings share it, ``ships_to_se`` when
    that share of the listings with destinations ship to Sweden. Sites with fewer than
    ``MARKET_MIN_VENDORS`` vendors get no profile (a one-vendor shop's language is the vendor's own)."""
    per_site: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc in listings:
        per_site[str(doc.get("site") or "")].append(doc)
    out: dict[str, dict[str, Any]] = {}
    for site, docs in per_site.items():
        if len({d.get("vendor_id") for d in docs if d.get("vendor_id")}) < MARKET_MIN_VENDORS:
            continue
        profile: dict[str, Any] = {"site": site, "lang": None, "currency": None, "ships_to_se": False}
        for key, field_name in (("lang", "lang"), ("currency", "currency")):
            values = [str(d[field_name]).strip() for d in docs if d.get(field_name)]
            if values:
                top, n = Counter(values).most_common(1)[0]
                if n / len(values) >= MARKET_NORM_SHARE:
                    profile[key] = top.lower() if key == "lang" else top.upper()
        dests = [{str(c).upper() for c in d["ships_to"]} for d in docs if d.get("ships_to")]
        if dests:
            to_se = sum(1 for d in dests if d & {"SE", "SWEDEN", "NORDIC"})
            profile["ships_to_se"] = to_se / len(dests) >= MARKET_NORM_SHARE
        out[site] = profile
    return out


def _site_adapters(sites: Iterable[str]) -> dict[str, Any]:
    """The site adapters of the indexed sites that load (an index may hold sites no adapter describes)."""
    from crawler.adapters import load_adapter

    out: dict[str, Any] = {}
    for site in sites:
        try:
            out[site] = load_adapter(site)
        except Exception:  # unknown or broken adapter: no site-level facts for it
            continue
    return out


def shop_context(adapter: Any, own: list[dict[str, Any]]) -> Any:
    """An open-web shop (adapter ``kind: shop``) is a vendor of its own: the site's language, its
    products' currencies and its domain describe the vendor (``extractors.swedish.Shop``)."""
    if adapter is None or getattr(adapter, "kind", None) != "shop":
        return None
    try:
        from extractors.swedish import Shop
    except ImportError:
        return None
    from urllib.parse import urlsplit

    return Shop(language=adapter.language, currencies=tuple(str(d["currency"]) for d in own if d.get("currency")),
                domain=urlsplit(adapter.base_url).hostname)


def rollup_vendors(
    backend: IndexBackend, *, scorer: SwedishScorer | None = None, create_missing: bool = True
) -> RollupResult:
    """Recompute listings, ships_from and the Swedish score of every vendor; write only what changed."""
    listings = list(backend.iter_docs("listing"))
    latest = _latest_day_per_site(listings)
    markets = market_profiles(listings)
    by_vendor: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc in listings:
        if doc.get("vendor_id"):
            by_vendor[doc["vendor_id"]].append(doc)
    external = scorer or _external_scorer()
    result = RollupResult(scorer="extractors.swedish.swedish_score" if external else "analytics.rollup.fallback")
    vendors = {v["id"]: v for v in backend.iter_docs("vendor")}
    adapters = _site_adapters({str(v.get("site") or "") for v in vendors.values()} | set(latest))
    if create_missing:
        for vendor_id, own in by_vendor.items():
            if vendor_id in vendors:
                continue
            first = min(own, key=lambda d: str(d.get("first_seen") or ""))
            name = str(first.get("vendor") or "")
            if not name or Vendor.make_id(str(first.get("site") or ""), name) != vendor_id:
                continue  # not a vendor id we can stand behind
            stub = Vendor(
                id=vendor_id, site=str(first.get("site") or ""), name=name,
                alias_norm=re.sub(r"[^a-z0-9]", "", name.casefold()),
                first_seen=str(first.get("first_seen") or ""),
                last_seen=max(str(d.get("last_seen") or "") for d in own),
                capture_id=str(first.get("capture_id") or ""), capture_sha256=str(first.get("capture_sha256") or ""),
            ).to_dict()
            vendors[vendor_id] = stub
            result.created.append(vendor_id)
    first_days = site_first_days(vendors.values())
    # The same baseline as the alerts: a site's first *complete* crawl where coverage is recorded; while
    # no crawl of a site has been complete, every vendor on it counts as already there.
    from crawler.coverage import coverage_baselines

    for site, baseline in coverage_baselines(backend).items():
        first_days[site] = baseline.as_of[:10] if baseline is not None else "9999-12-31"
    changed: list[Vendor] = []
    for vendor_id, vendor in vendors.items():
        own = by_vendor.get(vendor_id, [])
        current = [d for d in own if str(d.get("last_seen") or "")[:10] >= latest.get(str(d.get("site") or ""), "")]
        countries = [str(d["ships_from"]) for d in (current or own) if d.get("ships_from")]
        ships_from = _majority(countries, vendor.get("ships_from")) or vendor.get("ships_from")
        ships_to = sorted({str(c) for d in (current or own) for c in (d.get("ships_to") or [])})
        texts = [str(vendor.get("profile") or "")]
        for d in own:
            texts += [str(d.get("title") or ""), str(d.get("description") or "")]
        texts = list(dict.fromkeys(t for t in texts if t.strip()))  # titles repeat; score each text once
        market = markets.get(str(vendor.get("site") or ""))
        shop = shop_context(adapters.get(str(vendor.get("site") or "")), own)
        scored = _call_external(external, texts, ships_from, ships_to, market, shop) if external else None
        if scored is None:
            scored = fallback_swedish_score(
                texts, ships_from, ships_to,
                currencies=[d.get("currency") or "" for d in own],
                payments=[p for d in own for p in (d.get("payment") or [])],
                langs=[d.get("lang") for d in own],
                market=market,
            )
        score, signals = scored
        # Seen when its listings are seen: a shop (or a vendor whose profile page was not re-crawled)
        # has no vendor page of its own to refresh last_seen.
        last_seen = max([str(vendor.get("last_seen") or ""), *(str(d.get("last_seen") or "") for d in own)])
        update = {"listings": len(current), "ships_from": ships_from, "swedish_score": score,
                  "swedish_signals": signals, "last_seen": last_seen,
                  "baseline": is_baseline(vendor, first_days)}
        if any(vendor.get(k) != v for k, v in update.items()) or vendor_id in result.created:
            merged = {**vendor, **update}
            changed.append(Vendor.from_dict(merged))  # type: ignore[arg-type]
            if vendor_id not in result.created:
                result.updated.append(vendor_id)
    if changed:
        backend.upsert(changed)
    result.vendors = len(vendors)
    return result


def sync_observation_scores(backend: IndexBackend) -> int:
    """Give every vendor observation its vendor's roll-up Swedish score (the crawl wrote the extractor's
    raw score), so "Swedish share of the vendors active in a period" can be counted on observations, the
    way ``sokhund trends`` counts it on vendors. Returns how many observations changed."""
    from analytics.write_back import set_fields

    scores = {v["id"]: v.get("swedish_score") for v in backend.iter_docs("vendor")}
    current: dict[str, dict[str, Any]] = {}
    changes: dict[str, dict[str, Any]] = {}
    for obs in backend.iter_docs("vendor_observation"):
        vendor_id = obs.get("vendor")
        if vendor_id in scores and obs.get("swedish_score") != scores[vendor_id]:
            current[obs["id"]] = obs
            changes[obs["id"]] = {"swedish_score": scores[vendor_id]}
    return set_fields(backend, VendorObservation, current, changes)


def rollup(backend: IndexBackend) -> RollupResult:
    """Everything to recompute after a crawl run: vendor aggregates (and their scores on the vendor
    observations), cross-site identities, then the turnover of each listing observation (``ListingObservation.turnover_sek``, summed by Kibana)."""
    from analytics.identity import link_vendors
    from analytics.observation_turnover import fill_observation_turnover

    result = rollup_vendors(backend)
    sync_observation_scores(backend)
    link_vendors(backend, write=True)
    fill_observation_turnover(backend)
    return result
