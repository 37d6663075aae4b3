"""Exchange rates: SEK per unit of a currency on a given day.

The default table is an offline daily CSV shipped with the package (synthetic rates for the simulated
period; see its header). An online provider can be switched on in config (``rates.provider``); its
rates are cached to the data directory. A missing rate is reported, never guessed: ``convert`` returns
None and ``lookup`` says why.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Protocol

DEFAULT_TABLE = Path(__file__).parent / "data" / "rates_daily.csv"

# Sub-units folded into their base currency.
SUBUNITS: dict[str, tuple[str, float]] = {"MBTC": ("BTC", 0.001), "SATS": ("BTC", 1e-8), "SAT": ("BTC", 1e-8)}


@dataclass(frozen=True)
class RateLookup:
    currency: str
    day: str
    sek: float | None
    source_day: str | None = None  # the day whose rate was used (may be earlier when allowed)
    note: str | None = None  # why the rate is missing or stale


class RateProvider(Protocol):
    """An online source of daily rates (SEK per unit). Switched on by the user in config."""

    def fetch(self, day: date) -> dict[str, float]: ...


class HttpJsonProvider:
    """Fetches ``url_template.format(date=YYYY-MM-DD)`` returning JSON ``{"SEK per unit": {CUR: rate}}``
    or ``{CUR: rate}``. Only used when the analyst configures it; tests point it at 127.0.0.1."""

    def __init__(self, url_template: str, timeout: float = 10.0) -> None:
        self.url_template = url_template
        self.timeout = timeout

    def fetch(self, day: date) -> dict[str, float]:
        import httpx

        response = httpx.get(self.url_template.format(date=day.isoformat()), timeout=self.timeout)
        response.raise_for_status()
        data = response.json()
        table = data.get("rates", data) if isinstance(data, dict) else {}
        return {str(k).upper(): float(v) for k, v in table.items()}


class RateTable:
    def __init__(
        self,
        rates: dict[tuple[str, str], float],
        max_age_days: int = 0,
        provider: RateProvider | None = None,
        cache_file: Path | None = None,
    ) -> None:
        self._rates = rates
        self.max_age_days = max_age_days
        self.provider = provider
        self.cache_file = cache_file

    @classmethod
    def from_csv(cls, path: Path, **kwargs: object) -> RateTable:
        rates: dict[tuple[str, str], float] = {}
        with path.open(encoding="utf-8") as fh:
            rows = csv.DictReader(line for line in fh if not line.startswith("#"))
            for row in rows:
                rates[(row["date"], row["currency"].upper())] = float(row["sek"])
        return cls(rates, **kwargs)  # type: ignore[arg-type]

    @classmethod
    def default(cls) -> RateTable:
        return _default_table()

    def lookup(self, currency: str, day: str | date | None) -> RateLookup:
        cur = currency.upper()
        factor = 1.0
        if cur in SUBUNITS:
            cur, factor = SUBUNITS[cur]
        day_s = _day(day)
        if cur == "SEK":
            return RateLookup(currency, day_s or "", 1.0 * factor, day_s)
        if not day_s:
            return RateLookup(currency, "", None, None, "no observation date: cannot pick a rate")
        start = date.fromisoformat(day_s)
        for back in range(self.max_age_days + 1):
            probe = (start - timedelta(days=back)).isoformat()
            value = self._rates.get((probe, cur))
            if value is None and back == 0 and self.provider is not None:
                value = self._fetch_online(start, cur)
            if value is not None:
                note = None if back == 0 else f"stale: used the rate of {probe}"
                return RateLookup(currency, day_s, value * factor, probe, note)
        return RateLookup(currency, day_s, None, None, f"no {cur}/SEK rate for {day_s} in the rates table")

    def rate(self, currency: str, day: str | date | None) -> float | None:
        return self.lookup(currency, day).sek

    def convert(self, amount: float, from_currency: str, to_currency: str, day: str | date | None) -> float | None:
        """Convert via SEK. None when either rate is missing (see ``lookup`` for why)."""
        src = self.rate(from_currency, day)
        dst = self.rate(to_currency, day)
        if src is None or dst is None or dst == 0:
            return None
        return amount * src / dst

    def _fetch_online(self, day: date, currency: str) -> float | None:
        assert self.provider is not None
        try:
            fetched = self.provider.fetch(day)
        except Exception:  # an unreachable provider means "missing", reported by lookup
            return None
        for cur, value in fetched.items():
            self._rates[(day.isoformat(), cur.upper())] = value
        if self.cache_file:
            with self.cache_file.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps({"date": day.isoformat(), "rates": fetched}) + "\n")
        return fetched.get(currency)


def _day(day: str | date | None) -> str | None:
    if day is None or day == "":
        return None
    return day.isoformat() if isinstance(day, date) else str(day)[:10]


@lru_cache(maxsize=1)
def _default_table() -> RateTable:
    return RateTable.from_csv(DEFAULT_TABLE)

