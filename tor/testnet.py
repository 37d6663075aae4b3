# Hand-written: Tor's own test-network tool (chutney) is not packaged on PyPI or Debian; this boots the same topology with Debian's tor.
"""A private Tor network on 127.0.0.1, for tests and the demo.

    3 directory authorities + 4 relays + 1 onion-service node + 1 client

An onion connection needs 4 distinct relays (guard, vanguard, rendezvous or intro point, HSDir), and a
client never picks a relay whose consensus bandwidth weight is 0 — which is what a fresh relay that has
carried no traffic advertises. So every authority reads the same ``V3BandwidthsFile`` (1000 for every
relay); tor puts measured values in the consensus only when at least 3 authorities measure, and never
for authorities themselves (their weight stays whatever they advertised, often 0), hence 3 authorities
and 4 ordinary relays. (1 authority + 3 relays boots faster, but ~1 client in 4 could not build onion
paths: "Failed to find node for hop #2".)

Everything binds to 127.0.0.1, the only DirAuthority lines are ours and ``UseDefaultFallbackDirs 0``:
the network never contacts a public relay. Relays resolve DNS through a loopback-only resolv.conf.

Boot order: keys (``tor --list-fingerprint``, ``tor-gencert``, in parallel) → authorities + relays →
wait for a published consensus in which every relay is Running, Valid, Fast, Stable, Guard and has a
bandwidth weight → onion-service node + client → wait for the client's "Bootstrapped 100%" and for
each onion to accept a SOCKS CONNECT. A boot that misses its deadline is torn down and retried once
with fresh keys and ports.

Every process is started in its own session and killed by PID on :meth:`PrivateTorNetwork.down`, at
interpreter exit (``atexit``) when the network is owned by this process, and by ``sokhund tor testnet
down`` from the state file otherwise.
"""

from __future__ import annotations

import atexit
import http.client
import json
import logging
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Mapping
from contextlib import ExitStack, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from tor.onion import parse_onion

log = logging.getLogger(__name__)

STATE_FILE = "testnet.json"
VOTING_INTERVAL = 10
VOTE_DELAY = 2
DIST_DELAY = 2
AUTHORITIES = 3
RELAYS = 4


class TestnetError(RuntimeError):
    """The private network did not come up (the message names the node and its log file)."""


@dataclass(frozen=True)
class ServiceTarget:
    """A local service to expose: ``virtual_port`` on the onion → ``host:port`` on 127.0.0.1."""

    host: str
    port: int
    virtual_port: int = 80

    @classmethod
    def parse(cls, value: str | tuple[str, int] | ServiceTarget) -> ServiceTarget:
        """``"127.0.0.1:8080"``, ``"127.0.0.1:8080@80"`` (onion port after @) or a tuple."""
        if isinstance(value, ServiceTarget):
            return value
        if isinstance(value, tuple):
            return cls(value[0], int(value[1]))
        text, _, vport = str(value).partition("@")
        host, sep, port = text.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"bad service target {value!r}: expected HOST:PORT[@ONIONPORT]")
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError(f"bad service target {value!r}: the private network only exposes 127.0.0.1")
        return cls("127.0.0.1", int(port), int(vport) if vport else 80)


def parse_service_spec(spec: str) -> tuple[str, ServiceTarget]:
    """``NAME=HOST:PORT[@ONIONPORT]`` (the CLI's ``--service``)."""
    name, sep, target = spec.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"bad --service {spec!r}: expected NAME=HOST:PORT")
    name = name.strip()
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"bad --service {spec!r}: service name {name!r} must be letters, digits, _ or -")
    return name, ServiceTarget.parse(target.strip())


@dataclass
class Node:
    name: str
    role: str  # authority | relay | onion | client
    data_dir: str
    torrc: str
    log: str
    pid: int | None = None
    or_port: int | None = None
    dir_port: int | None = None
    socks_port: int | None = None
    control_port: int | None = None


@dataclass
class TestnetState:
    base_dir: str
    nodes: list[Node] = field(default_factory=list)
    onions: dict[str, str] = field(default_factory=dict)  # service name → x.onion
    services: dict[str, list[object]] = field(default_factory=dict)  # name → [host, port, virtual_port]
    boot_seconds: float = 0.0
    started_at: float = 0.0
    boot_attempts: int = 0
    boot_errors: list[str] = field(default_factory=list)  # why earlier attempts failed

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"no node {name!r} in the private network")

    @property
    def client(self) -> Node:
        return self.node("client")

    @property
    def socks(self) -> str:
        return f"127.0.0.1:{self.client.socks_port}"

    @property
    def control(self) -> str:
        return f"127.0.0.1:{self.client.control_port}"

    @property
    def cookie_path(self) -> str:
        return str(Path(self.client.data_dir) / "control_auth_cookie")

    def url(self, service: str, path: str = "/") -> str:
        target = self.services[service]
        vport = int(target[2])  # type: ignore[call-overload]
        port = "" if vport == 80 else f":{vport}"
        return f"http://{self.onions[service]}{port}/{path.lstrip('/')}"

    def pids(self) -> list[int]:
        return [n.pid for n in self.nodes if n.pid]

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> TestnetState:
        raw = json.loads(path.read_text())
        raw["nodes"] = [Node(**n) for n in raw.get("nodes", [])]
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


def _is_our_tor(pid: int, torrc: str) -> bool:
    """Guard against PID reuse: only kill a tor whose command line names our torrc."""
    try:
        proc = psutil.Process(pid)
        return torrc in proc.cmdline() and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def kill_pid(pid: int, torrc: str, grace: float = 3.0) -> bool:
    """SIGTERM, then SIGKILL after ``grace`` seconds. Returns True when a process was stopped."""
    if not _is_our_tor(pid, torrc):
        return False
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _is_our_tor(pid, torrc):
            break
        time.sleep(0.05)
    else:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    return True


def _log_has(path: str | Path, needle: str) -> bool:
    try:
        return needle in Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return False


def _log_tail(path: str | Path, lines: int = 8) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def socks_connect(socks_port: int, host: str, port: int, timeout: float = 10.0) -> bool:
    """A SOCKS5 CONNECT with the host name sent to tor (never resolved here). True when tor connects."""
    try:
        with socket.create_connection(("127.0.0.1", socks_port), timeout=timeout) as s:
            s.sendall(b"\x05\x01\x00")
            if s.recv(2) != b"\x05\x00":
                return False
            name = host.encode("ascii")
            s.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack(">H", port))
            reply = s.recv(10)
            return len(reply) >= 2 and reply[1] == 0
    except OSError:
        return False


def consensus_running_relays(dir_port: int) -> int:
    """Non-authority relays in the authority's current microdesc consensus that a client can use on an
    onion path: Running, Valid, Fast, Stable, Guard and a non-zero bandwidth weight (0 before a consensus)."""
    conn = http.client.HTTPConnection("127.0.0.1", dir_port, timeout=5)
    try:
        conn.request("GET", "/tor/status-vote/current/consensus-microdesc")
        response = conn.getresponse()
        if response.status != 200:
            return 0
        text = response.read().decode("ascii", "replace")
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        conn.close()
    needed = {"Running", "Valid", "Fast", "Stable", "Guard"}
    usable = 0
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith("s "):
            flags = set(line.split()[1:])
        elif line.startswith("w ") and needed <= flags and "Authority" not in flags:
            bandwidth = dict(part.split("=", 1) for part in line.split()[1:] if "=" in part).get("Bandwidth", "0")
            usable += int(bandwidth) > 0
    return usable


# ---- the network -----------------------------------------------------------------------------------


class PrivateTorNetwork:
    """``up()`` → :class:`TestnetState`; ``down()`` kills every process it started, by PID."""

    def __init__(
        self,
        base_dir: str | Path,
        services: Mapping[str, str | tuple[str, int] | ServiceTarget],
        tor_cmd: str = "tor",
        owned: bool = True,
        authorities: int = AUTHORITIES,
        relays: int = RELAYS,
    ) -> None:
        if relays < 4:
            raise ValueError("an onion circuit needs 4 distinct relays with a bandwidth weight: relays >= 4")
        self.authorities = authorities
        self.relays = relays
        self.base_dir = Path(base_dir).resolve()
        self.services = {name: ServiceTarget.parse(t) for name, t in services.items()}
        self.tor_cmd = shutil.which(tor_cmd) or tor_cmd
        self.gencert = shutil.which("tor-gencert") or "tor-gencert"
        self.owned = owned
        self.state = TestnetState(base_dir=str(self.base_dir))
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._atexit = False
        self._log_offsets: dict[str, int] = {}
        self._common: list[str] = []

    @property
    def state_file(self) -> Path:
        return self.base_dir / STATE_FILE

    # ---- public -----------------------------------------------------------------------------------

    def up(self, timeout: float = 50.0, attempts: int = 2) -> TestnetState:
        if shutil.which(self.tor_cmd) is None:
            raise TestnetError(f"tor binary not found ({self.tor_cmd}); install Debian's 'tor' package")
        if self.owned and not self._atexit:
            atexit.register(self.down)
            self._atexit = True
        errors = []
        for attempt in range(1, attempts + 1):
            started = time.monotonic()
            try:
                self._boot(deadline=started + timeout)
            except TestnetError as exc:
                errors.append(f"attempt {attempt}: {exc}")
                log.warning("private tor network: boot attempt %d failed: %s", attempt, exc)
                self.down()
                continue
            self.state.boot_seconds = round(time.monotonic() - started, 2)
            self.state.started_at = time.time()
            self.state.boot_attempts = attempt
            self.state.boot_errors = errors
            self.state.save(self.state_file)
            return self.state
        raise TestnetError("private tor network did not boot:\n" + "\n".join(errors))

    def publish(self, name: str, host: str, port: int, virtual_port: int = 80, timeout: float = 60.0) -> str:
        """Expose one more local service as a v3 onion on the running network (an ephemeral service on
        the onion node, through stem) without rebooting it. Returns the ``.onion`` address."""
        from stem.control import Controller

        node = self.state.node("onion")
        with Controller.from_port(address="127.0.0.1", port=int(node.control_port or 0)) as controller:
            controller.authenticate()
            answer = controller.create_ephemeral_hidden_service(
                {virtual_port: f"{host}:{port}"}, key_type="NEW", key_content="ED25519-V3",
                await_publication=True, detached=True, timeout=timeout,
            )
        onion = f"{answer.service_id}.onion"
        self.state.onions[name] = onion
        self.state.services[name] = [host, port, virtual_port]
        self.state.save(self.state_file)
        return onion

    def unpublish(self, name: str) -> None:
        """Remove an onion published with :meth:`publish`."""
        from stem.control import Controller

        onion = self.state.onions.pop(name, None)
        self.state.services.pop(name, None)
        self.state.save(self.state_file)
        if onion:
            node = self.state.node("onion")
            with Controller.from_port(address="127.0.0.1", port=int(node.control_port or 0)) as controller:
                controller.authenticate()
                controller.remove_ephemeral_hidden_service(onion.removesuffix(".onion"))

    def down(self) -> list[int]:
        """Kill every process this network started (by PID, only if it still runs our torrc)."""
        killed = []
        for node in reversed(self.state.nodes):
            if node.pid and kill_pid(node.pid, node.torrc):
                killed.append(node.pid)
            proc = self._procs.pop(node.name, None)
            if proc is not None:
                with suppress(Exception):
                    proc.wait(2)
            node.pid = None
        with suppress(FileNotFoundError):
            self.state_file.unlink()
        return killed

    def stop_node(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Stop one node abruptly (tests: 'the tor client died')."""
        node = self.state.node(name)
        if node.pid and _is_our_tor(node.pid, node.torrc):
            os.kill(node.pid, sig)
            proc = self._procs.get(name)
            if proc is not None:
                proc.wait(5)
        node.pid = None
        self._save_if_up()

    def start_node(self, name: str, wait_bootstrap: float = 30.0) -> Node:
        """(Re)start a node from its torrc and data directory, e.g. a client after :meth:`stop_node`."""
        node = self.state.node(name)
        self._spawn(node)
        if node.role == "client" and wait_bootstrap:
            self._wait_log(node, "Bootstrapped 100%", time.monotonic() + wait_bootstrap, from_offset=True)
        self._save_if_up()
        return node

    def add_client(self, name: str, wait_bootstrap: float = 30.0) -> Node:
        """One more client on the same network (own data dir, SOCKS and control ports)."""
        socks, control = free_ports(2)
        node = self._node(name, "client", socks_port=socks, control_port=control)
        self._write_torrc(node, self._client_lines(node))
        self.state.nodes.append(node)
        return self.start_node(name, wait_bootstrap)

    # ---- boot -------------------------------------------------------------------------------------

    def _boot(self, deadline: float) -> None:
        if self.base_dir.exists():
            for child in self.base_dir.iterdir():  # keep hs keys: stable onion addresses between boots
                if child.name == "hs-keys":
                    continue
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.state = TestnetState(
            base_dir=str(self.base_dir),
            services={k: [v.host, v.port, v.virtual_port] for k, v in self.services.items()},
        )
        self._procs = {}
        resolv = self.base_dir / "resolv.conf"
        resolv.write_text("nameserver 127.0.0.1\n")  # relays never ask a real DNS server
        n_auth, n_relays = self.authorities, self.relays
        ports = free_ports(2 * n_auth + n_relays + 3)
        auths = [self._node(f"auth{i}", "authority", or_port=ports[2 * i], dir_port=ports[2 * i + 1])
                 for i in range(n_auth)]
        relays = [self._node(f"relay{i}", "relay", or_port=ports[2 * n_auth + i]) for i in range(n_relays)]
        base = 2 * n_auth + n_relays
        onion = self._node("onion", "onion", control_port=ports[base])
        client = self._node("client", "client", socks_port=ports[base + 1], control_port=ports[base + 2])
        self.state.nodes = [*auths, *relays, onion, client]

        fingerprints = self._fingerprints([*auths, *relays])
        dir_authorities = self._make_authority_keys(auths, fingerprints)
        # Every relay gets the same *measured* bandwidth. Relays that have carried no traffic yet
        # advertise 0, and clients never pick a 0-weight relay: with fewer than 4 usable relays there are
        # no onion circuits. Measured values reach the consensus only from 3 or more authorities.
        bandwidths = self.base_dir / "bandwidths"
        bandwidths.write_text(f"{int(time.time())}\n" + "".join(
            f"node_id=${fp} bw=1000\n" for fp in fingerprints.values()))
        self._common = [
            "TestingTorNetwork 1",
            *dir_authorities,
            "UseDefaultFallbackDirs 0",
            "Address 127.0.0.1",
            "OutboundBindAddress 127.0.0.1",
            "ClientUseIPv6 0",
            "PathsNeededToBuildCircuits 0.67",
            "Schedulers Vanilla",
            f"ServerDNSResolvConfFile {resolv}",
            "ExitPolicy reject *:*",
            "SafeLogging 0",
            "Log notice stdout",
        ]
        now = time.time()
        # first vote ~5 s after start: valid-after boundary = vote time + vote delay + dist delay
        offset = int(now + 5 + VOTE_DELAY + DIST_DELAY) % VOTING_INTERVAL
        for auth in auths:
            self._write_torrc(auth, [
                f"Nickname {auth.name}",
                f"ORPort 127.0.0.1:{auth.or_port}",
                f"DirPort 127.0.0.1:{auth.dir_port}",
                "SocksPort 0",
                "AuthoritativeDirectory 1",
                "V3AuthoritativeDirectory 1",
                "ContactInfo sokhund-testnet@localhost",
                "AssumeReachable 1",
                "TestingDirAuthVoteGuard *",
                "TestingDirAuthVoteHSDir *",
                f"V3AuthVotingInterval {VOTING_INTERVAL}",
                f"V3AuthVoteDelay {VOTE_DELAY}",
                f"V3AuthDistDelay {DIST_DELAY}",
                f"TestingV3AuthInitialVotingInterval {VOTING_INTERVAL}",
                f"TestingV3AuthInitialVoteDelay {VOTE_DELAY}",
                f"TestingV3AuthInitialDistDelay {DIST_DELAY}",
                f"TestingV3AuthVotingStartOffset {offset}",
                # a fresh relay would wait days for Stable; onion circuits need Stable (NEED_UPTIME) relays
                "AuthDirVoteStableGuaranteeMinUptime 0",
                "AuthDirVoteStableGuaranteeMTBF 0",
                f"V3BandwidthsFile {bandwidths}",
            ])
        for relay in relays:
            self._write_torrc(relay, [
                f"Nickname {relay.name}",
                f"ORPort 127.0.0.1:{relay.or_port}",
                "SocksPort 0",
                "ContactInfo sokhund-testnet@localhost",
                "AssumeReachable 1",
                "DirCache 0",
            ])
        hs_lines = [f"ControlPort 127.0.0.1:{onion.control_port}", "CookieAuthentication 1", "SocksPort 0"]
        keys = self.base_dir / "hs-keys"
        keys.mkdir(mode=0o700, exist_ok=True)
        for name, target in self.services.items():
            hs_dir = keys / name
            hs_dir.mkdir(mode=0o700, exist_ok=True)
            os.chmod(hs_dir, 0o700)
            hs_lines += [
                f"HiddenServiceDir {hs_dir}",
                f"HiddenServicePort {target.virtual_port} {target.host}:{target.port}",
            ]
        self._write_torrc(onion, [f"Nickname {onion.name}", *hs_lines])
        self._write_torrc(client, self._client_lines(client))

        for node in [*auths, *relays]:
            self._spawn(node)
        first = auths[0]
        self._wait_log(first, "Published microdesc consensus", deadline)
        # a client that starts on a consensus missing a relay (or with a 0 bandwidth weight) cannot
        # build onion paths until it refetches: wait until every (non-authority) relay is usable
        while consensus_running_relays(first.dir_port or 0) < n_relays:
            self._check_deadline(first, deadline, f"publish a consensus with all {n_relays} relays usable")
            time.sleep(0.5)
        self._spawn(onion)
        self._spawn(client)
        for name in self.services:
            hostname = keys / name / "hostname"
            while not hostname.exists():
                self._check_deadline(onion, deadline, "write the onion hostname")
                time.sleep(0.05)
            self.state.onions[name] = str(parse_onion(hostname.read_text().strip()))
        self._wait_log(client, "Bootstrapped 100%", deadline)
        for name, address in self.state.onions.items():
            vport = self.services[name].virtual_port
            while not socks_connect(client.socks_port or 0, address, vport, timeout=5):
                self._check_deadline(client, deadline, f"reach onion {name} ({address}:{vport})")
                time.sleep(0.5)

    def _client_lines(self, node: Node) -> list[str]:
        return [
            f"SocksPort 127.0.0.1:{node.socks_port} IsolateSOCKSAuth",
            f"ControlPort 127.0.0.1:{node.control_port}",
            "CookieAuthentication 1",
        ]

    def _node(self, name: str, role: str, **ports: int) -> Node:
        data = self.base_dir / name
        data.mkdir(mode=0o700, parents=True, exist_ok=True)
        return Node(name=name, role=role, data_dir=str(data), torrc=str(data / "torrc"),
                    log=str(data / "tor.log"), **ports)

    def _write_torrc(self, node: Node, lines: list[str]) -> None:
        body = [f"DataDirectory {node.data_dir}", f"PidFile {node.data_dir}/tor.pid", *self._common, *lines]
        Path(node.torrc).write_text("\n".join(body) + "\n")

    def _fingerprints(self, nodes: list[Node]) -> dict[str, str]:
        """Create each relay's identity key (``tor --list-fingerprint``, in parallel); name → fingerprint."""
        procs = {}
        for node in nodes:
            empty = Path(node.data_dir) / "empty-torrc"
            empty.write_text("")
            procs[node.name] = subprocess.Popen(
                [self.tor_cmd, "--list-fingerprint", "-f", str(empty), "--DataDirectory", node.data_dir,
                 "--ORPort", f"127.0.0.1:{node.or_port}", "--Nickname", node.name, "--Address", "127.0.0.1",
                 "--Log", "err stderr"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
        result = {}
        for name, proc in procs.items():
            out, err = proc.communicate(timeout=60)
            for line in out.splitlines():
                parts = line.split()
                if parts and parts[0] == name:
                    result[name] = "".join(parts[1:])
            if len(result.get(name, "")) != 40:
                raise TestnetError(f"could not create the identity key of {name}: {out!r} {err!r}")
        return result

    def _make_authority_keys(self, auths: list[Node], fingerprints: dict[str, str]) -> list[str]:
        """v3 authority keys (``tor-gencert``, in parallel) → one ``DirAuthority`` line per authority."""
        procs = []
        for auth in auths:
            keys = Path(auth.data_dir) / "keys"
            keys.mkdir(mode=0o700, parents=True, exist_ok=True)
            proc = subprocess.Popen(
                [self.gencert, "--create-identity-key", "-m", "12", "-a", f"127.0.0.1:{auth.dir_port}",
                 "-i", str(keys / "authority_identity_key"), "-s", str(keys / "authority_signing_key"),
                 "-c", str(keys / "authority_certificate"), "--passphrase-fd", "0"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
            procs.append((auth, keys, proc))
        lines = []
        for auth, keys, proc in procs:
            out, err = proc.communicate(b"\n", timeout=120)
            v3ident = ""
            with suppress(FileNotFoundError):
                for line in (keys / "authority_certificate").read_text().splitlines():
                    if line.startswith("fingerprint "):
                        v3ident = line.split()[1]
            if proc.returncode or not v3ident:
                raise TestnetError(f"tor-gencert failed for {auth.name}: {err.decode(errors='replace')}")
            lines.append(f"DirAuthority {auth.name} orport={auth.or_port} no-v2 v3ident={v3ident} "
                         f"127.0.0.1:{auth.dir_port} {fingerprints[auth.name]}")
        return lines

    def _spawn(self, node: Node) -> None:
        logfile = open(node.log, "ab")  # handed to the child, closed here after the fork
        self._log_offsets[node.name] = Path(node.log).stat().st_size
        try:
            proc = subprocess.Popen(
                [self.tor_cmd, "-f", node.torrc], stdout=logfile, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        finally:
            logfile.close()
        self._procs[node.name] = proc
        node.pid = proc.pid

    def _wait_log(self, node: Node, needle: str, deadline: float, from_offset: bool = False) -> None:
        start = self._log_offsets.get(node.name, 0) if from_offset else 0
        while True:
            try:
                with open(node.log, "rb") as fh:
                    fh.seek(start)
                    if needle.encode() in fh.read():
                        return
            except FileNotFoundError:
                pass
            self._check_deadline(node, deadline, f"log {needle!r}")
            time.sleep(0.1)

    def _check_deadline(self, node: Node, deadline: float, what: str) -> None:
        proc = self._procs.get(node.name)
        if proc is not None and proc.poll() is not None:
            raise TestnetError(f"{node.role} {node.name} exited ({proc.returncode}) before it could {what}; "
                               f"log {node.log}:\n{_log_tail(node.log)}")
        if time.monotonic() > deadline:
            raise TestnetError(f"{node.role} {node.name} did not {what} in time; log {node.log}:\n"
                               f"{_log_tail(node.log)}")

    def _save_if_up(self) -> None:
        if self.state_file.parent.exists() and any(n.pid for n in self.state.nodes):
            self.state.save(self.state_file)


# ---- state-file operations (CLI) -------------------------------------------------------------------


def down_from_state(base_dir: Path) -> list[int]:
    """Kill the processes listed in a state file (another process started the network)."""
    path = base_dir / STATE_FILE
    if not path.exists():
        return []
    state = TestnetState.load(path)
    killed = [n.pid for n in state.nodes if n.pid and kill_pid(n.pid, n.torrc)]
    path.unlink(missing_ok=True)
    return killed


def status_from_state(base_dir: Path) -> tuple[TestnetState | None, dict[str, bool]]:
    path = base_dir / STATE_FILE
    if not path.exists():
        return None, {}
    state = TestnetState.load(path)
    return state, {n.name: bool(n.pid and _is_our_tor(n.pid, n.torrc)) for n in state.nodes}


def tor_rss_bytes(pids: list[int]) -> int:
    """Total resident memory of the given processes (missing ones count 0)."""
    total = 0
    for pid in pids:
        with suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += psutil.Process(pid).memory_info().rss
    return total
