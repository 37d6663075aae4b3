"""`sokhund serve` as a process: gunicorn over TLS on 127.0.0.1 with a self-signed certificate; the login
page comes over HTTPS with HSTS and a Secure session cookie."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from indexer.base import open_backend
from tests.dashboards.workbench.conftest import ROOT, free_port

pytestmark = pytest.mark.skipif(not shutil.which("openssl"), reason="openssl is not installed")


def test_serve_over_tls(sokhund_home: Path, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    env = {**os.environ, "SOKHUND_HOME": str(sokhund_home), "PYTHONPATH": str(ROOT)}
    open_backend().close()  # an empty index, as after a first crawl (serve refuses a missing one)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--tls-cert", str(cert),
                                "--tls-key", str(key)], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False  # the certificate names an IP in CN only
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = urllib.request.urlopen(f"https://127.0.0.1:{port}/login", context=context, timeout=5)
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, process.stdout.read() if process.stdout else ""
                time.sleep(0.3)
        cookie = response.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
        with pytest.raises(OSError):  # plain HTTP on the TLS port gets no page
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5).read()
    finally:
        process.terminate()
        process.wait(timeout=20)
