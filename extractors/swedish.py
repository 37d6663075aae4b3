"""Swedish-vendor score: explainable signals combined into 0..1.

Each signal is ``{"signal", "weight", "evidence"}``. The weights are judgement, documented here and in
SCHEMA.md. Three kinds of signal, all general (none is tied to a site, template or phrase of the testbed):

* **positive** signals (weight > 0) are combined by noisy-OR: ``1 - prod(1 - w)``, each signal name once at
  its strongest. A structured ``ships_from`` of SE is on its own enough to count as Swedish (0.6 ≥ the 0.5
  threshold), so a vendor writing only English but shipping from Sweden still scores.
* **negative** signals (weight < 0) scale the positive score by ``prod(1 + w)``: ``ships_from_abroad``
  (-0.7) when the vendor's goods ship from another country. A vendor shipping from NL is not a Swedish
  vendor however Swedish the market it sells on; a text claim "skickas från Sverige" does not outweigh
  the structured field (it is dropped, with a zero-weight ``conflict`` note). Without a structured field
  the vendor's own texts decide: the origin most of them claim counts (text weights, ``TEXT_WEIGHTS``),
  the minority claim is kept as an ``outvoted`` note.
* **negated cues** ("Swish tas INTE emot", "no PostNord", "we don't accept Swish") do not count: they are
  kept as zero-weight ``negated:<signal>`` notes so the analyst sees why a cue was ignored.

Market context: properties of the *market* rather than the vendor (the language of the site, its
currency, destinations every vendor there ships to) say little about one vendor. When the caller passes
``market`` (see :class:`Market`; :mod:`analytics.rollup` derives it from the whole site's listings), signals
that merely restate the market's norm are discounted (weight × ``MARKET_DISCOUNT``) and say so in their
evidence. Vendor-authored text (listing titles and descriptions, the profile) is what ``texts`` should
hold; pass site UI/boilerplate, if at all, as ``context_texts``, which only ever contributes discounted.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

WEIGHTS: dict[str, float] = {
    "ships_from_se": 0.6,  # structural ships_from field = SE (on its own above the 0.5 threshold)
    "ships_from_abroad": -0.7,  # structural ships_from is another country: scales the score by 0.3
    "ships_to_se_only": 0.30,  # destinations are Sweden only
    "ships_to_nordic_only": 0.10,  # destinations Nordic / SE+neighbours only
    "swedish_text": 0.25,  # the vendor's text is Swedish
    "sek_price": 0.25,  # price in SEK (kr, :-, SEK)
    "swish": 0.35,  # Swish: a Swedish mobile payment, needs a Swedish bank account
    "swedish_carrier": 0.20,  # PostNord, Budbee, Instabox, Early Bird, Airmee
    "letter_post": 0.05,  # "brev" (letter post) on its own
    "swedish_place": 0.15,  # Stockholm, Göteborg, Malmö … (dead drops, local delivery)
    "sweden_mentioned": 0.10,  # "Sverige"/"Sweden" without a shipping role
    "swedish_domain": 0.30,  # a shop on a .se domain (shops only: a market's domain says nothing of a vendor)
}
TEXT_WEIGHTS: dict[str, float] = {  # the same signals when only the vendor's text says so
    "ships_from_se": 0.5,  # "skickas från Sverige" / "ships from Sweden" (the vendor's own claim)
    "ships_from_abroad": -0.5,  # "ships from the Netherlands" (counts only without a structural field)
}
MARKET_DISCOUNT = 0.2  # a signal that only restates the market's norm keeps a fifth of its weight
CONTEXT_DISCOUNT = 0.2  # signals found only in non-vendor text (UI, boilerplate) likewise
MARKET_SIGNALS = {  # signal -> the market property that explains it
    "swedish_text": "lang",
    "sek_price": "currency",
    "ships_to_se_only": "ships_to_se",
    "ships_to_nordic_only": "ships_to_se",
}
SE_CARRIERS = {"PostNord", "Budbee", "Instabox", "Early Bird", "Airmee", "Bring"}
NORDIC = {"SE", "NO", "DK", "FI", "IS", "NORDIC"}
SE_NAMES = {"SE", "SWE", "SWEDEN", "SVERIGE"}
NOT_A_COUNTRY = {"", "EU", "EUROPE", "WW", "WORLDWIDE", "XX", "ZZ", "UN", "NORDIC", "SCANDINAVIA", "NONE",
                 "UNKNOWN"}
NEGATABLE = {"swish", "swedish_carrier", "letter_post", "ships_from_se"}

# Negation near a cue, in the same clause: Swedish and English, function words only (no site phrasing).
_NEGATION = re.compile(
    r"\b(inte|ej|icke|ingen|inget|inga|aldrig|utan|nej|no|not|never|without|none|cannot|"
    r"(?:do|does|did|is|are|was|were|can|could|will|wo|would|should)n[’']?t|dont|doesnt|cant|wont)\b",
    re.IGNORECASE,
)
_CLAUSE_END = re.compile(r"[.!?;:,\n()\[\]|•–—]|\s-\s|\b(?:men|but|utom|except)\b", re.IGNORECASE)
NEGATION_WINDOW = 4  # words either side of the cue


@dataclass(frozen=True)
class Market:
    """What is normal on the market a vendor sells on (``None``/``False`` = unknown or not the norm).

    ``lang``: the language most of the site's vendors write in; ``currency``: the currency most prices are
    in; ``ships_to_se``: most vendors there ship to Sweden. Derived from data (see
    ``analytics.rollup.market_profiles``), never from a list of site names."""

    site: str = ""
    lang: str | None = None
    currency: str | None = None
    ships_to_se: bool = False

    def explains(self, signal: str) -> str | None:
        """Why ``signal`` is a market property here, or None when it says something about the vendor."""
        prop = MARKET_SIGNALS.get(signal)
        where = f" on {self.site}" if self.site else ""
        if prop == "lang" and self.lang == "sv":
            return f"the market{where} is Swedish-language"
        if prop == "currency" and (self.currency or "").upper() == "SEK":
            return f"the market{where} prices in SEK"
        if prop == "ships_to_se" and self.ships_to_se:
            return f"most vendors{where} ship to Sweden"
        return None


@dataclass(frozen=True)
class Shop:
    """An open-web shop is a vendor of its own: what the *site* says about it counts as the vendor's.
    ``language`` (the site's language), ``currencies`` (the structured currency of each product),
    ``domain`` (the shop's host name)."""

    language: str | None = None
    currencies: tuple[str, ...] = ()
    domain: str | None = None


def shop_signals(shop: Shop) -> list[dict[str, Any]]:
    """Shop-level signals: a Swedish-language site, prices in SEK (most products), a .se domain. Payment
    and carrier pages count through the texts (``swedish_score(texts=…)``) like any vendor text."""
    out = []
    if (shop.language or "").lower() == "sv":
        out.append(_sig("swedish_text", "the shop's site is Swedish-language"))
    if shop.currencies:
        sek = sum(1 for c in shop.currencies if str(c).upper() == "SEK")
        if sek / len(shop.currencies) >= 0.5:
            out.append(_sig("sek_price", f"{sek} of {len(shop.currencies)} products priced in SEK"))
    host = (shop.domain or "").lower().rstrip(".")
    if host.endswith(".se"):
        out.append(_sig("swedish_domain", f"shop domain {host}"))
    return out


def combine(signals: list[dict[str, Any]]) -> float:
    """Noisy-OR of the distinct positive signals' weights (a signal counts once however often it is seen),
    scaled by ``(1 + w)`` for each distinct negative signal. Zero-weight notes do not count."""
    pos: dict[str, float] = {}
    neg: dict[str, float] = {}
    for s in signals:
        w = float(s["weight"])
        if w > 0:
            pos[s["signal"]] = max(pos.get(s["signal"], 0.0), w)
        elif w < 0:
            neg[s["signal"]] = min(neg.get(s["signal"], 0.0), w)
    p = 1.0
    for w in pos.values():
        p *= 1.0 - w
    score = 1.0 - p
    for w in neg.values():
        score *= 1.0 + w
    return round(max(0.0, min(1.0, score)), 3)


def _sig(name: str, evidence: str, weight: float | None = None) -> dict[str, Any]:
    return {"signal": name, "weight": WEIGHTS[name] if weight is None else weight, "evidence": evidence}


def negated(text: str, start: int, end: int, window: int = NEGATION_WINDOW) -> str | None:
    """The negation word governing the cue at ``text[start:end]``, or None. A negation counts when it is in
    the same clause (no punctuation, "but"/"men" in between) within ``window`` words before the cue
    ("No Swish", "vi tar inte emot Swish") or after it ("Swish tas INTE emot här", "Swish accepteras ej")."""
    before = text[max(0, start - 80):start]
    after = text[end:end + 80]
    cut = list(_CLAUSE_END.finditer(before))
    if cut:
        before = before[cut[-1].end():]
    stop = _CLAUSE_END.search(after)
    if stop:
        after = after[:stop.start()]
    words_before = before.split()[-window:]
    words_after = after.split()[:window]
    for w in [*reversed(words_before), *words_after]:
        m = _NEGATION.fullmatch(w.strip("\"'«»“”*_~").lower().replace("’", "'"))
        if m:
            return w
    return None


def _country(code: str | None) -> str | None:
    """Upper-case country code, or None for a missing/region value (EU, WW, Nordic …)."""
    c = (code or "").strip().upper()
    if c in SE_NAMES:
        return "SE"
    return None if c in NOT_A_COUNTRY else c


def signals_from_result(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Signals found in one extractor result (its entities, language and bare place mentions). A cue under
    a negation ("Swish tas INTE emot här") is kept only as a zero-weight ``negated:<signal>`` note."""
    out: list[dict[str, Any]] = []
    text = result.get("text") or ""
    if result.get("lang") == "sv":
        out.append(_sig("swedish_text", "language identified as Swedish"))
    ships_to: set[str] = set()
    for ent in result.get("entities", []):
        label, value, etext = ent["label"], ent.get("value") or {}, ent.get("text", "")
        sig: dict[str, Any] | None = None
        if label == "SHIP_FROM" and value.get("code") == "SE":
            sig = _sig("ships_from_se", etext, TEXT_WEIGHTS["ships_from_se"])
        elif label == "SHIP_FROM" and _country(value.get("code")):
            sig = _sig("ships_from_abroad", f"{etext} ({value.get('code')})", TEXT_WEIGHTS["ships_from_abroad"])
        elif label == "SHIP_TO":
            if not _is_negated(text, ent):
                ships_to.add(value.get("code"))
        elif label == "PRICE" and value.get("currency") == "SEK":
            sig = _sig("sek_price", etext)
        elif label == "PAYMENT" and value.get("method") == "Swish":
            sig = _sig("swish", etext)
        elif label == "SHIPPING" and value.get("kind") == "carrier" and value.get("value") in SE_CARRIERS:
            sig = _sig("swedish_carrier", etext)
        elif label == "SHIPPING" and value.get("value") == "letter" and re.search(r"brev", etext, re.I):
            sig = _sig("letter_post", etext)
        if sig is None:
            continue
        neg = _is_negated(text, ent) if sig["signal"] in NEGATABLE | {"ships_from_abroad"} else None
        if neg:
            out.append({"signal": f"negated:{sig['signal']}", "weight": 0.0,
                        "evidence": _clause(text, ent) or etext})
        else:
            out.append(sig)
    out.extend(_destination_signals(ships_to))
    for place in result.get("_places", []) or []:
        if place["label"] == "SE_PLACE":
            out.append(_sig("swedish_place", place["text"]))
        elif place["value"].get("code") == "SE":
            out.append(_sig("sweden_mentioned", place["text"]))
    return out


def _is_negated(text: str, ent: dict[str, Any]) -> str | None:
    start, end = ent.get("start"), ent.get("end")
    if not text or start is None or end is None:
        return None
    return negated(text, int(start), int(end))


def _clause(text: str, ent: dict[str, Any]) -> str:
    start, end = int(ent.get("start") or 0), int(ent.get("end") or 0)
    lo = max(text.rfind(c, 0, start) for c in ".!?\n") + 1
    his = [i for i in (text.find(c, end) for c in ".!?\n") if i >= 0]
    return text[lo:min(his) if his else len(text)].strip()[:120]


def _destination_signals(ships_to: Iterable[str | None]) -> list[dict[str, Any]]:
    dest = {d for d in ships_to if d}
    if dest == {"SE"}:
        return [_sig("ships_to_se_only", "ships to: SE")]
    if dest and dest <= NORDIC and "SE" in dest | {"SE" if "NORDIC" in dest else ""}:
        return [_sig("ships_to_nordic_only", "ships to: " + ", ".join(sorted(dest)))]
    return []


def _as_market(market: Market | Mapping[str, Any] | None) -> Market | None:
    if market is None or isinstance(market, Market):
        return market
    return Market(site=str(market.get("site") or ""), lang=market.get("lang"), currency=market.get("currency"),
                  ships_to_se=bool(market.get("ships_to_se")))


def _discount(sig: dict[str, Any], factor: float, why: str) -> dict[str, Any]:
    return {**sig, "weight": round(float(sig["weight"]) * factor, 3), "evidence": f"{sig['evidence']} [{why}: discounted]"}


def swedish_score(
    texts: Iterable[str],
    ships_from: str | None = None,
    ships_to: Iterable[str] | None = None,
    extractor: Any = None,
    *,
    market: Market | Mapping[str, Any] | None = None,
    context_texts: Iterable[str] = (),
    shop: Shop | None = None,
) -> tuple[float, list[dict[str, Any]]]:
    """Score a vendor from the text it wrote (``texts``: listing titles, descriptions, profile) plus its
    structured shipping fields. Returns ``(score 0..1, signals)``.

    ``ships_from``: the structured country the goods ship from (SE → strong positive; another country →
    ``ships_from_abroad``, a strong negative, and text claims of shipping from Sweden are dropped as a
    conflict). ``market``: what is normal on the vendor's market (:class:`Market` or a dict with ``site``,
    ``lang``, ``currency``, ``ships_to_se``); signals that only restate it are discounted.
    ``context_texts``: non-vendor text (site UI, market boilerplate); its signals count discounted only.
    ``shop``: the vendor *is* an open-web shop; its site-level signals (:func:`shop_signals`) count."""
    from extractors.base import ExtractRequest

    mkt = _as_market(market)
    texts = [t for t in texts if t and t.strip()]
    context = [t for t in context_texts if t and t.strip()]
    if (texts or context) and extractor is None:
        from extractors.pipeline import default_spacy_extractor

        extractor = default_spacy_extractor()
    signals: list[dict[str, Any]] = []
    claims: Counter[str] = Counter()  # texts claiming SE / another country as origin
    structured_from = _country(ships_from)
    if structured_from == "SE":
        signals.append(_sig("ships_from_se", f"ships_from field: {ships_from}"))
    elif structured_from:
        signals.append(_sig("ships_from_abroad", f"ships_from field: {ships_from}"))
    if ships_to is not None:
        signals.extend(_destination_signals([_country(s) or str(s).upper() for s in ships_to if s]))
    if shop is not None:
        signals.extend(shop_signals(shop))
    if texts:
        results = extractor.extract([ExtractRequest(text=t, kind="description") for t in texts])
        langs = [r["lang"] for r in results]
        for r in results:
            found = [s for s in signals_from_result(r) if s["signal"] != "swedish_text"]
            claims.update({s["signal"] for s in found if s["signal"] in ("ships_from_se", "ships_from_abroad")})
            signals.extend({**s, "_text": True} for s in found)
        sv_share = langs.count("sv") / len(langs)
        if sv_share >= 0.3:
            signals.append(_sig("swedish_text", f"{langs.count('sv')} of {len(langs)} texts are Swedish"))
    if context:
        for r in extractor.extract([ExtractRequest(text=t, kind="description") for t in context]):
            signals.extend({**_discount(s, CONTEXT_DISCOUNT, "site text, not the vendor's"), "_text": True}
                           for s in signals_from_result(r) if s["weight"] > 0)
    signals = _resolve(signals, structured_from, mkt, claims)
    dedup: dict[tuple[str, str], dict[str, Any]] = {}
    for s in signals:
        dedup.setdefault((s["signal"], s["evidence"]), s)
    signals = sorted(({k: v for k, v in s.items() if k != "_text"} for s in dedup.values()),
                     key=lambda s: -abs(float(s["weight"])))
    return combine(signals), signals


def _resolve(signals: list[dict[str, Any]], structured_from: str | None, market: Market | None,
             claims: Counter[str]) -> list[dict[str, Any]]:
    """Structured ships_from beats text claims; without it, the origin most of the vendor's texts claim
    wins (a tie keeps both); market-norm signals are discounted."""
    out: list[dict[str, Any]] = []
    se, abroad = claims["ships_from_se"], claims["ships_from_abroad"]
    outvoted = "ships_from_se" if abroad > se else "ships_from_abroad" if se > abroad else None
    for s in signals:
        name = s["signal"]
        if s.get("_text") and name in ("ships_from_se", "ships_from_abroad"):
            if structured_from:
                if (name == "ships_from_se") != (structured_from == "SE"):
                    out.append({"signal": f"conflict:{name}", "weight": 0.0,
                                "evidence": f"{s['evidence']} [ships_from field says {structured_from}]"})
                continue  # agreeing text adds nothing to the structured field
            if name == outvoted:
                out.append({"signal": f"outvoted:{name}", "weight": 0.0,
                            "evidence": f"{s['evidence']} [{min(se, abroad)} text(s) vs {max(se, abroad)}]"})
                continue  # the text names Sweden and another country as origin: too ambiguous to count against
        why = market.explains(name) if market else None
        if why and float(s["weight"]) > 0:
            s = _discount(s, MARKET_DISCOUNT, why)
        out.append(s)
    return out
