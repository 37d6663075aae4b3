"""Imported ratings, site rate tables and shipping option names as real pages write them (Hansa 2017,
Empire 2019): extractors/structures.py."""

from __future__ import annotations

from extractors.structures import external_rating, shipping_option, site_market, site_rates


def _triple(text: str, label: str | None = None) -> tuple[object, object, object]:
    r = external_rating(text, label)
    assert r is not None
    return r["market"], r["sales"], r["rating"]


def test_rating_is_a_decimal_not_a_thousands_group() -> None:
    assert _triple("(3000, 4.825/5)", "Dream") == ("dream", 3000, 4.825)


def test_empire_parenthesised_sales_and_rating() -> None:
    label = "Verified Dream Market successful sales and star rating 1-5"
    assert _triple("(470) (4.92)", label) == ("dream", 470, 4.92)
    assert _triple("138 (5.0)", "Verified Dream Market") == ("dream", 138, 5.0)


def test_hansa_title_says_which_number_is_which() -> None:
    dream = "Vendor rating on Dream Market (Average rating (1-5 stars), Number of ratings)"
    assert _triple("4.90, 310", dream) == ("dream", 310, 4.9)
    assert _triple("200~500, 5.00/5", "Abraxas vendor rating (Deals, Stars out of 5)") == ("abraxas", 200, 5.0)
    trio = external_rating("669/4/12", "Alphabay vendor rating (Positive/neutral/negative)")
    assert trio and (trio["positive"], trio["neutral"], trio["negative"], trio["sales"]) == (669, 4, 12, 685)


def test_site_rates_pairs_against_btc() -> None:
    assert site_rates(["USD/BTC 2714.79", "EUR/BTC 2425.44"]) == {"USD": 2714.79, "EUR": 2425.44}
    assert site_rates(["USD 5261.1"]) == {"USD": 5261.1}


def test_shipping_option_keeps_site_brackets_drops_emptied_ones() -> None:
    option = shipping_option("[UK] Speed Mail Tracked & Registred (NDD) [2 days] [+ USD 10.17]")
    assert option and (option["name"], option["price"], option["currency"], option["days"]) == (
        "[UK] Speed Mail Tracked & Registred (NDD) [2 days]", 10.17, "USD", 2)


def test_site_market_whole_names_only() -> None:
    assert [site_market(s) for s in ("dream", "dream_market", "Wall Street", "hansa2017", "dreamland")] == [
        "dream", "dream", "wallstreet", "hansa", "dreamland"]
