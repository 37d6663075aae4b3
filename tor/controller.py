"""Launch a tor process or attach to a running one, through stem.

* authentication: cookie (read from the path tor announces in PROTOCOLINFO) or password;
* NEWNYM that respects tor's rate limit (stem reports the wait), and per-site circuit rotation: close the
  circuits whose SOCKS username is the site (stream isolation: ``IsolateSOCKSAuth``, username = site);
* circuit health for crawl stats: circuits built and failed since attach, open circuits, last NEWNYM;
* ephemeral v3 onion services (ADD_ONION) and stream → circuit look-ups for isolation checks.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import stem
import stem.connection
import stem.control
import stem.process
from stem import CircStatus, Signal
from stem.control import EventType

log = logging.getLogger(__name__)
# stem logs every control message at DEBUG and every unknown circuit purpose of tor 0.4.9 at INFO
logging.getLogger("stem").setLevel(logging.WARNING)

DEFAULT_SOCKS = "127.0.0.1:9050"
DEFAULT_CONTROL = "127.0.0.1:9051"


class TorControlError(RuntimeError):
    """tor cannot be launched, reached or authenticated to; the message says which and where."""


def parse_endpoint(value: str | tuple[str, int], default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``"127.0.0.1:9050"``, ``"9050"`` or ``("127.0.0.1", 9050)`` → ``("127.0.0.1", 9050)``."""
    if isinstance(value, tuple):
        return value[0], int(value[1])
    text = str(value).strip()
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = default_host, text
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"bad tor endpoint {value!r}: expected HOST:PORT") from None
    if not 0 < number < 65536:
        raise ValueError(f"bad tor endpoint {value!r}: port {number} out of range")
    return host or default_host, number


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port (used to see whether tor is up)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class NewnymResult:
    sent: bool
    wait_seconds: float  # how long until tor accepts the next NEWNYM
    reason: str = ""


@dataclass
class CircuitHealth:
    """Numbers for crawl stats (``tor/...``)."""

    circuits_built: int = 0
    circuits_failed: int = 0
    circuits_open: int = 0
    newnym_sent: int = 0
    newnym_rate_limited: int = 0
    last_newnym: float | None = None  # unix time
    sites_rotated: int = 0
    bootstrap_percent: int = 0

    def as_stats(self, prefix: str = "tor/") -> dict[str, Any]:
        return {prefix + k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class CircuitInfo:
    id: str
    status: str
    purpose: str
    socks_username: str | None
    path: tuple[str, ...] = field(default_factory=tuple)


class TorController:
    """One authenticated control connection (and the tor process, when we launched it)."""

    def __init__(self, controller: stem.control.Controller, process: subprocess.Popen[bytes] | None = None) -> None:
        self.controller = controller
        self.process = process
        self._lock = threading.Lock()
        self.health_counters = CircuitHealth()
        self._seen_circuits: set[str] = set()
        self._listening = False

    # ---- connect / launch -------------------------------------------------------------------------

    @classmethod
    def attach(
        cls,
        control: str | tuple[str, int] = DEFAULT_CONTROL,
        password: str | None = None,
        cookie_path: str | Path | None = None,
    ) -> TorController:
        """Connect to a running tor's ControlPort and authenticate (cookie or password, as tor asks)."""
        host, port = parse_endpoint(control)
        try:
            ctl = stem.control.Controller.from_port(address=host, port=port)
        except stem.SocketError as exc:
            raise TorControlError(f"cannot reach the tor control port at {host}:{port}: {exc}") from exc
        try:
            if cookie_path is not None:
                stem.connection.authenticate_cookie(ctl, str(cookie_path))
            else:
                ctl.authenticate(password=password)
        except (stem.connection.AuthenticationFailure, OSError) as exc:
            ctl.close()
            how = "cookie " + str(cookie_path) if cookie_path else ("password" if password else "cookie/none")
            raise TorControlError(f"tor at {host}:{port} refused authentication ({how}): {exc}") from exc
        return cls(ctl)

    @classmethod
    def launch(
        cls,
        data_dir: str | Path,
        config: Mapping[str, str | list[str]] | None = None,
        tor_cmd: str = "tor",
        completion_percent: int = 100,
        timeout: float = 90,
        password: str | None = None,
        take_ownership: bool = True,
    ) -> TorController:
        """Start tor with stem's ``launch_tor_with_config``, SocksPort/ControlPort ``auto`` on 127.0.0.1.

        ``completion_percent=0`` with ``{"DisableNetwork": "1"}`` gives a tor that answers the control
        protocol in a fraction of a second (unit tests). The ports tor picked are read back from the
        files tor writes, so nothing races for a port.
        """
        data = Path(data_dir)
        data.mkdir(parents=True, exist_ok=True)
        os.chmod(data, 0o700)
        control_file = data / "control-port"
        control_file.unlink(missing_ok=True)
        torrc: dict[str, str | list[str]] = {
            "DataDirectory": str(data),
            "SocksPort": "127.0.0.1:auto IsolateSOCKSAuth",
            "ControlPort": "127.0.0.1:auto",
            "ControlPortWriteToFile": str(control_file),
            "CookieAuthentication": "1",
            "CookieAuthFile": str(data / "control_auth_cookie"),
            "ClientUseIPv6": "0",
            "Log": "notice stdout",
        }
        if password:
            torrc["HashedControlPassword"] = hash_password(password, tor_cmd)
        torrc.update(dict(config or {}))
        try:
            process = stem.process.launch_tor_with_config(
                config=torrc,
                tor_cmd=tor_cmd,
                completion_percent=completion_percent,
                timeout=timeout,
                take_ownership=take_ownership,
            )
        except OSError as exc:
            raise TorControlError(f"could not launch {tor_cmd} (data dir {data}): {exc}") from exc
        deadline = time.monotonic() + 10
        while not control_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        try:
            line = control_file.read_text().strip().splitlines()[0]  # "PORT=127.0.0.1:41235"
            host, port = parse_endpoint(line.split("=", 1)[1])
            ctl = cls.attach((host, port), password=password)
        except Exception:
            process.kill()
            process.wait(5)
            raise
        ctl.process = process
        return ctl

    def close(self) -> None:
        with suppress(Exception):
            self.controller.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def __enter__(self) -> TorController:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- facts ------------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        if self.process is not None:
            return self.process.pid
        with suppress(Exception):
            return int(self.controller.get_info("process/pid"))
        return None

    def socks_endpoints(self) -> list[tuple[str, int]]:
        return [(h, int(p)) for h, p in self.controller.get_listeners(stem.control.Listener.SOCKS)]

    def bootstrap_percent(self) -> int:
        phase = self.controller.get_info("status/bootstrap-phase", "")
        for part in phase.split():
            if part.startswith("PROGRESS="):
                return int(part.split("=", 1)[1])
        return 0

    def is_alive(self) -> bool:
        return self.controller.is_alive()

    # ---- identity ---------------------------------------------------------------------------------

    def new_identity(self) -> NewnymResult:
        """Send NEWNYM unless tor's rate limit says to wait; then report how long until the next one."""
        with self._lock:
            wait = float(self.controller.get_newnym_wait())
            if not self.controller.is_newnym_available():
                self.health_counters.newnym_rate_limited += 1
                return NewnymResult(False, wait, f"rate limited by tor: next NEWNYM in {wait:.1f}s")
            self.controller.signal(Signal.NEWNYM)
            self.health_counters.newnym_sent += 1
            self.health_counters.last_newnym = time.time()
            return NewnymResult(True, float(self.controller.get_newnym_wait()))

    def rotate_site(self, site: str) -> list[str]:
        """Close every circuit built for SOCKS username ``site``: its next stream gets a fresh circuit."""
        closed = []
        for circ in self.circuits():
            if circ.socks_username == site:
                with suppress(stem.InvalidRequest, stem.InvalidArguments):
                    self.controller.close_circuit(circ.id)
                    closed.append(circ.id)
        self.health_counters.sites_rotated += 1
        return closed

    # ---- circuits and streams ---------------------------------------------------------------------

    def circuits(self) -> list[CircuitInfo]:
        return [
            CircuitInfo(
                id=c.id,
                status=str(c.status),
                purpose=str(c.purpose),
                socks_username=c.socks_username,
                path=tuple(fp for fp, _ in c.path),
            )
            for c in self.controller.get_circuits([])
        ]

    def stream_circuits(self) -> dict[str, tuple[str, str | None]]:
        """Open streams: stream id → (target, circuit id)."""
        return {s.id: (s.target, s.circ_id) for s in self.controller.get_streams([])}

    def watch_circuits(self) -> None:
        """Count circuit builds and failures from now on (CIRC events), for :meth:`health`."""
        if self._listening:
            return
        self.controller.add_event_listener(self._on_circ, EventType.CIRC)
        self._listening = True

    def _on_circ(self, event: Any) -> None:
        if event.status == CircStatus.BUILT and event.id not in self._seen_circuits:
            self._seen_circuits.add(event.id)
            self.health_counters.circuits_built += 1
        elif event.status == CircStatus.FAILED:
            self.health_counters.circuits_failed += 1

    def health(self) -> CircuitHealth:
        h = self.health_counters
        with suppress(Exception):
            h.circuits_open = sum(1 for c in self.circuits() if c.status == "BUILT")
            h.bootstrap_percent = self.bootstrap_percent()
        return h

    # ---- onion services ---------------------------------------------------------------------------

    def add_onion_service(
        self, ports: Mapping[int, str], await_publication: bool = False, timeout: float | None = None
    ) -> tuple[str, str]:
        """An ephemeral v3 onion service: virtual port → ``host:port``. Returns (``x.onion``, service id).

        It lives as long as this control connection (not detached)."""
        response = self.controller.create_ephemeral_hidden_service(
            dict(ports), key_type="NEW", key_content="ED25519-V3",
            await_publication=await_publication, timeout=timeout,
        )
        service_id = response.service_id
        return f"{service_id}.onion", service_id

    def remove_onion_service(self, service_id: str) -> bool:
        return bool(self.controller.remove_ephemeral_hidden_service(service_id))

    def onion_services(self) -> list[str]:
        return list(self.controller.list_ephemeral_hidden_services([]))


def hash_password(password: str, tor_cmd: str = "tor") -> str:
    """``tor --hash-password`` (the value for HashedControlPassword)."""
    out = subprocess.run(
        [tor_cmd, "--quiet", "--hash-password", password], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    lines = [line for line in out.splitlines() if line.startswith("16:")]
    if not lines:
        raise TorControlError(f"{tor_cmd} --hash-password gave no hash: {out!r}")
    return lines[-1].strip()


def iter_tor_log(path: Path) -> Iterator[str]:
    """Lines of a tor log file (missing file → nothing)."""
    with suppress(FileNotFoundError), path.open(encoding="utf-8", errors="replace") as fh:
        yield from fh
