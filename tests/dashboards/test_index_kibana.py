"""Kibana saved objects: the NDJSON is valid and consistent with the Elasticsearch templates, and the
import sends exactly what the saved objects API expects."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

from dashboards.build import NDJSON, render
from dashboards.kibana import KibanaImportError, import_dashboards
from indexer.elastic import index_templates
from tests.fake_http import FakeServer

AGGREGATABLE = {"keyword", "long", "double", "date", "boolean"}


def objects() -> list[dict[str, Any]]:
    return [json.loads(line) for line in NDJSON.read_text("utf-8").splitlines()]


def mapping_of(title: str) -> dict[str, Any]:
    templates = index_templates("sokhund")
    assert title in templates, f"data view {title!r} matches no index template"
    return templates[title]["template"]["mappings"]["properties"]


def test_file_is_generated_from_build() -> None:
    assert NDJSON.read_text("utf-8") == render(), "run: python -m dashboards.build"


def test_every_line_parses_and_ids_are_unique() -> None:
    lines = NDJSON.read_text("utf-8").splitlines()
    assert lines and all(line.strip() for line in lines)
    objs = [json.loads(line) for line in lines]
    keys = [(o["type"], o["id"]) for o in objs]
    assert len(keys) == len(set(keys))
    assert {o["type"] for o in objs} == {"index-pattern", "lens", "dashboard"}
    for o in objs:
        assert o["attributes"].get("title"), o["id"]
        assert o["coreMigrationVersion"] and o["typeMigrationVersion"]


def test_required_views_and_visualizations_exist() -> None:
    objs = objects()
    titles = {o["attributes"]["title"] for o in objs if o["type"] == "index-pattern"}
    assert {"sokhund-listing", "sokhund-vendor", "sokhund-listing_observation", "sokhund-alert"} <= titles
    lens_ids = {o["id"] for o in objs if o["type"] == "lens"}
    assert {
        "sokhund-vis-turnover",
        "sokhund-vis-price-per-gram",
        "sokhund-vis-new-vendors",
        "sokhund-vis-swedish-share",
        "sokhund-vis-top-vendors",
    } <= lens_ids
    (dash,) = [o for o in objs if o["type"] == "dashboard"]
    assert {r["id"] for r in dash["references"]} == lens_ids


def test_references_resolve() -> None:
    objs = objects()
    present = {(o["type"], o["id"]) for o in objs}
    for o in objs:
        for ref in o["references"]:
            assert (ref["type"], ref["id"]) in present, f"{o['id']} -> {ref}"
        if o["type"] == "lens":
            layers = o["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
            names = {r["name"] for r in o["references"]}
            for layer_id, layer in layers.items():
                assert f"indexpattern-datasource-layer-{layer_id}" in names
                assert sorted(layer["columnOrder"]) == sorted(layer["columns"])
                kinds = [layer["columns"][c]["isBucketed"] for c in layer["columnOrder"]]
                assert kinds == sorted(kinds, reverse=True), "bucket columns first"
            vis = o["attributes"]["state"]["visualization"]
            used = json.dumps(vis)
            for layer in layers.values():
                for col in layer["columns"]:
                    assert f'"{col}"' in used or any(
                        c.get("params", {}).get("orderBy", {}).get("columnId") == col
                        for c in layer["columns"].values()
                    ), f"{o['id']}: column {col} unused"
        if o["type"] == "dashboard":
            panels = json.loads(o["attributes"]["panelsJSON"])
            names = {r["name"] for r in o["references"]}
            assert panels and all(p["panelRefName"] in names for p in panels)
            ids = [p["panelIndex"] for p in panels]
            assert len(ids) == len(set(ids))


def test_fields_exist_in_es_templates() -> None:
    objs = objects()
    views = {o["id"]: o["attributes"] for o in objs if o["type"] == "index-pattern"}
    for view in views.values():
        props = mapping_of(view["title"])
        assert props[view["timeFieldName"]]["type"] == "date", view
    for o in objs:
        if o["type"] != "lens":
            continue
        (ref,) = o["references"]
        props = mapping_of(views[ref["id"]]["title"])
        for layer in o["attributes"]["state"]["datasourceStates"]["formBased"]["layers"].values():
            for col in layer["columns"].values():
                field = col.get("sourceField")
                if field and field != "___records___":
                    assert field in props, f"{o['id']}: {field} not in the template"
                    assert props[field]["type"] in AGGREGATABLE, f"{o['id']}: {field} is not aggregatable"
                for flt in col.get("params", {}).get("filters", []):
                    for name in re.findall(r"([A-Za-z_@][\w.]*)\s*(?:>=|<=|>|<|:)", flt["input"]["query"]):
                        assert name in props, f"{o['id']}: KQL field {name} not in the template"


# ---------------------------------------------------------------------- import API contract
@pytest.fixture()
def kibana() -> Iterator[FakeServer]:
    server = FakeServer("kibana").start()
    yield server
    server.stop()


def test_import_request(kibana: FakeServer) -> None:
    result = import_dashboards(kibana.url + "/")
    assert result["success"] is True and result["successCount"] == len(objects())
    (req,) = kibana.state.requests
    assert req.method == "POST" and req.path == "/api/saved_objects/_import"
    assert req.query == {"overwrite": ["true"]}
    assert req.headers["kbn-xsrf"] == "true"
    ctype = req.headers["content-type"]
    assert ctype.startswith("multipart/form-data; boundary=")
    boundary = ctype.split("boundary=", 1)[1].encode()
    parts = [p for p in req.body.split(b"--" + boundary) if p.strip() not in (b"", b"--")]
    assert len(parts) == 1
    head, _, content = parts[0].partition(b"\r\n\r\n")
    assert b'Content-Disposition: form-data; name="file"; filename="sokhund.ndjson"' in head
    assert content.removesuffix(b"\r\n") == NDJSON.read_bytes()


def test_import_into_space_without_overwrite(kibana: FakeServer) -> None:
    with pytest.raises(KibanaImportError, match="HTTP 404"):
        import_dashboards(kibana.url, space="analys", overwrite=False)
    (req,) = kibana.state.requests
    assert req.path == "/s/analys/api/saved_objects/_import" and req.query == {}


def test_import_unreachable_names_the_url() -> None:
    server = FakeServer("kibana").start()
    url = server.url
    server.stop()
    with pytest.raises(KibanaImportError, match=re.escape(url)):
        import_dashboards(url, timeout=2)


@pytest.mark.skipif(
    not os.environ.get("SOKHUND_KIBANA_URL"), reason="SOKHUND_KIBANA_URL not set: no Kibana to import into"
)
def test_import_into_real_kibana() -> None:
    result = import_dashboards(os.environ["SOKHUND_KIBANA_URL"])
    assert result["success"] and result["successCount"] == len(objects())


def test_cli_import(kibana: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    assert main(["dashboards", "import", kibana.url]) == 0
    assert '"success": true' in capsys.readouterr().out
    (req,) = kibana.state.requests
    assert req.path == "/api/saved_objects/_import"
