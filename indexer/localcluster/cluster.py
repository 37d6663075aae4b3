"""A real Elasticsearch 8.x cluster on 127.0.0.1, for tests and the demo.

The distribution is Elastic's ``integ-test-zip`` from Maven Central (see ``pom.xml`` next to this file):
a runnable Elasticsearch without a bundled JDK and without the ``analysis-common`` and ``data-streams``
modules. :func:`ensure_distribution` fetches it once with ``mvn`` and unpacks it into a cache directory.

Elasticsearch refuses to run as root, and everything here (CI included) runs as root, so a node runs as
the unprivileged system user :data:`ES_USER` (created on demand when we are root) and its node directory
is chowned to that user. Every directory above a node directory must then be traversable by that user,
which is why the cache is not under ``/root`` and why :class:`LocalCluster` checks ``base_dir`` first.

Every node binds HTTP and transport to 127.0.0.1 only; nothing that reaches the internet is enabled
(integ-test-zip ships no geoip downloader and no ML; APM telemetry is switched off explicitly).

Each node is started in its own session (the ``bin/elasticsearch`` launcher JVM plus its server JVM
child share one process group) and stopped by PID on :meth:`LocalCluster.down`, at interpreter exit
(``atexit``) when the cluster is owned by this process, and by ``sokhund es down`` (:func:`down_from_state`)
from the state file otherwise.
"""

from __future__ import annotations

import atexit
import base64
import json
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import ExitStack, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

log = logging.getLogger(__name__)

ES_VERSION = os.environ.get("SOKHUND_ES_VERSION", "8.19.21")
# not SOKHUND_ES_USER: that names the user Sökhund logs in to a cluster with (indexer/elastic.py)
ES_USER = os.environ.get("SOKHUND_ES_OS_USER", "sokhund-es")
STATE_FILE = "cluster.json"
POM = Path(__file__).with_name("pom.xml")
READY_MARK = ".sokhund-ready"
SUPERUSER = "sokhund"  # file-realm superuser provisioned when security=True
# API keys (and native users/roles) need the .security system index, whose mapping uses the
# pattern_capture filter of analysis-common, which integ-test-zip lacks: creating one fails with
# "Unknown filter type [pattern_capture]". A read-only *file-realm* user with a file-based role is the
# read-only credential instead.
READER = "sokhund_reader"
READER_ROLE = "sokhund_read"
READER_ROLE_YAML = f"""{READER_ROLE}:
  cluster: ["monitor"]
  indices:
    - names: ["*"]
      privileges: ["read", "view_index_metadata", "monitor"]
"""


class LocalClusterError(RuntimeError):
    """The cluster could not be set up or did not come up (the message names the node and its log)."""


# ---- the distribution --------------------------------------------------------------------------------


def java_home() -> Path:
    """The JDK for Elasticsearch (integ-test-zip bundles none): $ES_JAVA_HOME, $JAVA_HOME, else the JDK
    of ``java`` on PATH."""
    for var in ("ES_JAVA_HOME", "JAVA_HOME"):
        value = os.environ.get(var)
        if value and (Path(value) / "bin" / "java").exists():
            return Path(value)
    java = shutil.which("java")
    if java is None:
        raise LocalClusterError("java not found: install a JDK 17+ (Debian: openjdk-17-jdk-headless) "
                                "or set ES_JAVA_HOME")
    return Path(os.path.realpath(java)).parents[1]


def default_dist_root() -> Path:
    """Where unpacked distributions live. Not under root's home: /root is 0700 and the node user must read
    the distribution."""
    if os.environ.get("SOKHUND_ES_DIST"):
        return Path(os.environ["SOKHUND_ES_DIST"])
    if os.geteuid() == 0:
        return Path("/var/cache/sokhund")
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sokhund"


def ensure_distribution(root: str | Path | None = None, version: str = ES_VERSION) -> Path:
    """``<root>/elasticsearch-<version>`` (ES_HOME), fetched with mvn and unpacked on the first call.

    Idempotent: a ready marker makes later calls return at once without running mvn."""
    root = Path(root) if root else default_dist_root()
    home = root / f"elasticsearch-{version}"
    if (home / READY_MARK).exists():
        return home
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalClusterError("mvn not found: install Maven (Debian: maven) to fetch the Elasticsearch "
                                "distribution from Maven Central")
    java_home()  # mvn needs it too; fail with our message rather than mvn's
    work = root / f".fetch-{version}"
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(POM, work / "pom.xml")  # run mvn here, never in the source tree (it may write target/)
    cmd = [mvn, "-q", "-B", "dependency:copy-dependencies", "-DoutputDirectory=lib",
           "-DexcludeTransitive=true", f"-Des.version={version}"]
    done = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=900)
    archive = work / "lib" / f"elasticsearch-{version}.zip"
    if done.returncode or not archive.exists():
        raise LocalClusterError(f"mvn could not fetch org.elasticsearch.distribution.integ-test-zip:"
                                f"elasticsearch:{version}:zip ({done.returncode}):\n"
                                f"{(done.stdout + done.stderr)[-2000:]}")
    unpack = root / f".unpack-{version}"
    shutil.rmtree(unpack, ignore_errors=True)
    # unzip keeps the executable bits of bin/ and the JDK-less launcher scripts; zipfile would drop them
    if shutil.which("unzip"):
        subprocess.run(["unzip", "-q", "-o", str(archive), "-d", str(unpack)], check=True)
    else:
        _unzip_keep_modes(archive, unpack)
    shutil.rmtree(home, ignore_errors=True)
    (unpack / f"elasticsearch-{version}").rename(home)
    shutil.rmtree(unpack, ignore_errors=True)
    shutil.rmtree(work / "lib", ignore_errors=True)  # ~/.m2 keeps the zip; no second 107 MB copy
    for path in [root, home, *home.rglob("*")]:  # world-readable: the node user is not the owner
        mode = path.stat().st_mode
        path.chmod(mode | 0o555 if path.is_dir() or mode & 0o100 else mode | 0o444)
    (home / READY_MARK).write_text(version + "\n")
    return home


def _unzip_keep_modes(archive: Path, target: Path) -> None:
    import zipfile

    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, target))
            mode = info.external_attr >> 16
            if mode:
                path.chmod(mode & 0o7777)


def ensure_es_user(name: str = ES_USER) -> pwd.struct_passwd | None:
    """The account the JVM runs as when we are root (created as a system user if missing); None otherwise."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    done = subprocess.run(["useradd", "--system", "--no-create-home", "--user-group",
                           "--shell", "/usr/sbin/nologin", name], capture_output=True, text=True)
    if done.returncode not in (0, 9):  # 9: created concurrently
        raise LocalClusterError(f"cannot create the Elasticsearch user {name!r}: {done.stderr.strip()}")
    return pwd.getpwnam(name)


def _check_traversable(path: Path) -> None:
    """Every ancestor must let 'others' in: the node user is neither owner nor group of our dirs."""
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            raise LocalClusterError(
                f"{parent} is not traversable by the Elasticsearch user {ES_USER!r} (mode "
                f"{oct(parent.stat().st_mode & 0o777)}); put the cluster directory elsewhere (for example "
                f"under /tmp or ./.sokhund) or chmod o+x {parent}")


# ---- state -------------------------------------------------------------------------------------------


@dataclass
class EsNode:
    name: str
    node_dir: str
    http_port: int
    transport_port: int
    pid: int | None = None  # the bin/elasticsearch launcher; its process group holds the server JVM

    @property
    def config_dir(self) -> str:
        return str(Path(self.node_dir) / "config")

    @property
    def console_log(self) -> str:
        return str(Path(self.node_dir) / "console.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


@dataclass
class ClusterState:
    base_dir: str
    cluster_name: str
    version: str
    es_home: str
    nodes: list[EsNode] = field(default_factory=list)
    security: bool = False
    username: str | None = None
    password: str | None = None
    boot_seconds: float = 0.0
    started_at: float = 0.0

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def pids(self) -> list[int]:
        return [n.pid for n in self.nodes if n.pid]

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.chmod(0o600)  # may hold the superuser password
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> ClusterState:
        raw = json.loads(path.read_text())
        raw["nodes"] = [EsNode(**n) for n in raw.get("nodes", [])]
        return cls(**raw)


# ---- ports, processes ------------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    """Distinct free TCP ports on 127.0.0.1 (all held open until every one is chosen)."""
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            s = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
        return ports


def _is_our_node(pid: int, node: EsNode) -> bool:
    """Guard against PID reuse: only a live process whose command line names our node's config dir."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return any(node.config_dir in arg for arg in proc.cmdline()) or \
            proc.environ().get("ES_PATH_CONF") == node.config_dir
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def node_processes(node: EsNode) -> list[psutil.Process]:
    """The launcher and its descendants (the server JVM), when the launcher is ours."""
    if not node.pid or not _is_our_node(node.pid, node):
        return []
    with suppress(psutil.NoSuchProcess):
        proc = psutil.Process(node.pid)
        return [proc, *proc.children(recursive=True)]
    return []


def stop_node_processes(node: EsNode, grace: float = 20.0, sig: int = signal.SIGTERM) -> bool:
    """``sig`` (SIGTERM: a clean shutdown) to the node's process group and every descendant, SIGKILL after
    ``grace`` seconds. True when something was stopped."""
    procs = node_processes(node)
    if not procs:
        return False
    for proc in procs:
        with suppress(psutil.NoSuchProcess):
            proc.send_signal(sig)
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        with suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)
    return True


def es_rss_bytes(pids: list[int]) -> int:
    """Resident memory of the given node launchers and all their descendants (the server JVMs)."""
    total = 0
    for pid in pids:
        with suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            proc = psutil.Process(pid)
            for p in [proc, *proc.children(recursive=True)]:
                with suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    total += p.memory_info().rss
    return total


def _log_tail(path: str | Path, lines: int = 12) -> str:
    """The last lines of a log, stack-trace frames left out (they push the actual error off the tail)."""
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no log)"
    return "\n".join([ln for ln in text if not ln.lstrip().startswith(("at ", "..."))][-lines:])


def http_json(url: str, method: str = "GET", body: Any = None, auth: tuple[str, str] | None = None,
              timeout: float = 10.0) -> tuple[int, Any]:
    """A tiny JSON client on urllib (no dependency on the elasticsearch package for lifecycle checks)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    text = raw.decode(errors="replace")
    try:
        return status, json.loads(text) if text else None
    except json.JSONDecodeError:
        return status, text


# ---- the cluster -----------------------------------------------------------------------------------


class LocalCluster:
    """``up()`` → :class:`ClusterState`; ``down()`` stops every node process it started, by PID."""

    def __init__(
        self,
        base_dir: str | Path,
        nodes: int = 1,
        base_http_port: int | None = None,
        cluster_name: str = "sokhund-local",
        heap_mb: int = 512,
        security: bool = False,
        password: str = "sokhund-secret",
        version: str = ES_VERSION,
        dist_root: str | Path | None = None,
        owned: bool = True,
    ) -> None:
        if nodes < 1:
            raise ValueError("nodes must be >= 1")
        self.base_dir = Path(base_dir).resolve()
        self.n_nodes = nodes
        self.base_http_port = base_http_port
        self.cluster_name = cluster_name
        self.heap_mb = heap_mb
        self.security = security
        self.password = password
        self.version = version
        self.dist_root = dist_root
        self.owned = owned
        self.state = ClusterState(base_dir=str(self.base_dir), cluster_name=cluster_name, version=version,
                                  es_home="")
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._atexit = False

    @property
    def state_file(self) -> Path:
        return self.base_dir / STATE_FILE

    @property
    def url(self) -> str:
        return self.state.url

    @property
    def auth(self) -> tuple[str, str] | None:
        """Basic-auth credentials of the superuser (None without security)."""
        return (SUPERUSER, self.password) if self.security else None

    @property
    def reader_auth(self) -> tuple[str, str] | None:
        """Basic-auth credentials of the read-only user (None without security)."""
        return (READER, self.password) if self.security else None

    # ---- public -----------------------------------------------------------------------------------

    def up(self, timeout: float = 120.0) -> ClusterState:
        started = time.monotonic()
        es_home = ensure_distribution(self.dist_root, self.version)
        user = ensure_es_user()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if user is not None:
            self.base_dir.chmod(self.base_dir.stat().st_mode | 0o005)
            _check_traversable(self.base_dir)
            _check_traversable(es_home)
        if self.owned and not self._atexit:
            atexit.register(self.down)
            self._atexit = True
        self.state = ClusterState(base_dir=str(self.base_dir), cluster_name=self.cluster_name,
                                  version=self.version, es_home=str(es_home), security=self.security,
                                  username=SUPERUSER if self.security else None,
                                  password=self.password if self.security else None)
        self._make_nodes()
        try:
            for node in self.state.nodes:
                self._write_config(node, es_home, user)
            for node in self.state.nodes:
                self._spawn(node, es_home, user)
            self.state.save(self.state_file)  # before waiting: 'sokhund es down' can stop a slow boot
            self.wait_healthy(self.n_nodes, deadline=started + timeout)
        except BaseException:
            self.down()
            raise
        self.state.boot_seconds = round(time.monotonic() - started, 2)
        self.state.started_at = time.time()
        self.state.save(self.state_file)
        return self.state

    def down(self) -> list[int]:
        """Stop every node (SIGTERM, then SIGKILL), only processes that still run our node's config."""
        stopped = []
        for node in self.state.nodes:
            if node.pid and stop_node_processes(node):
                stopped.append(node.pid)
            proc = self._procs.pop(node.name, None)
            if proc is not None:
                with suppress(Exception):
                    proc.wait(5)
            node.pid = None
        with suppress(FileNotFoundError):
            self.state_file.unlink()
        return stopped

    def status(self) -> dict[str, Any]:
        """Which node processes run, cluster health (None when no node answers) and RSS."""
        return cluster_status(self.state)

    def kill_node(self, index: int, sig: int = signal.SIGKILL) -> None:
        """Stop one node abruptly (fault tests: 'a data node died')."""
        node = self.state.nodes[index]
        stop_node_processes(node, grace=10.0, sig=sig)
        proc = self._procs.pop(node.name, None)
        if proc is not None:
            with suppress(Exception):
                proc.wait(5)
        node.pid = None
        self.state.save(self.state_file)

    def start_node(self, index: int, timeout: float = 90.0) -> EsNode:
        """(Re)start a node from its config and data directory, e.g. after :meth:`kill_node`."""
        node = self.state.nodes[index]
        if node.pid and _is_our_node(node.pid, node):
            return node
        self._spawn(node, Path(self.state.es_home), ensure_es_user())
        self.state.save(self.state_file)
        self.wait_healthy(sum(1 for n in self.state.nodes if n.pid), deadline=time.monotonic() + timeout)
        return node

    def request(self, method: str, path: str, body: Any = None, node: int | None = None) -> tuple[int, Any]:
        """A JSON request to one live node (the first live one by default), as the superuser if secured."""
        target = self.state.nodes[node] if node is not None else next(n for n in self.state.nodes if n.pid)
        return http_json(target.url + path, method, body, auth=self.auth)

    def wait_healthy(self, nodes: int, deadline: float, status: str = "yellow") -> dict[str, Any]:
        """Until every live node answers and the cluster reports ``nodes`` nodes and at least ``status``."""
        last = "no answer"
        while True:
            live = [n for n in self.state.nodes if n.pid]
            for node in live:
                self._check_alive(node)
            try:
                code, body = http_json(
                    f"{live[0].url}/_cluster/health?wait_for_status={status}&wait_for_nodes={nodes}&timeout=2s",
                    auth=self.auth, timeout=5)
                if code == 200 and isinstance(body, dict) and not body.get("timed_out"):
                    if all(self._answers(n) for n in live[1:]):
                        return body
                last = f"HTTP {code}: {body}"
            except OSError as exc:
                last = str(exc)
            if time.monotonic() > deadline:
                node = live[0]
                raise LocalClusterError(
                    f"Elasticsearch cluster {self.cluster_name!r} ({len(live)} nodes) was not {status} with "
                    f"{nodes} nodes in time (last answer: {last}); log {self._server_log(node)}:\n"
                    f"{_log_tail(self._server_log(node))}\nconsole {node.console_log}:\n"
                    f"{_log_tail(node.console_log)}")
            time.sleep(0.5)

    # ---- internals --------------------------------------------------------------------------------

    def _make_nodes(self) -> None:
        count = self.n_nodes
        if self.base_http_port:
            http_ports = [self.base_http_port + i for i in range(count)]
            transport_ports = free_ports(count)
        else:
            ports = free_ports(2 * count)
            http_ports, transport_ports = ports[:count], ports[count:]
        self.state.nodes = [
            EsNode(name=f"node-{i}", node_dir=str(self.base_dir / f"node-{i}"), http_port=http_ports[i],
                   transport_port=transport_ports[i])
            for i in range(count)
        ]

    def _settings(self, node: EsNode) -> dict[str, Any]:
        nd = Path(node.node_dir)
        settings: dict[str, Any] = {
            "cluster.name": self.cluster_name,
            "node.name": node.name,
            "path.data": str(nd / "data"),
            "path.logs": str(nd / "logs"),
            "network.host": "127.0.0.1",  # loopback only, for HTTP and transport alike
            "http.port": node.http_port,
            "transport.port": node.transport_port,
            "bootstrap.memory_lock": False,
            "cluster.routing.allocation.disk.threshold_enabled": False,  # tests on a full CI disk
            "action.destructive_requires_name": False,
            "telemetry.metrics.enabled": False,  # apm module: never ship anything anywhere
            "telemetry.tracing.enabled": False,
            "xpack.security.enabled": self.security,
        }
        # settings of modules integ-test-zip lacks are *unknown* (a fatal boot error): set only if present
        modules = Path(self.state.es_home) / "modules"
        if (modules / "ingest-geoip").exists():
            settings["ingest.geoip.downloader.enabled"] = False  # would download GeoLite2 databases
        if (modules / "x-pack-ml").exists():
            settings["xpack.ml.enabled"] = False
        if self.n_nodes == 1:
            settings["discovery.type"] = "single-node"
        else:
            settings["discovery.seed_hosts"] = [f"127.0.0.1:{n.transport_port}" for n in self.state.nodes]
            settings["cluster.initial_master_nodes"] = [n.name for n in self.state.nodes]
        if self.security:  # plain http on loopback: no TLS, a file-realm superuser, API keys on
            settings["xpack.security.http.ssl.enabled"] = False
            settings["xpack.security.transport.ssl.enabled"] = False
            settings["xpack.security.authc.api_key.enabled"] = True
        return settings

    def _write_config(self, node: EsNode, es_home: Path, user: pwd.struct_passwd | None) -> None:
        nd = Path(node.node_dir)
        shutil.rmtree(nd, ignore_errors=True)
        for sub in ("data", "logs", "tmp"):
            (nd / sub).mkdir(parents=True)
        # a private config dir per node: ES writes its keystore there, the file realm reads users from it
        shutil.copytree(es_home / "config", node.config_dir)
        with suppress(FileNotFoundError):
            (Path(node.config_dir) / "elasticsearch.keystore").unlink()  # ES creates a fresh one per node
        for name in ("users", "users_roles"):  # empty file realm; elasticsearch-users needs the files
            (Path(node.config_dir) / name).write_text("")
        lines = [f"{k}: {json.dumps(v)}" for k, v in self._settings(node).items()]
        (Path(node.config_dir) / "elasticsearch.yml").write_text("\n".join(lines) + "\n")
        if self.security:
            self._add_users(node, es_home)
        if user is not None:
            for path in [nd, *nd.rglob("*")]:
                os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)

    def _add_users(self, node: EsNode, es_home: Path) -> None:
        """File realm: a superuser and a read-only user (bcrypt hashes written by ES's own tool)."""
        with open(Path(node.config_dir) / "roles.yml", "a") as roles:
            roles.write("\n" + READER_ROLE_YAML)
        for name, role in ((SUPERUSER, "superuser"), (READER, READER_ROLE)):
            done = subprocess.run(
                [str(es_home / "bin" / "elasticsearch-users"), "useradd", name, "-p", self.password,
                 "-r", role],
                env=self._env(node), capture_output=True, text=True, timeout=120,
            )
            if done.returncode:
                raise LocalClusterError(f"elasticsearch-users useradd {name} failed for {node.name}: "
                                        f"{(done.stdout + done.stderr).strip()}")

    def _env(self, node: EsNode) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ES_", "JAVA_TOOL", "_JAVA"))}
        env.update({
            "ES_JAVA_HOME": str(java_home()),
            "ES_PATH_CONF": node.config_dir,
            "ES_TMPDIR": str(Path(node.node_dir) / "tmp"),  # not /tmp/elasticsearch-*: nothing left behind
            "ES_JAVA_OPTS": f"-Xms{self.heap_mb}m -Xmx{self.heap_mb}m -XX:-HeapDumpOnOutOfMemoryError",
            "HOME": node.node_dir,
        })
        return env

    def _spawn(self, node: EsNode, es_home: Path, user: pwd.struct_passwd | None) -> None:
        logfile = open(node.console_log, "ab")  # handed to the child, closed here after the fork
        try:
            proc = subprocess.Popen(
                [str(es_home / "bin" / "elasticsearch")], cwd=node.node_dir, env=self._env(node),
                stdout=logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                user=user.pw_uid if user else None, group=user.pw_gid if user else None,
                extra_groups=[] if user else None,
            )
        finally:
            logfile.close()
        self._procs[node.name] = proc
        node.pid = proc.pid

    def _check_alive(self, node: EsNode) -> None:
        proc = self._procs.get(node.name)
        if proc is not None and proc.poll() is not None:
            raise LocalClusterError(
                f"Elasticsearch {node.name} exited ({proc.returncode}) while starting; log "
                f"{self._server_log(node)}:\n{_log_tail(self._server_log(node))}\nconsole "
                f"{node.console_log}:\n{_log_tail(node.console_log)}")

    def _answers(self, node: EsNode) -> bool:
        # not "GET /": integ-test-zip answers it 405 (no main action), so client.info()/ping() fail too
        try:
            code, _ = http_json(node.url + "/_nodes/_local?filter_path=nodes.*.name", auth=self.auth, timeout=3)
            return code == 200
        except OSError:
            return False

    def _server_log(self, node: EsNode) -> Path:
        return Path(node.node_dir) / "logs" / f"{self.cluster_name}.log"


# ---- state-file operations (CLI) -------------------------------------------------------------------


def down_from_state(base_dir: Path) -> list[int]:
    """Stop the nodes listed in a state file (another process started the cluster)."""
    path = base_dir / STATE_FILE
    if not path.exists():
        return []
    state = ClusterState.load(path)
    stopped = [n.pid for n in state.nodes if n.pid and stop_node_processes(n)]
    path.unlink(missing_ok=True)
    return stopped


def cluster_status(state: ClusterState) -> dict[str, Any]:
    running = {n.name: bool(n.pid and _is_our_node(n.pid, n)) for n in state.nodes}
    auth = (state.username, state.password) if state.security and state.username and state.password else None
    health = None
    for node in state.nodes:
        if running[node.name]:
            with suppress(OSError):
                code, body = http_json(node.url + "/_cluster/health", auth=auth, timeout=3)
                if code == 200:
                    health = body
                    break
    return {"running": running, "health": health, "rss_bytes": es_rss_bytes(state.pids()), "url": state.url}


def status_from_state(base_dir: Path) -> tuple[ClusterState | None, dict[str, Any]]:
    path = base_dir / STATE_FILE
    if not path.exists():
        return None, {}
    state = ClusterState.load(path)
    return state, cluster_status(state)
