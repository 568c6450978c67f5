"""A call that answered success is on disk: it survives kill -9 of the server (issue 3)."""

from __future__ import annotations

import json
import shutil
import threading
from datetime import datetime, timedelta, timezone

from harness import (
    REGION, ClassicSdk, TeaSdk, describe, fmt_in, fmt_out, instances_of, run_instances, start_server,
    tmpdir,
)

N = 30


def test_acknowledged_writes_survive_kill_9_of_an_idle_server(request):
    """Sequential: every kind of write acknowledged, then the server killed at rest. The writes
    under the kill are the next test's."""
    base = tmpdir("ecsd-kill9-")
    request.addfinalizer(lambda: shutil.rmtree(base, ignore_errors=True))
    data = base / "data"
    srv = start_server(data, virtual_clock=False)
    try:
        classic, tea = ClassicSdk(srv.endpoint), TeaSdk(srv.endpoint)
        release_at = datetime.now(timezone.utc).replace(second=0, microsecond=0) + timedelta(days=2)
        expected = {}
        for n in range(N):
            sdk = classic if n % 2 else tea
            iid = run_instances(sdk, InstanceName=f"durable-{n}")[0]
            want = {"Status": "Running", "AutoReleaseTime": "", "DeletionProtection": False}
            if n % 3 == 0:
                sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid,
                         AutoReleaseTime=fmt_in(release_at))
                want["AutoReleaseTime"] = fmt_out(release_at)
            if n % 5 == 0:
                sdk.call("StopInstance", InstanceId=iid)
                want["Status"] = "Stopped"
            if n % 7 == 0:
                sdk.call("ModifyInstanceAttribute", InstanceId=iid, DeletionProtection=True)
                want["DeletionProtection"] = True
            expected[iid] = want
        # the last acknowledged write right before the kill
        last = run_instances(classic, InstanceName="last-before-kill")[0]
        expected[last] = {"Status": "Running", "AutoReleaseTime": "", "DeletionProtection": False}
    finally:
        srv.kill9()

    srv2 = start_server(data, virtual_clock=False)
    try:
        classic = ClassicSdk(srv2.endpoint)
        resp = classic.call("DescribeInstances", RegionId=REGION, PageSize=100)
        listed = {i["InstanceId"] for i in instances_of(resp)}
        missing = sorted(set(expected) - listed)
        assert not missing, f"after kill -9: {len(missing)} of {len(expected)} acknowledged instances lost: {missing}"
        assert int(resp["TotalCount"]) == len(expected), (
            f"after kill -9: expected {len(expected)} instances, got TotalCount {resp['TotalCount']}")
        wrong = {}
        for iid, want in expected.items():
            inst = describe(classic, iid)
            got = {k: inst.get(k) for k in want}
            if got != want:
                wrong[iid] = (want, got)
        assert not wrong, f"after kill -9, attributes differ (expected, got): {json.dumps(wrong, indent=1)}"
    finally:
        srv2.stop()


GONE = None  # the expected state of a deleted instance


class Tracked:
    """One writer's instances: the state after each one's last acknowledged call, and the state
    its call in flight (if any) would leave. A call answered with success must be on disk after
    the kill; one in flight at the kill may or may not be."""

    def __init__(self):
        self.acked: dict[str, dict | None] = {}
        self.in_flight: dict[str, dict | None] = {}
        self.creating = 0  # a RunInstances in flight (its id is not known yet)


def test_every_kind_of_write_acknowledged_before_kill_9_survives_it(request):
    """Four clients create, modify, stop, protect and delete instances concurrently; the server
    is killed mid-stream. The set to check is built after the kill and after every client has
    stopped: each instance is in the state of its last acknowledged call (or, for the call in
    flight at the kill, the state that call would leave). A client failing before the kill
    fails the test."""
    base = tmpdir("ecsd-kill9-concurrent-")
    request.addfinalizer(lambda: shutil.rmtree(base, ignore_errors=True))
    data = base / "data"
    srv = start_server(data, virtual_clock=False)
    release_at = datetime.now(timezone.utc).replace(second=0, microsecond=0) + timedelta(days=2)
    writers = [Tracked() for _ in range(4)]
    errors: list[str] = []
    acked_calls = [0]
    deletes_acked = [0]
    lock = threading.Lock()
    enough = threading.Event()
    killing = threading.Event()

    def writer(n):
        sdk = TeaSdk(srv.endpoint) if n % 2 else ClassicSdk(srv.endpoint)
        mine = writers[n]

        def change(iid, action, new_state, **params):
            mine.in_flight[iid] = new_state
            sdk.call(action, InstanceId=iid, **params)
            mine.acked[iid] = new_state
            del mine.in_flight[iid]
            with lock:
                acked_calls[0] += 1
                if new_state is GONE:
                    deletes_acked[0] += 1
                if acked_calls[0] >= 160 and deletes_acked[0] >= 4:
                    enough.set()

        try:
            for k in range(400):  # bounded
                if killing.is_set():
                    return
                mine.creating = 1
                iid = run_instances(sdk, InstanceName=f"w{n}-{k}")[0]
                mine.creating = 0
                state = {"Status": "Running", "AutoReleaseTime": "", "DeletionProtection": False}
                mine.acked[iid] = dict(state)
                plan = k % 3
                if plan == 0:
                    state = {**state, "AutoReleaseTime": fmt_out(release_at)}
                    change(iid, "ModifyInstanceAutoReleaseTime", dict(state), RegionId=REGION,
                           AutoReleaseTime=fmt_in(release_at))
                    change(iid, "StopInstance", {**state, "Status": "Stopped"})
                elif plan == 1:
                    state = {**state, "DeletionProtection": True}
                    change(iid, "ModifyInstanceAttribute", dict(state), DeletionProtection=True)
                    change(iid, "StopInstance", {**state, "Status": "Stopped"})
                else:
                    change(iid, "StopInstance", {**state, "Status": "Stopped"})
                    change(iid, "DeleteInstance", GONE)
        except Exception as e:  # noqa: BLE001 - every failure is judged below
            if not killing.is_set():
                with lock:
                    errors.append(f"writer {n} failed before the kill: {e!r}")
                enough.set()

    threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(4)]
    for t in threads:
        t.start()
    try:
        assert enough.wait(timeout=180), "the writers did not get far enough in 180 s"
    finally:
        killing.set()
        srv.kill9()
        for t in threads:
            t.join(timeout=60)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads), "a writer did not stop after the kill"
    assert acked_calls[0] >= 160, f"writers acknowledged only {acked_calls[0]} calls before the kill"

    # built now: every acknowledged call up to the kill is in it
    acked = {iid: st for w in writers for iid, st in w.acked.items()}
    in_flight = {iid: st for w in writers for iid, st in w.in_flight.items()}
    creating = sum(w.creating for w in writers)

    srv2 = start_server(data, virtual_clock=False)
    try:
        sdk = ClassicSdk(srv2.endpoint)
        found, page = {}, 1
        while True:
            resp = sdk.call("DescribeInstances", RegionId=REGION, PageSize=100, PageNumber=page)
            got = instances_of(resp)
            for inst in got:
                found[inst["InstanceId"]] = {k: inst.get(k) for k in
                                             ("Status", "AutoReleaseTime", "DeletionProtection")}
            if len(got) < 100:
                break
            page += 1
        wrong = {}
        for iid, want in acked.items():
            allowed = [want] + ([in_flight[iid]] if iid in in_flight else [])
            got = found.get(iid, GONE)
            if got not in allowed:
                wrong[iid] = {"acknowledged": want, "in flight": in_flight.get(iid, "-"), "found": got}
        assert not wrong, (f"after kill -9, {len(wrong)} of {len(acked)} instances are not in the state "
                           f"of their acknowledged calls: {json.dumps(dict(list(wrong.items())[:5]), indent=1)}")
        unknown = sorted(set(found) - set(acked))
        assert len(unknown) <= creating, (
            f"after kill -9: {len(unknown)} instances nobody created ({creating} RunInstances in flight): {unknown[:5]}")
        assert deletes_acked[0] >= 4 and sum(1 for st in acked.values() if st is GONE) >= 4
    finally:
        srv2.stop()
