"""Normalisers: prices, quantities and places. Pure functions, no spaCy, unit-tested one by one."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).parent / "data"

# ---------------------------------------------------------------- scanning


def scan(rx: re.Pattern[str], text: str, starts: Any) -> Any:
    """The matches of ``rx.finditer(text)``, trying ``rx`` only at the candidate ``starts`` (ascending
    positions that include every position where a match of ``rx`` can begin).

    Python's ``re`` walks every position of the text for a pattern that begins with a look-around or
    is case-insensitive; a cheap finder over the lowercased text (a literal alternation or a character
    class, which ``re`` skips to directly) gives the few candidate positions instead. Same matches,
    same order, same non-overlapping rule (the next match starts at or after the previous end)."""
    end = 0
    for p in starts:
        if p < end:
            continue
        m = rx.match(text, p)
        if m is not None:
            end = m.end() if m.end() > p else p + 1
            yield m


def lowered(text: str) -> str | None:
    """``text.lower()`` when it keeps every character at its offset (else None: scan the slow way)."""
    low = text.lower()
    return low if len(low) == len(text) else None


# ---------------------------------------------------------------- numbers

_NUM = r"\d{1,3}(?:[ \u00a0.,'’]\d{3})+(?:[.,]\d+)?(?!\d)|\d+(?:[.,]\d+)?"
_NUMQ = r"\d{1,3}(?:,\d{3})+(?![\d.])|\d+(?:[.,]\d+)?|(?<![\w.,])\.\d+"  # ".5 g": a leading decimal point
CRYPTO = {"BTC", "XMR", "MBTC", "LTC", "ETH", "BCH"}


def parse_amount(raw: str, currency: str | None = None) -> float | None:
    """A number as written on a market: '1 200,50' -> 1200.5, '1,200.50' -> 1200.5, '0,5' -> 0.5,
    '1.200' (SEK/EUR) -> 1200, '0.005' (BTC) -> 0.005. None when it is not a number."""
    s = re.sub(r"[\s\u00a0'’]", "", raw or "")
    if not s or not re.fullmatch(r"[\d.,]+", s) or not re.search(r"\d", s):
        return None
    if re.fullmatch(r"[.,]\d+", s):  # ".5", ",25": a leading decimal point, as sellers write it
        return float("0." + s[1:])
    s = s.strip(".,")
    crypto = (currency or "").upper() in CRYPTO
    if "," in s and "." in s:
        dec = "," if s.rfind(",") > s.rfind(".") else "."
        thou = "." if dec == "," else ","
        s = s.replace(thou, "").replace(dec, ".")
    elif "," in s or "." in s:
        sep = "," if "," in s else "."
        parts = s.split(sep)
        if len(parts) > 2:  # 1,200,000 or 1.200.000
            s = "".join(parts)
        else:
            head, tail = parts
            thousands = len(tail) == 3 and head not in ("", "0") and not crypto
            s = head + tail if thousands else head + "." + tail
    try:
        value = float(s)
    except ValueError:
        return None
    return value if math.isfinite(value) else None  # 400 digits are inf: no JSON, no index holds that


# ---------------------------------------------------------------- prices

CURRENCY_WORDS: dict[str, str] = {
    "kr": "SEK", "kr.": "SEK", "kronor": "SEK", "kronor.": "SEK", "sek": "SEK", ":-": "SEK", ",-": "SEK",
    "spänn": "SEK", "usd": "USD", "us$": "USD", "$": "USD", "dollar": "USD", "dollars": "USD",
    "eur": "EUR", "€": "EUR", "euro": "EUR", "euros": "EUR", "gbp": "GBP", "£": "GBP", "btc": "BTC",
    "ƀ": "BTC", "₿": "BTC", "฿": "BTC",  # ฿: Dream Market's bitcoin sign (also the baht's)
    "bitcoin": "BTC", "mbtc": "mBTC", "xmr": "XMR", "monero": "XMR", "ɱ": "XMR",  # ɱ: Monero's sign
    "bch": "BCH", "ltc": "LTC", "eth": "ETH",  # Dream and Empire (2019) price in Bitcoin Cash and Litecoin too
    "nok": "NOK", "dkk": "DKK",
}
_CUR_PRE = r"SEK|USD|US\$|EUR|GBP|mBTC|BTC|BCH|LTC|ETH|XMR|NOK|DKK|€|\$|£|Ƀ|₿|฿|ɱ|kr\.?(?=\s?\d)"
_CUR_POST = (r"kronor|kr\.?|:-|,-|SEK|USD|EUR|euros?|dollars?|€|\$|£|GBP|mBTC|BTC|BCH|LTC|ETH|XMR|ɱ|bitcoin|monero|"
             r"spänn|NOK|DKK")
PRICE_RE = re.compile(
    rf"(?=[SUEGMBLXNDK€$£Ƀ₿฿ɱ])(?<![\w.,$€£])(?P<pre>{_CUR_PRE})\s?(?P<n1>{_NUM})(?![\d.,]?\d)(?!\s?(?:mg|g|gr|kg|st|x)\b)"
    rf"|(?=\d)(?<![\w.,])(?P<n2>{_NUM})(?![\d.,]?\d)\s?(?P<post>{_CUR_POST})(?![\w])"
    r"|(?=[\dETFSÅN])(?<![\w])(?P<n3>\d+|en|ett|två|tre|fyra|fem|sex|sju|åtta|nio|tio)\s(?P<lax>lax|laxar|papp|lakan)\b",
    re.I,
)
_SV_NUM = {"en": 1, "ett": 1, "två": 2, "tre": 3, "fyra": 4, "fem": 5, "sex": 6, "sju": 7, "åtta": 8, "nio": 9, "tio": 10}


@dataclass(frozen=True)
class Price:
    amount: float
    currency: str  # ISO 4217 (SEK, EUR, USD, GBP), BTC, XMR or mBTC
    start: int
    end: int


def currency_code(word: str) -> str | None:
    w = word.strip().lower()
    if w.startswith("kr"):
        return "SEK"
    return CURRENCY_WORDS.get(w)


# Where a price can begin (over the lowercased text): a digit run, or a currency word or symbol right
# before one (PRICE_RE's prefix currencies are followed by at most one space and the number). The
# Swedish slang amounts ("två lax") take the full scan.
_DIGITS = re.compile(r"\d+")
_ASCII_DIGITS = re.compile(r"[0-9]+")  # ``re`` scans a plain class much faster than \d (Unicode digits)
_PRICE_PRE = re.compile(r"(?:sek|usd|us\$|eur|gbp|mbtc|btc|bch|ltc|eth|xmr|nok|dkk|kr\.?|[€$£ƀ₿฿ɱ])\s?$")
_SLANG_HINTS = ("lax", "papp", "lakan")


def _price_starts(low: str) -> list[int]:
    starts: list[int] = []
    for m in (_ASCII_DIGITS if low.isascii() else _DIGITS).finditer(low):
        d = m.start()
        pre = _PRICE_PRE.search(low, max(0, d - 6), d)
        if pre is not None:
            starts.append(pre.start())
        starts.append(d)
    return sorted(set(starts))


def _price_matches(text: str) -> Any:
    low = lowered(text)
    if low is None or any(h in low for h in _SLANG_HINTS):
        return PRICE_RE.finditer(text)
    return scan(PRICE_RE, text, _price_starts(low))


def find_prices(text: str) -> list[Price]:
    out: list[Price] = []
    for m in _price_matches(text):
        if m.group("lax"):
            n = m.group("n3").lower()
            count = int(n) if n.isdigit() else _SV_NUM.get(n, 1)
            out.append(Price(float(count) * 1000.0, "SEK", m.start(), m.end()))
            continue
        cur_word = m.group("pre") or m.group("post")
        cur = currency_code(cur_word)
        if cur is None:
            continue
        amount = parse_amount(m.group("n1") or m.group("n2"), cur)
        if amount is None:
            continue
        out.append(Price(amount, cur, m.start(), m.end()))
    return out


def parse_price(text: str) -> Price | None:
    """The first price in a string ('USD 340.00', '1 200,50 kr', '200:-', '0,05 BTC')."""
    found = find_prices(text)
    return found[0] if found else None


_BARE_AMOUNT = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)?(?![\w.,]?\d)")


def parse_prices(text: str, default: str | None = None) -> list[Price]:
    """Every price in a string, in order, each with its own currency: '฿0.000787 (€7.28)' -> BTC 0.000787,
    EUR 7.28 (the first is the leading price). A string with no currency sign or word is one bare amount
    in ``default`` (the site's currency), or nothing without one."""
    found = find_prices(text or "")
    if found or not default:
        return found
    m = _BARE_AMOUNT.search(text or "")
    amount = parse_amount(m.group(0), default) if m else None
    return [Price(amount, default, m.start(), m.end())] if m and amount is not None else []


# ---------------------------------------------------------------- quantities

MASS_G: dict[str, float] = {
    "mg": 0.001, "mcg": 1e-6, "µg": 1e-6, "μg": 1e-6, "ug": 1e-6, "g": 1.0, "kg": 1000.0,
    "oz": 28.349523125, "lb": 453.59237, "hg": 100.0,
}
UNIT_ALIASES: dict[str, str] = {
    "mg": "mg", "milligram": "mg", "mcg": "mcg", "µg": "mcg", "μg": "mcg", "ug": "mcg",
    "g": "g", "gr": "g", "gram": "g", "grams": "g", "gramm": "g", "grammes": "g", "gramos": "g", "gramo": "g",
    "kg": "kg", "kilo": "kg", "kilos": "kg", "kilogram": "kg", "kilogramm": "kg", "kilon": "kg",
    "oz": "oz", "ounce": "oz", "ounces": "oz", "lb": "lb", "lbs": "lb", "pound": "lb", "pounds": "lb",
    "hg": "hg", "hekto": "hg", "hekton": "hg", "ml": "ml", "l": "l", "liter": "l", "litre": "l",
}
_MASS_UNITS = r"kilogramm|kilogram|kilos|kilon|kilo|kg|milligram|mg|mcg|µg|μg|ug|grammes|gramm|gramos|gramo|grams|gram|gr|g|ounces|ounce|oz|pounds|pound|lbs|lb|hekton|hekto|hg|ml|liter|litre|l"
_COUNT_UNITS = (
    r"st|stk|styck|stycken|pcs|pc|pieces|piece|pills|pill|piller|tabs|tab|tablets|tablet|tabletter|tablett|"
    r"caps|capsules|capsule|kapslar|kapsel|blotters|blotter|lappar|units|patches|patch|plåster|strips|"
    r"seeds|frön|ampuller|ampoules|amps|vials|vial|bars|bar|cookies|gummies|pack|doses|dos|doser|squares|tickets|"
    r"pellets|pellet|pellots|blister|blisters|kapslar|x-pack|pk"
)
_DOSE_UNITS = r"mg|mcg|µg|μg|ug|ml"
_FRAC = {"1/2": 0.5, "½": 0.5, "1/4": 0.25, "¼": 0.25, "1/8": 0.125, "half": 0.5, "halv": 0.5, "halva": 0.5,
         "quarter": 0.25, "kvarts": 0.25, "eighth": 0.125}
QUANTITY_RE = re.compile(
    r"(?=\d|\.\d)(?<![\w.,])(?:"
    # 100 x 2mg, 50x (30MG), 10x100mg
    rf"(?P<c1>\d+)\s?[x×*]\s?\(?\s?(?P<d1>{_NUMQ})\s?(?P<du1>{_DOSE_UNITS})\b\)?"
    # 100mg x 10
    rf"|(?P<d2>{_NUMQ})\s?(?P<du2>{_DOSE_UNITS})\s?[x×*]\s?(?P<c2>\d+)(?![\d.,])"
    # 10 st, 5 pills, 28 tab
    rf"|(?P<c3>{_NUMQ})(?:\s?|-)(?P<cu3>{_COUNT_UNITS})\b"
    # [ 1x ], 10x XTC
    r"|(?P<c4>\d+)\s?[x×](?![\w\d])"
    # 5g, 0,5 g, 1 oz, 1 kg (not a concentration like 250mg/ml)
    rf"|(?P<m>{_NUMQ})\s?(?P<mu>{_MASS_UNITS})\b(?!\s?/\s?(?:ml|l)\b))"
    # x10
    r"|(?=[x×])(?<![\w])[x×]\s?(?P<c5>\d+)\b(?!\s?(?:mg|g|ml)\b)"
    # 1/2 oz, half oz, halv kilo
    rf"|(?=[1½¼HQEK])(?<![\w])(?P<fr>1/2|½|1/4|¼|1/8|half|halv|halva|quarter|kvarts|eighth)\s?(?:an?\s)?(?P<fu>{_MASS_UNITS})\b",
    re.I,
)
_EIGHTBALL = re.compile(r"\b(?:8[\s-]?ball|eight[\s-]?ball)\b", re.I)


@dataclass(frozen=True)
class Quantity:
    value: float
    unit: str  # g, mg, mcg, kg, oz, lb, hg, ml, l or pcs
    start: int
    end: int
    count: int | None = None
    dose: tuple[float, str] | None = None

    @property
    def grams(self) -> float | None:
        factor = MASS_G.get(self.unit)
        return None if factor is None or self.count is not None else self.value * factor

    def as_value(self) -> dict[str, Any]:
        return {
            "value": _tidy(self.value),
            "unit": self.unit,
            "grams": _tidy(self.grams) if self.grams is not None else None,
            "count": self.count,
            "dose": {"value": _tidy(self.dose[0]), "unit": self.dose[1]} if self.dose else None,
        }


def _tidy(x: float | None) -> float | int | None:
    if x is None:
        return None
    r = round(x, 6)
    return int(r) if r == int(r) and abs(r) < 1e15 else r


def _unit(word: str) -> str:
    return UNIT_ALIASES.get(word.lower(), word.lower())


# Where a quantity can begin (over the lowercased text): the first character of a run of digits and
# "x" (every later one follows a word character, which QUANTITY_RE's look-behinds exclude), "×", a
# fraction.
_QUANTITY_STARTS = re.compile(r"[\dx]+|[×½¼]|\.(?=\d)")
_QUANTITY_STARTS_ASCII = re.compile(r"[0-9x]+|\.(?=[0-9])")
_QUANTITY_STARTS_FRAC = re.compile(r"[\dx]+|[×½¼]|\.(?=\d)|half|halv|quarter|kvarts|eighth")
_FRAC_WORDS = ("half", "halv", "quarter", "kvarts", "eighth")


def _quantity_matches(text: str) -> Any:
    low = lowered(text)
    if low is None:
        return QUANTITY_RE.finditer(text)
    if any(w in low for w in _FRAC_WORDS):
        finder = _QUANTITY_STARTS_FRAC
    else:
        finder = _QUANTITY_STARTS_ASCII if low.isascii() else _QUANTITY_STARTS
    return scan(QUANTITY_RE, text, (m.start() for m in finder.finditer(low)))


def find_quantities(text: str) -> list[Quantity]:
    out: list[Quantity] = []
    for m in _quantity_matches(text):
        g = m.groupdict()
        s, e = m.start(), m.end()
        if g["c1"] or g["c2"]:
            count = int(g["c1"] or g["c2"])
            dose = parse_amount(g["d1"] or g["d2"] or "")
            du = _unit(g["du1"] or g["du2"])
            if count == 0:
                continue
            out.append(Quantity(float(count), "pcs", s, e, count, (dose, du) if dose is not None else None))
        elif g["c3"]:
            val = parse_amount(g["c3"])
            if val is None or val == 0 or val != int(val):
                continue
            out.append(Quantity(val, "pcs", s, e, int(val)))
        elif g["c4"] or g["c5"]:
            count = int(g["c4"] or g["c5"])
            if count:
                out.append(Quantity(float(count), "pcs", s, e, count))
        elif g["fr"]:
            out.append(Quantity(_FRAC[g["fr"].lower()], _unit(g["fu"]), s, e))
        elif g["m"]:
            val = parse_amount(g["m"])
            if val is None or val == 0:
                continue
            unit = _unit(g["mu"])
            if unit == "l":
                val, unit = val * 1000.0, "ml"
            out.append(Quantity(val, unit, s, e))
    for m in _EIGHTBALL.finditer(text) if "ball" in text.lower() else ():
        out.append(Quantity(3.5, "g", m.start(), m.end()))
    out.sort(key=lambda q: q.start)
    return out


def parse_quantity(text: str) -> Quantity | None:
    found = find_quantities(text)
    return found[0] if found else None


# ---------------------------------------------------------------- places


@lru_cache(maxsize=1)
def places() -> dict[str, Any]:
    return yaml.load((DATA / "places.yaml").read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506


@lru_cache(maxsize=1)
def place_aliases() -> dict[str, str]:
    """lowercased alias -> ISO alpha-2 code or region (EU, NORDIC, WW)."""
    import pycountry

    table: dict[str, str] = {}
    for c in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            name = getattr(c, attr, None)
            if name:
                table.setdefault(name.lower(), c.alpha_2)
    data = places()
    for code, aliases in data["countries"].items():
        for a in aliases:
            table[str(a).lower()] = code
    for code, aliases in data["regions"].items():
        for a in aliases:
            table[str(a).lower()] = code
    return table


def country_code(name: str | None) -> str | None:
    """'Sweden', 'Sverige', 'United Kingdom', 'Europe (EU)', 'Worldwide', 'USA' -> SE, SE, GB, EU, WW, US;
    continents and world regions -> their region code ('Asia' -> ASIA, see extractors/data/places.yaml)."""
    if not name:
        return None
    key = re.sub(r"\s+", " ", name.strip().lower()).strip(" .:;,!")
    key = re.sub(r"^(?:from|to|ships? (?:from|to))\s*:?\s*", "", key)
    table = place_aliases()
    if key in table:
        return table[key]
    if len(key) == 2 and key.upper() in set(table.values()):
        return key.upper()
    bare = re.sub(r"\s*\([^)]*\)\s*$", "", key)  # "Antarctica(c)", "Australia (AU)": a trailing note
    if bare and bare != key:
        return country_code(bare)
    return None


def region_of(code: str) -> set[str]:
    eu = {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
          "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"}
    nordic = {"SE", "NO", "DK", "FI", "IS"}
    out = set()
    if code in eu:
        out.add("EU")
    if code in nordic:
        out.add("NORDIC")
    return out
