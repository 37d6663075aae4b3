"""Recording fake HTTP servers on 127.0.0.1 for contract tests: a minimal Elasticsearch and Kibana.

They record every request (method, path, query, headers, body) and answer just enough valid JSON for
the official client to be satisfied. The Elasticsearch fake keeps documents per index so a test can
check that nothing was lost or duplicated.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def ndjson(self) -> list[Any]:
        return [json.loads(line) for line in self.body.decode("utf-8").splitlines() if line.strip()]


@dataclass
class FakeState:
    requests: list[Request] = field(default_factory=list)
    docs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # index -> id -> source
    bulk_ops: list[tuple[str, str, str]] = field(default_factory=list)  # (op, index, id) accepted
    search_response: dict[str, Any] | None = None
    item_status: dict[str, int] = field(default_factory=dict)  # _id -> forced bulk item status (once)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def paths(self, method: str | None = None) -> list[str]:
        return [r.path for r in self.requests if method is None or r.method == method]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass

    def _record(self) -> Request:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        req = Request(
            self.command,
            parts.path,
            parse_qs(parts.query),
            {k.lower(): v for k, v in self.headers.items()},
            body,
        )
        with self.server.state.lock:
            self.server.state.requests.append(req)
        return req

    def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode("utf-8") if self.command != "HEAD" else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def setup(self) -> None:
        super().setup()
        with self.server.state.lock:
            self.server.connections.add(self.connection)

    def do_GET(self) -> None:
        if self.server.stopped:  # a keep-alive connection to a stopped server: hang up
            self.close_connection = True
            return
        self.server.route(self, self._record())

    do_POST = do_PUT = do_DELETE = do_HEAD = do_GET


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, state: FakeState) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.state = state
        self.stopped = False
        self.connections: set[Any] = set()

    def hang_up(self) -> None:
        import socket

        self.stopped = True
        with self.state.lock:
            for conn in self.connections:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def route(self, h: _Handler, req: Request) -> None:
        raise NotImplementedError


ES_HEADERS = {"X-Elastic-Product": "Elasticsearch"}


class _EsServer(_Server):
    def route(self, h: _Handler, req: Request) -> None:
        s, path = self.state, req.path
        if path == "/":
            return h._reply(
                200,
                {
                    "name": "fake",
                    "cluster_name": "fake",
                    "tagline": "You Know, for Search",
                    "version": {"number": "8.15.0", "build_flavor": "default"},
                },
                ES_HEADERS,
            )
        if path.startswith("/_index_template/") or path.startswith("/_data_stream/"):
            return h._reply(200, {"acknowledged": True}, ES_HEADERS)
        if path.endswith("/_bulk") or path == "/_bulk":
            return h._reply(200, self._bulk(req), ES_HEADERS)
        parts = path.strip("/").split("/")
        if len(parts) == 2 and parts[1] == "_search":
            if s.search_response is not None:
                return h._reply(200, s.search_response, ES_HEADERS)
            docs = list(s.docs.get(parts[0], {}).items())
            hits = [{"_index": parts[0], "_id": i, "_score": 1.0, "_source": d, "sort": [i]} for i, d in docs]
            return h._reply(200, {"took": 1, "timed_out": False, "hits": {"hits": hits}}, ES_HEADERS)
        if len(parts) == 2 and parts[1] == "_count":
            return h._reply(200, {"count": len(s.docs.get(parts[0], {}))}, ES_HEADERS)
        if len(parts) == 3 and parts[1] == "_doc" and req.method == "GET":
            doc = s.docs.get(parts[0], {}).get(parts[2])
            if doc is None:
                return h._reply(404, {"_index": parts[0], "_id": parts[2], "found": False}, ES_HEADERS)
            return h._reply(
                200, {"_index": parts[0], "_id": parts[2], "found": True, "_source": doc}, ES_HEADERS
            )
        if len(parts) == 1 and req.method == "PUT":
            return h._reply(
                200, {"acknowledged": True, "shards_acknowledged": True, "index": parts[0]}, ES_HEADERS
            )
        return h._reply(404, {"error": {"type": "fake_not_found", "reason": path}, "status": 404}, ES_HEADERS)

    def _bulk(self, req: Request) -> dict[str, Any]:
        s = self.state
        lines = req.ndjson()
        items = []
        with s.lock:
            for action, source in zip(lines[::2], lines[1::2], strict=True):
                op, meta = next(iter(action.items()))
                index, doc_id = meta["_index"], meta["_id"]
                status = s.item_status.pop(doc_id, None)
                store = s.docs.setdefault(index, {})
                if status is None:
                    if op == "create" and doc_id in store:
                        status = 409
                    else:
                        status = 201 if doc_id not in store else 200
                        store[doc_id] = source
                        s.bulk_ops.append((op, index, doc_id))
                items.append({op: {"_index": index, "_id": doc_id, "status": status}})
        return {"took": 1, "errors": any(i[next(iter(i))]["status"] >= 300 for i in items), "items": items}


class _KibanaServer(_Server):
    def route(self, h: _Handler, req: Request) -> None:
        if req.path == "/api/saved_objects/_import" and req.method == "POST":
            count = req.body.count(b'"typeMigrationVersion"')
            return h._reply(200, {"success": True, "successCount": count, "errors": []})
        return h._reply(404, {"statusCode": 404, "error": "Not Found", "message": req.path})


class FakeServer:
    """Start/stop a fake on a fixed 127.0.0.1 port; stopping makes the port refuse connections."""

    def __init__(self, kind: str = "es", port: int = 0) -> None:
        self.kind = kind
        self.state = FakeState()
        self.port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeServer:
        cls = _EsServer if self.kind == "es" else _KibanaServer
        self._server = cls(self.port, self.state)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.hang_up()
            self._server.shutdown()
            self._server.server_close()
            self._server = None
