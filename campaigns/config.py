"""Campaign definitions: named, scheduled crawls of a set of sites, followed by alert evaluation.

A campaign is one YAML file. Shipped examples live in ``campaigns/definitions/``; the analyst's own in
``$SOKHUND_HOME/campaigns/`` (a file there overrides a shipped campaign of the same name)::
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crawler import paths
from crawler.yamlconfig import format_validation_error, read_mapping

CAMPAIGNS_DIR = Path(__file__).parent / "definitions"


class CampaignError(ValueError):
    """A campaign file is malformed or unknown; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Schedule(_Strict):
    cron: str | None = None  # standard 5-field crontab: minute hour day month day-of-week
    interval_seconds: float | None = Field(default=None, gt=0)
    timezone: str = "Europe/Stockholm"
    jitter_seconds: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_kind(self) -> Schedule:
        if (self.cron is None) == (self.interval_seconds is None):
            raise ValueError("give exactly one of cron or interval_seconds")
        return self

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"bad cron expression {value!r} (want 'minute hour day month weekday'): {exc}") from exc
        return value

    def trigger(self) -> Any:
        if self.cron is not None:
            from apscheduler.triggers.cron import CronTrigger

            return CronTrigger.from_crontab(self.cron, timezone=ZoneInfo(self.timezone))
        from apscheduler.triggers.interval import IntervalTrigger

        return IntervalTrigger(seconds=float(self.interval_seconds or 0), jitter=self.jitter_seconds)

    def describe(self) -> str:
        if self.cron is not None:
            return f"cron '{self.cron}' ({self.timezone})"
        return f"every {self.interval_seconds:g}s"


class Campaign(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = ""
    enabled: bool = True
    sites: list[str] = Field(min_length=1)
    schedule: Schedule
    tor: bool = False
    page_budget: int | None = Field(default=None, ge=1)
    max_depth: int | None = Field(default=None, ge=1)
    alerts: list[str] | None = None  # alert rule names to evaluate after each run; None = every enabled rule
    index_url: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)  # extra Scrapy settings for the crawl
    misfire_grace_seconds: int = Field(default=3600, ge=1)
    run_on_start: bool = False  # `campaign serve` also runs it once right away
    source_file: str | None = None

    @field_validator("sites")
    @classmethod
    def _site_names(cls, value: list[str]) -> list[str]:
        bad = [s for s in value if not re.match(r"^[a-z0-9_]+$", s)]
        if bad:
            raise ValueError(f"not a site adapter name: {', '.join(map(repr, bad))}")
        return value


# ----------------------------------------------------------------------------------- loading
def load_campaign_file(path: str | Path) -> Campaign:
    path = Path(path)
    raw = read_mapping(path, "campaign", CampaignError)
    raw["source_file"] = str(path)
    try:
        return Campaign.model_validate(raw)
    except ValidationError as exc:
        raise CampaignError(format_validation_error(path, "campaign", exc)) from None


def campaign_dirs() -> list[Path]:
    """Shipped examples first, then the data directory's campaigns (which win on a name clash)."""
    return [CAMPAIGNS_DIR, paths.sub("campaigns")]


def campaign_files() -> dict[str, Path]:
    files: dict[str, Path] = {}
    for directory in campaign_dirs():
        for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
            files[path.stem] = path
    return files


def load_campaigns(*, errors: list[CampaignError] | None = None) -> dict[str, Campaign]:
    """Every campaign by name. A name defined twice in one directory is an error naming both files.

    Without ``errors`` the first bad file raises. With a list, a bad file is skipped and its error appended,
    so one broken file never hides (or stops) the other campaigns."""
    out: dict[str, Campaign] = {}
    for directory in campaign_dirs():
        here: dict[str, Path] = {}
        for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
            try:
                campaign = load_campaign_file(path)
                if campaign.name in here:
                    raise CampaignError(f"{path}: field 'name': campaign {campaign.name!r} is also defined in "
                                        f"{here[campaign.name]}")
            except CampaignError as exc:
                if errors is None:
                    raise
                errors.append(exc)
                continue
            here[campaign.name] = path
            out[campaign.name] = campaign
    return out


def get_campaign(name_or_path: str) -> Campaign:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") and candidate.exists():
        return load_campaign_file(candidate)
    errors: list[CampaignError] = []
    campaigns = load_campaigns(errors=errors)
    if name_or_path in campaigns:
        return campaigns[name_or_path]
    for error in errors:  # the campaign asked for is the broken file: say what is wrong with it
        if Path(str(error).split(":", 1)[0]).stem == name_or_path:
            raise error
    broken = f"; unreadable campaign files: {'; '.join(str(e).splitlines()[0] for e in errors)}" if errors else ""
    raise CampaignError(f"no campaign named {name_or_path!r}; known campaigns: "
                        f"{', '.join(sorted(campaigns)) or '(none)'} (in {', '.join(map(str, campaign_dirs()))})"
                        + broken)
