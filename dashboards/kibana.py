"""Import the Sökhund dashboards into Kibana through the saved objects API
(``POST /api/saved_objects/_import``, multipart ``file``, ``kbn-xsrf`` header)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx

from dashboards.build import NDJSON


class KibanaImportError(RuntimeError):
    """Kibana could not be reached or refused some objects; the message says which URL and why."""


def import_dashboards(
    kibana_url: str,
    ndjson: str | Path = NDJSON,
    *,
    overwrite: bool = True,
    space: str | None = None,
    api_key: str | None = None,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Upload the saved objects file; returns Kibana's answer (``success``, ``successCount`` …).

    ``space`` imports into a Kibana space; ``api_key`` (or ``SOKHUND_KIBANA_API_KEY``) authenticates.
    """
    base = kibana_url.rstrip("/")
    url = f"{base}/s/{space}/api/saved_objects/_import" if space else f"{base}/api/saved_objects/_import"
    path = Path(ndjson)
    headers = {"kbn-xsrf": "true"}
    key = api_key or os.environ.get("SOKHUND_KIBANA_API_KEY")
    if key:
        headers["Authorization"] = f"ApiKey {key}"
    try:
        resp = httpx.post(
            url,
            params={"overwrite": "true"} if overwrite else None,
            headers=headers,
            files={"file": (path.name, path.read_bytes(), "application/ndjson")},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        raise KibanaImportError(f"Kibana at {base} is unreachable: {exc}") from exc
    if resp.status_code != 200:
        raise KibanaImportError(
            f"Kibana at {base} refused the import (HTTP {resp.status_code}): {resp.text[:500]}"
        )
    result: dict[str, Any] = resp.json()
    if not result.get("success", False):
        errors = "; ".join(
            f"{e.get('type')}/{e.get('id')}: {e.get('error', {}).get('type')}"
            for e in result.get("errors", [])
        )
        raise KibanaImportError(f"Kibana at {base} rejected some saved objects: {errors}")
    return result


def main() -> None:
    import sys

    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SOKHUND_KIBANA_URL", "http://127.0.0.1:5601")
    result = import_dashboards(url)
    print(f"imported {result.get('successCount')} saved objects into {url}")


if __name__ == "__main__":
    main()
