#!/usr/bin/env python3
"""Soak test for ecsd: steady mixed signed load for MINUTES against one `ecsd serve --clock
virtual` over loopback, sampling the server's resident memory (VmRSS), open file descriptors
(/proc/PID/fd) and threads (/proc/PID/status) every few seconds.

The load (each worker thread owns its instances, so it knows which answers to expect):
RunInstances (some with an AutoReleaseTime 45-120 virtual minutes ahead), DescribeInstances (by
id and paged), ModifyInstanceAutoReleaseTime, ModifyInstanceAttribute, StopInstance,
StartInstance, DeleteInstance, DeleteInstances, AllocateDedicatedHosts + ReleaseDedicatedHost,
DescribeDedicatedHosts, DescribeInstanceAutoRenewAttribute, DescribeRegions; half the workers
sign V1 (classic SDK), half V3 (Tea SDK). A clock thread moves the virtual clock 10 minutes
every 5 seconds, so auto-releases keep happening under the load.

Fails (exit 1) if:
  - any call gets an error answer it should not: the only expected one is "not found" for an
    instance that has an AutoReleaseTime (the clock may have released it), or any call gets no
    answer at all, or the server exits;
  - after the warm-up, a sample exceeds its bound:
      fds      <= warm-up max + 16. The load uses a fixed number of clients, each with a bounded
               connection pool, and the store a fixed set of files: nothing should add fds.
      threads  <= warm-up max + 8. The async runtime has a fixed number of workers; the blocking
               pool grows with concurrent blocking work (bounded by the fixed client count) and
               shrinks when idle, so a few come and go, never a steady climb.
      RSS      <= warm-up max + NONCE_ALLOWANCE + 32 MiB. ecsd remembers the fingerprint of every
               signature nonce it accepted for two signature windows, 30 minutes of real time
               (crates/ecsd/src/app.rs, NonceCache: a u128 in a hash set plus (time, u128) in a
               queue, dropped once older than the horizon), so the set keeps growing with the
               calls until 30 minutes have passed, then stays level:
               NONCE_ALLOWANCE = calls per second x min(duration, 1800 s) x 256 bytes (an upper
               estimate per remembered nonce: 16 + 32 bytes of payload, doubled for the
               table's and the queue's growth by doubling, plus allocator slack; the measured
               growth is about 140 bytes per call). 32 MiB covers SQLite's page caches.
    and, in a run longer than 60 minutes, the RSS must have stopped growing: the largest sample of
    the last 15 minutes may exceed the largest one between 40 and 45 minutes by at most 16 MiB.
    Why 40 minutes and not 30: at the horizon the nonce set stops growing, but its hash table can
    still double once (it grows when the count passes 7/8 of its buckets, and the count hovers
    around rate x 30 min), and the queue's ring buffer keeps touching fresh pages of its last
    doubling until it wraps. Measured (scripts/soak.sh 41, ~1,000 calls/s): 149 MiB at 30 min,
    a 36 MiB step at 35 min (the table going from 2^21 to 2^22 buckets of 17 bytes), then level
    at 193 MiB to the end. A leak of 10 bytes per call at 1,000 calls/s would add 9 MiB in 15
    minutes; the check is for steady climbs beyond that, not for small ones.

Usage: soak.py [--minutes 10] [--workers 4] [--sample-every 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import threading
import time
import traceback
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "sdk" / "python"))
sys.path.insert(0, str(HERE))

import harness  # noqa: E402
from harness import REGION, Admin, ApiFailure, TeaSdk, fmt_in, floor_minute, instances_of, start_server  # noqa: E402
from crash_harness import NoRetryClassic  # noqa: E402

NOT_FOUND = {"NoSuchResource", "InvalidInstanceId.NotFound"}
POOL = 40                 # instances a worker keeps
NONCE_BYTES = 256
NONCE_HORIZON_S = 1800     # two 15-minute signature windows (app.rs)
RSS_SLACK = 32 << 20
FD_SLACK = 16
THREAD_SLACK = 8


def proc_sample(pid: int) -> dict:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {
        "rss": int(fields["VmRSS"].strip().split()[0]) * 1024,
        "threads": int(fields["Threads"].strip()),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


class Shared:
    def __init__(self, now):
        self.lock = threading.Lock()
        self.now = now
        self.calls = 0
        self.errors: list[str] = []
        self.stop = threading.Event()

    def count(self, n=1):
        with self.lock:
            self.calls += n

    def fail(self, msg: str):
        with self.lock:
            self.errors.append(msg)
        self.stop.set()


def worker(n: int, endpoint: str, shared: Shared, deadline: float, seed: int) -> None:
    rng = random.Random(seed)
    sdk = NoRetryClassic(endpoint) if n % 2 == 0 else TeaSdk(endpoint)
    pool: dict[str, dict] = {}  # iid -> {"status", "dp", "art"}

    def call(action, volatile=(), **params):
        """volatile: instance ids that may have been auto-released (not found is expected)."""
        shared.count()
        try:
            return sdk.call(action, **params)
        except ApiFailure as e:
            if e.code in NOT_FOUND and volatile:
                for i in volatile:
                    pool.pop(i, None)
                return None
            shared.fail(f"worker {n}: {action} {params}: HTTP {e.status} {e.code}: {e.message}")
            raise
        except Exception as e:  # noqa: BLE001
            shared.fail(f"worker {n}: {action} {params}: no answer: {type(e).__name__}: {str(e)[:200]}")
            raise

    def art():
        with shared.lock:
            now = shared.now
        return fmt_in(floor_minute(now) + timedelta(minutes=rng.randint(45, 120)))

    try:
        for seq in range(10_000_000):
            if shared.stop.is_set() or time.monotonic() > deadline:
                return
            if len(pool) < POOL:
                amount = rng.choice([1, 2, 3])
                params = {"RegionId": REGION, "InstanceType": "ecs.g7.large", "ImageId": harness.IMAGE,
                          "Amount": amount, "InstanceName": f"soak-{n}-{seq}"}
                with_art = rng.random() < 0.3
                if with_art:
                    params["AutoReleaseTime"] = art()
                if rng.random() < 0.1:
                    params["ClientToken"] = f"soak-{n}-{seq}"
                resp = call("RunInstances", **params)
                for iid in resp["InstanceIdSets"]["InstanceIdSet"]:
                    pool[iid] = {"status": "Running", "dp": False, "art": with_art}
                continue
            iid = rng.choice(list(pool))
            st = pool[iid]
            vol = (iid,) if st["art"] else ()
            r = rng.random()
            if r < 0.20:
                resp = call("DescribeInstances", RegionId=REGION, InstanceIds=json.dumps([iid]))
                if not instances_of(resp):
                    if not st["art"]:
                        shared.fail(f"worker {n}: {iid} (no release time) is gone")
                        return
                    pool.pop(iid)
            elif r < 0.30:
                call("DescribeInstances", RegionId=REGION, PageSize=50, PageNumber=rng.randint(1, 4))
            elif r < 0.42:
                if rng.random() < 0.2:
                    if call("ModifyInstanceAutoReleaseTime", vol, RegionId=REGION, InstanceId=iid) is not None:
                        st["art"] = False
                else:
                    st["art"] = True  # from now on it may be released under us
                    call("ModifyInstanceAutoReleaseTime", (iid,), RegionId=REGION, InstanceId=iid,
                         AutoReleaseTime=art())
            elif r < 0.52:
                if call("ModifyInstanceAttribute", vol, InstanceId=iid, DeletionProtection=not st["dp"]) is not None:
                    st["dp"] = not st["dp"]
            elif r < 0.64:
                action = "StopInstance" if st["status"] == "Running" else "StartInstance"
                if call(action, vol, InstanceId=iid) is not None:
                    st["status"] = "Stopped" if action == "StopInstance" else "Running"
            elif r < 0.72:
                if st["dp"]:
                    if call("ModifyInstanceAttribute", vol, InstanceId=iid, DeletionProtection=False) is None:
                        continue
                    st["dp"] = False
                if call("DeleteInstance", vol, InstanceId=iid, Force=True) is not None:
                    pool.pop(iid, None)
            elif r < 0.78:
                ids = [i for i, s in pool.items() if not s["dp"]][:2]
                if len(ids) == 2:
                    volatile = tuple(i for i in ids if pool[i]["art"])
                    if call("DeleteInstances", volatile, RegionId=REGION, InstanceId=ids, Force=True) is not None:
                        for i in ids:
                            pool.pop(i, None)
                    elif len(volatile) < len(ids):
                        # refused as a whole because a volatile one was released: the others stay
                        pass
            elif r < 0.82:
                host = call("AllocateDedicatedHosts", RegionId=REGION, DedicatedHostType="ddh.g7")
                hid = host["DedicatedHostIdSets"]["DedicatedHostId"][0]
                call("DescribeDedicatedHosts", RegionId=REGION, DedicatedHostIds=json.dumps([hid]))
                call("ReleaseDedicatedHost", RegionId=REGION, DedicatedHostId=hid)
            elif r < 0.90:
                call("DescribeDedicatedHosts", RegionId=REGION)
            elif r < 0.95:
                call("DescribeInstanceAutoRenewAttribute", RegionId=REGION, RenewalStatus="Normal")
            else:
                call("DescribeRegions")
    except Exception:  # noqa: BLE001
        if not shared.errors:
            shared.fail(f"worker {n}: harness error:\n{traceback.format_exc()}")


def clock_thread(admin: Admin, shared: Shared, deadline: float) -> None:
    try:
        while not shared.stop.is_set() and time.monotonic() < deadline:
            shared.stop.wait(5)  # pacing: one jump every 5 s, not a synchronization
            if shared.stop.is_set():
                return
            body = admin.advance(600)
            shared.count()
            with shared.lock:
                shared.now = harness.parse_rfc3339(body["now"])
    except Exception as e:  # noqa: BLE001
        shared.fail(f"clock: {type(e).__name__}: {str(e)[:300]}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--sample-every", type=float, default=5)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    duration = args.minutes * 60
    warmup = min(60.0, duration / 4)
    base = harness.tmpdir("ecsd-soak-")
    srv = start_server(base / "data", virtual_clock=True)
    pid = srv.proc.pid
    admin = Admin(srv)
    shared = Shared(admin.now())
    t0 = time.monotonic()
    deadline = t0 + duration
    threads = [threading.Thread(target=worker, daemon=True,
                                args=(n, srv.endpoint, shared, deadline, args.seed * 100 + n))
               for n in range(args.workers)]
    threads.append(threading.Thread(target=clock_thread, daemon=True, args=(admin, shared, deadline)))
    for t in threads:
        t.start()
    print(f"soak: {args.minutes:g} min, {args.workers} workers, warm-up {warmup:.0f}s, "
          f"binary {harness.ecsd_bin()}, pid {pid}", flush=True)
    print(f"{'t(s)':>6} {'RSS(MiB)':>9} {'fds':>4} {'threads':>7} {'calls':>8} {'calls/s':>7}", flush=True)
    samples = []
    last_calls, last_t = 0, t0
    while time.monotonic() < deadline and not shared.stop.is_set():
        shared.stop.wait(args.sample_every)
        if srv.proc.poll() is not None:
            shared.fail(f"ecsd exited with {srv.proc.returncode}:\n{srv.log_tail()}")
            break
        s = proc_sample(pid)
        now = time.monotonic()
        with shared.lock:
            calls = shared.calls
        s.update(t=now - t0, calls=calls, rate=(calls - last_calls) / (now - last_t))
        last_calls, last_t = calls, now
        samples.append(s)
        print(f"{s['t']:6.0f} {s['rss'] / 2**20:9.1f} {s['fds']:4d} {s['threads']:7d} {calls:8d} "
              f"{s['rate']:7.0f}", flush=True)
    shared.stop.set()
    for t in threads:
        t.join(60)
    alive = srv.proc.poll() is None
    srv.stop()

    problems = list(shared.errors)
    if not alive:
        problems.append("ecsd was not running at the end")
    warm = [s for s in samples if s["t"] <= warmup]
    after = [s for s in samples if s["t"] > warmup]
    elapsed = (samples[-1]["t"] if samples else 0.0)
    rate = (samples[-1]["calls"] / elapsed) if samples and elapsed else 0.0
    if not warm or not after:
        problems.append(f"too few samples ({len(samples)}) to compare warm-up and steady state")
    else:
        w = {k: max(s[k] for s in warm) for k in ("rss", "fds", "threads")}
        m = {k: max(s[k] for s in after) for k in ("rss", "fds", "threads")}
        nonce_allowance = int(rate * min(duration, NONCE_HORIZON_S) * NONCE_BYTES)
        bounds = {"rss": w["rss"] + nonce_allowance + RSS_SLACK, "fds": w["fds"] + FD_SLACK,
                  "threads": w["threads"] + THREAD_SLACK}
        print(f"warm-up max: RSS {w['rss'] / 2**20:.1f} MiB, {w['fds']} fds, {w['threads']} threads; "
              f"after warm-up max: RSS {m['rss'] / 2**20:.1f} MiB, {m['fds']} fds, {m['threads']} threads; "
              f"min after warm-up: RSS {min(s['rss'] for s in after) / 2**20:.1f} MiB, "
              f"{min(s['fds'] for s in after)} fds, {min(s['threads'] for s in after)} threads")
        print(f"bounds: RSS {bounds['rss'] / 2**20:.1f} MiB (warm-up max + {nonce_allowance / 2**20:.1f} MiB "
              f"nonce allowance at {rate:.0f} calls/s + {RSS_SLACK >> 20} MiB), fds {bounds['fds']}, "
              f"threads {bounds['threads']}")
        for k in ("rss", "fds", "threads"):
            worst = max(after, key=lambda s: s[k])
            if worst[k] > bounds[k]:
                problems.append(f"{k} grew beyond its bound: {worst[k]} at t={worst['t']:.0f}s > {bounds[k]}")
        if duration > 60 * 60:
            ref = [s["rss"] for s in samples if 40 * 60 < s["t"] <= 45 * 60]
            late = [s["rss"] for s in samples if s["t"] > samples[-1]["t"] - 15 * 60]
            if ref and late:
                print(f"after the nonce horizon: max RSS {max(ref) / 2**20:.1f} MiB between 40 and 45 min, "
                      f"{max(late) / 2**20:.1f} MiB in the last 15 min")
                if max(late) > max(ref) + (16 << 20):
                    problems.append(f"RSS still climbing after the nonce horizon: {max(late) / 2**20:.1f} MiB "
                                    f"in the last 15 min vs {max(ref) / 2**20:.1f} MiB between 40 and 45 min")
    print(f"soak: {samples[-1]['calls'] if samples else 0} calls in {elapsed:.0f}s ({rate:.0f}/s), "
          f"data dir {sum(f.stat().st_size for f in (base / 'data').iterdir()) / 2**20:.1f} MiB")
    if problems:
        for p in problems[:20]:
            print(f"FAIL: {p}")
        print(f"soak: FAILED (logs in {base})")
        return 1
    shutil.rmtree(base, ignore_errors=True)
    print("soak: PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
