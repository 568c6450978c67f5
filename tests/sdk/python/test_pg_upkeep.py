"""Upkeep on an elected leader (issue 12): of several replicas on one PostgreSQL database, only
the holder of the `upkeep` leader row prunes old signature nonces; when it dies, another takes
the role over once its term has ended, and a replica stopped cleanly hands the role over at once.

What is observed: each replica's /health (`upkeep_leader`), its log ("dropped old signature
nonces" is written by the replica that pruned), and the `nonces` table through psql (rows
planted with a `seen_at` decades old, which any prune removes).

Runs only with ECSD_SDK_DATABASE_URL (see replicas.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request

import pytest

import harness
from harness import tmpdir
from replicas import create_database, needs_postgres, new_master_key, replica_env, start_replica

pytestmark = needs_postgres

PRUNED = "dropped old signature nonces"


@pytest.fixture
def replicas(request):
    """replicas(n, term) -> ([EcsdServer], database URL): n replicas on one fresh database
    whose upkeep terms last `term`; all stopped afterwards."""
    base = tmpdir("ecsd-upkeep-")
    started = []

    def start(n: int, term: str):
        url = create_database(harness.SDK_DATABASE_URL, prefix="upk")
        env = replica_env(new_master_key(), ECSD_LEADER_TERM=term)
        for i in range(n):
            started.append(start_replica(base, i, url, env))
        return list(started), url

    def finish():
        for srv in started:
            srv.stop()
        shutil.rmtree(base, ignore_errors=True)

    request.addfinalizer(finish)
    return start


def psql(url: str, sql: str) -> str:
    p = subprocess.run(["psql", url, "-qAtc", sql], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def plant_old_nonces(url: str, tag: str, n: int = 5) -> None:
    """Nonces seen in 1970: far outside any signature window, so the next prune drops them."""
    values = ", ".join(f"('upkeep-test', '{tag}-{i}', {1000 + i})" for i in range(n))
    psql(url, f"INSERT INTO nonces (key_id, nonce, seen_at) VALUES {values}")


def old_nonces(url: str) -> int:
    return int(psql(url, "SELECT count(*) FROM nonces WHERE key_id = 'upkeep-test'"))


def leads(srv) -> bool:
    with urllib.request.urlopen(srv.base_url + "/health", timeout=10) as r:
        return json.loads(r.read())["upkeep_leader"]


def log_text(srv) -> str:
    return srv.log_path.read_text(errors="replace")


def wait_for(what: str, check, timeout: float) -> float:
    """Polls `check` until true; returns how long it took."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, f"not within {timeout} s: {what}"
        time.sleep(0.1)
    return time.monotonic() - start


def the_leader(servers):
    wait_for("one replica leads", lambda: sum(leads(s) for s in servers) == 1, 20)
    leader = [s for s in servers if leads(s)]
    assert len(leader) == 1
    return leader[0]


def test_only_the_leader_prunes_and_another_takes_over_after_its_term(replicas):
    (a, b), url = replicas(2, "3s")
    leader = the_leader([a, b])
    other = b if leader is a else a

    plant_old_nonces(url, "first")
    wait_for("the leader prunes the planted nonces", lambda: old_nonces(url) == 0, 15)
    wait_for("the prune is in the leader's log", lambda: PRUNED in log_text(leader), 5)
    # Several more terms: the follower keeps asking and is refused every time.
    for _ in range(20):
        assert not leads(other) and leads(leader)
        time.sleep(0.2)
    assert PRUNED not in log_text(other), log_text(other)[-2000:]

    leader.kill9()
    plant_old_nonces(url, "second")
    killed = time.monotonic()
    # The dead leader renewed at most a third of a term (1 s) before dying, so its term runs
    # at least 2 s more: nobody prunes until then.
    time.sleep(1.0)
    assert old_nonces(url) == 5, "pruned while the dead leader's term still ran"
    assert not leads(other)
    wait_for("the other replica prunes", lambda: old_nonces(url) == 0, 20)
    took = time.monotonic() - killed
    print(f"\nupkeep taken over {took:.1f} s after the leader was killed (term 3 s)")
    assert took >= 2.0, took
    assert leads(other)
    assert PRUNED in log_text(other)


def test_a_leader_stopped_cleanly_hands_over_at_once(replicas):
    (a, b), url = replicas(2, "15s")
    leader = the_leader([a, b])
    other = b if leader is a else a
    leader.stop()
    stopped = time.monotonic()
    plant_old_nonces(url, "handover")
    # The follower asks every third of a term (5 s). Without the resignation the stopped
    # leader's term, renewed at most 5 s before the stop, would run at least 10 s more.
    wait_for("the other replica leads after a clean stop", lambda: leads(other), 30)
    took = time.monotonic() - stopped
    print(f"\nupkeep handed over {took:.1f} s after a clean stop (term 15 s)")
    assert took < 9, took
    wait_for("the new leader prunes", lambda: old_nonces(url) == 0, 10)
