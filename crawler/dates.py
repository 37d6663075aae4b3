"""Dates as pages write them, for adapter fields of ``type: date``: absolute ("2019-01-05", "05.01.2019",
"Jan 5, 2019", "5 januari 2019", "2019-01-05 14:03") and relative to the capture time ("2 days ago", "3
dagar sedan", "för 2 veckor sedan", "igår", "today", "1d 22h"), English and Swedish (words in
``crawler/data/dates.yaml``).

``parse_date`` returns an ISO string: ``YYYY-MM-DD`` when the page gives a day, ``YYYY-MM-DDTHH:MM:SS``
(with the capture's UTC offset for relative times) when it gives a time of day or hours/minutes ago.
Slash dates are read day first (European) unless the first number cannot be a day-of-month's partner
("12/25/2019" is read month first); an adapter pins the order with ``date_format`` (strptime).
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

DATES_FILE = Path(__file__).parent / "data" / "dates.yaml"
_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}


@lru_cache(maxsize=1)
def _words() -> dict[str, Any]:
    data = yaml.load(DATES_FILE.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    months = {str(w).lower(): int(n) for n, words in data["months"].items() for w in words}
    units = {str(w).lower(): unit for unit, words in data["units"].items() for w in words}
    days = {str(w).lower(): int(n) for n, words in data["days"].items() for w in words}
    return {"months": months, "units": units, "one": [str(w) for w in data["one"]],
            "ago": [str(w) for w in data["ago"]], "days": days}


def _alt(words: list[str] | Any) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


@lru_cache(maxsize=1)
def _patterns() -> dict[str, re.Pattern[str]]:
    w = _words()
    month = rf"(?P<mon>{_alt(w['months'])})\.?"
    time = r"(?:[ T,]+(?:at |kl\.? ?)?(?P<H>\d{1,2})[:.](?P<M>\d{2})(?::(?P<S>\d{2}))?(?:\.\d+)?(?P<ampm> ?[ap]\.?m\.?)?)?"
    tz = r"(?P<tz>Z|UTC|GMT|[+-]\d{2}:?\d{2})?"
    amount = rf"(?:\d+|{_alt(w['one'])})"
    unit = rf"(?:{_alt(w['units'])})\b\.?"
    part = rf"{amount}\s*{unit}"
    return {
        "iso": re.compile(rf"(?<!\d)(?P<y>\d{{4}})[-/.](?P<m>\d{{1,2}})[-/.](?P<d>\d{{1,2}})(?!\d){time}\s*{tz}", re.I),
        "dmy": re.compile(rf"(?<![\d.])(?P<a>\d{{1,2}})(?P<sep>[./-])(?P<b>\d{{1,2}})(?P=sep)(?P<y>\d{{4}}|\d{{2}})(?![\d.]){time}", re.I),
        "name_first": re.compile(rf"(?<!\w){month}\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y>\d{{4}}))?(?!\d){time}", re.I),
        "day_first": re.compile(rf"(?<![\w.])(?P<d>\d{{1,2}})(?:st|nd|rd|th|:e|:a)?\.?\s+(?:of\s+)?{month}(?:,?\s+(?P<y>\d{{4}}))?(?!\d){time}", re.I),
        "relative": re.compile(rf"(?<!\w)(?:för\s+)?(?P<parts>{part}(?:[\s,]*(?:and\s+|och\s+)?{part})*)\s*(?P<ago>{_alt(w['ago'])})?(?!\w)", re.I),
        "part": re.compile(rf"(?P<n>{amount})\s*(?P<u>{unit})", re.I),
        "days": re.compile(rf"(?<!\w)(?P<w>{_alt(w['days'])})(?!\w){time}", re.I),
    }


def preload() -> None:
    """Load the words and build the patterns now (adapters with date fields call it when they load)."""
    _patterns()


def _now(now: datetime | str | None) -> datetime:
    if isinstance(now, str) and now:
        try:
            now = datetime.fromisoformat(now.replace("Z", "+00:00"))
        except ValueError:
            now = None
    if not isinstance(now, datetime):
        now = datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def _with_time(day: date, m: re.Match[str], tzinfo: Any = None) -> str:
    if not m.groupdict().get("H"):
        return day.isoformat()
    hour, minute, second = int(m.group("H")), int(m.group("M")), int(m.group("S") or 0)
    ampm = (m.groupdict().get("ampm") or "").strip().lower().replace(".", "")
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    stamp = datetime(day.year, day.month, day.day, hour, minute, second)
    tz = m.groupdict().get("tz")
    if tz:
        tz = "+00:00" if tz.upper() in ("Z", "UTC", "GMT") else (tz if ":" in tz else f"{tz[:3]}:{tz[3:]}")
        return stamp.isoformat() + tz
    return stamp.isoformat()


def _year_for(month: int, day: int, now: datetime) -> int:
    """A date without a year is the latest such date not after the capture (a day of slack)."""
    year = now.year
    try:
        if date(year, month, day) > now.date() + timedelta(days=1):
            year -= 1
    except ValueError:
        pass
    return year


def _full_year(two_digits: int, now: datetime) -> int:
    """'05.01.19' is 2019, '05.01.98' 1998: this century unless that is more than ten years after the
    capture (an expiry date may lie a little ahead; a feedback date never far)."""
    year = 2000 + two_digits
    return year if year <= now.year + 10 else year - 100


def _shift_months(moment: datetime, months: int) -> datetime:
    total = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(total, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _relative(m: re.Match[str], now: datetime) -> str | None:
    w = _words()
    seconds, months, finest = 0, 0, "day"
    for part in _patterns()["part"].finditer(m.group("parts")):
        n_raw = part.group("n").lower()
        n = int(n_raw) if n_raw.isdigit() else 1
        unit = w["units"][part.group("u").lower().rstrip(".")]
        if unit == "month":
            months += n
        elif unit == "year":
            months += 12 * n
        else:
            seconds += n * _SECONDS[unit]
            if unit in ("second", "minute", "hour"):
                finest = "time"
    moment = _shift_months(now - timedelta(seconds=seconds), months)
    return moment.replace(microsecond=0).isoformat() if finest == "time" else moment.date().isoformat()


def parse_date(text: str | None, now: datetime | str | None = None, date_format: str | None = None) -> str | None:
    """An ISO date (or date and time) from ``text``, relative dates counted back from ``now`` (the capture
    time; default: the current time). None when the text holds no date."""
    if not text or not text.strip():
        return None
    text = " ".join(text.split())
    if date_format:
        try:
            parsed = datetime.strptime(text, date_format)
        except ValueError:
            return None
        has_time = any(c in date_format for c in ("%H", "%I", "%M"))
        return parsed.isoformat() if has_time else parsed.date().isoformat()
    moment = _now(now)
    p = _patterns()
    try:
        if m := p["iso"].search(text):
            return _with_time(date(int(m.group("y")), int(m.group("m")), int(m.group("d"))), m)
        if m := p["dmy"].search(text):
            a, b, y = int(m.group("a")), int(m.group("b")), int(m.group("y"))
            year = _full_year(y, moment) if y < 100 else y
            day, month = (a, b) if a > 12 or b <= 12 else (b, a)  # day first unless it cannot be
            return _with_time(date(year, month, day), m)
        for name in ("name_first", "day_first"):
            if m := p[name].search(text):
                month = _words()["months"][m.group("mon").lower()]
                day = int(m.group("d"))
                year = int(m.group("y")) if m.group("y") else _year_for(month, day, moment)
                return _with_time(date(year, month, day), m)
    except ValueError:  # 31.02.2019, month 13: not a date
        return None
    try:
        if m := p["days"].search(text):
            day = (moment - timedelta(days=_words()["days"][m.group("w").lower()])).date()
            return _with_time(day, m)
        for m in p["relative"].finditer(text):
            # "3 days ago", "3 dagar sedan", "för 2 veckor sedan"; a bare "1d 22h" (feedback ages) counts too
            if m.group("ago") or re.fullmatch(r"[\d\s\w]*", m.group(0)) and m.group(0).strip() == text.strip():
                return _relative(m, moment)
    except (ValueError, OverflowError):  # "today 25:61", "999999 days ago": before year 1, not a date
        return None
    return None
