"""Small HTML/HTTP helpers shared by the site renderers."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

esc = html.escape


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def html_response(body: str, status: int = 200, **headers: str) -> Response:
    return Response(status, body.encode("utf-8"), headers=dict(headers))


def json_response(data: Any) -> Response:
    import json

    return Response(200, json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8"),
                    "application/json; charset=utf-8")


def not_found(message: str = "Not found") -> Response:
    return html_response(f"<!DOCTYPE html><html><head><title>404</title></head><body><h1>404</h1><p>{esc(message)}</p>"
                         "</body></html>", 404)


def query_int(query: str, name: str, default: int = 1) -> int:
    values = parse_qs(query).get(name)
    try:
        return max(0, int(values[0])) if values else default
    except ValueError:
        return default


def query_str(query: str, name: str) -> str | None:
    values = parse_qs(query).get(name)
    return values[0] if values else None


def sek(amount: float) -> str:
    """'1 200 kr' (Swedish thousands separator)."""
    return f"{round(amount):,}".replace(",", " ") + " kr"


def sv_decimal(value: float, digits: int) -> str:
    return f"{value:.{digits}f}".replace(".", ",")


def pages(total: int, per_page: int) -> int:
    return max(1, (total + per_page - 1) // per_page)
