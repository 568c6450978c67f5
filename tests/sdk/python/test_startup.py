"""The start-up contract of `ecsd serve` (issue 3/4): address line, bind failure, generated key,
admin API off without a token, virtual clock and schedule surviving a restart."""

from __future__ import annotations

import shutil
import socket
import subprocess
from datetime import timedelta

import pytest

from harness import (
    REGION, Admin, ClassicSdk, TeaSdk, describe, ecsd_bin, floor_minute, fmt_in, mentions, parse_key_output,
    run_instances, server_env, start_server, tmpdir,
)


@pytest.fixture
def base(request):
    d = tmpdir("ecsd-startup-")
    request.addfinalizer(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


def test_prints_the_address_it_listens_on(base):
    srv = start_server(base / "data")
    try:
        log = srv.log_path.read_text(errors="replace")
        assert f"listening on http://127.0.0.1:{srv.port}" in log, (
            f"expected a line with 'listening on http://127.0.0.1:{srv.port}', got:\n{log}")
    finally:
        srv.stop()


def test_exits_non_zero_with_a_message_when_it_cannot_bind(base):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        p = subprocess.run([str(ecsd_bin()), "serve", "--listen", f"127.0.0.1:{port}", "--data-dir",
                            str(base / "data")], env=server_env(), capture_output=True, text=True,
                           timeout=60, stdin=subprocess.DEVNULL)
    out = p.stdout + p.stderr
    assert p.returncode != 0, f"ecsd on a taken port: expected a non-zero exit, got 0:\n{out}"
    assert str(port) in out, f"the bind error should name the address 127.0.0.1:{port}:\n{out}"


@pytest.mark.parametrize("config,needle", [
    ('{"expiry_grace": "99999999999d"}', "expiry_grace"),
    ('{"regions": []}', "regions"),
    ('{"instance_types": [{"id": "ecs.x", "cpu": 1, "memory_mib": 512, "monthly_price": "-100"}]}', "ecs.x"),
    ('{"regions": [{"id": "lab", "local_name": "Lab", "zones": ["lab-a"]},'
     ' {"id": "lab", "local_name": "Lab", "zones": ["lab-b"]}]}', "lab"),
])
def test_a_config_no_call_could_use_is_refused_at_start(base, config, needle):
    path = base / "ecsd.json"
    path.write_text(config)
    p = subprocess.run([str(ecsd_bin()), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(base / "data"),
                        "--config", str(path)], env=server_env(), capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    out = p.stdout + p.stderr
    assert p.returncode != 0 and "bad" in out and needle in out, f"config {config}: exit {p.returncode}:\n{out}"
    assert "panicked" not in out, out


def test_admin_api_is_off_without_a_token(base):
    srv = start_server(base / "data", env=server_env(admin_token=None))
    try:
        for token in ("", "anything"):
            status, body = Admin(srv, token=token).request("GET", "/admin/clock", expect_ok=False)
            assert status == 404, f"admin API with ECSD_ADMIN_TOKEN unset: expected 404, got {status}: {body!r}"
    finally:
        srv.stop()


def test_without_keys_a_default_key_is_generated_printed_once_and_kept(base):
    env = server_env(ak=None, sk=None)
    srv = start_server(base / "data", env=env)
    try:
        log = srv.log_path.read_text(errors="replace")
        ak, sk = parse_key_output(log)
        resp = TeaSdk(srv.endpoint, ak, sk).call("DescribeRegions")
        assert resp.get("Regions"), "the generated key does not work"
    finally:
        srv.stop()
    srv.log_path.write_text("")
    srv2 = start_server(base / "data", env=env)
    try:
        log = srv2.log_path.read_text(errors="replace")
        assert sk not in log, f"the generated secret was printed again on restart:\n{log}"
        resp = ClassicSdk(srv2.endpoint, ak, sk).call("DescribeRegions")
        assert resp.get("Regions"), "the generated key stopped working after a restart"
    finally:
        srv2.stop()


def test_virtual_clock_and_schedule_survive_kill_9(base):
    """The virtual time is where it was left, and a release scheduled before the crash runs once."""
    srv = start_server(base / "data", virtual_clock=True)
    try:
        admin = Admin(srv)
        admin.advance(20 * 86400)  # far from wall-clock time
        before = admin.now()
        sdk = ClassicSdk(srv.endpoint)
        iid = run_instances(sdk)[0]
        when = floor_minute(before + timedelta(hours=2))
        sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid, AutoReleaseTime=fmt_in(when))
    finally:
        srv.kill9()
    srv2 = start_server(base / "data", virtual_clock=True)
    try:
        admin = Admin(srv2)
        after = admin.now()
        assert after >= before and after - before < timedelta(hours=1), (
            f"virtual clock after restart: expected where it was left ({before.isoformat()}), got {after.isoformat()}")
        sdk = ClassicSdk(srv2.endpoint)
        assert describe(sdk, iid)["AutoReleaseTime"] == when.strftime("%Y-%m-%dT%H:%MZ")
        admin.advance_to(when)
        assert describe(sdk, iid) is None, "release scheduled before the crash did not run"
        admin.advance(86400)
        events = [e for e in admin.all_events() if mentions(e, iid)]
        assert len(events) == 1, f"expected one event about {iid}, got {events!r}"
    finally:
        srv2.stop()
