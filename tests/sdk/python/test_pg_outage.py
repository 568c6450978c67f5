"""PostgreSQL stopped under light load (issue 12, "How it is checked"): two replicas on one
database of a PostgreSQL cluster started for this test alone (scripts/pg-test-cluster.sh with a
state file of its own, so the shared cluster is never touched). During the outage calls get 503
ServiceUnavailable with an ECS error body within a few seconds; after PostgreSQL is back calls
succeed without restarting ecsd, every write acknowledged before the outage is there, and a
release due inside a clock advance attempted during the outage is carried out after it.

Runs only with ECSD_SDK_DATABASE_URL (see replicas.py).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import threading
import time
from datetime import timedelta

import pytest

from harness import REGION, REPO_ROOT, Admin, ClassicSdk, describe, fmt_in, run_instances, tmpdir
from replicas import create_database, needs_postgres, new_master_key, replica_env, start_replica
from test_hostile import expect_envelope, http_call, v1_query

pytestmark = needs_postgres

SCRIPT = str(REPO_ROOT / "scripts" / "pg-test-cluster.sh")
# Every call must be answered within this during the outage (timeouts below are 2 s).
ANSWER_WITHIN_S = 8.0


class OwnCluster:
    def __init__(self, state: str):
        self.env = {**os.environ, "ECSD_PG_STATE": state}
        self.url = self._script("start")
        fields = dict(line.split("=", 1) for line in open(state).read().splitlines() if "=" in line)
        self.pgdata, self.port, self.dir = fields["PGDATA_DIR"], fields["PG_PORT"], fields["PG_DIR"]

    def _script(self, *args) -> str:
        p = subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=self.env,
                           stdin=subprocess.DEVNULL, timeout=120)
        assert p.returncode == 0, f"pg-test-cluster.sh {args}: {p.stderr}"
        return p.stdout.strip()

    def pg_ctl(self, *args):
        """The newest installed pg_ctl, as the cluster's owner (as the script runs it)."""
        dirs = glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")
        dirs.sort(key=lambda d: int(d.split("/")[4]) if d.split("/")[4].isdigit() else 0, reverse=True)
        full = [dirs[0] if dirs else "pg_ctl", "-D", self.pgdata, *args]
        if os.getuid() == 0:
            full = ["runuser", "-u", "postgres", "--"] + full
        # -l keeps the server's output off our pipes (capture would wait for the server's exit).
        p = subprocess.run(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           stdin=subprocess.DEVNULL, timeout=120)
        assert p.returncode == 0, f"pg_ctl {args}: {p.stderr}"

    def stop_server(self):
        self.pg_ctl("-m", "fast", "-w", "stop")

    def start_server(self):
        # The options the script started it with: same port, loopback only.
        self.pg_ctl("-l", f"{self.dir}/server.log", "-w", "-t", "60", "-o",
                    f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} "
                    "-c max_connections=300", "start")

    def destroy(self):
        self._script("stop")


def signed_call(srv, action: str, params: dict) -> tuple[int, dict, float]:
    query, _ = v1_query("POST", {"Action": action, **params})
    t0 = time.monotonic()
    status, body = http_call(srv, "POST", "/?" + query)
    return status, body, time.monotonic() - t0


@pytest.fixture
def outage_setup(request):
    """A PostgreSQL cluster of this test's own, a fresh database on it, two replicas on that."""
    base = tmpdir("ecsd-pg-outage-")
    cluster = OwnCluster(str(base / "pg.state"))
    replicas = []

    def finish():
        for srv in replicas:
            srv.stop()
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)

    request.addfinalizer(finish)
    url = create_database(cluster.url, "outage")
    env = replica_env(new_master_key(), ECSD_DB_STATEMENT_TIMEOUT="2s",
                      ECSD_DB_CONNECT_TIMEOUT="2s")
    replicas += [start_replica(base, i, url, env) for i in range(2)]
    return cluster, replicas


def test_admin_clock_advance_during_outage_is_503(outage_setup):
    cluster, (a, b) = outage_setup
    cluster.stop_server()
    try:
        status, body = Admin(b).request("POST", "/admin/clock/advance", {"seconds": 60},
                                        expect_ok=False)
    finally:
        cluster.start_server()
    assert status == 503, f"admin advance during the outage: {status} {body}"


def test_postgres_outage_is_503_then_recovered_without_restart(outage_setup):
    cluster, replicas = outage_setup
    a, b = replicas
    admin_a, admin_b = Admin(a), Admin(b)

    now = admin_a.align_to_minute()
    due_at = now + timedelta(hours=1)
    due = run_instances(ClassicSdk(a.endpoint), AutoReleaseTime=fmt_in(due_at))[0]
    admin_a.advance_until_just_before(due_at)
    before_outage = admin_b.now()

    # Light load: one signed RunInstances every 50 ms, alternating replicas.
    acknowledged: list[str] = []
    refused: list[tuple[int, dict, float]] = []
    other: list[tuple[int, dict, float]] = []
    stop = threading.Event()

    def load():
        k = 0
        while not stop.is_set():
            srv = replicas[k % 2]
            k += 1
            try:
                status, body, took = signed_call(srv, "RunInstances", {
                    "RegionId": REGION, "InstanceType": "ecs.g7.large",
                    "ImageId": "aliyun_3_x64_20G_alibase_20240819.vhd"})
            except Exception as e:  # a hang past http_call's 10 s timeout lands here
                other.append((0, {"exception": repr(e)}, 0.0))
                continue
            if status == 200:
                acknowledged.extend(body["InstanceIdSets"]["InstanceIdSet"])
            elif (status, body.get("Code")) == (503, "ServiceUnavailable"):
                refused.append((status, body, took))
            else:
                other.append((status, body, took))
            time.sleep(0.05)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    time.sleep(2)
    acked_before = len(acknowledged)
    assert acked_before > 0, f"no write succeeded before the outage: {other[:3]}"

    cluster.stop_server()
    outage_started = time.monotonic()
    refused_at_stop = len(refused)
    time.sleep(1)
    # During the outage: the ECS API answers 503 ServiceUnavailable with an ECS envelope, fast,
    # on both replicas; the clock advance that would make `due` due fails too.
    for srv in replicas:
        status, body, took = signed_call(srv, "DescribeInstances", {"RegionId": REGION})
        expect_envelope((status, body), 503, "ServiceUnavailable", f"replica :{srv.port} in the outage")
        assert took < ANSWER_WITHIN_S, f"503 took {took:.1f}s"
    t0 = time.monotonic()
    status, _ = admin_b.request("POST", "/admin/clock/advance", {"seconds": 3600}, expect_ok=False)
    # (503 precisely: test_admin_clock_advance_during_outage_is_503.)
    assert not 200 <= status < 300 and time.monotonic() - t0 < ANSWER_WITHIN_S, (
        f"admin advance during the outage: {status} after {time.monotonic() - t0:.1f}s")
    time.sleep(max(0.0, 6 - (time.monotonic() - outage_started)))
    cluster.start_server()
    time.sleep(3)
    stop.set()
    thread.join(timeout=30)

    assert len(refused) > refused_at_stop, "no call under load was refused during the outage"
    slow = [r for r in refused if r[2] >= ANSWER_WITHIN_S]
    assert not slow, f"503s slower than {ANSWER_WITHIN_S}s: {[r[2] for r in slow]}"
    assert not other, f"calls answered neither 200 nor 503 ServiceUnavailable: {other[:5]}"
    for _, body, _ in refused:
        assert body.get("Message") and body.get("RequestId"), f"503 without an ECS envelope: {body}"

    # After: both replicas serve again (same processes), nothing acknowledged is lost.
    assert a.proc.poll() is None and b.proc.poll() is None, "a replica exited in the outage"
    deadline = time.monotonic() + 30
    while True:
        status, body, _ = signed_call(b, "DescribeInstances", {"RegionId": REGION, "PageSize": 100})
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert status == 200, f"calls still fail after PostgreSQL is back: {status} {body}"
    assert admin_a.now() == before_outage, "the advance refused during the outage moved the clock"
    for srv in replicas:
        sdk = ClassicSdk(srv.endpoint)
        present = set()
        page = 1
        while True:
            resp = sdk.call("DescribeInstances", RegionId=REGION, PageSize=100, PageNumber=page)
            got = [i["InstanceId"] for i in resp["Instances"]["Instance"]]
            present.update(got)
            if len(got) < 100:
                break
            page += 1
        lost = set(acknowledged) - present
        assert not lost, f"acknowledged writes lost on replica :{srv.port}: {sorted(lost)[:5]}"
        assert due in present

    # The release whose time the refused advance would have reached is carried out now, once.
    admin_b.advance(3600)
    sdk = ClassicSdk(a.endpoint)
    assert describe(sdk, due) is None, "the release due during the outage was not carried out"
    events = admin_a.request("GET", "/admin/events?limit=10000")["events"]
    released = [e for e in events if e["action"] == "AutoRelease" and e["resource_id"] == due]
    assert len(released) == 1, f"expected one release of {due}, got {released}"
