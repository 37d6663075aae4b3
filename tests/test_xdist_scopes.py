"""tests/xdist_scopes.py: under ``-n 2 --dist loadfile`` the files that share an expensive session fixture
run on one worker (the fixture is built once), the other files are spread over both workers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("xdist")

REPO = Path(__file__).resolve().parents[1]

# An inner suite: three files need `tor_testnet` (one of them only through another fixture), four do not.
CONFTEST = '''
import os
from pathlib import Path
import pytest

def note(line):  # workers' output is not shown: the outer test reads this file
    with open(Path(__file__).parent / "notes.txt", "a") as out:
        out.write(line + " " + os.environ["PYTEST_XDIST_WORKER"] + "\\n")

@pytest.fixture(scope="session")
def tor_testnet():
    note("BUILT tor_testnet")
    return "net"

@pytest.fixture()
def via_net(tor_testnet):
    return tor_testnet
'''
USES = "def test_{i}(tor_testnet):\n    assert tor_testnet == 'net'\n"
INDIRECT = "def test_{i}(via_net):\n    assert via_net == 'net'\n"
PLAIN = "import time\nfrom conftest import note\n\ndef test_{i}():\n    time.sleep(0.3)\n    note('PLAIN')\n"


def test_files_sharing_a_heavy_fixture_share_one_worker(pytester: pytest.Pytester,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(**{"test_a": USES.format(i="a"), "test_b": USES.format(i="b"),
                           "test_c": INDIRECT.format(i="c")})
    pytester.makepyfile(**{f"test_plain{i}": PLAIN.format(i=i) for i in range(4)})
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadfile", "-p", "tests.xdist_scopes",
                                           "-p", "no:cacheprovider", "-q", timeout=120)
    result.assert_outcomes(passed=7)
    notes = (pytester.path / "notes.txt").read_text()
    assert len(re.findall(r"BUILT tor_testnet", notes)) == 1, notes
    assert set(re.findall(r"PLAIN (gw\d)", notes)) == {"gw0", "gw1"}, notes  # the rest is still shared out

