"""tor/controller.py against a real tor started with DisableNetwork 1 (answers the control protocol in
a fraction of a second, never touches a network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tor.controller import TorControlError, TorController, parse_endpoint, port_open
from tor.onion import parse_onion
from tor.testnet import free_ports

pytestmark = pytest.mark.tor


def test_launch_and_cookie_auth(offline_tor: TorController, tmp_path: Path) -> None:
    assert offline_tor.pid and offline_tor.is_alive()
    port = offline_tor.controller.get_socket().port
    cookie = tmp_path / "tor" / "control_auth_cookie"
    assert cookie.exists()
    with TorController.attach(("127.0.0.1", port), cookie_path=cookie) as second:
        assert second.pid == offline_tor.pid
    with TorController.attach(f"127.0.0.1:{port}") as auto:  # stem reads the cookie path from tor
        assert auto.controller.get_version().major == 0


def test_password_auth(tor_binary: str, tmp_path: Path) -> None:
    with TorController.launch(tmp_path / "t", {"DisableNetwork": "1", "CookieAuthentication": "0"},
                              tor_cmd=tor_binary, completion_percent=0, password="hemligt") as ctl:
        port = ctl.controller.get_socket().port
        with TorController.attach(("127.0.0.1", port), password="hemligt") as ok:
            assert ok.is_alive()
        with pytest.raises(TorControlError, match=rf"127.0.0.1:{port} refused authentication"):
            TorController.attach(("127.0.0.1", port), password="fel")


def test_attach_to_nothing_names_the_port() -> None:
    (port,) = free_ports(1)
    assert not port_open("127.0.0.1", port)
    with pytest.raises(TorControlError, match=f"127.0.0.1:{port}"):
        TorController.attach(("127.0.0.1", port))


def test_newnym_respects_rate_limit(offline_tor: TorController) -> None:
    first = offline_tor.new_identity()
    assert first.sent and 0 < first.wait_seconds <= 10
    second = offline_tor.new_identity()
    assert not second.sent and "rate limited" in second.reason and second.wait_seconds > 0
    health = offline_tor.health()
    assert health.newnym_sent == 1 and health.newnym_rate_limited == 1 and health.last_newnym
    stats = health.as_stats()
    assert stats["tor/newnym_sent"] == 1 and "tor/circuits_built" in stats


def test_ephemeral_onion_service(offline_tor: TorController) -> None:
    address, service_id = offline_tor.add_onion_service({80: "127.0.0.1:8080"})
    assert parse_onion(address).label == service_id
    assert service_id in offline_tor.onion_services()
    assert offline_tor.remove_onion_service(service_id)
    assert service_id not in offline_tor.onion_services()


def test_rotate_site_and_circuits_without_network(offline_tor: TorController) -> None:
    offline_tor.watch_circuits()
    assert offline_tor.circuits() == []
    assert offline_tor.rotate_site("flugsvamp") == []
    assert offline_tor.health().sites_rotated == 1


@pytest.mark.parametrize(("value", "expected"), [
    ("127.0.0.1:9050", ("127.0.0.1", 9050)), ("9051", ("127.0.0.1", 9051)), (("::1", 5), ("::1", 5)),
])
def test_parse_endpoint(value: object, expected: tuple[str, int]) -> None:
    assert parse_endpoint(value) == expected  # type: ignore[arg-type]


def test_parse_endpoint_errors() -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_endpoint("localhost:tor")
    with pytest.raises(ValueError, match="out of range"):
        parse_endpoint("127.0.0.1:70000")
