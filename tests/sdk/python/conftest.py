"""pytest fixtures: one `ecsd serve --clock virtual` for the whole session, reset before each test,
and the two official Python SDKs pointed at it.

The binary is not built here: scripts/test.sh builds it (or set ECSD_BIN).
"""

from __future__ import annotations

import shutil

import pytest

import harness
from harness import Admin, ClassicSdk, TeaSdk, start_server, tmpdir

SDKS = ["py-core", "py-tea"]


@pytest.fixture(scope="session")
def server():
    base = tmpdir("ecsd-pytest-")
    srv = start_server(base / "data", virtual_clock=True)
    try:
        yield srv
    finally:
        srv.stop()
        failed = srv.proc.returncode not in (0, -15, 143)
        if failed:
            print(f"\necsd exited with {srv.proc.returncode}; log tail:\n{srv.log_tail()}")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def admin(server) -> Admin:
    return Admin(server)


@pytest.fixture(autouse=True)
def clean_state(request):
    """Every test that uses the shared server starts with no resources and no events."""
    if "server" in request.fixturenames:
        srv = request.getfixturevalue("server")
        if srv.proc.poll() is not None:
            pytest.fail(f"ecsd is no longer running (exit {srv.proc.returncode}):\n{srv.log_tail()}")
        Admin(srv).reset()
    yield


@pytest.fixture
def classic(server) -> ClassicSdk:
    return ClassicSdk(server.endpoint)


@pytest.fixture
def tea(server) -> TeaSdk:
    return TeaSdk(server.endpoint)


@pytest.fixture(params=SDKS)
def sdk(request, server):
    """Each test using `sdk` runs once through each official Python SDK."""
    return harness.make_sdk(request.param, server.endpoint)


def pytest_report_header(config):
    return [f"ecsd binary: {harness.ecsd_bin()}"]
