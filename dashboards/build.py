"""Generates ``dashboards/kibana/sokhund.ndjson``: Kibana (8.9+) saved objects for the Elasticsearch
backend: data views, Lens visualizations and one dashboard.

The file is generated so it stays reviewable and in step with the index templates; a test checks that
the committed file equals this output. Regenerate with ``python -m dashboards.build``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NDJSON = Path(__file__).with_name("kibana") / "sokhund.ndjson"
CORE = {"coreMigrationVersion": "8.8.0"}
PREFIX = "sokhund"

# data view id -> (index / data stream name, time field, display name)
DATA_VIEWS: dict[str, tuple[str, str, str]] = {
    "sokhund-dv-listing": (f"{PREFIX}-listing", "last_seen", "Sökhund: annonser (listings)"),
    "sokhund-dv-vendor": (f"{PREFIX}-vendor", "first_seen", "Sökhund: säljare (vendors)"),
    "sokhund-dv-listing-observation": (
        f"{PREFIX}-listing_observation",
        "@timestamp",
        "Sökhund: annonsobservationer (listing observations)",
    ),
    "sokhund-dv-vendor-observation": (
        f"{PREFIX}-vendor_observation",
        "@timestamp",
        "Sökhund: säljarobservationer (vendor observations)",
    ),
    "sokhund-dv-alert": (f"{PREFIX}-alert", "fired_at", "Sökhund: larm (alerts)"),
}

SWEDISH_SCORE_THRESHOLD = 0.5


def data_view(dv_id: str) -> dict[str, Any]:
    title, time_field, name = DATA_VIEWS[dv_id]
    return {
        "id": dv_id,
        "type": "index-pattern",
        "attributes": {"title": title, "name": name, "timeFieldName": time_field},
        "references": [],
        **CORE,
        "typeMigrationVersion": "8.0.0",
    }


# ---------------------------------------------------------------------- Lens columns
def date_col(field: str, interval: str = "auto") -> dict[str, Any]:
    return {
        "label": field,
        "dataType": "date",
        "operationType": "date_histogram",
        "sourceField": field,
        "isBucketed": True,
        "scale": "interval",
        "params": {"interval": interval, "includeEmptyRows": True, "dropPartials": False},
    }


def metric_col(op: str, field: str | None, label: str) -> dict[str, Any]:
    return {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": op,
        "sourceField": field or "___records___",
        "isBucketed": False,
        "scale": "ratio",
        "params": {"emptyAsNull": op != "count"},
    }


def terms_col(field: str, size: int, order_by: str, label: str) -> dict[str, Any]:
    return {
        "label": label,
        "customLabel": True,
        "dataType": "string",
        "operationType": "terms",
        "sourceField": field,
        "isBucketed": True,
        "scale": "ordinal",
        "params": {
            "size": size,
            "orderBy": {"type": "column", "columnId": order_by},
            "orderDirection": "desc",
            "otherBucket": True,
            "missingBucket": False,
        },
    }


def filters_col(filters: list[tuple[str, str]], label: str) -> dict[str, Any]:
    return {
        "label": label,
        "customLabel": True,
        "dataType": "string",
        "operationType": "filters",
        "isBucketed": True,
        "scale": "ordinal",
        "params": {
            "filters": [{"input": {"query": q, "language": "kuery"}, "label": lbl} for q, lbl in filters]
        },
    }


def lens(
    vis_id: str,
    title: str,
    description: str,
    dv_id: str,
    columns: dict[str, dict[str, Any]],
    visualization_type: str,
    visualization: dict[str, Any],
    query: str = "",
) -> dict[str, Any]:
    layer = "layer1"
    # Lens keeps bucket columns (x axis, splits) before metric columns
    order = [c for c, col in columns.items() if col["isBucketed"]] + [
        c for c, col in columns.items() if not col["isBucketed"]
    ]
    return {
        "id": vis_id,
        "type": "lens",
        "attributes": {
            "title": title,
            "description": description,
            "visualizationType": visualization_type,
            "state": {
                "datasourceStates": {
                    "formBased": {
                        "layers": {layer: {"columns": columns, "columnOrder": order, "incompleteColumns": {}}}
                    }
                },
                "visualization": visualization,
                "query": {"query": query, "language": "kuery"},
                "filters": [],
                "internalReferences": [],
                "adHocDataViews": {},
            },
        },
        "references": [
            {"type": "index-pattern", "id": dv_id, "name": f"indexpattern-datasource-layer-{layer}"}
        ],
        **CORE,
        "typeMigrationVersion": "8.9.0",
    }


def xy(series: str, x: str, y: list[str], split: str | None = None) -> dict[str, Any]:
    layer: dict[str, Any] = {
        "layerId": "layer1",
        "layerType": "data",
        "seriesType": series,
        "xAccessor": x,
        "accessors": y,
    }
    if split:
        layer["splitAccessor"] = split
    return {
        "legend": {"isVisible": True, "position": "right"},
        "valueLabels": "hide",
        "preferredSeriesType": series,
        "layers": [layer],
    }


# ---------------------------------------------------------------------- the visualizations
def visualizations() -> list[dict[str, Any]]:
    obs = "sokhund-dv-listing-observation"
    return [
        lens(
            "sokhund-vis-turnover",
            "Omsättning över tid (SEK)",
            "Sum of turnover_sek on listing observations (sales value since the previous crawl), by site.",
            obs,
            {
                "x": date_col("@timestamp"),
                "y": metric_col("sum", "turnover_sek", "Omsättning (SEK)"),
                "s": terms_col("site", 5, "y", "Sajt"),
            },
            "lnsXY",
            xy("bar_stacked", "x", ["y"], "s"),
        ),
        lens(
            "sokhund-vis-price-per-gram",
            "Medianpris per gram per substans (SEK/g)",
            "Median price_per_g_sek on listing observations over time, top substances.",
            obs,
            {
                "x": date_col("@timestamp"),
                "y": metric_col("median", "price_per_g_sek", "Medianpris SEK/g"),
                "s": terms_col("substance", 8, "n", "Substans"),
                "n": metric_col("count", None, "Observationer"),
            },
            "lnsXY",
            xy("line", "x", ["y"], "s"),
        ),
        lens(
            "sokhund-vis-new-vendors",
            "Nya säljare per vecka",
            "Vendors by first_seen, weekly, without those of each site's baseline crawl (baseline: true, "
            "set by the roll-up): they were there before we started watching.",
            "sokhund-dv-vendor",
            {"x": date_col("first_seen", "1w"), "y": metric_col("count", None, "Nya säljare")},
            "lnsXY",
            xy("bar", "x", ["y"]),
            query="not baseline: true",
        ),
        lens(
            "sokhund-vis-swedish-share",
            "Andel svenska säljare",
            f"Distinct vendors active (observed) in the time range with swedish_score >= "
            f"{SWEDISH_SCORE_THRESHOLD} (the roll-up score, copied onto each vendor observation) versus the rest.",
            "sokhund-dv-vendor-observation",
            {
                "g": filters_col(
                    [
                        (f"swedish_score >= {SWEDISH_SCORE_THRESHOLD}", "Svenska"),
                        (f"not swedish_score >= {SWEDISH_SCORE_THRESHOLD}", "Övriga"),
                    ],
                    "Säljare",
                ),
                "m": metric_col("unique_count", "vendor", "Aktiva säljare"),
            },
            "lnsPie",
            {
                "shape": "donut",
                "layers": [
                    {
                        "layerId": "layer1",
                        "layerType": "data",
                        "primaryGroups": ["g"],
                        "metrics": ["m"],
                        "numberDisplay": "percent",
                        "categoryDisplay": "default",
                        "legendDisplay": "default",
                        "nestedLegend": False,
                    }
                ],
            },
        ),
        lens(
            "sokhund-vis-top-vendors",
            "Största säljare (omsättning SEK)",
            "Top vendors by summed turnover_sek on listing observations.",
            obs,
            {
                "x": terms_col("vendor", 15, "y", "Säljare"),
                "y": metric_col("sum", "turnover_sek", "Omsättning (SEK)"),
            },
            "lnsXY",
            xy("bar_horizontal", "x", ["y"]),
        ),
        lens(
            "sokhund-vis-alerts",
            "Larm per dag och regel",
            "Alerts by fired_at and rule.",
            "sokhund-dv-alert",
            {
                "x": date_col("fired_at", "1d"),
                "y": metric_col("count", None, "Larm"),
                "s": terms_col("rule", 10, "y", "Regel"),
            },
            "lnsXY",
            xy("bar_stacked", "x", ["y"], "s"),
        ),
    ]


def dashboard(vis: list[dict[str, Any]]) -> dict[str, Any]:
    layout = [
        (0, 0, 24, 15),
        (24, 0, 24, 15),
        (0, 15, 24, 15),
        (24, 15, 24, 15),
        (0, 30, 24, 18),
        (24, 30, 24, 18),
    ]
    panels = []
    refs = []
    for i, (v, (x, y, w, h)) in enumerate(zip(vis, layout, strict=True)):
        pid = f"p{i + 1}"
        panels.append(
            {
                "version": "8.9.0",
                "type": "lens",
                "gridData": {"x": x, "y": y, "w": w, "h": h, "i": pid},
                "panelIndex": pid,
                "embeddableConfig": {"enhancements": {}},
                "panelRefName": f"panel_{pid}",
            }
        )
        refs.append({"name": f"panel_{pid}", "type": "lens", "id": v["id"]})
    return {
        "id": "sokhund-dashboard-overview",
        "type": "dashboard",
        "attributes": {
            "title": "Sökhund: marknadsöversikt",
            "description": "Turnover, prices per gram, new and Swedish vendors, top vendors and alerts.",
            "panelsJSON": json.dumps(panels, ensure_ascii=False, separators=(",", ":")),
            "optionsJSON": json.dumps({"useMargins": True, "syncColors": False, "hidePanelTitles": False}),
            "timeRestore": True,
            "timeFrom": "now-90d",
            "timeTo": "now",
            "refreshInterval": {"pause": True, "value": 60000},
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": json.dumps({"query": {"query": "", "language": "kuery"}, "filter": []})
            },
        },
        "references": refs,
        **CORE,
        "typeMigrationVersion": "8.9.0",
    }


def saved_objects() -> list[dict[str, Any]]:
    vis = visualizations()
    return [*(data_view(d) for d in DATA_VIEWS), *vis, dashboard(vis)]


def render() -> str:
    return "".join(json.dumps(o, ensure_ascii=False, sort_keys=True) + "\n" for o in saved_objects())


def main() -> None:
    NDJSON.parent.mkdir(parents=True, exist_ok=True)
    NDJSON.write_text(render(), encoding="utf-8")
    print(f"wrote {NDJSON}")


if __name__ == "__main__":
    main()
