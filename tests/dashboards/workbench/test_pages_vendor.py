"""The vendor page: one identity across sites with each link's evidence and strength (full PGP
fingerprints), turnover per period with its method named, the Swedish signals as text, shipping methods,
listings and the timeline; hostile names stay text; opening it is audited."""

from __future__ import annotations

from markupsafe import escape

from dashboards.workbench import audit
from tests.dashboards.workbench.conftest import Workbench
from tests.dashboards.workbench.hostile import IMG, SCRIPT, assert_inert
from tests.dashboards.workbench.pages_data import FP, seeded


def test_vendor_page_shows_the_identity_across_sites_with_evidence(workbench: Workbench) -> None:
    ids = seeded(workbench)
    client = workbench.client("analyst")
    page = client.get(f"/vendor/{ids.a}").get_data(as_text=True)
    assert "AlfaIntl" in page and f"/vendor/{ids.b}" in page  # the other site's alias, linked
    assert page.count(FP) >= 3  # in full: both profiles and the link
    assert "strong" in page and "the same full PGP fingerprint" in page
    assert f'href="/evidence/{ids.cap_a}"' in page and f'href="/evidence/{ids.cap_b}"' in page  # each side's capture
    assert "wickr: " in page and "alfa_se" in page


def test_vendor_page_keeps_hostile_names_as_text(workbench: Workbench) -> None:
    ids = seeded(workbench)
    page = workbench.client("analyst").get(f"/vendor/{ids.a}").get_data(as_text=True)
    assert SCRIPT not in page and IMG not in page
    assert str(escape(SCRIPT)) in page
    assert "\\u202e" in page  # the RTL override shown as a visible code
    assert_inert(page)


def test_vendor_page_names_the_turnover_method(workbench: Workbench) -> None:
    ids = seeded(workbench)
    page = workbench.client("analyst").get(f"/vendor/{ids.a}").get_data(as_text=True)
    assert '<svg class="chart"' in page and "by method" in page
    assert "a lower bound" in page  # the feedback method says what it is
    # three feedback: two on 09-01 at 900 SEK, one on 09-02 at 950 SEK (the observed prices)
    assert "1\u202f800" in page and "950" in page and "2\u202f750" in page


def test_vendor_page_lists_signals_shipping_listings_and_timeline(workbench: Workbench) -> None:
    ids = seeded(workbench)
    page = workbench.client("analyst").get(f"/vendor/{ids.a}").get_data(as_text=True)
    assert "ships from se" in page and "ships_from field: SE" in page and "letter post" in page
    assert "(negated, not counted)" in page
    assert "PostNord brev – 0 kr" in page and "Spårbart paket (PostNord) – 89 kr" in page
    assert f'href="/listing/{ids.listing}"' in page
    assert "price change" in page and "900.0 → 950.0 SEK" in page


def test_opening_a_vendor_is_audited_and_unknown_ones_are_404(workbench: Workbench) -> None:
    ids = seeded(workbench)
    client = workbench.client("analyst")
    assert client.get(f"/vendor/{ids.b}").status_code == 200
    assert client.get("/vendor/ven-nope").status_code == 404
    with workbench.app.app_context():
        opened = [e for e in audit.entries(action="open.vendor")]
    assert [(e["user"], e["target"]) for e in opened] == [("analyst", ids.b)]


def test_vendor_list_filters_swedish_vendors(workbench: Workbench) -> None:
    ids = seeded(workbench)
    client = workbench.client("analyst")
    every = client.get("/vendors").get_data(as_text=True)
    swedish = client.get("/vendors?swedish=1").get_data(as_text=True)
    assert f"/vendor/{ids.b}" in every and f"/vendor/{ids.b}" not in swedish and f"/vendor/{ids.a}" in swedish
    assert_inert(swedish)
