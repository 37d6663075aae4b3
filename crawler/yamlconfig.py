"""Reading analyst-written YAML (site adapters, campaigns, alert rules) with errors that name the file
and the field, so a typo is found before anything runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError


def read_mapping(path: Path, what: str, error: type[Exception], *, empty_ok: bool = False) -> dict[str, Any]:
    """The YAML file's top-level mapping; ``error`` names the file when it is unreadable or not a mapping."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); save the {what} as UTF-8") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc
    if raw is None and empty_ok:
        return {}
    if not isinstance(raw, dict):
        raise error(f"{path}: field '(top level)': expected a mapping, got {type(raw).__name__}")
    return raw


def format_validation_error(path: Path, what: str, exc: ValidationError) -> str:
    """One line per problem: ``field 'pages.item.fields.price.type': Input should be …``."""
    lines = [f"{path}: invalid {what}"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  field '{loc}': {err['msg'].removeprefix('Value error, ')}")
    return "\n".join(lines)
