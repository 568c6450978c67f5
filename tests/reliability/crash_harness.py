#!/usr/bin/env python3
"""Crash harness for ecsd: concurrent signed load, kill -9 at random moments, restart, check.

Black-box: the real `ecsd serve --clock virtual` over loopback HTTP, signed through the official
Python SDKs (tests/sdk/python/harness.py), the admin API for the clock and the events, and the
offline CLI (`ecsd clock advance --offline`). Every loop is bounded in count and in time.

One data dir lives through all cycles. A cycle:

  1. bursts: B instances with AutoReleaseTime in one minute T1 (V+45m, V = virtual now) and
     B more in one minute T2 (V+3h), half of them with DeletionProtection (it does not stop an
     auto-release);
  2. load: several threads, each owning its instances, call RunInstances,
     ModifyInstanceAutoReleaseTime, DeleteInstance, DeleteInstances, ModifyInstanceAttribute
     (DeletionProtection), StopInstance and StartInstance, some of them calls the server must
     refuse (protected delete, a release time 5 minutes ahead, stop of a stopped instance, ...);
  3. kill -9 at a random moment: either during the load alone, or during the load *and* a
     POST /admin/clock/advance of one hour that releases burst T1 (the scheduler burst);
  4. `ecsd clock advance 1d --offline` (T2 and some load release times fall due);
  5. start ecsd and kill -9 it at a random moment of its start-up catch-up;
  6. start ecsd again and check:
     - every acknowledged write is there with its final state; a call that got no answer is
       "unknown": the instance is in its state before *or* after the call, never anything else;
       an unanswered RunInstances created all of its Amount or none, an unanswered
       DeleteInstances deleted all of its instances or none;
     - no refused write applied (the instance is in its state before the refused call; a refused
       RunInstances created nothing);
     - every release that was due happened exactly once: GET /admin/events (all pages) has
       exactly one `released` event for every instance that is gone (an AutoRelease at its
       AutoReleaseTime, or the DeleteInstance(s) that deleted it) and none for one that is
       still there; no instance appears that nobody created;
     - the virtual clock is where the acknowledged jumps put it;
     - every error answer is one the call can legitimately get.

The seed fixes the choices (operations, parameters, kill modes), not the timing: a kill lands
where the machine's speed puts it. Each cycle's line says where it landed (how many burst
releases were committed when ecsd died), read from a *copy* of the SQLite files (diagnostic
only; no check depends on it, and the live files are never opened).

Usage:
  crash_harness.py [--cycles 5] [--seed S] [--threads 4] [--burst 10000] [--keep]
Exit status 0 if every cycle passed, 1 if any check failed, 2 on a harness error.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "sdk" / "python"))

import harness  # noqa: E402
from harness import (  # noqa: E402
    DEFAULT_AK, DEFAULT_SK, REGION, Admin, ApiFailure, ClassicSdk, EcsdServer, TeaSdk, floor_minute,
    fmt_in, fmt_out, instances_of, parse_minute, parse_rfc3339, run_cli, start_server,
)

# Bounds: no loop below runs past these.
MAX_OPS_PER_THREAD = 3000
LOAD_DEADLINE_S = 60
JOIN_TIMEOUT_S = 60
MAX_PAGES = 100_000

JUMP_S = 3600  # the running jump of each cycle
NOT_FOUND_CODES = {"NoSuchResource", "InvalidInstanceId.NotFound"}

# Error answers a load call may legitimately get (all are refusals: nothing may change).
ALLOWED_REFUSALS = {
    "IncorrectInstanceStatus",              # Stop of a Stopped / Start of a Running / Delete of a Running without Force
    "InvalidOperation.DeletionProtection",  # DeleteInstance(s) of a protected instance
    "ChargeTypeViolation",                  # AutoReleaseTime or DeleteInstance of a PrePaid one
    "InvalidAutoReleaseTime.Malformed",     # a release time less than 30 minutes ahead
    "InvalidParameter.AutoReleaseTime",     # RunInstances PrePaid with an AutoReleaseTime
    "IncorrectInstanceStatus.Initializing",
}


# ------------------------------------------------------------------------------------------------
# SDK clients that never retry: a retried write after a lost answer would be a second write.


class NoRetryClassic(ClassicSdk):
    def __init__(self, endpoint: str, ak: str = DEFAULT_AK, sk: str = DEFAULT_SK, region: str = REGION):
        from aliyunsdkcore.client import AcsClient
        self.endpoint = endpoint
        self.client = AcsClient(ak, sk, region, auto_retry=False, max_retry_time=0,
                                connect_timeout=5, timeout=30)


def make_client(n: int, endpoint: str):
    return NoRetryClassic(endpoint) if n % 2 == 0 else TeaSdk(endpoint)


def no_answer(exc: BaseException) -> bool:
    """True if the exception means the call got no answer (connection refused/reset, timeout)."""
    from aliyunsdkcore.acs_exception.exceptions import ClientException
    from Tea.exceptions import UnretryableException
    if isinstance(exc, ClientException):
        return exc.get_error_code() in ("SDK.HttpError", "SDK.ServerUnreachable")
    return isinstance(exc, (UnretryableException, ConnectionError, TimeoutError, OSError))


class Unknown(Exception):
    """The call got no answer."""


def call(sdk, action: str, **params) -> dict:
    """One call: its answer, ApiFailure for an error answer, Unknown for no answer."""
    try:
        return sdk.call(action, **params)
    except ApiFailure:
        raise
    except Exception as e:  # noqa: BLE001 - classified below
        if no_answer(e):
            raise Unknown(f"{action}: {type(e).__name__}: {str(e)[:160]}") from None
        raise


# ------------------------------------------------------------------------------------------------
# the model: per instance, the set of states it may be in


@dataclass(frozen=True)
class Alive:
    status: str     # Running | Stopped
    art: str        # "" or yyyy-MM-ddTHH:mmZ
    dp: bool
    prepaid: bool


@dataclass(frozen=True)
class Gone:
    action: str     # DeleteInstance | DeleteInstances


@dataclass
class PendingCreate:
    """A RunInstances that got no answer: it created all of `amount` instances or none."""
    name: str
    amount: int
    state: Alive


@dataclass
class ThreadResult:
    n: int
    updates: dict = None        # iid -> set of states (replaces the model's)
    owned_new: list = None      # iids created (acknowledged)
    pending: list = None        # PendingCreate
    refused_names: list = None  # InstanceName of refused RunInstances
    groups: list = None         # id lists of unanswered DeleteInstances (all or none)
    violations: list = None
    acked: int = 0
    refused: int = 0
    unknown: int = 0
    error: str = ""

    def __post_init__(self):
        self.updates, self.owned_new, self.pending = {}, [], []
        self.refused_names, self.groups, self.violations = [], [], []


class Model:
    def __init__(self):
        self.states: dict[str, set] = {}          # live or uncertain instances
        self.owner: dict[str, int] = {}
        self.released: dict[str, tuple] = {}      # iid -> ("auto", art) | ("manual", action)
        self.refused_names: set[str] = set()
        self.clock_floor = None                   # virtual time the acknowledged jumps reached

    def known_alive(self, owner: int) -> dict[str, Alive]:
        out = {}
        for iid, states in self.states.items():
            if self.owner.get(iid) == owner and len(states) == 1:
                (s,) = states
                if isinstance(s, Alive):
                    out[iid] = s
        return out


# ------------------------------------------------------------------------------------------------
# the load


def load_thread(n: int, endpoint: str, mine: dict[str, Alive], v_now: datetime, cycle: int,
                seed: int, stop: threading.Event, out: ThreadResult) -> None:
    rng = random.Random(seed)
    sdk = make_client(n, endpoint)
    state = dict(mine)  # iid -> Alive (known); this thread is the only writer of these
    deadline = time.monotonic() + LOAD_DEADLINE_S
    base = floor_minute(v_now)

    def art_for_modify() -> str:
        # due within this cycle's jumps (1h + 1d) for some, later for others; always >= 30 min
        # ahead even after the 1-hour jump that may run meanwhile
        return fmt_out(base + timedelta(minutes=rng.randint(120, 4 * 1440)))

    def art_for_create() -> str:
        # never due within this cycle: an unanswered create's instances are found by name
        return fmt_out(base + timedelta(minutes=rng.randint(1440 + 120, 4 * 1440)))

    def acked(iid, new):
        state[iid] = new
        out.updates[iid] = {new}
        out.acked += 1

    jump_end = v_now + timedelta(seconds=JUMP_S)

    def refused(e: ApiFailure, what: str, ids=()):
        out.refused += 1
        # an instance whose release time falls inside this cycle's jump may be released under us
        due = [i for i in ids if isinstance(state.get(i), Alive) and state[i].art
               and parse_minute(state[i].art) <= jump_end]
        if e.code in NOT_FOUND_CODES and due:
            for i in due:
                state.pop(i)  # the model keeps its state: the check expects its auto-release
            return
        if e.code not in ALLOWED_REFUSALS:
            out.violations.append(f"UNEXPECTED ERROR: {what}: HTTP {e.status} {e.code}: {e.message}")

    try:
        for seq in range(MAX_OPS_PER_THREAD):
            if stop.is_set() or time.monotonic() > deadline:
                break
            alive = [i for i, s in state.items() if isinstance(s, Alive)]
            r = rng.random()
            if r < 0.12 or len(alive) < 4:
                # RunInstances, sometimes a refused one
                name = f"L{cycle}-t{n}-{seq}"
                amount = rng.choice([1, 1, 2, 3])
                prepaid = rng.random() < 0.15
                bad = rng.random() < 0.1
                dp = rng.random() < 0.3
                params = {"InstanceName": name, "DeletionProtection": dp}
                art = ""
                if prepaid:
                    params.update(InstanceChargeType="PrePaid", Period=1, PeriodUnit="Year")
                    if bad:
                        params["AutoReleaseTime"] = fmt_in(base + timedelta(days=2))
                elif bad:
                    params["AutoReleaseTime"] = fmt_in(base + timedelta(minutes=5))
                elif rng.random() < 0.5:
                    art = art_for_create()
                    params["AutoReleaseTime"] = fmt_in(parse_minute(art))
                new = Alive("Running", art, dp, prepaid)
                what = f"RunInstances {name} x{amount}" + (" (invalid)" if bad else "")
                try:
                    resp = call(sdk, "RunInstances", RegionId=REGION, InstanceType="ecs.g7.large",
                                ImageId=harness.IMAGE, Amount=amount, **params)
                except ApiFailure as e:
                    refused(e, what)
                    out.refused_names.append(name)
                    continue
                except Unknown:
                    out.unknown += 1
                    if not bad:
                        out.pending.append(PendingCreate(name, amount, new))
                    else:
                        out.refused_names.append(name)  # invalid: must not apply even unanswered
                    return
                ids = ((resp.get("InstanceIdSets") or {}).get("InstanceIdSet")) or []
                if bad:
                    out.violations.append(f"ACCEPTED INVALID: {what} answered success {ids}")
                if len(ids) != amount:
                    out.violations.append(f"{what}: answered {len(ids)} ids")
                for iid in ids:
                    acked(iid, new)
                    out.owned_new.append(iid)
                continue

            iid = rng.choice(alive)
            cur = state[iid]
            if r < 0.40:
                bad = rng.random() < 0.08
                cancel = rng.random() < 0.2
                art = "" if cancel else art_for_modify()
                params = {}
                if bad:
                    params["AutoReleaseTime"] = fmt_in(base + timedelta(minutes=5))
                elif not cancel:
                    params["AutoReleaseTime"] = fmt_in(parse_minute(art))
                new = replace(cur, art=art)
                what = f"ModifyInstanceAutoReleaseTime {iid} {params.get('AutoReleaseTime', 'cancel')}"
                try:
                    call(sdk, "ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid, **params)
                except ApiFailure as e:
                    refused(e, what, [iid])
                    continue
                except Unknown:
                    out.unknown += 1
                    out.updates[iid] = {cur} if bad else {cur, new}
                    return
                if bad:
                    out.violations.append(f"ACCEPTED INVALID: {what}")
                    continue
                if cur.prepaid:
                    out.violations.append(f"ACCEPTED INVALID: {what} on a PrePaid instance")
                acked(iid, new)
            elif r < 0.58:
                new = replace(cur, dp=not cur.dp)
                what = f"ModifyInstanceAttribute {iid} DeletionProtection={new.dp}"
                try:
                    call(sdk, "ModifyInstanceAttribute", InstanceId=iid, DeletionProtection=new.dp)
                except ApiFailure as e:
                    refused(e, what, [iid])
                    continue
                except Unknown:
                    out.unknown += 1
                    out.updates[iid] = {cur, new}
                    return
                acked(iid, new)
            elif r < 0.78:
                # mostly the right one, sometimes the wrong one (a refusal)
                stop_it = (cur.status == "Running") != (rng.random() < 0.1)
                action = "StopInstance" if stop_it else "StartInstance"
                new = replace(cur, status="Stopped" if stop_it else "Running")
                what = f"{action} {iid} (was {cur.status})"
                try:
                    call(sdk, action, InstanceId=iid)
                except ApiFailure as e:
                    refused(e, what, [iid])
                    continue
                except Unknown:
                    out.unknown += 1
                    out.updates[iid] = {cur, new}
                    return
                if new.status == cur.status:
                    out.violations.append(f"ACCEPTED INVALID: {what}")
                acked(iid, new)
            elif r < 0.90:
                force = rng.random() < 0.7
                what = f"DeleteInstance {iid} Force={force} ({cur})"
                try:
                    call(sdk, "DeleteInstance", InstanceId=iid, Force=force)
                except ApiFailure as e:
                    refused(e, what, [iid])
                    continue
                except Unknown:
                    out.unknown += 1
                    out.updates[iid] = {cur, Gone("DeleteInstance")}
                    return
                acked(iid, Gone("DeleteInstance"))
            else:
                k = min(len(alive), rng.choice([2, 3]))
                ids = rng.sample(alive, k)
                force = rng.random() < 0.7
                what = f"DeleteInstances {ids} Force={force}"
                try:
                    call(sdk, "DeleteInstances", RegionId=REGION, InstanceId=ids, Force=force)
                except ApiFailure as e:
                    refused(e, what, ids)
                    continue
                except Unknown:
                    out.unknown += 1
                    for i in ids:
                        out.updates[i] = {state[i], Gone("DeleteInstances")}
                    out.groups.append(ids)
                    return
                for i in ids:
                    acked(i, Gone("DeleteInstances"))
                out.acked -= len(ids) - 1
    except Exception:  # noqa: BLE001 - reported as a harness error
        out.error = traceback.format_exc()


def race_thread(endpoint: str, ids: list[str], orig: Alive, v_now: datetime, seed: int,
                stop: threading.Event, out: ThreadResult) -> None:
    """During the jump, change instances the jump is due to release: push the release time
    out, cancel it, or delete the instance. Acknowledged: the jump must not release it at the
    old time. Refused as not found: the jump released it first, exactly once."""
    rng = random.Random(seed)
    sdk = make_client(seed, endpoint)
    later = fmt_out(floor_minute(v_now) + timedelta(days=3))
    deadline = time.monotonic() + LOAD_DEADLINE_S
    try:
        for iid in ids:
            if stop.is_set() or time.monotonic() > deadline:
                return
            r = rng.random()
            try:
                if r < 0.6:
                    new = Alive("Running", later, False, False)
                    call(sdk, "ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid,
                         AutoReleaseTime=fmt_in(parse_minute(later)))
                elif r < 0.8:
                    new = Alive("Running", "", False, False)
                    call(sdk, "ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid)
                else:
                    new = Gone("DeleteInstance")
                    call(sdk, "DeleteInstance", InstanceId=iid, Force=True)
            except ApiFailure as e:
                out.refused += 1
                if e.code not in ("NoSuchResource", "InvalidInstanceId.NotFound"):
                    out.violations.append(f"UNEXPECTED ERROR: racer on {iid}: HTTP {e.status} {e.code}: {e.message}")
                continue
            except Unknown:
                out.unknown += 1
                # before: due in the jump (its model state); after: the new state
                out.updates[iid] = {orig, new}
                return
            out.acked += 1
            out.updates[iid] = {new}
    except Exception:  # noqa: BLE001
        out.error = traceback.format_exc()


# ------------------------------------------------------------------------------------------------
# reading the server


def list_instances(sdk) -> dict[str, dict]:
    out, page = {}, 1
    while page < MAX_PAGES:
        resp = sdk.call("DescribeInstances", RegionId=REGION, PageSize=100, PageNumber=page)
        got = instances_of(resp)
        for i in got:
            if i["InstanceId"] in out:
                raise AssertionError(f"DescribeInstances listed {i['InstanceId']} twice")
            out[i["InstanceId"]] = i
        if len(got) < 100:
            break
        page += 1
    total = int(resp["TotalCount"])
    if total != len(out):
        raise AssertionError(f"DescribeInstances TotalCount {total} but {len(out)} listed over {page} pages")
    return out


def all_events(admin: Admin) -> list[dict]:
    out, since = [], "0"
    for _ in range(MAX_PAGES):
        body = admin.request("GET", f"/admin/events?since={since}&limit=10000")
        if not body["events"]:
            return out
        out.extend(body["events"])
        since = body["next"]
    raise AssertionError("GET /admin/events did not end")


def observed_state(inst: dict) -> Alive:
    return Alive(inst["Status"], inst.get("AutoReleaseTime") or "", bool(inst["DeletionProtection"]),
                 inst["InstanceChargeType"] == "PrePaid")


def db_release_count(data_dir: Path) -> int | None:
    """Diagnostic: AutoRelease events committed in the data dir, read from a copy of its files."""
    src = data_dir / "ecsd.sqlite3"
    if not src.exists():
        return None
    tmp = Path(tempfile.mkdtemp(prefix="ecsd-peek-"))
    try:
        for suffix in ("", "-wal"):
            f = Path(str(src) + suffix)
            if f.exists():
                shutil.copyfile(f, tmp / ("ecsd.sqlite3" + suffix))
        con = sqlite3.connect(str(tmp / "ecsd.sqlite3"))
        try:
            return con.execute("SELECT count(*) FROM events WHERE action = 'AutoRelease'").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def spawn_server(data_dir: Path) -> EcsdServer:
    """Start `ecsd serve` without waiting for it (to kill it during its start-up)."""
    port = harness.free_port()
    env = harness.server_env()
    args = [str(harness.ecsd_bin()), "serve", "--listen", f"127.0.0.1:{port}", "--data-dir",
            str(data_dir), "--clock", "virtual"]
    log_path = data_dir.parent / f"{data_dir.name}-ecsd-{port}.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=str(data_dir.parent))
    return EcsdServer(data_dir=data_dir, port=port, proc=proc, log_path=log_path, env=env, args=args)


# ------------------------------------------------------------------------------------------------
# the check


def expectation(s, now: datetime):
    if isinstance(s, Gone):
        return ("manual", s.action)
    if s.art and parse_minute(s.art) <= now:
        return ("auto", s.art)
    return ("present", s)


def verify(model: Model, srv: EcsdServer, pending: list[PendingCreate], groups: list[list[str]],
           v_expected: set, violations: list[str]) -> dict:
    admin = Admin(srv)
    sdk = ClassicSdk(srv.endpoint)
    now = admin.now()
    if now not in v_expected:
        violations.append(f"CLOCK: virtual now after restart is {now.isoformat()}, expected one of "
                          f"{sorted(t.isoformat() for t in v_expected)}")
    listed = list_instances(sdk)
    events = all_events(admin)
    releases = collections.defaultdict(list)
    for e in events:
        if e["resource_type"] == "instance" and e["outcome"] == "released":
            releases[e["resource_id"]].append(e)

    def observe(iid):
        evs = releases.get(iid, [])
        if iid in listed:
            if evs:
                return ("present-with-release-event", tuple(e["action"] for e in evs))
            return ("present", observed_state(listed[iid]))
        if not evs:
            return ("absent-without-release-event",)
        if len(evs) > 1:
            return ("DOUBLE-RELEASE", tuple((e["action"], e["scheduled_at"], e["cursor"]) for e in evs))
        e = evs[0]
        if e["action"] == "AutoRelease":
            return ("auto", fmt_out(parse_rfc3339(e["scheduled_at"])) if e["scheduled_at"] else None)
        return ("manual", e["action"])

    checked = 0
    flagged = set()
    # instances the model knows
    for iid in list(model.states):
        options = model.states[iid]
        obs = observe(iid)
        expected = {expectation(s, now) for s in options}
        checked += 1
        if obs not in expected:
            kind = "DOUBLE RELEASE" if obs[0] == "DOUBLE-RELEASE" else (
                "LOST ACKNOWLEDGED WRITE" if len(options) == 1 else "STATE OUTSIDE THE POSSIBLE ONES")
            violations.append(f"{kind}: {iid}: expected one of {sorted(map(str, expected))}, "
                              f"observed {obs}")
            flagged.add(iid)
            # go on from what is there, so one fault is reported once
            if obs[0] == "present":
                model.states[iid] = {obs[1]}
            else:
                model.states.pop(iid)
                model.released[iid] = obs
            continue
        if obs[0] == "present":
            model.states[iid] = {obs[1]}
        else:
            model.states.pop(iid)
            model.released[iid] = obs
    # unanswered DeleteInstances: all or none
    for ids in groups:
        deleted = [i for i in ids if model.released.get(i) == ("manual", "DeleteInstances")]
        if deleted and len(deleted) != len(ids):
            violations.append(f"HALF-APPLIED DeleteInstances {ids}: only {deleted} deleted by it")
    # unanswered RunInstances: all or none, found by their unique names
    by_name = collections.defaultdict(list)
    for iid, inst in listed.items():
        by_name[inst.get("InstanceName")].append(iid)
    for p in pending:
        ids = by_name.get(p.name, [])
        if len(ids) not in (0, p.amount):
            violations.append(f"HALF-APPLIED RunInstances {p.name} Amount={p.amount}: {len(ids)} instances {ids}")
        for iid in ids:
            obs = observe(iid)
            if obs != ("present", p.state):
                violations.append(f"UNANSWERED RunInstances {p.name}: {iid} observed {obs}, expected {p.state}")
            model.states[iid] = {p.state}
            model.owner[iid] = -1  # nobody's: its creator never learnt the id
    # refused creates applied?
    for name in model.refused_names:
        if by_name.get(name):
            violations.append(f"REFUSED WRITE APPLIED: RunInstances {name} was refused but created {by_name[name]}")
    # instances or releases nobody accounts for
    for iid in listed:
        if iid not in model.states:
            what = "RESURRECTED" if iid in model.released else "PHANTOM INSTANCE"
            violations.append(f"{what}: {iid} ({listed[iid].get('InstanceName')}) is listed")
    for iid, evs in releases.items():
        if iid in flagged:
            continue
        if iid in model.released:
            if len(evs) != 1:
                violations.append(f"DOUBLE RELEASE: {iid}: {[(e['action'], e['cursor']) for e in evs]}")
            continue
        if iid not in model.states:
            violations.append(f"RELEASE OF AN UNKNOWN INSTANCE: {iid}: {[e['action'] for e in evs]}")
    # the released ones of earlier cycles stay released exactly once
    for iid in model.released:
        if iid in flagged:
            continue
        if iid not in releases or iid in listed:
            violations.append(f"RELEASE RECORD CHANGED: {iid}: events {releases.get(iid)}, listed {iid in listed}")
    model.clock_floor = now
    return {"now": now, "checked": checked, "listed": len(listed), "events": len(events)}


# ------------------------------------------------------------------------------------------------
# a cycle


def create_burst(sdk, count: int, at: datetime, tag: str, model: Model) -> None:
    made = 0
    for k in range((count + 99) // 100):
        amount = min(100, count - made)
        dp = k % 2 == 1
        resp = sdk.call("RunInstances", RegionId=REGION, InstanceType="ecs.g7.large", ImageId=harness.IMAGE,
                        Amount=amount, AutoReleaseTime=fmt_in(at), DeletionProtection=dp,
                        InstanceName=f"{tag}-{k}")
        ids = resp["InstanceIdSets"]["InstanceIdSet"]
        assert len(ids) == amount, f"burst RunInstances answered {len(ids)} of {amount}"
        for iid in ids:
            model.states[iid] = {Alive("Running", fmt_out(at), dp, False)}
            model.owner[iid] = -1
        made += amount


class Estimates:
    """How long a release and a bare start-up take on this machine, to aim the kills inside the
    jump and inside the start-up catch-up. Measured before cycle 1 (`calibrate`), refined by
    every jump that answered."""

    def __init__(self, per_release: float, startup: float):
        self.per_release = per_release
        self.startup = startup

    def jump(self, releases: int) -> float:
        return releases * self.per_release

    def seen_jump(self, releases: int, took: float) -> None:
        if releases > 0:
            self.per_release = 0.5 * self.per_release + 0.5 * took / releases


def calibrate(srv: EcsdServer, data: Path, burst: int, model: Model) -> tuple[EcsdServer, Estimates]:
    """A timed jump over one burst and a timed clean restart with nothing due (both checked
    again by cycle 1's verification, since the burst is in the model)."""
    admin = Admin(srv)
    v0 = admin.now()
    create_burst(ClassicSdk(srv.endpoint), burst, floor_minute(v0) + timedelta(minutes=45), "C0", model)
    t0 = time.monotonic()
    done = admin.advance(3600)
    took = time.monotonic() - t0
    if len(done["actions"]) != burst:
        raise AssertionError(f"calibration jump carried out {len(done['actions'])} actions, expected {burst}")
    srv.stop()
    t0 = time.monotonic()
    srv = start_server(data, virtual_clock=True)
    startup = time.monotonic() - t0
    return srv, Estimates(took / burst, startup)


def run_cycle(c: int, args, rng: random.Random, model: Model, data: Path, srv: EcsdServer,
              est: Estimates, stats: collections.Counter) -> tuple[EcsdServer, list[str], str]:
    violations: list[str] = []
    admin = Admin(srv)
    setup = ClassicSdk(srv.endpoint)
    v0 = admin.now()
    t1 = floor_minute(v0) + timedelta(minutes=45)
    t2 = floor_minute(v0) + timedelta(hours=3)
    create_burst(setup, args.burst, t1, f"B{c}a", model)
    create_burst(setup, args.burst, t2, f"B{c}b", model)
    released_before = db_release_count(data) or 0

    # --- load, then kill -9 (during the load alone or during load + scheduler burst)
    stop = threading.Event()
    results = [ThreadResult(n) for n in range(args.threads)]
    threads = [threading.Thread(target=load_thread, daemon=True,
                                args=(n, srv.endpoint, model.known_alive(n), v0, c,
                                      rng.randrange(2**32), stop, results[n]))
               for n in range(args.threads)]
    for t in threads:
        t.start()
    mode = rng.choice(["jump-polled", "jump-polled", "jump-random", "load-only"])
    time.sleep(rng.uniform(0.3, 1.5))  # let the load run a random while: the kill's moment
    advance = {"answered": None, "took": None}
    delay = 0.0
    racer = ThreadResult(args.threads)
    if mode != "load-only":
        def do_advance():
            t0 = time.monotonic()
            try:
                advance["answered"] = admin.advance(JUMP_S)
                advance["took"] = time.monotonic() - t0
            except Exception as e:  # noqa: BLE001 - killed under it
                advance["error"] = str(e)[:200]
        # the racer changes burst instances due in the jump while the jump releases them
        due_in_jump = [i for i, st in model.states.items()
                       if model.owner.get(i) == -1 and st == {Alive("Running", fmt_out(t1), False, False)}]
        race_ids = rng.sample(due_in_jump, min(len(due_in_jump), 300))
        rt = threading.Thread(target=race_thread, daemon=True,
                              args=(srv.endpoint, race_ids, Alive("Running", fmt_out(t1), False, False), v0,
                                    rng.randrange(2**32), stop, racer))
        at = threading.Thread(target=do_advance, daemon=True)
        at.start()
        rt.start()
        if mode == "jump-polled":
            # wait (bounded) until the jump is carrying out the burst: calls then see its time
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and at.is_alive():
                try:
                    if admin.now() >= t1:
                        break
                except Exception:  # noqa: BLE001
                    break
                time.sleep(0.002)
            delay = rng.uniform(0.0, 0.8 * est.jump(args.burst))
        else:
            delay = rng.uniform(0.0, 2.0 * est.jump(args.burst))
        time.sleep(delay)  # the kill's moment inside the jump
        srv.kill9()
        at.join(JOIN_TIMEOUT_S)
        rt.join(JOIN_TIMEOUT_S)
        if advance["took"] is not None:
            est.seen_jump(len(advance["answered"]["actions"]), advance["took"])
    else:
        srv.kill9()
    stop.set()
    for t in threads:
        t.join(JOIN_TIMEOUT_S)
        if t.is_alive():
            violations.append("HARNESS: a load thread did not stop")
    at_kill = db_release_count(data)
    advance_note = ""
    if mode != "load-only":
        done = None if at_kill is None else at_kill - released_before
        advance_note = (f"kill {delay:.2f}s {'after the burst began' if mode == 'jump-polled' else 'into the jump'}, "
                        f"racer acked={racer.acked} refused={racer.refused}, {'answered' if advance['answered'] else 'unanswered'}, "
                        f"{done} auto-releases committed at the kill, {args.burst} due in the jump")
        stats["advance_kills"] += 1
        stats["advance_mid"] += bool(done and not advance["answered"])

    pending, groups = [], []
    acked = refused = unknown = 0
    for r in results + [racer]:
        if r.error:
            violations.append(f"HARNESS ERROR in load thread {r.n}:\n{r.error}")
        violations.extend(r.violations)
        for iid, states in r.updates.items():
            model.states[iid] = states
        for iid in r.owned_new:
            model.owner[iid] = r.n
        pending.extend(r.pending)
        groups.extend(r.groups)
        model.refused_names.update(r.refused_names)
        acked, refused, unknown = acked + r.acked, refused + r.refused, unknown + r.unknown

    # --- offline jump of one day, then kill -9 during the start-up catch-up
    v_stored = {v0}
    if advance["answered"]:
        v_stored = {parse_rfc3339(advance["answered"]["now"])}
    elif mode != "load-only":
        v_stored = {v0, v0 + timedelta(seconds=JUMP_S)}  # killed before or after it stored the time
    run_cli(["clock", "advance", "1d", "--offline"], data)
    v_expected = {t + timedelta(days=1) for t in v_stored}

    before_catchup = db_release_count(data) or 0
    due_at_start = args.burst * (1 if advance["answered"] else 2)
    s2 = spawn_server(data)
    t0 = time.monotonic()
    # the kill's moment: somewhere from the process start to a little past the catch-up's end
    time.sleep(rng.uniform(0.5 * est.startup, est.startup + 0.8 * est.jump(due_at_start)))
    s2.kill9()
    killed_after = time.monotonic() - t0
    listening = "listening on" in s2.log_tail(200)
    after_catchup = db_release_count(data)
    caught = None if after_catchup is None else after_catchup - before_catchup
    catch_note = (f"catch-up kill at {killed_after:.2f}s "
                  f"({'after' if listening else 'before'} listening, "
                  f"{caught} auto-releases committed at the kill, about {due_at_start} due)")
    stats["catchup_mid"] += bool(caught and not listening)

    # --- restart and check
    srv = start_server(data, virtual_clock=True)
    info = verify(model, srv, pending, groups, v_expected, violations)
    summary = (f"mode={mode}" + (f" ({advance_note})" if advance_note else "") + f"; {catch_note}; "
               f"load acked={acked} refused={refused} unknown={unknown}; "
               f"checked {info['checked']} instances, {info['listed']} live, {info['events']} events")
    return srv, violations, summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cycles", type=int, default=5)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--burst", type=int, default=10000,
                    help="instances per burst minute (two bursts per cycle)")
    ap.add_argument("--keep", action="store_true", help="keep the data dir even when every cycle passed")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    rng = random.Random(seed)
    base = Path(tempfile.mkdtemp(prefix="ecsd-crash-"))
    data = base / "data"
    print(f"crash harness: {args.cycles} cycles, seed {seed}, {args.threads} threads, "
          f"bursts of {args.burst}, binary {harness.ecsd_bin()}, data {data}", flush=True)
    model = Model()
    passed = failed = 0
    stats = collections.Counter()
    srv = None
    t_start = time.monotonic()
    try:
        srv = start_server(data, virtual_clock=True)
        srv, est = calibrate(srv, data, args.burst, model)
        print(f"calibration: {est.per_release * 1e6:.0f} us per release in a jump, "
              f"{est.startup:.2f}s for a start-up with nothing due", flush=True)
        for c in range(1, args.cycles + 1):
            t0 = time.monotonic()
            try:
                srv, violations, summary = run_cycle(c, args, rng, model, data, srv, est, stats)
            except Exception:  # noqa: BLE001 - a harness error ends the run
                print(f"cycle {c}/{args.cycles}: HARNESS ERROR\n{traceback.format_exc()}", flush=True)
                if srv is not None:
                    print(srv.log_tail(30))
                return 2
            ok = not violations
            passed, failed = passed + ok, failed + (not ok)
            print(f"cycle {c}/{args.cycles}: {'PASS' if ok else 'FAIL'} in {time.monotonic() - t0:.1f}s: "
                  f"{summary}", flush=True)
            for v in violations[:50]:
                print(f"  VIOLATION: {v}", flush=True)
            if len(violations) > 50:
                print(f"  ... {len(violations) - 50} more", flush=True)
    finally:
        if srv is not None:
            srv.stop()
    print(f"kills inside a jump (some releases committed, no answer yet): {stats['advance_mid']} of "
          f"{stats['advance_kills']}; kills inside the start-up catch-up (some releases committed, "
          f"not listening yet): {stats['catchup_mid']} of {passed + failed}", flush=True)
    print(f"crash harness: {passed} passed, {failed} failed ({args.cycles} cycles, seed {seed}, "
          f"{time.monotonic() - t_start:.0f}s)", flush=True)
    if failed or args.keep:
        print(f"data dir and server logs kept in {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
