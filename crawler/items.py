"""What a spider hands to the item pipeline: one Scrapy item per page, carrying that page's rows.

Scrapy's per-item machinery (the spider middlewares' async chains, the pipeline's deferreds, the
``item_scraped`` signal) then runs once per page instead of once per feedback row: on a vendor page with
twenty feedback rows that was most of the engine's cost. The index pipeline takes the rows apart again
(``crawler.pipelines.index``); a plain row item (``{"type": "listing", ...}``) is still accepted."""

from __future__ import annotations

from typing import Any

PAGE_ITEM = "page"


def page_item(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The rows of one page (``{"type", "site", "url", "page_type", "fields", "capture"}`` each)."""
    return {"type": PAGE_ITEM, "rows": rows}


def rows_of(item: dict[str, Any]) -> list[dict[str, Any]]:
    return item["rows"] if item.get("type") == PAGE_ITEM else [item]
