"""Alert rules over the real SQLite index: baseline, fire-once, SE shipping, watch-list retro-hunt, YAML errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alerts.evaluate import Baseline, acknowledge, evaluate_alerts, list_alerts, retro_hunt, site_baselines
from alerts.outbox import Outbox
from alerts.rules import AlertConfigError, add_watch, load_config, load_watchlist
from indexer.base import open_backend
from indexer.models import Alert, Vendor
from tests.alerts_support import crawl_docs

DAY1 = "2024-03-01T06:00:00+00:00"
DAY2 = "2024-03-02T06:00:00+00:00"
DAY3 = "2024-03-03T06:00:00+00:00"
SV = [{"name": "norrlandsgrona", "swedish_score": 0.92, "swedish_signals": ["ships_from_se", "sek", "postnord"]},
      {"name": "dutchdealer", "swedish_score": 0.1, "swedish_signals": []}]
NEW_SV = {"name": "stockholmsnus", "swedish_score": 0.85, "swedish_signals": ["swedish_text", "swish", "brev"],
          "pgp_fingerprints": ["0123456789ABCDEF0123456789ABCDEF01234567"],
          "contacts": [{"type": "wickr", "value": "sthlm_snus"}]}


@pytest.fixture()
def backend(sokhund_home: Path):
    b = open_backend()
    yield b
    b.close()


@pytest.fixture()
def quiet(sokhund_home: Path) -> Path:
    """User rules: only the JSONL channel (keeps test output clean)."""
    path = sokhund_home / "alerts" / "rules.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("channels:\n  - {name: stdout, enabled: false}\n", encoding="utf-8")
    return path


def _jsonl(home: Path) -> list[dict]:
    path = home / "alerts" / "alerts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_first_crawl_is_baseline_then_new_swedish_vendor_fires_once(backend, quiet, sokhund_home):
    crawl_docs(backend, "flugsvamp", "r1", DAY1, vendors=SV)
    assert evaluate_alerts(backend, "r1") == []  # the first crawl of a site is its baseline
    assert site_baselines(backend) == {"flugsvamp": Baseline(DAY1, "r1")}

    crawl_docs(backend, "flugsvamp", "r2", DAY2, vendors=[*SV, NEW_SV, {"name": "newforeign", "swedish_score": 0.2}])
    fired = evaluate_alerts(backend, "r2")
    assert [a.rule for a in fired] == ["new_swedish_vendor"]
    alert = fired[0]
    assert alert.entity == Vendor.make_id("flugsvamp", "stockholmsnus")
    assert alert.id == Alert.make_id("new_swedish_vendor", alert.entity)
    assert alert.details["swedish_signals"] == ["swedish_text", "swish", "brev"]
    assert alert.details["baseline"] == DAY1 and alert.details["first_seen"] == DAY2
    assert alert.evidence and all(len(e["sha256"]) == 64 and e["capture_id"] for e in alert.evidence)
    assert alert.details["observation"]["run_id"] == "r2"
    assert alert.campaign_run == "r2"

    # Re-evaluation and the next crawls never fire it again; the index and the JSONL channel hold it once.
    crawl_docs(backend, "flugsvamp", "r3", DAY3, vendors=[*SV, NEW_SV])
    assert evaluate_alerts(backend, "r3") == []
    assert evaluate_alerts(backend) == []
    assert [a["id"] for a in list_alerts(backend)] == [alert.id]
    assert [row["alert"]["id"] for row in _jsonl(sokhund_home)] == [alert.id]


def test_baseline_is_per_site(backend, quiet):
    crawl_docs(backend, "flugsvamp", "r1", DAY1, vendors=SV)
    # A site crawled for the first time later has its own baseline: its Swedish vendors are not "new".
    crawl_docs(backend, "nordbazaar", "r2", DAY2, vendors=[{"name": "svensken", "swedish_score": 0.9}])
    assert evaluate_alerts(backend) == []


def test_vendor_seen_in_baseline_via_listings_or_resumed_run_is_not_new(backend, quiet):
    # Baseline run r1: the profile of "budgetmiss" was outside the page budget, only its listing was seen.
    crawl_docs(backend, "flugsvamp", "r1", DAY1, vendors=SV,
               listings=[{"listing_id": "9", "vendor": "budgetmiss", "title": "Hasch", "ships_from": "SE"}])
    # The baseline crawl resumed later (same run id, later as-of) found "sentfound".
    crawl_docs(backend, "flugsvamp", "r1", DAY2, vendors=[{"name": "sentfound", "swedish_score": 0.9}])
    crawl_docs(backend, "flugsvamp", "r2", DAY3, vendors=[{"name": "budgetmiss", "swedish_score": 0.9}])
    assert evaluate_alerts(backend) == []


def test_threshold_from_user_rules(backend, sokhund_home):
    rules = sokhund_home / "alerts" / "rules.yaml"
    rules.parent.mkdir(parents=True, exist_ok=True)
    rules.write_text("rules:\n  - {name: new_swedish_vendor, min_swedish_score: 0.9}\n"
                     "channels:\n  - {name: stdout, enabled: false}\n")
    crawl_docs(backend, "flugsvamp", "r1", DAY1, vendors=SV)
    crawl_docs(backend, "flugsvamp", "r2", DAY2, vendors=[NEW_SV])  # score 0.85 < 0.9
    assert evaluate_alerts(backend) == []
    assert load_config().rule("new_swedish_vendor").min_swedish_score == 0.9


def test_known_vendor_starts_shipping_from_se(backend, quiet):
    vendors = [{"name": "dutchdealer", "swedish_score": 0.1}, {"name": "svensson", "swedish_score": 0.9}]
    day1 = [{"listing_id": "1", "vendor": "dutchdealer", "title": "MDMA 10g", "ships_from": "NL"},
            {"listing_id": "2", "vendor": "svensson", "title": "Hasch 5g", "ships_from": "SE"}]
    crawl_docs(backend, "nordbazaar", "r1", DAY1, vendors=vendors, listings=day1)
    assert evaluate_alerts(backend) == []
    # Day 2: the Dutch vendor adds a listing shipping from SE; the Swedish one always shipped from SE.
    day2 = [*day1, {"listing_id": "3", "vendor": "dutchdealer", "title": "MDMA 5g", "ships_from": "SE"}]
    crawl_docs(backend, "nordbazaar", "r2", DAY2, vendors=vendors, listings=day2)
    fired = evaluate_alerts(backend, "r2")
    assert [(a.rule, a.entity) for a in fired] == [("vendor_ships_from_se", Vendor.make_id("nordbazaar", "dutchdealer"))]
    details = fired[0].details
    assert details["previous_ships_from"] == ["NL"] and details["first_observed_at"] == DAY2
    roles = {e["role"] for e in fired[0].evidence}
    assert {"ships_from_SE", "earlier_observation"} <= roles
    crawl_docs(backend, "nordbazaar", "r3", DAY3, vendors=vendors, listings=day2)
    assert evaluate_alerts(backend) == []


def test_watch_add_retro_hunts_earlier_matches(backend, quiet):
    crawl_docs(backend, "flugsvamp", "r1", DAY1, vendors=[*SV, NEW_SV], listings=[
        {"listing_id": "10", "vendor": "norrlandsgrona", "title": "Fentanyl plåster 10 st", "substance": "fentanyl"},
        {"listing_id": "11", "vendor": "dutchdealer", "title": "Kokain 1g", "substance": "cocaine"},
    ])
    crawl_docs(backend, "snackis", "r1", DAY1, posts=[
        {"post_id": "p1", "thread_title": "Ny leverantör", "text": "Kontakta mig på wickr: sthlm_snus, skickar brev",
         "author": "stockholmsnus"},
        {"post_id": "p2", "thread_title": "Fråga", "text": "Någon som testat fentanylplåster?", "author": "x"},
    ])
    assert evaluate_alerts(backend) == []  # nothing watched yet

    entry, added = add_watch("keyword", "fentanyl")
    assert added
    fired = retro_hunt(backend, entry)
    assert {a.entity_kind for a in fired} == {"listing"}
    assert all(a.details["retro_hunt"] and a.rule == "watchlist:keyword:fentanyl" for a in fired)

    entry, _ = add_watch("contact", "@sthlm_snus")
    fired = retro_hunt(backend, entry)
    assert {(a.entity_kind, a.details["matched"]) for a in fired} == {("vendor", "contacts"), ("post", "text")}

    entry, _ = add_watch("pgp", "0123 4567 89AB CDEF 0123  4567 89AB CDEF 0123 4567")
    fired = retro_hunt(backend, entry)
    assert [(a.entity, a.details["matched"]) for a in fired] == [
        (Vendor.make_id("flugsvamp", "stockholmsnus"), "pgp_fingerprints")]
    assert fired[0].evidence[0]["sha256"]

    entry, _ = add_watch("substance", "Cocaine")
    assert [a.details["matched"] for a in retro_hunt(backend, entry)] == ["substance"]

    # Already alerted: neither a second retro-hunt nor the regular evaluation fires again …
    assert retro_hunt(backend, entry) == []
    assert evaluate_alerts(backend) == []
    # … but the regular evaluation catches matches crawled later.
    crawl_docs(backend, "flugsvamp", "r2", DAY2, listings=[
        {"listing_id": "12", "vendor": "dutchdealer", "title": "Cola", "substance": "cocaine"}])
    assert [a.rule for a in evaluate_alerts(backend)] == ["watchlist:substance:cocaine"]
    assert len(load_watchlist()) == 4


def test_fire_once_across_outbox_and_index(backend, quiet):
    crawl_docs(backend, "flugsvamp", "r1", DAY1, vendors=SV)
    crawl_docs(backend, "flugsvamp", "r2", DAY2, vendors=[NEW_SV])
    fired = evaluate_alerts(backend)
    assert len(fired) == 1
    # The alert vanishes from the index (restored backup, crash between outbox and index): it is repaired
    # from the outbox, never re-fired or re-delivered.
    backend.delete("alert", fired[0].id)
    assert evaluate_alerts(backend) == []
    assert backend.get("alert", fired[0].id)["title"] == fired[0].title
    with Outbox() as outbox:
        assert outbox.counts() == {"sent": 1}


def test_acknowledge_and_list(backend, quiet):
    crawl_docs(backend, "flugsvamp", "r1", DAY1, vendors=SV)
    crawl_docs(backend, "flugsvamp", "r2", DAY2, vendors=[NEW_SV])
    (alert,) = evaluate_alerts(backend)
    acknowledge(backend, alert.id[:14])
    assert list_alerts(backend) == []
    assert list_alerts(backend, include_acknowledged=True)[0]["acknowledged"] is True
    assert evaluate_alerts(backend) == []  # acknowledging does not re-arm it


def test_bad_rules_yaml_names_file_and_field(sokhund_home, tmp_path):
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules:\n  - {name: new_swedish_vendor, min_swedish_score: 1.5}\n")
    with pytest.raises(AlertConfigError) as err:
        load_config(bad)
    assert str(bad) in str(err.value) and "rules[new_swedish_vendor].min_swedish_score" in str(err.value)

    bad.write_text("rules:\n  - {name: mine, type: watchlist, entries: [{kind: pgp, value: DEADBEEF}]}\n")
    with pytest.raises(AlertConfigError, match=r"rules\[mine\]\.entries\[0\].*full v4 PGP fingerprint"):
        load_config(bad)

    bad.write_text("channels:\n  - {name: hook, type: webhook, url: ftp://x}\n")
    with pytest.raises(AlertConfigError, match=r"field 'channels\[hook\]\.url'"):
        load_config(bad)

    bad.write_text("rules:\n  - {name: r, type: new_vendor, channels: [pager]}\n")
    with pytest.raises(AlertConfigError, match="unknown channel"):
        load_config(bad)

    bad.write_text("rules: [\n")
    with pytest.raises(AlertConfigError, match="not valid YAML"):
        load_config(bad)

    with pytest.raises(AlertConfigError, match="full v4 PGP fingerprint"):
        add_watch("pgp", "0x89ABCDEF")


def test_cli_watch_and_list(backend, quiet, capsys):
    from cli.main import main

    crawl_docs(backend, "flugsvamp", "r1", DAY1, listings=[
        {"listing_id": "10", "vendor": "norrlandsgrona", "title": "Fentanyl plåster 10 st"}])
    assert main(["alerts", "watch", "add", "--kind", "keyword", "fentanyl", "--note", "opioid watch"]) == 0
    assert "1 earlier match" in capsys.readouterr().out
    assert main(["alerts", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["rule"] == "watchlist:keyword:fentanyl" and rows[0]["delivery"]["file"]["state"] == "sent"
    assert main(["alerts", "ack", rows[0]["id"]]) == 0
    assert main(["alerts"]) == 0
    assert "no alerts" in capsys.readouterr().out
    assert main(["alerts", "watch", "list"]) == 0
    assert "fentanyl" in capsys.readouterr().out
    assert main(["alerts", "watch", "remove", "--kind", "keyword", "fentanyl"]) == 0
    assert load_watchlist() == []
