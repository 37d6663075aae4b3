"""Turnover estimates from the index, through the :class:`~indexer.base.IndexBackend` API only.

Every number carries the method that produced it:

``counter``
    Sites that show a public "sold N" counter: the difference between successive observations of a
    listing. Sales between two crawls are spread evenly over the days after the earlier crawl up to and
    including the later one, and each day is valued at the unit price of the observation closest to it
    (the later one on a tie), converted to SEK at that day's rate. A counter that goes *down* (the site
    reset it, or the listing was re-created under the same id) is not a sale: that interval counts
    nothing and is reported in ``TurnoverReport.notes``. The first observation of a listing is only a
    baseline (its counter includes sales from before we watched).

``feedback``
    Each feedback, deduplicated across crawls, is one sale on the feedback date, valued at the price of
    the listing's observation closest to that date (the earlier one on a tie: the sale precedes its
    feedback), converted to SEK at the feedback day's rate. Not every buyer leaves feedback, so this is a
    **lower bound**.

``feedback_corrected``
    ``feedback`` divided by an estimated feedback rate (feedback per sale). The rate is measured on the
    sites that show both counters and feedback: feedback dated inside each listing's counter window
    divided by the counter sales in that window. A site without counters gets the pooled rate of the
    counter sites. **Assumption:** buyers leave feedback at about the same rate on every market; the
    testbed draws each market's rate from 0.65–0.75, so expect a few percent of error from this alone.
    A counter site's feedback is corrected with that site's own measured rate, so on counter sites the
    corrected series can be compared with the counters.

``best``
    Counters inside each listing's counter window; elsewhere the corrected feedback estimate when a rate
    is known, else the lower bound. Each row still says which method it came from.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from indexer.base import IndexBackend, SearchFilters

METHOD_COUNTER = "counter"
METHOD_FEEDBACK = "feedback"
METHOD_CORRECTED = "feedback_corrected"
METHODS = (METHOD_COUNTER, METHOD_FEEDBACK, METHOD_CORRECTED)

GROUP_FIELDS: dict[str, str] = {
    "vendor": "vendor_id",
    "site": "site",
    "substance": "substance_class",
    "country": "ships_from",
}


@dataclass(frozen=True)
class SaleEstimate:
    """Estimated sales of one listing on one day, by one method."""

    day: str  # ISO date
    site: str
    listing: str  # Listing.id
    vendor_id: str | None
    vendor: str | None  # vendor name as the site shows it
    substance_class: str | None
    ships_from: str | None
    units: float
    value_sek: float | None  # None when no price or exchange rate was available
    method: str
    evidence: tuple[str, ...] = ()  # capture ids behind the number


@dataclass
class FeedbackRate:
    """Feedback per sale measured on one site (or pooled: ``site == "*"``)."""

    site: str
    feedback: int
    counter_sales: float
    listings: int

    @property
    def rate(self) -> float | None:
        return self.feedback / self.counter_sales if self.counter_sales > 0 else None


@dataclass
class TurnoverBucket:
    period: str  # bucket start: the day, the ISO week's Monday or the 1st of the month
    key: str | None  # vendor id, site, substance class or country; None when not grouped
    method: str
    units: float
    value_sek: float
    unvalued_units: float = 0.0  # sales without a price or rate (not in value_sek)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TurnoverReport:
    counter: list[SaleEstimate] = field(default_factory=list)
    feedback: list[SaleEstimate] = field(default_factory=list)
    corrected: list[SaleEstimate] = field(default_factory=list)
    rates: dict[str, FeedbackRate] = field(default_factory=dict)  # measured, per counter site and "*"
    applied_rates: dict[str, tuple[float, str]] = field(default_factory=dict)  # site -> (rate, source)
    counter_windows: dict[str, tuple[str, str]] = field(default_factory=dict)  # listing -> (first, last) reading
    notes: list[str] = field(default_factory=list)

    def estimates(self, method: str) -> list[SaleEstimate]:
        if method == METHOD_COUNTER:
            return self.counter
        if method == METHOD_FEEDBACK:
            return self.feedback
        if method == METHOD_CORRECTED:
            return self.corrected
        if method == "best":
            return self.best()
        raise ValueError(f"unknown turnover method {method!r}; expected one of {(*METHODS, 'best')}")

    @property
    def counter_listings(self) -> set[str]:
        return set(self.counter_windows)

    def best(self) -> list[SaleEstimate]:
        """Counters inside each listing's counter window; outside it corrected feedback when a rate is
        known, else the feedback lower bound."""
        out = list(self.counter)
        corrected_sites = {e.site for e in self.corrected}
        for est in [*self.corrected, *(e for e in self.feedback if e.site not in corrected_sites)]:
            if not in_counter_window(self.counter_windows, est.listing, est.day):
                out.append(est)
        return out


# ---------------------------------------------------------------------------------------------- helpers
PERIODS = ("day", "week", "month")


def check_interval(period: str) -> str:
    if period not in PERIODS:
        raise ValueError(f"period must be day, week or month, not {period!r}")
    return period


def bucket_start(value: str, period: str) -> str:
    """The bucket (``YYYY-MM-DD``) of an ISO date/time: the day, the ISO week's Monday or the 1st — the
    same keys as the backends' ``date_histogram``."""
    day = date.fromisoformat(str(value)[:10])
    if check_interval(period) == "day":
        return day.isoformat()
    if period == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    return day.replace(day=1).isoformat()


def _day(value: Any) -> str | None:
    """The ISO day of an ISO date/time, or None when it is not one."""
    if not value:
        return None
    text = str(value).strip()[:10]
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        return None


def _rates(rates: Any | None) -> Any:
    if rates is not None:
        return rates
    from extractors.rates import RateTable

    return RateTable.default()


def _to_sek(rates: Any, price: Any, currency: Any, day: str, fallback: Any) -> float | None:
    if price is not None and currency:
        try:
            value = rates.convert(float(price), str(currency), "SEK", day)
        except (ValueError, TypeError):
            value = None
        if value is not None:
            return float(value)
    return float(fallback) if fallback is not None else None


def _in_window(day: str, since: str | None, until: str | None) -> bool:
    return (since is None or day >= since[:10]) and (until is None or day <= until[:10])


def _meta(listing: dict[str, Any] | None, obs: dict[str, Any] | None, key: str) -> Any:
    for source in (obs, listing):
        if source and source.get(key) not in (None, ""):
            return source[key]
    return None


def load_observations(backend: IndexBackend, site: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Listing observations grouped by Listing.id, oldest first (ties by run id)."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for obs in backend.iter_docs("listing_observation", SearchFilters(site=site) if site else None):
        if _day(obs.get("observed_at")) and obs.get("listing"):
            grouped[obs["listing"]].append(obs)
    for items in grouped.values():
        items.sort(key=lambda o: (str(o["observed_at"]), str(o.get("run_id") or "")))
    return grouped


def load_listings(backend: IndexBackend, site: str | None = None) -> dict[str, dict[str, Any]]:
    return {d["id"]: d for d in backend.iter_docs("listing", SearchFilters(site=site) if site else None)}


# ---------------------------------------------------------------------------------------------- counters
def counter_sales(
    backend: IndexBackend,
    *,
    site: str | None = None,
    since: str | None = None,
    until: str | None = None,
    rates: Any | None = None,
    observations: dict[str, list[dict[str, Any]]] | None = None,
    listings: dict[str, dict[str, Any]] | None = None,
) -> tuple[list[SaleEstimate], list[str]]:
    """Counter-method sales per listing and day (see the module doc). Returns (estimates, notes)."""
    rates = _rates(rates)
    observations = observations if observations is not None else load_observations(backend, site)
    listings = listings if listings is not None else load_listings(backend, site)
    out: list[SaleEstimate] = []
    notes: list[str] = []
    for listing_id, obs_list in observations.items():
        with_counter = [o for o in obs_list if o.get("sold") is not None]
        listing = listings.get(listing_id)
        for prev, cur in zip(with_counter, with_counter[1:], strict=False):
            delta = int(cur["sold"]) - int(prev["sold"])
            d_prev, d_cur = _day(prev["observed_at"]), _day(cur["observed_at"])
            assert d_prev and d_cur
            if delta < 0:
                notes.append(
                    f"counter reset on {cur.get('site')} listing {cur.get('listing_id')}: "
                    f"{prev['sold']} on {d_prev} -> {cur['sold']} on {d_cur}; interval not counted"
                )
                continue
            if delta == 0:
                continue
            start, end = date.fromisoformat(d_prev), date.fromisoformat(d_cur)
            days = [(start + timedelta(days=i)).isoformat() for i in range(1, (end - start).days + 1)] or [d_cur]
            share = delta / len(days)
            for day in days:
                if not _in_window(day, since, until):
                    continue
                gap_prev = (date.fromisoformat(day) - start).days
                gap_cur = (end - date.fromisoformat(day)).days
                source = cur if gap_cur <= gap_prev else prev
                unit = _to_sek(rates, source.get("price"), source.get("currency"), day, source.get("price_sek"))
                out.append(
                    SaleEstimate(
                        day=day,
                        site=str(cur.get("site") or _meta(listing, None, "site") or ""),
                        listing=listing_id,
                        vendor_id=_meta(listing, cur, "vendor_id"),
                        vendor=_meta(listing, cur, "vendor"),
                        substance_class=_meta(listing, cur, "substance_class"),
                        ships_from=_meta(listing, cur, "ships_from"),
                        units=share,
                        value_sek=unit * share if unit is not None else None,
                        method=METHOD_COUNTER,
                        evidence=tuple(c for c in (prev.get("capture_id"), cur.get("capture_id")) if c),
                    )
                )
    return out, notes


def counter_windows(observations: dict[str, list[dict[str, Any]]]) -> dict[str, tuple[str, str]]:
    """Listing id -> (first, last) day of its counter readings, for listings with two or more: the counter
    method covers the days after the first reading up to the last."""
    out: dict[str, tuple[str, str]] = {}
    for lid, obs in observations.items():
        days = [d for d in (_day(o["observed_at"]) for o in obs if o.get("sold") is not None) if d]
        if len(days) >= 2:
            out[lid] = (min(days), max(days))
    return out


def in_counter_window(windows: dict[str, tuple[str, str]], listing: str, day: str) -> bool:
    window = windows.get(listing)
    return window is not None and window[0] < day <= window[1]


# ---------------------------------------------------------------------------------------------- feedback
def feedback_key(doc: dict[str, Any]) -> tuple[Any, ...]:
    """Dedupe key of a feedback: (site, listing, day, rating, text hash, buyer mask) — the id's recipe,
    but on the normalised day, so the same feedback read with a different date format counts once."""
    text_hash = hashlib.sha1(str(doc.get("text") or "").strip().encode("utf-8")).hexdigest()
    rating = doc.get("rating")
    return (
        doc.get("site"),
        doc.get("listing") or doc.get("listing_id"),
        _day(doc.get("date")) or str(doc.get("date") or ""),
        float(rating) if rating is not None else None,
        text_hash,
        doc.get("buyer") or "",
    )


def unique_feedback(backend: IndexBackend, site: str | None = None) -> list[dict[str, Any]]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for doc in backend.iter_docs("feedback", SearchFilters(site=site) if site else None):
        key = feedback_key(doc)
        if key in seen:
            continue
        seen.add(key)
        out.append(doc)
    return out


def closest_observation(obs_list: list[dict[str, Any]], day: str) -> dict[str, Any] | None:
    """The observation with a price closest to ``day``; the earlier one on a tie."""
    target = date.fromisoformat(day)
    best: tuple[int, int, dict[str, Any]] | None = None
    for obs in obs_list:
        if obs.get("price") is None and obs.get("price_sek") is None:
            continue
        d = date.fromisoformat(_day(obs["observed_at"]) or day)
        rank = (abs((d - target).days), 0 if d <= target else 1)
        if best is None or rank < best[:2]:
            best = (*rank, obs)
    return best[2] if best else None


def feedback_sales(
    backend: IndexBackend,
    *,
    site: str | None = None,
    since: str | None = None,
    until: str | None = None,
    rates: Any | None = None,
    observations: dict[str, list[dict[str, Any]]] | None = None,
    listings: dict[str, dict[str, Any]] | None = None,
) -> tuple[list[SaleEstimate], list[str]]:
    """Feedback-method sales (one per unique feedback), a lower bound. Returns (estimates, notes)."""
    rates = _rates(rates)
    observations = observations if observations is not None else load_observations(backend, site)
    listings = listings if listings is not None else load_listings(backend, site)
    out: list[SaleEstimate] = []
    undated = unlinked = 0
    for fb in unique_feedback(backend, site):
        day = _day(fb.get("date"))
        if day is None:
            undated += 1
            day = _day(fb.get("first_seen"))
            if day is None:
                continue
        if not _in_window(day, since, until):
            continue
        listing_id = fb.get("listing")
        listing = listings.get(listing_id) if listing_id else None
        obs = closest_observation(observations.get(listing_id, []), day) if listing_id else None
        source = obs or listing
        if source is None:
            unlinked += 1
        unit = _to_sek(rates, source.get("price"), source.get("currency"), day, source.get("price_sek")) if source else None
        out.append(
            SaleEstimate(
                day=day,
                site=str(fb.get("site") or ""),
                listing=listing_id or f"feedback:{fb.get('id')}",
                vendor_id=fb.get("vendor_id") or _meta(listing, obs, "vendor_id"),
                vendor=fb.get("vendor") or _meta(listing, obs, "vendor"),
                substance_class=_meta(listing, obs, "substance_class"),
                ships_from=_meta(listing, obs, "ships_from"),
                units=1.0,
                value_sek=unit,
                method=METHOD_FEEDBACK,
                evidence=tuple(c for c in (fb.get("capture_id"), (obs or {}).get("capture_id")) if c),
            )
        )
    notes = []
    if undated:
        notes.append(f"{undated} feedback without a readable date: dated by when the crawl first saw them")
    if unlinked:
        notes.append(f"{unlinked} feedback not linked to a known listing: counted without a value")
    return out, notes


# ---------------------------------------------------------------------------------------------- correction
def estimate_feedback_rates(
    observations: dict[str, list[dict[str, Any]]],
    feedback: Iterable[SaleEstimate],
) -> dict[str, FeedbackRate]:
    """Feedback per sale on every site with counters (key = site) and pooled over them (key ``"*"``).

    For each listing with two or more counter readings, its window is (first reading, last reading]:
    the counter sales in that window (resets excluded) against the feedback on that listing dated in
    that window."""
    windows: dict[str, tuple[str, str, float, str]] = {}
    for listing_id, obs_list in observations.items():
        readings = [o for o in obs_list if o.get("sold") is not None]
        if len(readings) < 2:
            continue
        sales = 0.0
        for prev, cur in zip(readings, readings[1:], strict=False):
            delta = int(cur["sold"]) - int(prev["sold"])
            if delta > 0:
                sales += delta
        first, last = _day(readings[0]["observed_at"]), _day(readings[-1]["observed_at"])
        assert first and last
        windows[listing_id] = (first, last, sales, str(readings[-1].get("site") or ""))
    counts: dict[str, int] = defaultdict(int)
    for est in feedback:
        window = windows.get(est.listing)
        if window and window[0] < est.day <= window[1]:
            counts[est.listing] += int(est.units)
    per_site: dict[str, FeedbackRate] = {}
    pooled = FeedbackRate("*", 0, 0.0, 0)
    for listing_id, (_, _, sales, site) in windows.items():
        rate = per_site.setdefault(site, FeedbackRate(site, 0, 0.0, 0))
        for target in (rate, pooled):
            target.feedback += counts.get(listing_id, 0)
            target.counter_sales += sales
            target.listings += 1
    # A site whose counters moved but which shows no feedback at all tells us nothing about feedback rates.
    per_site = {s: r for s, r in per_site.items() if r.feedback > 0}
    if per_site:
        pooled = FeedbackRate(
            "*",
            sum(r.feedback for r in per_site.values()),
            sum(r.counter_sales for r in per_site.values()),
            sum(r.listings for r in per_site.values()),
        )
        per_site["*"] = pooled
    return per_site


def corrected_sales(
    feedback: list[SaleEstimate],
    rates_by_site: dict[str, FeedbackRate],
    windows: dict[str, tuple[str, str]],
    override: float | None = None,
) -> tuple[list[SaleEstimate], dict[str, tuple[float, str]]]:
    """Every feedback estimate scaled by 1/rate (``best`` decides where counters take precedence)."""
    applied: dict[str, tuple[float, str]] = {}
    out: list[SaleEstimate] = []
    pooled = rates_by_site.get("*")
    for est in feedback:
        if est.site not in applied:
            if override is not None:
                applied[est.site] = (override, "given by the analyst")
            elif est.site in rates_by_site and rates_by_site[est.site].rate:
                own = rates_by_site[est.site]
                applied[est.site] = (own.rate or 0.0, f"measured on {est.site} ({own.feedback}/{own.counter_sales:.0f})")
            elif pooled is not None and pooled.rate:
                sources = ", ".join(sorted(s for s in rates_by_site if s != "*"))
                applied[est.site] = (
                    pooled.rate,
                    f"borrowed from counter sites {sources} ({pooled.feedback}/{pooled.counter_sales:.0f})",
                )
            else:
                applied[est.site] = (0.0, "no counter site to estimate a feedback rate")
        rate = applied[est.site][0]
        if rate <= 0:
            continue
        factor = 1.0 / rate
        out.append(
            SaleEstimate(
                **{
                    **asdict(est),
                    "units": est.units * factor,
                    "value_sek": est.value_sek * factor if est.value_sek is not None else None,
                    "method": METHOD_CORRECTED,
                    "evidence": est.evidence,
                }
            )
        )
    return out, {s: a for s, a in applied.items() if a[0] > 0}


# ---------------------------------------------------------------------------------------------- report
def compute_turnover(
    backend: IndexBackend,
    *,
    site: str | None = None,
    since: str | None = None,
    until: str | None = None,
    rates: Any | None = None,
    feedback_rate: float | None = None,
) -> TurnoverReport:
    """All three methods at once, over the same index snapshot. ``feedback_rate`` overrides the
    estimated feedback-per-sale rate for the correction."""
    rates = _rates(rates)
    observations = load_observations(backend, site)
    listings = load_listings(backend, site)
    counter, notes = counter_sales(
        backend, since=since, until=until, rates=rates, observations=observations, listings=listings
    )
    feedback, fb_notes = feedback_sales(
        backend, site=site, since=since, until=until, rates=rates, observations=observations, listings=listings
    )
    # The rate is estimated over each listing's whole counter window, not only the reporting window.
    all_feedback = feedback
    if since or until:
        all_feedback, _ = feedback_sales(
            backend, site=site, rates=rates, observations=observations, listings=listings
        )
    measured = estimate_feedback_rates(observations, all_feedback)
    windows = counter_windows(observations)
    corrected, applied = corrected_sales(feedback, measured, windows, feedback_rate)
    report = TurnoverReport(
        counter=counter,
        feedback=feedback,
        corrected=corrected,
        rates=measured,
        applied_rates=applied,
        counter_windows=windows,
        notes=notes + fb_notes,
    )
    return report


def aggregate(
    estimates: Iterable[SaleEstimate], *, by: str | None = None, period: str = "day"
) -> list[TurnoverBucket]:
    """Sum units and SEK per (period, group, method). ``by``: vendor, site, substance, country or None."""
    check_interval(period)
    if by is not None and by not in GROUP_FIELDS:
        raise ValueError(f"cannot group turnover by {by!r}; expected one of {sorted(GROUP_FIELDS)}")
    buckets: dict[tuple[str, str | None, str], TurnoverBucket] = {}
    for est in estimates:
        key = (getattr(est, GROUP_FIELDS[by]) or "unknown") if by else None
        start = bucket_start(est.day, period)
        bucket = buckets.get((start, key, est.method))
        if bucket is None:
            bucket = buckets[(start, key, est.method)] = TurnoverBucket(start, key, est.method, 0.0, 0.0)
        bucket.units += est.units
        if est.value_sek is None:
            bucket.unvalued_units += est.units
        else:
            bucket.value_sek += est.value_sek
    return sorted(buckets.values(), key=lambda b: (b.period, b.method, str(b.key)))


def totals(estimates: Iterable[SaleEstimate], by: str = "site") -> dict[tuple[str | None, str], float]:
    """Total SEK per (group, method) over the whole period."""
    out: dict[tuple[str | None, str], float] = defaultdict(float)
    for b in aggregate(estimates, by=by, period="month"):
        out[(b.key, b.method)] += b.value_sek
    return dict(out)
