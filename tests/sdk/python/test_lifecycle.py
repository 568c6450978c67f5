"""The lifecycle engine (issue 4) driven by the virtual clock: auto-release at the minute, renewal
9 days before expiry at 08:00 UTC+8, daily retries, financial lock at expiry, release after the
15-day grace. Time only moves through POST /admin/clock/advance; nothing sleeps."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from harness import (
    ApiFailure, ClassicSdk, DEFAULT_AK, REGION, add_months, allocate_hosts, describe, describe_host, expect_error, floor_minute,
    fmt_in, fmt_out, lock_reasons, mentions, renew_attr, parse_minute, parse_rfc3339, run_instances, run_prepaid,
)

UTC8 = timezone(timedelta(hours=8))
PLENTY = Decimal("1000000.00")
GRACE = timedelta(days=15)


def set_release(sdk, iid, when):
    sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid, AutoReleaseTime=fmt_in(when))


def actions_about(advance_answer: dict, resource_id: str) -> list:
    actions = advance_answer.get("actions")
    assert isinstance(actions, list), f"advance answer: expected an 'actions' list, got {advance_answer!r}"
    return [a for a in actions if mentions(a, resource_id)]


def renewal_time(expired: datetime) -> datetime:
    """08:00 UTC+8 on the (UTC+8) day nine days before the expiry day."""
    day = expired.astimezone(UTC8).date() - timedelta(days=9)
    return datetime(day.year, day.month, day.day, 8, 0, tzinfo=UTC8).astimezone(timezone.utc)


def goto_next_utc_hour(admin, hour: int) -> datetime:
    """Advance to the next HH:00:00 UTC. Subscriptions bought at 20:00 UTC (04:00 UTC+8) expire
    before 08:00 UTC+8 on their last day, so 'nine days before at 08:00' has one reading."""
    now = admin.now()
    target = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if target <= now:
        target += timedelta(days=1)
    admin.advance_to(target)
    return admin.now()


def state(sdk, iid):
    inst = describe(sdk, iid)
    if inst is None:
        return None
    return {"Status": inst["Status"], "ExpiredTime": inst["ExpiredTime"], "locks": lock_reasons(inst)}


# -- clock and admin API ------------------------------------------------------------------------


def test_clock_is_virtual_and_moves_only_when_advanced(admin):
    c = admin.clock()
    assert c.get("mode") == "virtual", f"GET /admin/clock: expected mode virtual, got {c!r}"
    t0 = parse_rfc3339(c["now"])
    t1 = admin.now()
    assert t1 == t0, f"virtual clock moved by itself: {t0.isoformat()} -> {t1.isoformat()}"
    resp = admin.advance(3600)
    t2 = parse_rfc3339(resp["now"])
    assert t2 - t1 == timedelta(hours=1), f"advance 3600s: expected +1h, got {t2 - t1}"
    assert admin.now() == t2


def test_clock_refuses_to_move_backwards(admin):
    before = admin.now()
    status, body = admin.request("POST", "/admin/clock/advance", {"seconds": -60}, expect_ok=False)
    assert status == 400, f"advance by -60s: expected 400, got {status} {body!r}"
    assert admin.now() == before, "a refused advance moved the clock"


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_admin_api_needs_the_bearer_token(admin, token):
    status, body = admin.request("GET", "/admin/clock", token=token, expect_ok=False)
    assert status == 401, f"admin call with token {token!r}: expected 401, got {status} {body!r}"


@pytest.mark.parametrize("method,path,body", [
    ("POST", "/admin/clock/advance", {}),
    ("POST", "/admin/clock/advance", [60]),
    ("POST", "/admin/clock/advance", {"seconds": "soon"}),
    ("PUT", f"/admin/accounts/{DEFAULT_AK}/balance", {}),
    ("GET", "/admin/events?limit=abc", None),
    ("GET", "/admin/events?limit=0", None),
    ("GET", "/admin/events?since=1&since=2", None),
    ("DELETE", "/admin/clock", None),
])
def test_admin_api_refusals_are_json_and_change_nothing(admin, method, path, body):
    before = admin.now()
    status, answer = admin.request(method, path, body, expect_ok=False)
    assert 400 <= status < 500 and isinstance(answer, dict) and answer.get("error"), (
        f"{method} {path} {body!r}: expected a 4xx with a JSON error, got {status} {answer!r}")
    assert admin.now() == before


def test_balance_can_be_set_and_read(admin):
    admin.set_balance(DEFAULT_AK, "123.45")
    assert admin.balance(DEFAULT_AK) == Decimal("123.45")


# -- auto-release -------------------------------------------------------------------------------


def test_instance_is_released_at_the_minute_not_a_second_before(sdk, admin):
    iid, other = run_instances(sdk, amount=2)
    minute = floor_minute(admin.now() + timedelta(hours=2))
    set_release(sdk, iid, minute.replace(second=42))  # seconds are dropped: due at `minute`
    admin.advance_until_just_before(minute)
    assert describe(sdk, iid) is not None, f"{iid} released before its AutoReleaseTime {fmt_out(minute)}"
    resp = admin.advance(1)
    assert parse_rfc3339(resp["now"]) >= minute
    assert describe(sdk, iid) is None, f"{iid} still listed at its AutoReleaseTime {fmt_out(minute)}"
    assert describe(sdk, other) is not None, "an instance without auto-release was released"
    assert len(actions_about(resp, iid)) == 1, f"advance answer: expected one action on {iid}, got {resp!r}"


def test_auto_released_instance_is_not_found_afterwards(sdk, admin):
    iid = run_instances(sdk)[0]
    when = admin.now() + timedelta(hours=1)
    set_release(sdk, iid, when)
    admin.advance_to(when + timedelta(minutes=1))
    expect_error(sdk.call, "ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid,
                 AutoReleaseTime=fmt_in(admin.now() + timedelta(days=1)), code="NoSuchResource", status=404)
    expect_error(sdk.call, "DeleteInstance", InstanceId=iid, Force=True,
                 code="InvalidInstanceId.NotFound", status=404)


def test_auto_release_time_given_at_run_instances_releases(sdk, admin):
    minute = floor_minute(admin.now() + timedelta(hours=3))
    iid = run_instances(sdk, AutoReleaseTime=fmt_in(minute))[0]
    admin.advance_until_just_before(minute)
    assert describe(sdk, iid) is not None
    admin.advance(1)
    assert describe(sdk, iid) is None


def test_cancelled_auto_release_does_not_happen(sdk, admin):
    iid = run_instances(sdk)[0]
    when = admin.now() + timedelta(hours=1)
    set_release(sdk, iid, when)
    sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid)
    resp = admin.advance_to(when + timedelta(days=2))
    assert describe(sdk, iid) is not None, "a cancelled auto-release still released the instance"
    assert actions_about(resp, iid) == [], f"cancelled auto-release ran an action: {resp!r}"


def test_latest_setting_wins_when_moved_later(sdk, admin):
    iid = run_instances(sdk)[0]
    now = admin.now()
    first, second = floor_minute(now + timedelta(hours=1)), floor_minute(now + timedelta(hours=5))
    set_release(sdk, iid, first)
    set_release(sdk, iid, second)
    admin.advance_to(first + timedelta(minutes=30))
    assert describe(sdk, iid) is not None, "released at the replaced (earlier) time"
    admin.advance_until_just_before(second)
    assert describe(sdk, iid) is not None
    admin.advance(1)
    assert describe(sdk, iid) is None, "not released at the latest setting"


def test_latest_setting_wins_when_moved_earlier(sdk, admin):
    iid = run_instances(sdk)[0]
    now = admin.now()
    first, second = floor_minute(now + timedelta(days=2)), floor_minute(now + timedelta(hours=1))
    set_release(sdk, iid, first)
    set_release(sdk, iid, second)
    admin.advance_until_just_before(second)
    assert describe(sdk, iid) is not None
    admin.advance(1)
    assert describe(sdk, iid) is None, "not released at the latest (earlier) setting"


def test_deletion_protection_blocks_delete_but_not_auto_release(sdk, admin):
    iid = run_instances(sdk, DeletionProtection=True)[0]
    expect_error(sdk.call, "DeleteInstance", InstanceId=iid, Force=True,
                 code="InvalidOperation.DeletionProtection", status=403)
    when = floor_minute(admin.now() + timedelta(hours=1))
    set_release(sdk, iid, when)
    admin.advance_to(when)
    assert describe(sdk, iid) is None, "DeletionProtection must not block auto-release"


def test_stopped_instance_is_auto_released_too(sdk, admin):
    iid = run_instances(sdk)[0]
    sdk.call("StopInstance", InstanceId=iid)
    when = floor_minute(admin.now() + timedelta(hours=1))
    set_release(sdk, iid, when)
    admin.advance_to(when)
    assert describe(sdk, iid) is None


def test_due_releases_run_in_due_order_within_one_advance(sdk, admin):
    late, early, never = run_instances(sdk, amount=3)
    base = floor_minute(admin.now() + timedelta(hours=1))
    set_release(sdk, late, base + timedelta(minutes=40))
    set_release(sdk, early, base)
    resp = admin.advance_to(base + timedelta(hours=1))
    assert describe(sdk, late) is None and describe(sdk, early) is None
    assert describe(sdk, never) is not None
    actions = resp["actions"]
    i_early = next(i for i, a in enumerate(actions) if mentions(a, early))
    i_late = next(i for i, a in enumerate(actions) if mentions(a, late))
    assert i_early < i_late, f"actions must run in due order (early {early} first): {actions!r}"


def test_many_instances_due_in_the_same_minute_are_all_released(classic, admin):
    ids = run_instances(classic, amount=20)
    when = floor_minute(admin.now() + timedelta(hours=1))
    for iid in ids:
        set_release(classic, iid, when)
    admin.advance_to(when)
    left = [iid for iid in ids if describe(classic, iid) is not None]
    assert left == [], f"not released at {fmt_out(when)}: {left}"


def test_auto_release_runs_once_and_is_recorded_as_one_event(classic, admin):
    iid = run_instances(classic)[0]
    when = floor_minute(admin.now() + timedelta(hours=1))
    set_release(classic, iid, when)
    admin.advance_to(when + timedelta(minutes=5))
    admin.advance(3 * 86400)
    events = [e for e in admin.all_events() if mentions(e, iid)]
    assert len(events) == 1, f"expected exactly one event about {iid}, got {events!r}"


def test_events_since_cursor_returns_only_newer_events(classic, admin):
    a, b = run_instances(classic, amount=2)
    t = floor_minute(admin.now() + timedelta(hours=1))
    set_release(classic, a, t)
    set_release(classic, b, t + timedelta(hours=1))
    admin.advance_to(t)
    first = admin.events()
    cursor = None
    if isinstance(first, dict):  # the contract names no field; accept the usual spellings
        cursor = next((first[k] for k in ("next", "cursor", "next_cursor") if first.get(k) is not None), None)
    assert cursor is not None, f"GET /admin/events: expected a cursor (next/cursor), got {first!r}"
    admin.advance_to(t + timedelta(hours=1))
    later = admin.events(since=str(cursor))
    evs = later.get("events") if isinstance(later, dict) else None
    assert isinstance(evs, list), f"GET /admin/events?since=: expected an 'events' list, got {later!r}"
    assert any(mentions(e, b) for e in evs), f"event for {b} missing after the cursor: {later!r}"
    assert not any(mentions(e, a) for e in evs), f"event for {a} repeated after the cursor: {later!r}"


def test_calls_during_a_jump_cannot_move_a_release_the_jump_is_due_to_run(server, admin):
    """While an advance works through many releases, calls served meanwhile see the time of the
    work in progress. A new release time that only the jump's end would allow (more than three
    years past the first time) must not be accepted before the old one has run, so the jump
    releases every instance it passes, as a running clock would have."""
    import threading

    sdk = ClassicSdk(server.endpoint)
    t0 = floor_minute(admin.now())
    for k in range(150):  # 15,000 releases between t0+40m and t0+10h: the jump takes a while
        first = t0 + timedelta(minutes=40 + 3 * k)
        run_instances(sdk, amount=100, AutoReleaseTime=fmt_in(first))
    watched = run_instances(sdk, amount=5, AutoReleaseTime=fmt_in(t0 + timedelta(hours=5)))
    too_far = fmt_in(add_months(t0, 36) + timedelta(hours=6))
    accepted, unexpected, calls = [], [], []  # calls: (sent, answered, outcome), monotonic
    stop, calling = threading.Event(), threading.Event()

    def keep_trying():
        caller = ClassicSdk(server.endpoint)
        while not stop.is_set():
            for iid in watched:
                sent = time.monotonic()
                try:
                    caller.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid,
                                AutoReleaseTime=too_far)
                    accepted.append(iid)
                    outcome = "accepted"
                except ApiFailure as e:
                    # before the watched release: too far ahead; after it: the instance is gone
                    outcome = e.code
                    if (e.code, e.status) not in (("InvalidAutoReleaseTime.Malformed", 400),
                                                  ("NoSuchResource", 404)):
                        unexpected.append(f"{iid}: HTTP {e.status} {e.code}: {e.message}")
                calls.append((sent, time.monotonic(), outcome))
                calling.set()

    threads = [threading.Thread(target=keep_trying) for _ in range(3)]
    for th in threads:
        th.start()
    try:
        assert calling.wait(timeout=60), "no ModifyInstanceAutoReleaseTime call was answered"
        jump_started = time.monotonic()
        admin.advance(12 * 3600)
        jump_ended = time.monotonic()
    finally:
        stop.set()
        for th in threads:
            th.join()
    assert not unexpected, f"refused with an unexpected error mid-jump: {unexpected[:5]}"
    assert not accepted, (
        f"a release time beyond the 3-year window was accepted {len(accepted)} times mid-jump, "
        f"for {sorted(set(accepted))}")
    during = [outcome for sent, answered, outcome in calls
              if jump_started < sent and answered < jump_ended]
    assert during, (f"no call was sent and answered while the jump ran ({len(calls)} calls, jump "
                    f"{jump_ended - jump_started:.2f}s): the test raced nothing")
    assert "InvalidAutoReleaseTime.Malformed" in during, (
        f"no call mid-jump saw the time before the watched release: {sorted(set(during))}")
    for iid in watched:
        assert describe(sdk, iid) is None, f"{iid} was due inside the jump but is still there"


def test_dedicated_host_is_released_at_the_minute(sdk, admin):
    hid, other = allocate_hosts(sdk, quantity=2)
    minute = floor_minute(admin.now() + timedelta(hours=2))
    sdk.call("ModifyDedicatedHostAutoReleaseTime", RegionId=REGION, DedicatedHostId=hid,
             AutoReleaseTime=fmt_in(minute.replace(second=5)))
    admin.advance_until_just_before(minute)
    assert describe_host(sdk, hid) is not None, "host released before its AutoReleaseTime"
    admin.advance(1)
    assert describe_host(sdk, hid) is None, "host still listed at its AutoReleaseTime"
    assert describe_host(sdk, other) is not None
    expect_error(sdk.call, "ReleaseDedicatedHost", RegionId=REGION, DedicatedHostId=hid,
                 code="InvalidDedicatedHostId.NotFound", status=404)


def test_dedicated_host_auto_release_takes_its_instances_along(sdk, admin):
    hid, other = allocate_hosts(sdk, quantity=2)
    placed = run_instances(sdk, amount=2, DedicatedHostId=hid)
    elsewhere = run_instances(sdk, DedicatedHostId=other)[0]
    # By hand, a host with instances is refused; its release time is kept all the same.
    expect_error(sdk.call, "ReleaseDedicatedHost", RegionId=REGION, DedicatedHostId=hid,
                 code="InstanceExist", status=403, message="Instance exists on the dedicated host.")
    minute = floor_minute(admin.now() + timedelta(hours=2))
    sdk.call("ModifyDedicatedHostAutoReleaseTime", RegionId=REGION, DedicatedHostId=hid,
             AutoReleaseTime=fmt_in(minute))
    admin.advance_until_just_before(minute)
    assert all(describe(sdk, iid) is not None for iid in placed), "instances released before their host"
    answer = admin.advance(1)
    assert describe_host(sdk, hid) is None, "host still listed at its AutoReleaseTime"
    for iid in placed:
        assert describe(sdk, iid) is None, f"{iid} outlived the host it was placed on"
        acts = actions_about(answer, iid)
        assert len(acts) == 1 and acts[0].get("outcome") == "released", f"{iid}: {acts!r}"
    kept = describe(sdk, elsewhere)
    assert kept is not None and kept["DedicatedHostAttribute"]["DedicatedHostId"] == other, \
        "an instance on another host was touched"
    events = [e for e in admin.all_events() if mentions(e, placed[0])]
    assert events and mentions(events[-1], hid), f"the release event does not name the host: {events!r}"


def test_dedicated_host_cancelled_auto_release_does_not_happen(sdk, admin):
    hid = allocate_hosts(sdk)[0]
    when = admin.now() + timedelta(hours=1)
    sdk.call("ModifyDedicatedHostAutoReleaseTime", RegionId=REGION, DedicatedHostId=hid, AutoReleaseTime=fmt_in(when))
    sdk.call("ModifyDedicatedHostAutoReleaseTime", RegionId=REGION, DedicatedHostId=hid)
    admin.advance_to(when + timedelta(days=1))
    assert describe_host(sdk, hid) is not None


def test_dedicated_host_release_time_set_twice_latest_wins(sdk, admin):
    hid = allocate_hosts(sdk)[0]
    now = admin.align_to_minute()
    first, second = now + timedelta(hours=1), now + timedelta(hours=3)
    for when in (first, second):
        sdk.call("ModifyDedicatedHostAutoReleaseTime", RegionId=REGION, DedicatedHostId=hid,
                 AutoReleaseTime=fmt_in(when))
    assert describe_host(sdk, hid)["AutoReleaseTime"] == fmt_out(second)
    admin.advance_to(first + timedelta(minutes=30))
    assert describe_host(sdk, hid) is not None, "released at the replaced (earlier) time"
    admin.advance_until_just_before(second)
    assert describe_host(sdk, hid) is not None, "released before the latest time"
    admin.advance_to(second)
    assert describe_host(sdk, hid) is None, "not released at the latest time"


# -- renewal and expiry -------------------------------------------------------------------------


def test_auto_renewal_charges_nine_days_before_expiry_at_0800_utc8_and_extends(sdk, admin):
    goto_next_utc_hour(admin, 20)
    admin.set_balance(DEFAULT_AK, PLENTY)
    iid = run_prepaid(sdk, months=1, AutoRenew=True, AutoRenewPeriod=1)[0]
    expired = parse_minute(describe(sdk, iid)["ExpiredTime"])
    due = renewal_time(expired)
    b0 = admin.balance(DEFAULT_AK)

    admin.advance_to(due - timedelta(minutes=1))
    assert admin.balance(DEFAULT_AK) == b0, f"charged before {fmt_out(due)} (08:00 UTC+8, 9 days before expiry)"
    assert state(sdk, iid)["ExpiredTime"] == fmt_out(expired)

    admin.advance_to(due)
    b1 = admin.balance(DEFAULT_AK)
    month_price = b0 - b1
    assert month_price > 0, f"not charged at {fmt_out(due)}: balance {b0} -> {b1}"
    want = fmt_out(add_months(expired, 1))
    assert state(sdk, iid) == {"Status": "Running", "ExpiredTime": want, "locks": []}, (
        f"after renewal: expected Running, ExpiredTime {want}, no locks; got {state(sdk, iid)}")

    # Duration x PeriodUnit: a 2-month renewal costs two months and adds two months
    sdk.call("ModifyInstanceAutoRenewAttribute", RegionId=REGION, InstanceId=iid, AutoRenew=True,
             Duration=2, PeriodUnit="Month")
    expired2 = add_months(expired, 1)
    due2 = renewal_time(expired2)
    admin.advance_to(due2 - timedelta(minutes=1))
    assert admin.balance(DEFAULT_AK) == b1, "charged again before the next renewal day"
    admin.advance_to(due2)
    b2 = admin.balance(DEFAULT_AK)
    assert b1 - b2 == 2 * month_price, f"2-month renewal: expected a charge of {2 * month_price}, got {b1 - b2}"
    want = fmt_out(add_months(expired2, 2))
    assert state(sdk, iid) == {"Status": "Running", "ExpiredTime": want, "locks": []}, (
        f"after 2-month renewal: expected ExpiredTime {want}, got {state(sdk, iid)}")


def test_yearly_auto_renewal_extends_by_a_year(classic, admin):
    goto_next_utc_hour(admin, 20)
    admin.set_balance(DEFAULT_AK, PLENTY)
    iid = run_prepaid(classic, months=1)[0]
    classic.call("ModifyInstanceAutoRenewAttribute", RegionId=REGION, InstanceId=iid, AutoRenew=True,
                 Duration=1, PeriodUnit="Year")
    expired = parse_minute(describe(classic, iid)["ExpiredTime"])
    b0 = admin.balance(DEFAULT_AK)
    admin.advance_to(renewal_time(expired))
    assert admin.balance(DEFAULT_AK) < b0, "yearly renewal did not charge"
    got = state(classic, iid)["ExpiredTime"]
    assert got == fmt_out(add_months(expired, 12)), f"yearly renewal: expected {fmt_out(add_months(expired, 12))}, got {got}"


def test_short_balance_is_retried_daily_at_0800_utc8_until_it_succeeds(sdk, admin):
    goto_next_utc_hour(admin, 20)
    admin.set_balance(DEFAULT_AK, "0")
    iid = run_prepaid(sdk, months=1, AutoRenew=True, AutoRenewPeriod=1)[0]
    expired = parse_minute(describe(sdk, iid)["ExpiredTime"])
    due = renewal_time(expired)

    resp = admin.advance_to(due)
    assert len(actions_about(resp, iid)) == 1, f"expected one renewal attempt at {fmt_out(due)}: {resp!r}"
    assert admin.balance(DEFAULT_AK) == 0, "a failed renewal changed the balance"
    assert state(sdk, iid)["ExpiredTime"] == fmt_out(expired), "renewed without money"

    admin.advance_to(due + timedelta(hours=12))
    admin.set_balance(DEFAULT_AK, PLENTY)
    admin.advance_to(due + timedelta(days=1) - timedelta(minutes=1))
    assert admin.balance(DEFAULT_AK) == PLENTY, "retried before 08:00 UTC+8 the next day"
    assert state(sdk, iid)["ExpiredTime"] == fmt_out(expired)

    admin.advance_to(due + timedelta(days=1))
    assert admin.balance(DEFAULT_AK) < PLENTY, "the next day's retry did not charge"
    want = fmt_out(add_months(expired, 1))
    assert state(sdk, iid) == {"Status": "Running", "ExpiredTime": want, "locks": []}, (
        f"after the retry: expected ExpiredTime {want}, got {state(sdk, iid)}")


def test_unpaid_subscription_is_locked_at_expiry_and_released_after_grace(sdk, admin):
    goto_next_utc_hour(admin, 20)
    admin.set_balance(DEFAULT_AK, "0")
    iid = run_prepaid(sdk, months=1, AutoRenew=True, AutoRenewPeriod=1)[0]
    expired = parse_minute(describe(sdk, iid)["ExpiredTime"])
    due = renewal_time(expired)

    day = 0
    while due + timedelta(days=day) < expired:
        t = due + timedelta(days=day)
        resp = admin.advance_to(t)
        got = actions_about(resp, iid)
        assert len(got) == 1, f"day {day} ({fmt_out(t)}): expected exactly one renewal attempt, got {got!r}"
        resp = admin.advance_to(t + timedelta(hours=12))
        assert actions_about(resp, iid) == [], f"attempt off the 08:00 UTC+8 hour: {resp!r}"
        day += 1
    assert day == 9, f"expected 9 daily attempts before expiry, had {day}"

    admin.advance_to(expired - timedelta(minutes=1))
    assert state(sdk, iid) == {"Status": "Running", "ExpiredTime": fmt_out(expired), "locks": []}, (
        f"before expiry: {state(sdk, iid)}")

    admin.advance_to(expired)
    s = state(sdk, iid)
    assert s is not None, "an expired subscription must be kept for the grace period, not released"
    assert s["Status"] == "Stopped" and "financial" in s["locks"], (
        f"at expiry: expected Stopped with OperationLocks [financial], got {s}")
    assert admin.balance(DEFAULT_AK) == 0
    expect_error(sdk.call, "StartInstance", InstanceId=iid, code="InstanceExpired", status=403)

    admin.advance_to(expired + GRACE - timedelta(minutes=1))
    assert describe(sdk, iid) is not None, "released before the 15-day grace ended"
    admin.advance_to(expired + GRACE)
    assert describe(sdk, iid) is None, "not released when the 15-day grace ended"


@pytest.mark.parametrize("status", ["NotRenewal", "Normal"])
def test_subscription_not_set_to_auto_renew_is_never_charged(sdk, admin, status):
    goto_next_utc_hour(admin, 20)
    admin.set_balance(DEFAULT_AK, PLENTY)
    iid = run_prepaid(sdk, months=1, AutoRenew=True, AutoRenewPeriod=1)[0]
    sdk.call("ModifyInstanceAutoRenewAttribute", RegionId=REGION, InstanceId=iid, RenewalStatus=status)
    expired = parse_minute(describe(sdk, iid)["ExpiredTime"])
    b0 = admin.balance(DEFAULT_AK)

    admin.advance_to(renewal_time(expired) + timedelta(days=2))
    assert admin.balance(DEFAULT_AK) == b0, f"RenewalStatus={status} was charged"
    admin.advance_to(expired)
    s = state(sdk, iid)
    assert s == {"Status": "Stopped", "ExpiredTime": fmt_out(expired), "locks": ["financial"]}, (
        f"RenewalStatus={status} at expiry: expected Stopped, same ExpiredTime, [financial]; got {s}")
    assert admin.balance(DEFAULT_AK) == b0, f"RenewalStatus={status} was charged at expiry"
    admin.advance_to(expired + GRACE)
    assert describe(sdk, iid) is None, "expired subscription not released after the grace period"
    assert admin.balance(DEFAULT_AK) == b0


def test_renewal_charges_the_owning_account_only_once_per_period(classic, admin):
    goto_next_utc_hour(admin, 20)
    admin.set_balance(DEFAULT_AK, PLENTY)
    iid = run_prepaid(classic, months=1, AutoRenew=True, AutoRenewPeriod=1)[0]
    expired = parse_minute(describe(classic, iid)["ExpiredTime"])
    due = renewal_time(expired)
    admin.advance_to(due)
    after_first = admin.balance(DEFAULT_AK)
    # the following days up to the old expiry must not charge again
    admin.advance_to(expired + timedelta(days=1))
    assert admin.balance(DEFAULT_AK) == after_first, "renewal charged more than once for one period"


def test_expired_subscription_can_be_released_with_terminate_subscription(sdk, admin):
    goto_next_utc_hour(admin, 20)
    iid = run_prepaid(sdk, months=1)[0]
    expired = parse_minute(describe(sdk, iid)["ExpiredTime"])
    admin.advance_to(expired)
    assert state(sdk, iid)["Status"] == "Stopped"
    sdk.call("DeleteInstance", InstanceId=iid, TerminateSubscription=True)
    assert describe(sdk, iid) is None, "DeleteInstance TerminateSubscription=true did not release the expired instance"


def test_auto_renew_attribute_of_an_expired_locked_instance_is_kept_but_renews_nothing(sdk, admin):
    """The reference's charge-type table allows both auto-renew calls on an expired subscription.
    Retries end at expiry, so the setting is recorded and the instance is still released after
    the grace period."""
    goto_next_utc_hour(admin, 20)
    admin.set_balance(DEFAULT_AK, PLENTY)
    iid = run_prepaid(sdk, months=1)[0]
    expired = parse_minute(describe(sdk, iid)["ExpiredTime"])
    admin.advance_to(expired)
    assert "financial" in state(sdk, iid)["locks"]
    sdk.call("ModifyInstanceAutoRenewAttribute", RegionId=REGION, InstanceId=iid, AutoRenew=True, Duration=1)
    attr = renew_attr(sdk, iid)
    assert attr["AutoRenewEnabled"] is True and attr["RenewalStatus"] == "AutoRenewal", attr
    balance = admin.balance(DEFAULT_AK)
    admin.advance_to(expired + GRACE - timedelta(seconds=1))
    assert admin.balance(DEFAULT_AK) == balance, "an expired subscription was charged"
    assert "financial" in state(sdk, iid)["locks"]
    admin.advance(1)
    assert describe(sdk, iid) is None, "the expired instance was not released after the grace period"


# -- one advance across several due times: every action runs, in due order, none skipped ---------


def test_one_jump_past_expiry_and_grace_runs_attempts_lock_and_release(sdk, admin):
    goto_next_utc_hour(admin, 20)
    admin.set_balance(DEFAULT_AK, "0")
    iid = run_prepaid(sdk, months=1, AutoRenew=True, AutoRenewPeriod=1)[0]
    expired = parse_minute(describe(sdk, iid)["ExpiredTime"])
    resp = admin.advance_to(expired + GRACE + timedelta(days=1))
    assert describe(sdk, iid) is None, "one advance past expiry + grace: the instance must be released"
    got = actions_about(resp, iid)
    # 9 daily renewal attempts, the expiry lock, the release after grace
    assert len(got) == 11, f"expected 9 attempts + lock + release = 11 actions on {iid}, got {len(got)}: {got!r}"


def test_one_jump_over_two_renewal_dates_renews_twice(sdk, admin):
    goto_next_utc_hour(admin, 20)
    admin.set_balance(DEFAULT_AK, PLENTY)
    iid = run_prepaid(sdk, months=1, AutoRenew=True, AutoRenewPeriod=1)[0]
    expired = parse_minute(describe(sdk, iid)["ExpiredTime"])
    admin.advance_to(renewal_time(expired))
    month_price = PLENTY - admin.balance(DEFAULT_AK)
    assert month_price > 0
    # from just after the first renewal, jump over the next two renewal dates at once. Each
    # renewal moves the current ExpiredTime by a month, so month ends clamp step by step
    # (Jan 31 -> Feb 28 -> Mar 28), unlike adding three months to the first date at once.
    ends = [expired]
    for _ in range(3):
        ends.append(add_months(ends[-1], 1))
    target = ends[2] + timedelta(days=1)
    resp = admin.advance_to(target)
    want = fmt_out(ends[3])
    assert state(sdk, iid) == {"Status": "Running", "ExpiredTime": want, "locks": []}, (
        f"after one advance over two renewal dates: expected ExpiredTime {want}, got {state(sdk, iid)}")
    assert PLENTY - admin.balance(DEFAULT_AK) == 3 * month_price, "expected exactly three monthly charges in all"
    assert len(actions_about(resp, iid)) == 2, f"expected two renewals in the jump: {resp!r}"


def test_one_jump_with_money_renews_instead_of_locking(sdk, admin):
    goto_next_utc_hour(admin, 20)
    admin.set_balance(DEFAULT_AK, PLENTY)
    iid = run_prepaid(sdk, months=1, AutoRenew=True, AutoRenewPeriod=1)[0]
    expired = parse_minute(describe(sdk, iid)["ExpiredTime"])
    admin.advance_to(expired + timedelta(days=2))
    want = fmt_out(add_months(expired, 1))
    assert state(sdk, iid) == {"Status": "Running", "ExpiredTime": want, "locks": []}, (
        f"renewal due before the old expiry must run first: expected Running until {want}, got {state(sdk, iid)}")


def test_concurrent_advances_run_each_action_once(classic, admin):
    """Two admin clients advance the clock at the same time; every due release runs exactly once."""
    import threading
    ids = run_instances(classic, amount=10)
    base = floor_minute(admin.now() + timedelta(hours=1))
    for n, iid in enumerate(ids):
        set_release(classic, iid, base + timedelta(minutes=n))
    answers, errors = [], []

    def go():
        try:
            answers.append(admin.advance(2 * 3600))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, f"concurrent advances failed: {errors}"
    left = [iid for iid in ids if describe(classic, iid) is not None]
    assert left == [], f"not released: {left}"
    events = admin.all_events()
    for iid in ids:
        n_events = sum(1 for e in events if mentions(e, iid))
        n_actions = sum(len(actions_about(a, iid)) for a in answers)
        assert (n_events, n_actions) == (1, 1), (
            f"{iid}: expected one event and one reported action, got {n_events} events, {n_actions} actions")


# ecs.g7.large's catalogue price: 2 vCPU x 12 per vCPU-month (crates/ecs-domain/src/catalog.rs)
G7_LARGE_MONTH = Decimal("24.00")


def test_renewal_when_expiry_is_after_0800_utc8_charges_that_morning_nine_days_before(sdk, admin):
    """Bought at 04:00 UTC (12:00 UTC+8), the subscription expires at noon UTC+8: the charge is
    08:00 UTC+8 on the day nine days before, four hours before the time of day it expires, and
    it is the catalogue's monthly price."""
    goto_next_utc_hour(admin, 4)
    admin.set_balance(DEFAULT_AK, PLENTY)
    iid = run_prepaid(sdk, months=1, AutoRenew=True, AutoRenewPeriod=1, InstanceType="ecs.g7.large")[0]
    expired = parse_minute(describe(sdk, iid)["ExpiredTime"])
    assert expired.astimezone(UTC8).hour == 12, f"expected expiry at 12:00 UTC+8, got {expired}"
    due = renewal_time(expired)
    assert expired - due == timedelta(days=9, hours=4)
    b0 = admin.balance(DEFAULT_AK)
    admin.advance_until_just_before(due)
    assert admin.balance(DEFAULT_AK) == b0, f"charged before {fmt_out(due)}"
    admin.advance_to(due)
    assert b0 - admin.balance(DEFAULT_AK) == G7_LARGE_MONTH
    assert state(sdk, iid)["ExpiredTime"] == fmt_out(add_months(expired, 1))


@pytest.mark.parametrize("duration,unit,months", [(1, "Month", 1), (3, "Month", 3), (1, "Year", 12)])
def test_renewal_charges_the_catalogue_price_times_the_period(classic, admin, duration, unit, months):
    goto_next_utc_hour(admin, 20)
    admin.set_balance(DEFAULT_AK, PLENTY)
    iid = run_prepaid(classic, months=1, InstanceType="ecs.g7.large")[0]
    classic.call("ModifyInstanceAutoRenewAttribute", RegionId=REGION, InstanceId=iid, AutoRenew=True,
                 Duration=duration, PeriodUnit=unit)
    expired = parse_minute(describe(classic, iid)["ExpiredTime"])
    b0 = admin.balance(DEFAULT_AK)
    admin.advance_to(renewal_time(expired))
    assert b0 - admin.balance(DEFAULT_AK) == months * G7_LARGE_MONTH, (
        f"{duration} {unit}: expected {months} x {G7_LARGE_MONTH}, charged {b0 - admin.balance(DEFAULT_AK)}")
    assert state(classic, iid)["ExpiredTime"] == fmt_out(add_months(expired, months))


def test_an_expired_subscription_is_not_released_without_terminate_subscription(sdk, admin):
    goto_next_utc_hour(admin, 20)
    iid = run_prepaid(sdk, months=1)[0]
    admin.advance_to(parse_minute(describe(sdk, iid)["ExpiredTime"]))
    assert state(sdk, iid)["Status"] == "Stopped"
    expect_error(sdk.call, "DeleteInstance", InstanceId=iid, code="ChargeTypeViolation", status=403)
    expect_error(sdk.call, "DeleteInstance", InstanceId=iid, Force=True,
                 code="ChargeTypeViolation", status=403)
    assert describe(sdk, iid) is not None


def test_terminate_subscription_does_not_release_an_unexpired_subscription(sdk, admin):
    iid = run_prepaid(sdk, months=1)[0]
    sdk.call("StopInstance", InstanceId=iid)
    expect_error(sdk.call, "DeleteInstance", InstanceId=iid, TerminateSubscription=True,
                 code="ChargeTypeViolation", status=403)
    expect_error(sdk.call, "DeleteInstance", InstanceId=iid, TerminateSubscription=True, Force=True,
                 code="ChargeTypeViolation", status=403)
    assert describe(sdk, iid) is not None
