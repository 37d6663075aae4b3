"""Trends, plots and the ``vendor`` / ``trends`` CLI on the real SQLite backend."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from analytics import cli as analytics_cli
from analytics.trends import (
    compute_trends,
    new_vendors,
    plot_trends,
    price_per_gram,
    swedish_share,
    write_trend_plots,
)
from indexer.models import Vendor
from indexer.sqlite import SQLiteBackend
from tests.analytics_data import backend, day, feedback, listing, observation, vendor

FP = "A1B2C3D4E5F60718293A4B5C6D7E8F9012345678"


def _market(idx: SQLiteBackend) -> None:
    """Two sites over 10 days: counters on nordbazaar, feedback on flugsvamp, one vendor on both."""
    docs: list[object] = [
        vendor("flugsvamp", "Isbjornen", fingerprints=[FP], first=1, last=10, swedish_score=0.9),
        vendor("nordbazaar", "PolarKing", fingerprints=[FP], first=1, last=10, swedish_score=0.2),
        vendor("flugsvamp", "Nykomling", first=6, last=10, swedish_score=0.8),
        vendor("nordbazaar", "Tulip", first=1, last=4, swedish_score=0.0),
    ]
    sv = listing("flugsvamp", "100", "Isbjornen", price=450.0, currency="SEK", n_last=10, substance="cannabis",
                 quantity_g=5.0)
    nb = listing("nordbazaar", "ab12", "PolarKing", price=40.0, currency="USD", n_last=10, substance="cocaine",
                 quantity_g=1.0, ships_from="NL")
    new = listing("flugsvamp", "120", "Nykomling", price=300.0, currency="SEK", n_first=6, n_last=10,
                  substance="cannabis", quantity_g=3.0)
    docs += [sv, nb, new]
    for n in range(1, 11):
        docs.append(observation(sv, n, price_per_g_sek=90.0 + n))
        docs.append(observation(nb, n, sold=10 + 2 * n, price_per_g_sek=400.0 - n))
        if n >= 6:
            docs.append(observation(new, n, price_per_g_sek=100.0))
        docs.append(feedback(sv, day(n), buyer=f"s{n}"))
        if n % 2 == 0:
            docs.append(feedback(nb, day(n), buyer=f"n{n}"))
    idx.upsert(docs)  # type: ignore[arg-type]


def test_trend_tables(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    _market(idx)
    ppg = price_per_gram(idx, "day")
    cannabis = [r for r in ppg if r["substance"] == "cannabis" and r["period"] == day(6)]
    assert cannabis == [{"period": day(6), "substance": "cannabis", "median_sek_per_g": 98.0, "listings": 2}]
    weekly_new = new_vendors(idx, "week")
    assert sum(r["count"] for r in weekly_new) == 1
    assert [r for r in weekly_new if r["count"]][0]["vendors"] == ["flugsvamp:Nykomling"]
    share = {r["period"]: r for r in swedish_share(idx, "day")}
    assert share[day(1)]["active"] == 3 and share[day(1)]["swedish"] == 1
    assert share[day(6)]["active"] == 3 and share[day(6)]["share"] == pytest.approx(2 / 3, abs=1e-3)
    trends = compute_trends(idx, by="site", period="week")
    methods = {(b.key, b.method) for b in trends.turnover}
    assert ("nordbazaar", "counter") in methods and ("flugsvamp", "feedback") in methods
    assert ("flugsvamp", "feedback_corrected") in methods


def _is_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    assert len(data) > 10_000, f"{path} is suspiciously small"
    import matplotlib.image as mpimg

    pixels = mpimg.imread(str(path))
    assert pixels.shape[0] > 200 and pixels.shape[1] > 400
    flat = pixels.reshape(-1, pixels.shape[-1])
    assert len({tuple(p) for p in flat[:: max(1, len(flat) // 20000)]}) > 20  # drawn, not a blank canvas


def test_write_trend_plots_produces_valid_pngs(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    _market(idx)
    paths = write_trend_plots(idx, tmp_path / "plots")
    names = {p.name for p in paths}
    assert {"turnover_by_method.png", "price_per_gram.png", "new_vendors.png", "swedish_share.png"} <= names
    for path in paths:
        _is_png(path)


def test_plots_of_an_empty_index_still_render(tmp_path: Path) -> None:
    path = plot_trends(compute_trends(backend(tmp_path), period="day"), tmp_path / "empty.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sokhund")
    analytics_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_trends_cli_json_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    idx = backend(tmp_path)
    _market(idx)
    idx.close()
    url = f"sqlite:///{tmp_path / 'index.sqlite'}"
    plot = tmp_path / "trends.png"
    assert _run(["trends", "--index", url, "--by", "substance", "--period", "week", "--json", "--plot", str(plot)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"period", "by", "turnover", "feedback_rates", "applied_feedback_rates", "price_per_g",
                         "new_vendors", "swedish_share", "notes", "plot"}
    assert data["by"] == "substance" and data["period"] == "week"
    row = data["turnover"][0]
    assert set(row) == {"period", "key", "method", "units", "value_sek", "unvalued_units"}
    assert {r["method"] for r in data["turnover"]} == {"counter", "feedback", "feedback_corrected", "best"}
    best = sum(r["value_sek"] for r in data["turnover"] if r["method"] == "best")
    counters = sum(r["value_sek"] for r in data["turnover"] if r["method"] == "counter")
    corrected = sum(r["value_sek"] for r in data["turnover"] if r["method"] == "feedback_corrected")
    # best = counters, plus corrected feedback wherever no counter window covers the sale (the site
    # without counters here), so it lies strictly between the counters and counters + all corrected
    assert counters < best < counters + corrected
    assert data["feedback_rates"]["nordbazaar"]["rate"] == pytest.approx(5 / 18)  # 5 feedback, 2 sales a day
    _is_png(plot)
    assert _run(["trends", "--index", url, "--period", "day"]) == 0
    table = capsys.readouterr().out
    assert "Turnover per day" in table and "feedback_corrected" in table and "Median price per gram" in table
    # the pooled rate is named in words, not by its internal key "*"
    assert "rate on *" not in table and "measured feedback rate pooled over the counter sites" in table


def test_vendor_cli_json_shape_and_linked_identity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    idx = backend(tmp_path)
    _market(idx)
    idx.close()
    url = f"sqlite:///{tmp_path / 'index.sqlite'}"
    assert _run(["vendor", "isbjornen", "--index", url, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"query", "first_seen", "last_seen", "sites", "aliases", "vendors", "listings",
                         "turnover_by_week", "identities", "candidates", "timeline"}
    assert data["sites"] == ["flugsvamp", "nordbazaar"]  # the PGP-linked profile is part of the timeline
    assert data["aliases"] == ["Isbjornen", "PolarKing"]
    assert data["first_seen"].startswith(day(1)) and data["last_seen"].startswith(day(10))
    assert data["identities"][0]["strength"] == "strong"
    assert data["identities"][0]["evidence"][0]["captures"][0]["sha256"]
    listing_row = next(r for r in data["listings"] if r["site"] == "nordbazaar")
    assert len(listing_row["prices"]) == 10 and listing_row["prices"][0]["capture_id"] == "cap-ab12-1"
    assert all(e["capture_id"] for e in data["timeline"])
    weeks = {(r["week"], r["method"]) for r in data["turnover_by_week"]}
    assert ("2026-08-31", "counter") in weeks and ("2026-08-31", "feedback") in weeks
    assert {v["id"] for v in data["vendors"]} == {Vendor.make_id("flugsvamp", "Isbjornen"),
                                                  Vendor.make_id("nordbazaar", "PolarKing")}
    assert _run(["vendor", "Isbjornen", "--index", url]) == 0
    human = capsys.readouterr().out
    assert "Linked identities" in human and "pgp_fingerprint" in human and "Turnover by week" in human
    assert _run(["vendor", "nobody-at-all", "--index", url]) == 1
    assert "no vendor named" in capsys.readouterr().err


def test_trends_by_vendor_names_vendors_and_keeps_the_top_n(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    idx = backend(tmp_path)
    _market(idx)
    idx.close()
    url = f"sqlite:///{tmp_path / 'index.sqlite'}"
    assert _run(["trends", "--index", url, "--by", "vendor", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["turnover"]
    assert {r["name"] for r in rows} == {"Isbjornen (flugsvamp)", "PolarKing (nordbazaar)"}  # ids resolved
    totals: dict[str, float] = {}
    for r in rows:
        if r["method"] == "best":
            totals[r["name"]] = totals.get(r["name"], 0.0) + r["value_sek"]
    top, other = sorted(totals, key=lambda n: -totals[n])
    assert _run(["trends", "--index", url, "--by", "vendor", "--top", "1"]) == 0
    table = capsys.readouterr().out.split("Median price")[0]
    assert top in table and "top 1 of 2" in table
    assert other not in table and "ven-" not in table


def test_vendor_cli_prints_hashes_and_signals_in_full(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    idx = backend(tmp_path)
    _market(idx)
    profile = vendor("flugsvamp", "Isbjornen", fingerprints=[FP], first=1, last=10, swedish_score=0.9)
    profile.capture_sha256 = "ab" * 32
    profile.contacts = [{"kind": "wickr", "value": "isbjornen"}]
    idx.upsert([profile])
    idx.close()
    assert _run(["vendor", "Isbjornen", "--index", f"sqlite:///{tmp_path / 'index.sqlite'}"]) == 0
    human = capsys.readouterr().out
    assert "ab" * 32 in human  # a 64-hex sha256 is never cut to the column width
    sha = next(line for line in human.splitlines() if "pgp_fingerprint" in line)
    assert "sha256=" in sha and all(len(part) >= 64 for part in sha.split("sha256=")[1:])


def test_read_commands_refuse_a_missing_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "typo" / "index.sqlite"
    for argv in (["trends", "--index", str(missing)], ["vendor", "x", "--index", f"sqlite:///{missing}"]):
        with pytest.raises(Exception, match="no index at"):
            _run(argv)
    assert not missing.parent.exists()  # no new empty index (nor its folder) was created


def test_trends_refuses_a_bad_since(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _run(["trends", "--since", "1 march"])
    assert "not an ISO date" in capsys.readouterr().err
