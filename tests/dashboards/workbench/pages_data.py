"""A small index for the page tests: two vendors on two sites sharing one full PGP fingerprint (one with
a hostile name), a pair with similar aliases only (a candidate), a listing with shipping options,
observations and feedback, alerts in the index and the outbox, and campaign runs (one with a failed site)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alerts.outbox import Outbox
from indexer.base import IndexBackend
from indexer.models import Alert, CampaignRun, Capture, Feedback, Listing, ListingObservation, Vendor
from tests.dashboards.workbench.hostile import hostile

FP = "0123456789ABCDEF0123456789ABCDEF01234567"
HOSTILE_NAME = hostile("Alfa")


@dataclass
class Ids:
    a: str
    b: str
    c: str
    d: str
    listing: str
    alert_new: str
    alert_watch: str
    cap_a: str
    cap_b: str


def _capture(site: str, url: str) -> Capture:
    cap = Capture(url=url, site=site, fetched_at="2026-09-02T10:00:00+00:00", observed_at="2026-09-02T12:00:00+00:00",
                  status=200, sha256="ab" * 32, page_type="vendor")
    cap.id = Capture.make_id(site, url, cap.sha256, cap.fetched_at)
    return cap


def seeded(workbench: Any) -> Ids:
    """:func:`seed` into a test workbench's index (the ``workbench`` fixture of conftest.py)."""
    backend = workbench.backend()
    try:
        return seed(backend)
    finally:
        backend.close()


def seed(backend: IndexBackend) -> Ids:
    cap_a, cap_b = _capture("flugsvamp", "http://127.0.0.1/v/a"), _capture("nordbazaar", "http://127.0.0.1/v/b")
    signals = ["ships_from_se: ships_from field: SE", "letter_post: brev", "negated:swish: Swish tas INTE emot"]
    a = Vendor(id=Vendor.make_id("flugsvamp", HOSTILE_NAME), site="flugsvamp", name=HOSTILE_NAME,
               pgp_fingerprints=[FP], contacts=[{"kind": "wickr", "value": "alfa_se"}], swedish_score=0.82,
               swedish_signals=signals, first_seen="2026-09-01T12:00:00+00:00", last_seen="2026-09-02T12:00:00+00:00",
               ships_from="SE", listings=1, capture_id=cap_a.id, capture_sha256=cap_a.sha256)
    b = Vendor(id=Vendor.make_id("nordbazaar", "AlfaIntl"), site="nordbazaar", name="AlfaIntl", pgp_fingerprints=[FP],
               first_seen="2026-09-01T12:00:00+00:00", last_seen="2026-09-02T12:00:00+00:00", swedish_score=0.1,
               capture_id=cap_b.id, capture_sha256=cap_b.sha256)
    c = Vendor(id=Vendor.make_id("flugsvamp", "KalleKnark"), site="flugsvamp", name="KalleKnark",
               first_seen="2026-09-01T12:00:00+00:00", last_seen="2026-09-02T12:00:00+00:00", capture_id=cap_a.id)
    d = Vendor(id=Vendor.make_id("nordbazaar", "Kalle_Knark1"), site="nordbazaar", name="Kalle_Knark1",
               first_seen="2026-09-01T12:00:00+00:00", last_seen="2026-09-02T12:00:00+00:00", capture_id=cap_b.id)
    listing = Listing(id=Listing.make_id("flugsvamp", "77"), site="flugsvamp", listing_id="77", title=hostile("Kokain 1 g"),
                      vendor=a.name, vendor_id=a.id, substance="cocaine", substance_class="stimulants", price=900.0,
                      currency="SEK", price_sek=900.0, quantity_g=1.0, price_per_g_sek=900.0, ships_from="SE",
                      shipping=[{"text": "PostNord brev – 0 kr"}, {"text": "Spårbart paket (PostNord) – 89 kr"}],
                      first_seen="2026-09-01T12:00:00+00:00", last_seen="2026-09-02T12:00:00+00:00",
                      capture_id=cap_a.id)
    observations = [ListingObservation(id=ListingObservation.make_id(listing.id, run), listing=listing.id,
                                       site="flugsvamp", listing_id="77", vendor=a.name, vendor_id=a.id,
                                       observed_at=f"2026-09-0{day}T12:00:00+00:00", run_id=run, price=price,
                                       currency="SEK", price_sek=price, price_per_g_sek=price, substance="cocaine",
                                       substance_class="stimulants", ships_from="SE", capture_id=cap_a.id)
                    for day, run, price in ((1, "day0", 900.0), (2, "day1", 950.0))]
    feedback = [Feedback(id=Feedback.make_id("flugsvamp", "77", f"2026-09-0{day}", 5, f"bra {n}", "a***b"),
                         site="flugsvamp", listing=listing.id, listing_id="77", vendor=a.name, vendor_id=a.id,
                         date=f"2026-09-0{day}", rating=5, text=f"bra {n}", buyer="a***b", capture_id=cap_a.id)
                for n, day in enumerate((1, 1, 2))]
    alert_new = Alert(id=Alert.make_id("new_swedish_vendor", a.id), rule="new_swedish_vendor", entity=a.id,
                      entity_kind="vendor", fired_at="2026-09-02T12:05:00+00:00",
                      title=f"New Swedish vendor {a.name} on flugsvamp (score 0.82)",
                      details={"vendor": a.name, "swedish_signals": signals, "pgp_fingerprints": [FP]},
                      evidence=[{"role": "vendor_profile", "capture_id": cap_a.id, "sha256": cap_a.sha256,
                                 "url": cap_a.url}])
    alert_watch = Alert(id=Alert.make_id(f"watchlist:pgp:{FP}", b.id), rule=f"watchlist:pgp:{FP}", entity=b.id,
                        entity_kind="vendor", fired_at="2026-09-02T12:06:00+00:00",
                        title="Watch-list pgp matched vendor 'AlfaIntl' on nordbazaar",
                        details={"watch_kind": "pgp", "watch_value": FP},
                        evidence=[{"role": "vendor_match", "capture_id": cap_b.id, "sha256": cap_b.sha256}])
    runs = [CampaignRun(id="pages-1", campaign="sweden-daily", started_at="2026-09-01T04:00:00+00:00",
                        finished_at="2026-09-01T04:10:00+00:00", status="ok",
                        stats={"pages": 120, "items": 300, "sites": {"flugsvamp": {"pages": 100, "items": {"listing": 40},
                                                                                   "finish_reason": "finished"},
                                                                     "snackis": {"pages": 20, "items": {"post": 9}}}}),
            CampaignRun(id="pages-2", campaign="sweden-daily", started_at="2026-09-02T04:00:00+00:00",
                        finished_at="2026-09-02T04:03:00+00:00", status="partial",
                        error="snackis: nothing fetched (connection refused)",
                        stats={"pages": 100, "sites": {"flugsvamp": {"pages": 100, "finish_reason": "finished"},
                                                       "snackis": {"pages": 0, "finish_reason": "finished"}},
                               "site_failures": {"snackis": "nothing fetched (connection refused)"}})]
    backend.upsert([cap_a, cap_b, a, b, c, d, listing, *observations, *feedback, alert_new, alert_watch, *runs])
    with Outbox() as outbox:  # the new-vendor alert also went through the outbox, as evaluation does
        outbox.record(alert_new.to_dict(), ["file"])
    return Ids(a.id, b.id, c.id, d.id, listing.id, alert_new.id, alert_watch.id, cap_a.id, cap_b.id)
