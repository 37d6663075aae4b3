"""Domestic shipments per week by method: classification, split priors, bounds, CLI (synthetic index)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from analytics.shipments import (
    METHODS,
    classify_option,
    domestic_share,
    estimate_weekly_shipments,
    method_shares,
)
from tests.analytics_data import backend, day, feedback, listing, observation


@pytest.mark.parametrize(("text", "method"), [
    ("PostNord brev – 0 kr", "letter"), ("PostNord REK – 60 kr", "registered_letter"),
    ("Rekommenderat brev", "registered_letter"), ("Spårbart paket (PostNord) – 89 kr", "tracked_parcel"),
    ("Expressbrev – 45 kr", "letter"), ("Standard letter (+$0.00)", "letter"),
    ("Tracked parcel (+$12.00)", "tracked_parcel"), ("Express (EU) (+$25.00)", "tracked_parcel"),
    ({"kind": "method", "value": "letter"}, "letter"), ({"name": "Dead drop"}, "unknown"),
])
def test_options_are_classified(text: object, method: str) -> None:
    assert classify_option(text) == method


def test_one_method_takes_all_several_split_by_prior_with_bounds() -> None:
    assert method_shares({"letter"}) == {"letter": (1.0, 1.0, 1.0)}
    shares = method_shares({"letter", "tracked_parcel"})
    assert sum(s.point for s in shares.values()) == pytest.approx(1.0)
    letter, parcel = shares["letter"], shares["tracked_parcel"]
    assert letter.point > 0.7 and parcel.point < 0.3  # the prior: letters dominate
    assert letter.low < letter.point < letter.high and parcel.low < parcel.point < parcel.high


def test_domestic_share_by_destinations() -> None:
    assert domestic_share({"ships_to": ["SE"]}, "SE").point == 1.0
    assert domestic_share({"ships_to": ["US"]}, "SE").high == 0.0
    nordic, wide = domestic_share({"ships_to": ["SE", "NO", "FI"]}, "SE"), domestic_share({"ships_to": ["WW"]}, "SE")
    assert 1.0 > nordic.point > wide.point > 0


def _world(tmp_path: Path):
    idx = backend(tmp_path)
    se_letter = listing("fs", "A", "brevkungen", price=300.0, currency="SEK", ships_to=["SE"],
                        shipping=[{"text": "PostNord brev – 0 kr"}])
    se_both = listing("fs", "B", "brevkungen", price=500.0, currency="SEK", ships_to=["SE"],
                      shipping=[{"text": "PostNord brev – 0 kr"}, {"text": "Spårbart paket (PostNord) – 89 kr"}])
    se_none = listing("fs", "C", "brevkungen", price=400.0, currency="SEK", ships_to=["SE"])
    nl = listing("nb", "D", "dutchie", price=30.0, currency="USD", ships_from="NL", ships_to=["WW"],
                 shipping=[{"text": "Tracked parcel"}])
    docs: list = [se_letter, se_both, se_none, nl]
    docs += [observation(x, 1) for x in (se_letter, se_both, se_none, nl)]
    for n in (2, 3, 9):  # days 2, 3 (week of 2026-08-31) and 9 (week of 2026-09-07)
        docs += [feedback(x, day(n), text=f"ok {x.listing_id} {n}", seen=10) for x in (se_letter, se_both, nl)]
    docs.append(feedback(se_none, day(9), text="kom fram", seen=10))
    idx.upsert(docs)
    return idx


def test_weekly_estimate_splits_by_offered_methods(tmp_path: Path) -> None:
    idx = _world(tmp_path)
    est = estimate_weekly_shipments(idx)
    assert "postal methods" in est.method and est.assumptions and est.country == "SE"
    weeks = sorted({r.week_start for r in est.rows})
    assert weeks == [date(2026, 8, 31), date(2026, 9, 7)]
    assert {r.method for r in est.rows} == set(METHODS)
    rows = {(r.week_start, r.method): r for r in est.rows}
    first = weeks[0]
    # no measured feedback rate (no counters): feedback is the lower bound; 2 + 2 sales from SE, NL left out
    letter, parcel = rows[(first, "letter")], rows[(first, "tracked_parcel")]
    assert letter.estimate + parcel.estimate == pytest.approx(4.0)
    # A offers letters only (its 2 sales are letters for sure); B's 2 split at letter-low vs parcel-high
    assert letter.low == pytest.approx(2 + 2 * 3.0 / (3.0 + 2.5), abs=0.01)
    assert parcel.low == pytest.approx(2 * 0.6 / (0.6 + 10.0), abs=0.01)
    assert letter.high >= 4.0 and parcel.high > parcel.estimate
    assert rows[(first, "unknown")].estimate == 0.0
    # listing C shows no options: it takes its vendor's (letter, parcel), not "unknown"
    second = weeks[1]
    assert rows[(second, "unknown")].estimate == 0.0
    assert rows[(second, "letter")].estimate + rows[(second, "tracked_parcel")].estimate == pytest.approx(3.0)
    for r in est.rows:
        assert r.low <= r.estimate <= r.high
    assert estimate_weekly_shipments(idx, since="2026-09-05").rows[0].week_start == second
    # 3 NL sales to "WW": half of the buyers assumed to live in NL
    assert sum(r.estimate for r in estimate_weekly_shipments(idx, country="NL").rows) == pytest.approx(1.5)


def test_cli_trends_shipments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    _world(tmp_path).close()
    url = f"sqlite:///{tmp_path / 'index.sqlite'}"
    assert main(["trends", "shipments", "--index", url, "--weeks", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {r["week_start"] for r in data["rows"]} == {"2026-09-07"}
    assert set(data["totals"]) == set(METHODS) and data["assumptions"]
    assert main(["trends", "shipments", "--index", url]) == 0
    out = capsys.readouterr().out
    assert "2026-08-31" in out and "registered_letter" in out and "assumptions:" in out
