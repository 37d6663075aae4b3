"""Alert rules, channels and the watch-list, as configuration.

Sources, later ones override earlier ones **by name** (a user entry with the name of a built-in rule or
channel only needs the keys it changes; ``enabled: false`` switches a built-in off):

1. built-in defaults: ``alerts/data/alert_rules.yaml`` (shipped);
2. the user file: an explicit path, else ``$SOKHUND_ALERT_RULES``, else ``$SOKHUND_HOME/alerts/rules.yaml``
   when it exists.

The watch-list that ``sokhund alerts watch add|remove`` edits lives in ``$SOKHUND_HOME/alerts/watchlist.yaml``;
watchlist rules may also list entries inline.

A malformed file raises :class:`AlertConfigError` naming the file and the field, e.g.
``rules.yaml: field 'rules[new_swedish_vendor].min_swedish_score': Input should be less than or equal to 1``.
"""

from __future__ import annotations

import difflib
import os
import re
import tempfile
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crawler.yamlconfig import read_mapping

BUILTIN_RULES = Path(__file__).parent / "data" / "alert_rules.yaml"
USER_RULES_ENV = "SOKHUND_ALERT_RULES"
WatchKind = Literal["keyword", "substance", "pgp", "crypto", "contact"]
WATCH_KINDS: tuple[str, ...] = ("keyword", "substance", "pgp", "crypto", "contact")
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class AlertConfigError(ValueError):
    """An alert rules, channels or watch-list file is malformed; the message names the file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# ----------------------------------------------------------------------------------- watch entries
@lru_cache(maxsize=1)
def _substance_names() -> tuple[dict[str, str], frozenset[str], frozenset[str]]:
    """The extractor's taxonomy (extractors/data): alias (sv and en, casefolded) -> canonical name, the
    canonical names and the classes. A watched "kokain" is the extractor's "cocaine"."""
    from extractors.matching import load_substances

    aliases: dict[str, str] = {}
    names, classes = set(), set()
    for entry in load_substances():
        names.add(entry["name"])
        classes.add(entry["class"])
        for alias in [entry["name"], *entry.get("en", []), *entry.get("sv", [])]:
            aliases.setdefault(str(alias).casefold(), entry["name"])
    for name in names:  # a canonical name always means itself
        aliases[name.casefold()] = name
    return aliases, frozenset(names), frozenset(classes)


@lru_cache(maxsize=1)
def _contact_kinds() -> dict[str, str]:
    """How texts name a contact channel (``wickr me``, ``tg``, ``e-post`` …) -> the extractor's contact kind."""
    from extractors.matching import load_terms

    kinds = {p["id"]: p["id"] for p in load_terms() if p.get("label") == "CONTACT"}
    kinds.update({str(p["pattern"]).casefold().rstrip(":"): p["id"] for p in load_terms()
                  if p.get("label") == "CONTACT" and isinstance(p["pattern"], str)})
    return kinds


_CONTACT_PREFIX = re.compile(r"^\s*([a-z][a-z /-]*?)\s*[:=]\s*(.*)$", re.IGNORECASE)


def split_contact(value: str) -> tuple[str | None, str]:
    """``signal:gbgkemisten.60`` (how ``sokhund vendor`` prints contacts), ``Wickr: x`` → (kind, handle);
    a bare handle → (None, handle). An unknown prefix is kept in the handle (``kind`` None)."""
    text = str(value).strip()
    m = _CONTACT_PREFIX.match(text)
    if m and "@" not in m.group(1):
        kind = _contact_kinds().get(m.group(1).casefold())
        if kind is not None:
            return kind, m.group(2).strip()
    return None, text


def _substance_norm(text: str) -> str:
    aliases, _, classes = _substance_names()
    key = " ".join(text.casefold().split())
    found = aliases.get(key) or aliases.get(key.replace("_", " ")) or (key if key in classes else None)
    return re.sub(r"[\s-]+", "_", (found or key).casefold())


def normalise_watch_value(kind: str, value: str) -> str:
    """The comparable form of a watched value (the same function normalises the indexed data): substances
    through the extractor's taxonomy (Swedish and English street names → the canonical name), contacts
    without their channel prefix and ``@``."""
    text = str(value).strip()
    if kind == "pgp":
        text = re.sub(r"[\s:]", "", text)
        text = text[2:] if text[:2].lower() == "0x" else text
        return text.upper()
    if kind == "crypto":
        # bech32 (bc1…, ltc1…, tb1…) is case-insensitive; base58 (legacy BTC, Monero) is not.
        return text.lower() if re.match(r"^[a-z]{1,4}1", text, re.IGNORECASE) else text
    if kind == "contact":
        return split_contact(text)[1].lstrip("@").casefold()
    if kind == "substance":
        return _substance_norm(text)
    return " ".join(text.casefold().split())


def _check_substance(value: str) -> None:
    aliases, names, classes = _substance_names()
    key = " ".join(value.casefold().split())
    if key in aliases or key.replace("_", " ") in aliases or key in classes:
        return
    close = difflib.get_close_matches(key, list(aliases), n=3, cutoff=0.75)
    hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
    raise ValueError(f"{value!r} is not a substance or class the extractor knows (extractors/data/substances.yaml), "
                     f"so it could never match; {hint}to search the text for it, use --kind keyword")


def _check_contact(value: str) -> None:
    kind, handle = split_contact(value)
    if kind is None and (m := _CONTACT_PREFIX.match(value)) and "@" not in m.group(1) and m.group(2):
        raise ValueError(f"{value!r}: {m.group(1)!r} is not a contact channel the extractor knows "
                         f"({', '.join(sorted(set(_contact_kinds().values())))}); give the handle alone or "
                         "as channel:handle (signal:gbgkemisten.60)")
    bare = handle.lstrip("@").strip()
    if not bare or bare.casefold() in _contact_kinds():
        raise ValueError(f"{value!r} names only a channel, no handle; contacts are matched by their handle "
                         "(e.g. signal:gbgkemisten.60 or @gbgkemisten)")


class WatchEntry(_Strict):
    """One watched value: a keyword, a substance, a PGP fingerprint, a crypto address or a contact handle."""

    kind: WatchKind
    value: str = Field(min_length=1)
    note: str = ""
    added_at: str = ""

    @model_validator(mode="after")
    def _check_value(self) -> WatchEntry:
        self.value = self.value.strip()
        norm = normalise_watch_value(self.kind, self.value)
        if not norm:
            raise ValueError(f"empty {self.kind} value")
        if self.kind == "pgp" and not re.fullmatch(r"[0-9A-F]{40}", norm):
            raise ValueError(
                f"{self.value!r} is not a full v4 PGP fingerprint (40 hex digits); short key ids are ambiguous"
                " and are not accepted"
            )
        if self.kind == "crypto" and (len(norm) < 25 or re.search(r"\s", norm)):
            raise ValueError(f"{self.value!r} does not look like a crypto address (no spaces, 25+ characters)")
        if self.kind == "keyword" and len(norm) < 2:
            raise ValueError("a keyword needs at least 2 characters")
        if self.kind == "substance":
            _check_substance(self.value)
        if self.kind == "contact":
            _check_contact(self.value)
        return self

    @property
    def norm(self) -> str:
        return normalise_watch_value(self.kind, self.value)

    @property
    def key(self) -> str:
        """Stable key of the entry, part of the alert's rule name (``watchlist:keyword:fentanyl``)."""
        return f"{self.kind}:{self.norm}"


# ----------------------------------------------------------------------------------- rules
class _RuleBase(_Strict):
    name: str = Field(pattern=_NAME)
    enabled: bool = True
    description: str = ""
    sites: list[str] | None = None  # only these sites (default: all)
    channels: list[str] | None = None  # deliver to these channels (default: every enabled channel)


class NewVendorRule(_RuleBase):
    """A vendor first seen after its site's baseline crawl whose Swedish score is at least the threshold."""

    type: Literal["new_vendor"]
    min_swedish_score: float = Field(default=0.5, ge=0.0, le=1.0)


class ShipsFromRule(_RuleBase):
    """A vendor known from an earlier crawl whose listings start shipping from ``country``."""

    type: Literal["ships_from_change"]
    country: str = Field(default="SE", pattern=r"^[A-Z]{2}$")


class WatchlistRule(_RuleBase):
    """Any indexed listing, vendor or forum post matching a watch-list entry."""

    type: Literal["watchlist"]
    entries: list[WatchEntry] = Field(default_factory=list)
    use_watchlist_file: bool = True  # also the entries managed by ``sokhund alerts watch``
    kinds: list[WatchKind] | None = None  # only these entry kinds (default: all)


Rule = Annotated[NewVendorRule | ShipsFromRule | WatchlistRule, Field(discriminator="type")]
RULE_TYPES = ("new_vendor", "ships_from_change", "watchlist")


# ----------------------------------------------------------------------------------- channels
class _ChannelBase(_Strict):
    name: str = Field(pattern=_NAME)
    enabled: bool = True
    digest: bool = False  # one message per evaluation and rule instead of one per alert (retro-hunts always)


class StdoutChannelConfig(_ChannelBase):
    type: Literal["stdout"]
    format: Literal["text", "json"] = "text"


class JsonlChannelConfig(_ChannelBase):
    type: Literal["jsonl"]
    path: str = "alerts.jsonl"  # relative paths are under $SOKHUND_HOME/alerts


class WebhookChannelConfig(_ChannelBase):
    type: Literal["webhook"]
    url: str
    headers: dict[str, str] = Field(default_factory=dict)  # ${ENV_VAR} is expanded (tokens stay out of YAML)
    timeout: float = Field(default=10.0, gt=0)
    retries: int = Field(default=3, ge=0, le=10)  # extra attempts within one delivery
    backoff: float = Field(default=0.5, ge=0)  # seconds, doubled per attempt
    trust_env: bool = True  # honour HTTP(S)_PROXY / NO_PROXY

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"url must be an http(s) URL, got {value!r}")
        return value


class SmtpChannelConfig(_ChannelBase):
    type: Literal["smtp"]
    host: str
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = Field(alias="from", pattern=r"^[^@\s]+@[^@\s]+$")
    to: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]] = Field(min_length=1)
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password_env: str | None = None  # name of the environment variable holding the password
    timeout: float = Field(default=10.0, gt=0)
    retries: int = Field(default=2, ge=0, le=10)
    backoff: float = Field(default=0.5, ge=0)
    subject_prefix: str = "[Sökhund]"

    @model_validator(mode="after")
    def _tls(self) -> SmtpChannelConfig:
        if self.ssl and self.starttls:
            raise ValueError("give only one of ssl (implicit TLS) or starttls")
        if self.password_env and not self.username:
            raise ValueError("password_env needs username")
        return self


class AppriseChannelConfig(_ChannelBase):
    """Any notification service Apprise speaks, by URL (``ntfy://host/topic``, ``matrix://…``,
    ``mmost://…``, ``json://host/path`` …); ``${ENV_VAR}`` is expanded so tokens stay out of YAML. One URL
    per channel, so that the outbox's sent-or-pending state is per destination."""

    type: Literal["apprise"]
    url: str
    retries: int = Field(default=2, ge=0, le=10)
    backoff: float = Field(default=0.5, ge=0)
    title_prefix: str = "[Sökhund]"

    @field_validator("url")
    @classmethod
    def _schema_url(cls, value: str) -> str:
        if not re.match(r"^[a-z][a-z0-9+.-]*://\S+$", value):
            raise ValueError(f"not an Apprise URL (schema://…): {value!r}")
        return value


ChannelConfig = Annotated[
    StdoutChannelConfig | JsonlChannelConfig | WebhookChannelConfig | SmtpChannelConfig | AppriseChannelConfig,
    Field(discriminator="type"),
]
CHANNEL_TYPES = ("stdout", "jsonl", "webhook", "smtp", "apprise")


class AlertConfig(_Strict):
    rules: list[Rule] = Field(default_factory=list)
    channels: list[ChannelConfig] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list, exclude=True)  # files it was loaded from

    @model_validator(mode="after")
    def _references(self) -> AlertConfig:
        for what, items in (("rule", self.rules), ("channel", self.channels)):
            names = [i.name for i in items]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"duplicate {what} names: {', '.join(dupes)}")
        known = {c.name for c in self.channels}
        for rule in self.rules:
            missing = [c for c in rule.channels or [] if c not in known]
            if missing:
                raise ValueError(
                    f"rule {rule.name!r} sends to unknown channel(s) {', '.join(missing)}; "
                    f"configured channels: {', '.join(sorted(known)) or '(none)'}"
                )
        return self

    def rule(self, name: str) -> NewVendorRule | ShipsFromRule | WatchlistRule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(f"no alert rule named {name!r}; known rules: {', '.join(r.name for r in self.rules)}")

    def enabled_rules(self, names: list[str] | None = None) -> list[NewVendorRule | ShipsFromRule | WatchlistRule]:
        """Enabled rules, optionally only those named (a campaign's ``alerts:`` list). Unknown names are an
        error so that a typo in a campaign does not silently switch its alerts off."""
        if names is None:
            return [r for r in self.rules if r.enabled]
        known = {r.name for r in self.rules}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise AlertConfigError(
                f"unknown alert rule(s) {', '.join(unknown)}; known rules: {', '.join(sorted(known))}"
            )
        return [r for r in self.rules if r.enabled and r.name in names]

    def channels_for(self, rule: _RuleBase) -> list[str]:
        enabled = [c.name for c in self.channels if c.enabled]
        return [c for c in enabled if rule.channels is None or c in rule.channels]


# ----------------------------------------------------------------------------------- loading
def alerts_dir() -> Path:
    from crawler import paths

    return paths.sub("alerts")


def user_rules_path(explicit: str | Path | None = None) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.exists():
            raise AlertConfigError(f"{path}: alert rules file not found")
        return path
    env = os.environ.get(USER_RULES_ENV)
    if env:
        path = Path(env)
        if not path.exists():
            raise AlertConfigError(f"{path}: alert rules file (from ${USER_RULES_ENV}) not found")
        return path
    path = alerts_dir() / "rules.yaml"
    return path if path.exists() else None


def _read_yaml(path: Path, what: str) -> dict[str, Any]:
    return read_mapping(path, what, AlertConfigError, empty_ok=True)


def format_location(loc: tuple[Any, ...], names: dict[tuple[str, int], str] | None = None,
                    tags: tuple[str, ...] = ()) -> str:
    """``('rules', 0, 'new_vendor', 'min_swedish_score')`` → ``rules[new_swedish_vendor].min_swedish_score``:
    list items are named (or numbered), discriminated-union tags are dropped."""
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            label = (names or {}).get((str(loc[i - 1]), part)) if i else None
            out += f"[{label if label else part}]"
        elif i and isinstance(loc[i - 1], int) and part in tags:
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def format_validation_error(path: str | Path, what: str, exc: ValidationError,
                            names: dict[tuple[str, int], str] | None = None,
                            tags: tuple[str, ...] = ()) -> str:
    lines = [f"{path}: invalid {what}"]
    for err in exc.errors():
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"  field '{format_location(tuple(err['loc']), names, tags)}': {msg}")
    return "\n".join(lines)


def _merge_named(base: list[Any], override: list[Any], section: str, source: Path) -> list[Any]:
    merged: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for i, item in enumerate([*base, *override]):
        if not isinstance(item, dict):
            raise AlertConfigError(f"{source}: field '{section}[{i}]': expected a mapping")
        name = str(item.get("name") or f"#{len(order)}")
        if name in merged:
            merged[name] = {**merged[name], **item}
        else:
            merged[name] = dict(item)
            order.append(name)
    return [merged[n] for n in order]


def load_config(path: str | Path | None = None, *, builtin: Path = BUILTIN_RULES) -> AlertConfig:
    """The effective alert configuration: built-in rules and channels, overridden by the user file."""
    base = _read_yaml(builtin, "built-in alert rules")
    user_path = user_rules_path(path)
    user = _read_yaml(user_path, "alert rules") if user_path else {}
    blame = user_path or builtin
    unknown = sorted(set(user) - {"rules", "channels"})
    if unknown:
        raise AlertConfigError(
            f"{blame}: invalid alert rules\n  field '{unknown[0]}': unknown key (expected rules, channels)"
        )
    raw: dict[str, Any] = {}
    for section in ("rules", "channels"):
        for source, data in ((builtin, base), (user_path, user)):
            if source is not None and not isinstance(data.get(section, []) or [], list):
                raise AlertConfigError(f"{source}: field '{section}': expected a list")
        raw[section] = _merge_named(base.get(section) or [], user.get(section) or [], section, blame)
    names = {(section, i): str(item.get("name")) for section in raw for i, item in enumerate(raw[section])
             if item.get("name")}
    try:
        config = AlertConfig.model_validate(raw)
    except ValidationError as exc:
        raise AlertConfigError(
            format_validation_error(blame, "alert rules", exc, names, RULE_TYPES + CHANNEL_TYPES)
        ) from None
    config.sources = [str(builtin)] + ([str(user_path)] if user_path else [])
    return config


# ----------------------------------------------------------------------------------- watch-list file
def watchlist_path() -> Path:
    return alerts_dir() / "watchlist.yaml"


def load_watchlist(path: Path | None = None) -> list[WatchEntry]:
    path = path or watchlist_path()
    if not path.exists():
        return []
    raw = _read_yaml(path, "watch-list")
    entries = raw.get("entries") or []
    if not isinstance(entries, list):
        raise AlertConfigError(f"{path}: field 'entries': expected a list")
    out = []
    for i, item in enumerate(entries):
        try:
            out.append(WatchEntry.model_validate(item))
        except ValidationError as exc:
            raise AlertConfigError(
                format_validation_error(path, "watch-list", exc).replace("field '", f"field 'entries[{i}].")
            ) from None
    return out


def save_watchlist(entries: list[WatchEntry], path: Path | None = None) -> Path:
    """Write the watch-list atomically (temp file + rename), so a crash never leaves half a file."""
    path = path or watchlist_path()
    data = {"entries": [e.model_dump(exclude_defaults=False) for e in entries]}
    text = "# Managed by `sokhund alerts watch add|remove`; hand edits are fine.\n" + yaml.safe_dump(
        data, allow_unicode=True, sort_keys=False
    )
    fd, tmp = tempfile.mkstemp(prefix=".watchlist-", dir=str(path.parent))
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return path


def add_watch(kind: str, value: str, note: str = "") -> tuple[WatchEntry, bool]:
    """Add an entry (validated). Returns (entry, added); ``added`` is False when it was already watched."""
    try:
        entry = WatchEntry(kind=kind, value=value, note=note,  # type: ignore[arg-type]
                           added_at=datetime.now(UTC).isoformat(timespec="seconds"))
    except ValidationError as exc:
        raise AlertConfigError(format_validation_error("watch add", "watch-list entry", exc)) from None
    entries = load_watchlist()
    for existing in entries:
        if existing.key == entry.key:
            return existing, False
    entries.append(entry)
    save_watchlist(entries)
    return entry, True


def remove_watch(kind: str, value: str) -> bool:
    key = f"{kind}:{normalise_watch_value(kind, value)}"
    entries = load_watchlist()
    kept = [e for e in entries if e.key != key]
    if len(kept) == len(entries):
        return False
    save_watchlist(kept)
    return True
