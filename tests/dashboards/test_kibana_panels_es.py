"""Every Lens panel of dashboards/kibana/sokhund.ndjson against the real cluster: each field it uses resolves
through ``_field_caps`` (exists, aggregatable, the type the column needs), and the aggregation Kibana would
run, on three demo days crawled into the cluster, has non-empty buckets. The panels also agree with the CLI
(``sokhund trends`` / ``sokhund turnover``) on what they count."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from dashboards.build import NDJSON
from indexer.localcluster import LocalCluster
from tests.e2e_world import CampaignWorld
from tests.es_world import backend, refresh

# the shared world's 3-day crawl runs in the first test's setup (unless parity crawled it already)
pytestmark = [pytest.mark.es, pytest.mark.slow, pytest.mark.timeout(2400)]

NUMERIC = {"long", "integer", "short", "double", "float", "half_float", "scaled_float"}
EXPECTED_TYPES: dict[str, set[str]] = {
    "date_histogram": {"date"},
    "terms": {"keyword"},
    "sum": NUMERIC,
    "median": NUMERIC,
    "average": NUMERIC,
    "unique_count": {"keyword", "long", "double", "boolean", "date"},
}
INTERVALS = {"auto": "day", "1d": "day", "1w": "week", "1M": "month"}
KQL_RANGE = re.compile(r"^([A-Za-z_@][\w.]*)\s*(>=|<=|>|<)\s*([-\d.]+)$")
KQL_MATCH = re.compile(r"^([A-Za-z_@][\w.]*)\s*:\s*(\S+)$")


def objects() -> list[dict[str, Any]]:
    return [json.loads(line) for line in NDJSON.read_text("utf-8").splitlines()]


def lens_panels() -> list[dict[str, Any]]:
    return [o for o in objects() if o["type"] == "lens"]


def data_views() -> dict[str, dict[str, Any]]:
    return {o["id"]: o["attributes"] for o in objects() if o["type"] == "index-pattern"}


def kql(query: str) -> tuple[dict[str, Any], list[tuple[str, set[str]]]]:
    """The few KQL forms the panels use (``f >= n``, ``f: v``, ``not …``) as query DSL, plus the fields
    they name with the types that make sense for them."""
    query = query.strip()
    if not query:
        return {"match_all": {}}, []
    if query.startswith("not "):
        inner, used = kql(query[4:])
        return {"bool": {"must_not": [inner]}}, used
    if m := KQL_RANGE.match(query):
        op = {">=": "gte", "<=": "lte", ">": "gt", "<": "lt"}[m[2]]
        return {"range": {m[1]: {op: float(m[3])}}}, [(m[1], NUMERIC)]
    if m := KQL_MATCH.match(query):
        value: Any = {"true": True, "false": False}.get(m[2], m[2].strip('"'))
        return {"term": {m[1]: value}}, [(m[1], {"keyword", "boolean"})]
    raise AssertionError(f"KQL this test cannot translate: {query!r}")


def metric_agg(col: dict[str, Any]) -> dict[str, Any] | None:
    op, field = col["operationType"], col.get("sourceField")
    if op == "count":
        return None  # doc_count
    return {
        "sum": {"sum": {"field": field}},
        "median": {"percentiles": {"field": field, "percents": [50]}},
        "average": {"avg": {"field": field}},
        "unique_count": {"cardinality": {"field": field}},
    }[op]


def panel_request(panel: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, set[str]]], list[str]]:
    """(search body, fields with their acceptable types, metric column ids) of one Lens panel."""
    state = panel["attributes"]["state"]
    (layer,) = state["datasourceStates"]["formBased"]["layers"].values()
    columns = layer["columns"]
    query, used = kql(state["query"]["query"])
    metrics = [c for c in layer["columnOrder"] if not columns[c]["isBucketed"]]
    leaf: dict[str, Any] = {}
    for cid in metrics:
        col = columns[cid]
        if col["sourceField"] != "___records___":
            used.append((col["sourceField"], EXPECTED_TYPES[col["operationType"]]))
        agg = metric_agg(col)
        if agg:
            leaf[cid] = agg
    aggs = leaf
    for cid in reversed([c for c in layer["columnOrder"] if columns[c]["isBucketed"]]):
        col, params = columns[cid], columns[cid].get("params", {})
        if col["operationType"] == "date_histogram":
            used.append((col["sourceField"], EXPECTED_TYPES["date_histogram"]))
            bucket: dict[str, Any] = {"date_histogram": {"field": col["sourceField"], "min_doc_count": 1,
                                                         "calendar_interval": INTERVALS[params["interval"]]}}
        elif col["operationType"] == "terms":
            used.append((col["sourceField"], EXPECTED_TYPES["terms"]))
            order_by = params["orderBy"]["columnId"]
            order = {"_count": "desc"} if columns[order_by]["operationType"] == "count" else {
                order_by + (".50" if columns[order_by]["operationType"] == "median" else ""): "desc"}
            bucket = {"terms": {"field": col["sourceField"], "size": params["size"], "order": order}}
        elif col["operationType"] == "filters":
            filters = {}
            for flt in params["filters"]:
                dsl, names = kql(flt["input"]["query"])
                filters[flt["label"]] = dsl
                used += names
            bucket = {"filters": {"filters": filters}}
        else:
            raise AssertionError(f"{panel['id']}: bucket operation {col['operationType']} not handled")
        if aggs:
            bucket["aggs"] = aggs
        aggs = {cid: bucket}
    return {"size": 0, "query": query, "aggs": aggs}, used, metrics


def leaves(aggs: dict[str, Any], depth: int = 0) -> Iterator[dict[str, Any]]:
    """The innermost buckets of a nested bucket aggregation response."""
    for value in aggs.values():
        if not isinstance(value, dict) or "buckets" not in value:
            continue
        buckets = value["buckets"]
        for bucket in buckets.values() if isinstance(buckets, dict) else buckets:
            inner = [v for v in bucket.values() if isinstance(v, dict) and "buckets" in v]
            if inner:
                yield from leaves(bucket, depth + 1)
            else:
                yield bucket


def metric_value(bucket: dict[str, Any], cid: str) -> float:
    if cid not in bucket:
        return float(bucket["doc_count"])
    agg = bucket[cid]
    if "values" in agg:
        return float(next(iter(agg["values"].values())) or 0.0)
    return float(agg.get("value") or 0.0)


@pytest.fixture(scope="module")
def demo_world(es_cluster: LocalCluster, campaign_world_es: CampaignWorld) -> Iterator[dict[str, Any]]:
    """Three simulated demo days of every testbed site (crawl, roll-up, alerts: a campaign run each) in the
    cluster, the session's shared ``campaign_world_es`` (tests/fixtures_worlds.py); a new Swedish vendor opens
    on the second day."""
    prefix, home = campaign_world_es.env["SOKHUND_ES_PREFIX"], campaign_world_es.home
    b = backend(es_cluster.url, prefix, home / "spool")
    refresh(b)
    yield {"backend": b, "prefix": prefix, "home": home}
    b.close()


def index_of(dv_id: str, prefix: str) -> str:
    return data_views()[dv_id]["title"].replace("sokhund-", f"{prefix}-", 1)


def search(world: dict[str, Any], panel: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    (ref,) = panel["references"]
    body, _, metrics = panel_request(panel)
    resp = world["backend"].client.search(index=index_of(ref["id"], world["prefix"]), **body)
    return resp["aggregations"], metrics


@pytest.mark.parametrize("panel", lens_panels(), ids=lambda p: p["id"])
def test_panel_fields_resolve_and_buckets_are_not_empty(demo_world: dict[str, Any], panel: dict[str, Any]) -> None:
    client, prefix = demo_world["backend"].client, demo_world["prefix"]
    (ref,) = panel["references"]
    view = data_views()[ref["id"]]
    index = index_of(ref["id"], prefix)
    _, used, _ = panel_request(panel)
    used.append((view["timeFieldName"], {"date"}))
    caps = client.field_caps(index=index, fields=sorted({f for f, _ in used}))["fields"]
    for field, types in used:
        assert field in caps, f"{panel['id']}: {field} does not exist in {index}"
        ((es_type, info),) = caps[field].items()  # one type across the backing indices: no conflict
        assert es_type in types, f"{panel['id']}: {field} is {es_type}, expected one of {sorted(types)}"
        assert info["aggregatable"], f"{panel['id']}: {field} is not aggregatable"
    aggs, metrics = search(demo_world, panel)
    buckets = list(leaves(aggs))
    assert buckets, f"{panel['id']}: no buckets"
    assert any(b["doc_count"] and all(metric_value(b, m) > 0 for m in metrics) for b in buckets), \
        f"{panel['id']}: every bucket is empty: {buckets[:3]}"


def _panel(vis_id: str) -> dict[str, Any]:
    return next(p for p in lens_panels() if p["id"] == vis_id)


def test_panels_count_what_the_cli_counts(demo_world: dict[str, Any]) -> None:
    from analytics.trends import best_estimates, new_vendors
    from analytics.turnover import compute_turnover

    b = demo_world["backend"]
    # new vendors per week: the baseline crawl's vendors are not new
    aggs, _ = search(demo_world, _panel("sokhund-vis-new-vendors"))
    panel_new = sum(int(x["doc_count"]) for x in leaves(aggs))
    cli_new = sum(row["count"] for row in new_vendors(b, "week"))
    assert 0 < panel_new == cli_new < b.count("vendor")
    # Swedish share over the vendors active in the range (every vendor here), not those first seen in it
    aggs, _ = search(demo_world, _panel("sokhund-vis-swedish-share"))
    by_label = {k: int(v["m"]["value"]) for k, v in aggs["g"]["buckets"].items()}
    observed = {o["vendor"] for o in b.iter_docs("vendor_observation")}
    vendors = [v for v in b.iter_docs("vendor") if v["id"] in observed]
    swedish = sum(1 for v in vendors if (v.get("swedish_score") or 0.0) >= 0.5)
    assert by_label == {"Svenska": swedish, "Övriga": len(vendors) - swedish} and swedish > 0
    # turnover: what the panel sums over the observations is the CLI's best estimate
    aggs, _ = search(demo_world, _panel("sokhund-vis-turnover"))
    total = sum(metric_value(x, "y") for x in leaves(aggs))
    best = sum(e.value_sek or 0.0 for e in best_estimates(compute_turnover(b)))
    assert best > 0 and total == pytest.approx(best, rel=1e-6, abs=0.05)


def test_kql_translation_refuses_what_it_does_not_know() -> None:
    with pytest.raises(AssertionError, match="cannot translate"):
        kql("a or b")
    assert kql("not baseline: true")[0] == {"bool": {"must_not": [{"term": {"baseline": True}}]}}
