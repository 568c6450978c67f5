"""Restart catch-up (issue 4): what falls due while ecsd is stopped is carried out when it starts,
in due order, each action once. The virtual clock's time is stored durably, and a stopped server's
stored clock can be moved with `ecsd clock advance --offline`."""

from __future__ import annotations

import harness
import json

import pytest
import shutil
import urllib.error
import urllib.request
from datetime import timedelta

from harness import (
    IMAGE, REGION, Admin, ClassicSdk, describe, fmt_in, run_cli, run_instances, start_server, tmpdir,
)


def test_virtual_time_survives_a_restart(request):
    base = tmpdir("ecsd-restart-clock-")
    request.addfinalizer(lambda: shutil.rmtree(base, ignore_errors=True))
    data = base / "data"
    srv = start_server(data)
    try:
        admin = Admin(srv)
        admin.advance(3 * 86400)
        before = admin.now()
    finally:
        srv.stop()
    srv = start_server(data)
    try:
        after = Admin(srv).now()
        assert after >= before, f"virtual clock went back across a restart: {before} -> {after}"
        assert (after - before) < timedelta(minutes=1), (
            f"virtual clock did not resume where it was: {before} -> {after}")
    finally:
        srv.stop()


def test_actions_due_while_stopped_run_once_in_due_order_on_start(request):
    base = tmpdir("ecsd-restart-catchup-")
    request.addfinalizer(lambda: shutil.rmtree(base, ignore_errors=True))
    data = base / "data"
    srv = start_server(data)
    try:
        admin = Admin(srv)
        sdk = ClassicSdk(srv.endpoint)
        now = admin.align_to_minute()
        ids = run_instances(sdk, amount=3)
        # Scheduled out of creation order: the third is due first.
        due = {ids[0]: now + timedelta(hours=3), ids[1]: now + timedelta(hours=2),
               ids[2]: now + timedelta(hours=1)}
        for iid, at in due.items():
            sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid,
                     AutoReleaseTime=fmt_in(at))
        keep = run_instances(sdk)[0]
        sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=keep,
                 AutoReleaseTime=fmt_in(now + timedelta(hours=10)))
        cursor = admin.events()["next"]
    finally:
        srv.stop()

    out = run_cli(["clock", "advance", "5h", "--offline"], data)
    assert "stored virtual time" in out, out

    srv = start_server(data)
    try:
        admin = Admin(srv)
        sdk = ClassicSdk(srv.endpoint)
        for iid in due:
            assert describe(sdk, iid) is None, f"{iid} was due while ecsd was stopped but is still there"
        assert describe(sdk, keep) is not None, "an instance due later was released early"
        events = [e for e in admin.events(since=cursor)["events"] if e["action"] == "AutoRelease"]
        released = [e["resource_id"] for e in events]
        assert released == [ids[2], ids[1], ids[0]], f"expected releases in due order, got {released}"
        # The offline jump is recorded like one made while running: each action at its due time.
        for e in events:
            assert e["happened_at"] == e["scheduled_at"], f"catch-up not recorded at its due time: {e}"
        # Nothing more happens on the next run: each action ran once.
        admin.advance(60)
        again = [e for e in admin.events(since=cursor)["events"] if e["action"] == "AutoRelease"]
        assert len(again) == 3, f"expected exactly 3 releases, got {len(again)}: {again}"
    finally:
        srv.stop()


def fetch(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_a_write_replayed_after_a_crash_is_still_signature_nonce_used(request):
    """Nonces of committed writes are stored with them: killing ecsd does not let the same
    signed RunInstances create a second instance."""
    from aliyunsdkcore.request import RpcRequest
    from harness import DEFAULT_AK, DEFAULT_SK
    base = tmpdir("ecsd-restart-nonce-")
    request.addfinalizer(lambda: shutil.rmtree(base, ignore_errors=True))
    data = base / "data"
    srv = start_server(data)
    try:
        req = RpcRequest("Ecs", "2014-05-26", "RunInstances")
        req.set_method("GET")
        req.set_accept_format("JSON")
        for k, v in {"RegionId": REGION, "InstanceType": "ecs.g7.large", "ImageId": IMAGE}.items():
            req.add_query_param(k, v)
        url = srv.base_url + req.get_url(REGION, DEFAULT_AK, DEFAULT_SK)
        status, body = fetch(url)
        assert status == 200, body
        status, body = fetch(url)
        assert (status, body.get("Code")) == (400, "SignatureNonceUsed"), body
        srv.kill9()
        srv = start_server(data)
        status, body = fetch(srv.base_url + url[url.index("/?"):])
        assert (status, body.get("Code")) == (400, "SignatureNonceUsed"), (
            f"the replay after a restart was not refused: {status} {body}")
        total = ClassicSdk(srv.endpoint).call("DescribeInstances", RegionId=REGION)["TotalCount"]
        assert total == 1, f"expected the one instance, found {total}"
    finally:
        srv.stop()


@pytest.mark.skipif(harness.on_postgres(), reason="the data-dir lock is SQLite's: on a shared "
                    "PostgreSQL database any number of servers may run (README)")
def test_offline_clock_advance_refuses_while_a_server_runs_on_the_data_dir(request):
    """The running server would overwrite the stored time with its own: refuse, and leave it."""
    base = tmpdir("ecsd-restart-lock-")
    request.addfinalizer(lambda: shutil.rmtree(base, ignore_errors=True))
    data = base / "data"
    srv = start_server(data)
    try:
        before = Admin(srv).now()
        try:
            out = run_cli(["clock", "advance", "2h", "--offline"], data)
        except AssertionError as e:  # run_cli asserts a zero exit
            out = str(e)
        else:
            raise AssertionError(f"offline advance with a running server succeeded: {out}")
        assert "server is running" in out, out
        assert Admin(srv).now() - before < timedelta(minutes=1)
    finally:
        srv.stop()
    out = run_cli(["clock", "advance", "2h", "--offline"], data)
    assert "stored virtual time" in out, out
