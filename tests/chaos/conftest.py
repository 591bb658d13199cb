"""pytest set-up for the chaos suite: the integration tests' harness and
fixtures (thriftd, adopt, port, kind, kind_args), the length of the fault
window, and the table of every run's figures at the end. The sanitizer
builds of .ci/run run it too: about 70 s under ASan and 90 s under TSan on 2
cores, well inside their timeout (300 s x 3)."""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

INTEGRATION_DIR = Path(__file__).resolve().parents[1] / "integration"
if str(INTEGRATION_DIR) not in sys.path:
    sys.path.insert(0, str(INTEGRATION_DIR))

import chaos  # noqa: E402 -- after the path to harness

# The integration tests' conftest, loaded under its own name (both files are
# "conftest" to pytest), and its fixtures re-exported here.
_spec = importlib.util.spec_from_file_location("integration_conftest",
                                               INTEGRATION_DIR / "conftest.py")
_integration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_integration)
thriftd = _integration.thriftd
adopt = _integration.adopt
port = _integration.port
kind = _integration.kind
kind_args = _integration.kind_args


def pytest_addoption(parser):
    parser.addoption("--chaos-seconds", default=None, type=float,
                     help="each scenario's fault window in seconds (default: "
                          f"$THRIFTD_CHAOS_SECONDS, else {chaos.SHORT_SECONDS}, the short mode)")


@pytest.fixture
def chaos_seconds(request):
    """How long each scenario injects its fault: --chaos-seconds, else
    $THRIFTD_CHAOS_SECONDS, else the short mode's chaos.SHORT_SECONDS."""
    option = request.config.getoption("--chaos-seconds")
    return chaos.seconds_from(option if option is not None
                              else os.environ.get("THRIFTD_CHAOS_SECONDS"))


def pytest_terminal_summary(terminalreporter):
    if chaos.RECORDS:
        terminalreporter.section("chaos figures")
        terminalreporter.write_line(chaos.table(chaos.RECORDS))
