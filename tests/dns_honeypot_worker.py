"""The real crawl worker (``crawler.worker``) under a honeypot system resolver, for the fail-closed tests.

``python -m tests.dns_honeypot_worker --sites … --run-id … --settings-json …`` (the worker's own
arguments). Every host NAME (not an IP literal) that reaches ``socket.getaddrinfo`` / ``gethostbyname`` /
``gethostbyname_ex`` is appended to the file in ``$SOKHUND_TEST_DNS_LOG``. ``.onion`` names are answered
with 127.0.0.1 (a leak then lands on a local listener instead of failing quietly); every other name is
refused, so nothing a test triggers can leave the machine.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from collections.abc import Callable
from typing import Any


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def install(log_path: str) -> None:
    def wrap(original: Callable[..., Any], onion_answer: Callable[[tuple[Any, ...]], Any]) -> Callable[..., Any]:
        def patched(host: Any, *args: Any, **kwargs: Any) -> Any:
            name = host.decode() if isinstance(host, bytes) else str(host) if host is not None else ""
            if not name or _is_ip(name):
                return original(host, *args, **kwargs)
            with open(log_path, "a", encoding="utf-8") as fh:
                fh.write(name + "\n")
            if name.rstrip(".").lower().endswith(".onion"):
                return onion_answer((host, *args))
            raise socket.gaierror(socket.EAI_NONAME, f"honeypot resolver: {name} not resolved in tests")

        return patched

    real_getaddrinfo = socket.getaddrinfo
    socket.getaddrinfo = wrap(real_getaddrinfo, lambda a: real_getaddrinfo("127.0.0.1", *a[1:]))
    socket.gethostbyname = wrap(socket.gethostbyname, lambda a: "127.0.0.1")
    socket.gethostbyname_ex = wrap(socket.gethostbyname_ex, lambda a: (a[0], [], ["127.0.0.1"]))


if __name__ == "__main__":
    install(os.environ["SOKHUND_TEST_DNS_LOG"])  # before Scrapy, Twisted or tldextract import anything
    from crawler.worker import main

    sys.exit(main())
