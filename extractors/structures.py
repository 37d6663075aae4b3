"""Normalisers for the structures real market pages show: shipping options, tier prices, the site's own
exchange rates, category paths, ratings imported from other markets, yes/no flags and "ends in" times.

Adapters select the raw text (one string per option, row or cell); these pure functions turn it into the
typed structures of :mod:`indexer.models`. A value that cannot be read is left out, never guessed.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from extractors.normalise import CURRENCY_WORDS, find_prices, parse_amount

_CODES = {"BTC", "BCH", "XMR", "LTC", "ETH", "MBTC", "MBCH", "USD", "EUR", "GBP", "SEK", "NOK", "DKK", "CAD",
          "AUD", "BRL", "TRY", "CNH", "CNY", "HKD", "RUB", "INR", "JPY", "CHF", "PLN", "CZK", "ZAR", "NZD"}
_CODE_RE = re.compile(r"(?<![A-Za-z])(m?[A-Z]{3})(?![A-Za-z])")
_NUM = r"\d[\d\s\u00a0,.]*\d|\d"
_DAYS = re.compile(rf"({_NUM})\s*(?:-|to|–)?\s*(?:({_NUM})\s*)?(working\s+|business\s+)?(day|dag|hour|timm|week|veck)", re.I)
_PER = re.compile(r"/\s*(order|item|unit|st|piece|each)\b", re.I)
_YES = {"yes", "ja", "true", "1", "enabled", "allowed", "on", "✓", "✔"}
_NO = {"no", "nej", "false", "0", "disabled", "not allowed", "off", "✗", "✘", "none"}


def _code(word: str) -> str | None:
    up = word.strip()
    if up.upper() in _CODES:
        return "mBTC" if up.upper() == "MBTC" else "mBCH" if up.upper() == "MBCH" else up.upper()
    return CURRENCY_WORDS.get(up.lower())


def currency_amounts(text: str | None, default_currency: str | None = None) -> list[dict[str, Any]]:
    """Every (amount, currency) the text shows, in order: '฿0.000787 (€7.28)' -> BTC then EUR,
    'USD 1.30 0.00013823 BTC' -> USD then BTC, 'BCH 0.05' -> BCH. A bare number takes the default."""
    if not text:
        return []
    out: list[dict[str, Any]] = []
    taken: list[tuple[int, int]] = []
    for price in find_prices(text):
        out.append({"amount": price.amount, "currency": price.currency.replace("mBTC", "mBTC"), "at": price.start})
        taken.append((price.start, price.end))
    # codes the general price finder does not know (BCH, LTC, CAD …): "CODE 1.23" or "1.23 CODE"
    for m in re.finditer(rf"(?<![\w.])(m?[A-Za-z]{{3}})\s?({_NUM})|({_NUM})\s?(m?[A-Za-z]{{3}})(?![A-Za-z])", text):
        if any(s <= m.start() < e or s < m.end() <= e for s, e in taken):
            continue
        word, number = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        code = _code(word)
        if code is None or word.upper() not in _CODES:
            continue
        amount = parse_amount(number, code)
        if amount is not None:
            out.append({"amount": amount, "currency": code, "at": m.start()})
    if not out and default_currency:
        m = re.search(_NUM, text)
        amount = parse_amount(m.group(0), default_currency) if m else None
        if amount is not None:
            out.append({"amount": amount, "currency": default_currency, "at": m.start() if m else 0})
    out.sort(key=lambda p: p["at"])
    return [{"amount": p["amount"], "currency": p["currency"]} for p in out]


def shipping_option(text: str | None, default_currency: str | None = None) -> dict[str, Any] | None:
    """'priority - 3 days - USD + 8.00 / order' -> {"name": "priority", "price": 8.0, "currency": "USD",
    "days": 3, "per": "order"}; 'EMS-12 to 14 Working Days +฿0.0047 / $25.00' keeps its whole name and
    takes the fiat price when the site shows one (days: the upper bound of a range)."""
    if not text or not text.strip():
        return None
    raw = re.sub(r"\s+", " ", text).strip()
    raw = re.sub(r"(?<![A-Za-z])([A-Z]{3}|[$€£฿₿])\s*\+\s*(?=\d)", r"\1 ", raw)  # "USD + 8.00" -> "USD 8.00"
    parts = [p.strip() for p in re.split(r"\s+-\s+", raw)]
    if len(parts) > 1:  # "name - 3 days - USD 8.00 / order"
        name, rest = parts[0], " - ".join(p for p in parts[1:] if not _DAYS.fullmatch(p.strip()))
    else:  # "฿0.00214 ($27) DHL or EMS": the option's name is what is left without its prices
        rest = raw
        name = raw
        for p in sorted(find_prices(raw), key=lambda p: -p.start):
            name = name[: p.start] + name[p.end:]
        # brackets the prices leave empty ("[+ USD 0.00]" -> "[+ ]") go; "[UK] …" keeps its bracket
        name = re.sub(r"[(\[]\s*\+?\s*[)\]]", "", name)
        name = re.sub(r"^[^\w\[(]+|[\s+/(\[]+$", "", name.strip()).strip()
    days = None
    for segment in (parts[1:] if len(parts) > 1 else [raw]):
        m = _DAYS.search(segment)
        if m:
            low = parse_amount(m.group(1))
            high = parse_amount(m.group(2)) if m.group(2) else None
            value = high if high is not None else low
            unit = m.group(4).lower()
            if value is not None:
                days = value / 24 if unit.startswith(("hour", "timm")) else value * 7 if unit.startswith(("week", "veck")) else value
            break
    amounts = currency_amounts(rest, default_currency)
    chosen = (amounts or [None])[0]  # the price as the site states it first (its own currency)
    per = _PER.search(rest)
    return {
        "name": name or raw,
        "price": chosen["amount"] if chosen else None,
        "currency": chosen["currency"] if chosen else None,
        "days": _tidy(days),
        "per": per.group(1).lower() if per else None,
        "prices": amounts,
    }


def tier_price(text: str | None, default_currency: str | None = None) -> dict[str, Any] | None:
    """'From qty 250 to 499 USD 1.30 0.00013823 BTC' -> {"min_qty": 250, "max_qty": 499, "price": 1.3,
    "currency": "USD", "prices": [USD, BTC]}; '10+ : 45 EUR' -> min 10, no max."""
    if not text:
        return None
    raw = re.sub(r"\s+", " ", text).strip()
    m = re.search(r"(?:qty|quantity|antal|from|från)?\s*(\d[\d,.]*)\s*(?:(?:to|-|–|till)\s*(\d[\d,.]*)|\+)", raw, re.I)
    if not m:
        return None
    low = parse_amount(m.group(1))
    high = parse_amount(m.group(2)) if m.group(2) else None
    amounts = currency_amounts(raw[m.end():], default_currency)
    if low is None or not amounts:
        return None
    return {"min_qty": _tidy(low), "max_qty": _tidy(high), "price": amounts[0]["amount"],
            "currency": amounts[0]["currency"], "prices": amounts}


def site_rates(rows: list[str] | str | None) -> dict[str, float]:
    """The site's rate table as it shows it ('USD 5261.1' or 'USD/BTC 2714.79' per row, or 'CODE value' pairs in one string):
    units of each currency per 1 BTC. Rows without a code and a number are skipped."""
    if not rows:
        return {}
    text = rows if isinstance(rows, str) else "\n".join(rows)
    out: dict[str, float] = {}
    # "USD 5261.1" (Dream) or "USD/BTC 2714.79" (Hansa: the pair's base is the code)
    for m in re.finditer(r"(?<![A-Za-z])(m?[A-Za-z]{3})(?:\s*/\s*BTC)?\s*[:=]?\s*(\d[\d,]*(?:\.\d+)?)", text):
        code = _code(m.group(1))
        if code is None or m.group(1).upper() not in _CODES:
            continue
        value = parse_amount(m.group(2).replace(",", ""), "BTC")
        if value is not None:
            out.setdefault(code, value)
    return out


def convert_with_site_rates(amount: float, currency: str, target: str, rates: dict[str, float]) -> float | None:
    """Convert with the site's own table (units per 1 BTC): None when either currency is missing."""
    src, dst = rates.get(currency), rates.get(target)
    if currency == "BTC":
        src = src or 1.0
    if target == "BTC":
        dst = dst or 1.0
    if not src or not dst:
        return None
    return amount / src * dst


def category_path(names: list[str] | None, ids: list[Any] | None = None) -> list[dict[str, Any]]:
    """Breadcrumb names (top first) and the site's ids (same order, may be shorter) as
    [{"name", "id", "level"}]. Blank names are dropped with their id."""
    names = [re.sub(r"\s+", " ", str(n)).strip(" >»/›") for n in (names or [])]
    ids = list(ids or [])
    out = []
    for index, name in enumerate(names):
        if not name:
            continue
        site_id = ids[index] if index < len(ids) else None
        out.append({"name": name, "id": str(site_id) if site_id not in (None, "") else None, "level": len(out)})
    return out


# Market names as vendors write them in imported ratings -> one canonical name.
_MARKETS = {
    "agora": "agora", "alphabay": "alphabay", "alpha bay": "alphabay", "hansa": "hansa", "dream": "dream",
    "dream market": "dream", "wall street": "wallstreet", "wallstreet": "wallstreet", "nucleus": "nucleus",
    "abraxas": "abraxas", "middle earth": "middleearth", "middleearth": "middleearth", "silk road": "silkroad",
    "empire": "empire", "berlusconi": "berlusconi", "valhalla": "valhalla", "evolution": "evolution",
    "traderoute": "traderoute", "trade route": "traderoute", "point": "point", "tochka": "point",
    "cryptonia": "cryptonia", "apollon": "apollon", "nightmare": "nightmare", "samsara": "samsara",
}


_MARKETS_COMPACT = {k.replace(" ", ""): v for k, v in _MARKETS.items()}


def site_market(site: Any) -> str:
    """The market a crawled site is, from its adapter name: a whole known name ("dream", "dream_market",
    "Wall Street", "hansa2017") gives the canonical market, anything else is itself folded ("dreamland")."""
    compact = re.sub(r"[\s_\-]+", "", str(site or "").casefold())
    for name in (compact, re.sub(r"market$", "", compact), re.sub(r"(market)?\d+$", "", compact)):  # hansa2017
        if name in _MARKETS_COMPACT:
            return _MARKETS_COMPACT[name]
    return compact


def market_name(text: str | None) -> str | None:
    low = re.sub(r"[_\-]+", " ", (text or "").lower())
    low = re.sub(r"\s+", " ", low)
    for key in sorted(_MARKETS, key=len, reverse=True):
        if re.search(rf"\b{re.escape(key)}\b", low) or key.replace(" ", "") in low.replace(" ", ""):
            return _MARKETS[key]
    return None


def external_rating(text: str | None, market: str | None = None) -> dict[str, Any] | None:
    """One imported rating: 'Dream Market 138 sales 5.00/5' / '(3000, 4.825/5)' / 'Alphabay 800/27/96'
    (positive/neutral/negative) -> {"market", "sales", "rating", "rating_max", "positive", "neutral",
    "negative"}. ``market`` comes from the label when the text itself does not name it."""
    if not text:
        return None
    raw = re.sub(r"\s+", " ", text).strip()
    name = market_name(market) or market_name(raw)
    if name is None:
        return None
    out: dict[str, Any] = {"market": name, "sales": None, "rating": None, "rating_max": None,
                           "positive": None, "neutral": None, "negative": None}
    # Empire: "138 (5.0)", or "(470) (4.92)" on other profiles
    paren = re.search(r"(?<![\d.])\(?(\d[\d,]*)\)?\s*\(\s*(\d+(?:[.,]\d+)?)\s*\)", raw)
    if paren:
        out["sales"], out["rating"], out["rating_max"] = int(paren.group(1).replace(",", "")), _score(paren.group(2)), 5
        return out
    trio = re.search(r"(\d+)\s*/\s*(\d+)\s*/\s*(\d+)", raw)
    if trio:
        out["positive"], out["neutral"], out["negative"] = (int(trio.group(i)) for i in (1, 2, 3))
        out["sales"] = out["positive"] + out["neutral"] + out["negative"]
    rating = re.search(r"(\d+(?:[.,]\d+)?)\s*/\s*(5|10|100)(?!\s*/)\b", raw)
    if rating and not trio:
        out["rating"], out["rating_max"] = _score(rating.group(1)), int(rating.group(2))
    sales = re.search(r"(\d[\d,]*)\s*(?:sales|deals|orders|transactions|försäljningar)", raw, re.I)
    if sales:
        out["sales"] = int(sales.group(1).replace(",", ""))
    elif out["sales"] is None:
        # "(3000, 4.825/5)": the first number that is not the rating
        rest = raw[: rating.start()] if rating else raw
        count = re.findall(r"(?<![\d.])#?(\d+)(?:~\d+)?(?![\d.])", rest)
        if count:
            out["sales"] = int(count[0])
    if out["rating"] is None:
        stars = re.search(r"(?:rating|stars?|betyg)\D{0,3}(\d+(?:[.,]\d+)?)", raw, re.I)
        if stars:
            out["rating"] = _score(stars.group(1))
    _by_label_order(out, raw, market)
    return out


def _score(text: str) -> float:
    """A rating is a decimal, never a thousands group: '4.825' is 4.825 (parse_amount would read 4825)."""
    return float(text.replace(",", "."))


def _by_label_order(out: dict[str, Any], raw: str, label: str | None) -> None:
    """Hansa's titles say what each number is: 'Vendor rating on Dream Market (Average rating (1-5 stars),
    Number of ratings)' with '4.90, 310'. When the label names as many parts as the text has, they win."""
    m = re.search(r"\((.*)\)\s*$", label or "")
    if not m:
        return
    roles = [_role(p) for p in _top_level_split(m.group(1))]
    values = [v.strip() for v in raw.split(",")]
    if len(roles) < 2 or len(roles) != len(values) or None in roles:
        return
    for role, value, part in zip(roles, values, _top_level_split(m.group(1)), strict=True):
        number = re.search(r"\d+(?:[.,]\d+)?", value)
        if not number:
            continue
        if role == "sales":
            out["sales"] = int(parse_amount(number.group(0).replace(",", "")) or 0)
        else:
            out["rating"] = _score(number.group(0))
            scale = re.search(r"/\s*(\d+)", value) or re.search(r"(?:out of|1\s*-\s*)(\d+)", part, re.I)
            out["rating_max"] = int(scale.group(1)) if scale else out["rating_max"]


def _role(part: str) -> str | None:
    low = part.lower()
    if re.search(r"number|count|deals?|sales|orders|transactions|antal", low):
        return "sales"
    if re.search(r"rating|stars?|betyg", low):
        return "rating"
    return None


def _top_level_split(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    return [*parts, current.strip()]


def flag(text: Any, yes: tuple[str, ...] = (), no: tuple[str, ...] = ()) -> bool | None:
    """'Yes' -> True, 'No' -> False; ``yes``/``no`` add the site's words ('Escrow', 'FE')."""
    if isinstance(text, bool):
        return text
    if text is None:
        return None
    low = re.sub(r"\s+", " ", str(text)).strip().lower()
    if not low:
        return None
    if low in _YES or any(w.lower() in low for w in yes):
        return True
    if low in _NO or any(w.lower() in low for w in no):
        return False
    return None


def listing_type(text: Any) -> str | None:
    """'Physical Package' -> physical, 'Digital' / 'Digital Goods' -> digital."""
    low = str(text or "").lower()
    if re.search(r"digital|download|e-?book|software|virtual|ebok", low):
        return "digital"
    if re.search(r"physical|package|fysisk|shipped|paket", low):
        return "physical"
    return None


def expires_at(text: Any, as_of: str) -> str | None:
    """'Never' -> None; 'in 3 days', '2 d 5 h', '12 hours' -> as_of + that, as a UTC ISO time; an absolute
    ISO date is kept."""
    if not text:
        return None
    low = str(text).strip().lower()
    if re.fullmatch(r"(never|aldrig|-|n/a|∞|unlimited)", low):
        return None
    if re.match(r"\d{4}-\d{2}-\d{2}", low):
        return low[:19] if "t" in low else low[:10] + "T00:00:00+00:00"
    delta = timedelta()
    found = False
    for m in re.finditer(r"(\d+(?:[.,]\d+)?)\s*(d|dag|day|h|hour|timm|min|m\b|week|w\b|veck)", low):
        value = parse_amount(m.group(1)) or 0.0
        unit = m.group(2)
        found = True
        if unit.startswith(("d",)):
            delta += timedelta(days=value)
        elif unit.startswith(("h", "t")):
            delta += timedelta(hours=value)
        elif unit.startswith(("w", "v")):
            delta += timedelta(weeks=value)
        else:
            delta += timedelta(minutes=value)
    if not found:
        return None
    base = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    return (base + delta).isoformat()


def _tidy(x: float | None) -> float | int | None:
    if x is None:
        return None
    return int(x) if float(x).is_integer() else round(float(x), 6)
