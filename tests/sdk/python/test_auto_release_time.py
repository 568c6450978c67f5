"""ModifyInstanceAutoReleaseTime and ModifyDedicatedHostAutoReleaseTime (seeds 000, 001, 003):
parameter rules and every error row, through both Python SDKs. Times are relative to the
server's (virtual) clock, read from the admin API."""

from __future__ import annotations

from datetime import timedelta

import pytest

from harness import (
    REGION, add_months, allocate_hosts, describe, describe_host, expect_error, floor_minute, fmt_in,
    fmt_out, run_instances, run_prepaid,
)

MALFORMED = "InvalidAutoReleaseTime.Malformed"


def malformed_shapes(when):
    """Shapes of a time that is otherwise inside the window; all must be refused."""
    d = when
    return [
        d.strftime("%Y-%m-%dT%H:%M:%S"),            # no Z
        d.strftime("%Y-%m-%d %H:%M:%SZ"),           # space instead of T
        d.strftime("%Y-%m-%dT%H:%M:%S+08:00"),      # an offset instead of UTC Z
        d.strftime("%Y-%m-%dT%H:%M:%S.000Z"),       # milliseconds
        d.strftime("%Y-%m-%d"),                     # date only
        d.strftime("%Y/%m/%dT%H:%M:%SZ"),           # wrong separators
        "tomorrow",
        f"{d.year}-13-01T00:00:00Z",                # month 13
        f"{d.year}-{d.month:02d}-{d.day:02d}T25:00:00Z",  # hour 25
    ]


# -- instances ------------------------------------------------------------------------------------


def test_set_time_is_shown_truncated_to_the_minute(sdk, admin):
    iid = run_instances(sdk)[0]
    assert describe(sdk, iid)["AutoReleaseTime"] == "", "a new instance has no auto-release time"
    when = floor_minute(admin.now() + timedelta(hours=5)).replace(second=47)
    resp = sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid,
                    AutoReleaseTime=fmt_in(when))
    assert resp.get("RequestId"), f"expected a RequestId, got {resp!r}"
    assert "Code" not in resp, f"a success answer must not carry Code: {resp!r}"
    got = describe(sdk, iid)["AutoReleaseTime"]
    assert got == fmt_out(when), f"AutoReleaseTime: expected {fmt_out(when)} (seconds dropped), got {got!r}"


def test_omitting_auto_release_time_cancels_it(sdk, admin):
    iid = run_instances(sdk)[0]
    when = admin.now() + timedelta(days=2)
    sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid, AutoReleaseTime=fmt_in(when))
    sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid)
    got = describe(sdk, iid)["AutoReleaseTime"]
    assert got == "", f"after cancelling: expected AutoReleaseTime \"\", got {got!r}"


def test_empty_auto_release_time_cancels_it(sdk, admin):
    iid = run_instances(sdk)[0]
    sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid,
             AutoReleaseTime=fmt_in(admin.now() + timedelta(days=2)))
    sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid, AutoReleaseTime="")
    got = describe(sdk, iid)["AutoReleaseTime"]
    assert got == "", f"after AutoReleaseTime='': expected \"\", got {got!r}"


def test_latest_setting_wins(sdk, admin):
    iid = run_instances(sdk)[0]
    now = admin.now()
    first, second = now + timedelta(days=3), now + timedelta(hours=2)
    for t in (first, second):
        sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid, AutoReleaseTime=fmt_in(t))
    got = describe(sdk, iid)["AutoReleaseTime"]
    assert got == fmt_out(second), f"expected the latest setting {fmt_out(second)}, got {got!r}"


def test_thirty_minutes_ahead_is_the_earliest_allowed(sdk, admin):
    iid = run_instances(sdk)[0]
    now = admin.align_to_minute()
    ok = now + timedelta(minutes=30)
    sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid, AutoReleaseTime=fmt_in(ok))
    assert describe(sdk, iid)["AutoReleaseTime"] == fmt_out(ok)
    early = now + timedelta(minutes=29, seconds=59)
    expect_error(sdk.call, "ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid,
                 AutoReleaseTime=fmt_in(early), code=MALFORMED, status=400)


def test_too_early_times_are_refused_and_change_nothing(sdk, admin):
    iid = run_instances(sdk)[0]
    now = admin.now()
    keep = now + timedelta(days=1)
    sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid, AutoReleaseTime=fmt_in(keep))
    for early in (now + timedelta(minutes=29), now + timedelta(minutes=1), now - timedelta(hours=1),
                  now - timedelta(days=400)):
        expect_error(sdk.call, "ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid,
                     AutoReleaseTime=fmt_in(early), code=MALFORMED, status=400)
    got = describe(sdk, iid)["AutoReleaseTime"]
    assert got == fmt_out(keep), f"a refused call changed AutoReleaseTime: expected {fmt_out(keep)}, got {got!r}"


def test_three_years_ahead_is_the_latest_allowed(sdk, admin):
    iid = run_instances(sdk)[0]
    now = admin.now()
    three_years = add_months(now, 36)
    ok = three_years - timedelta(days=1)
    sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid, AutoReleaseTime=fmt_in(ok))
    assert describe(sdk, iid)["AutoReleaseTime"] == fmt_out(ok)
    for late in (three_years + timedelta(days=1), add_months(now, 48)):
        expect_error(sdk.call, "ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid,
                     AutoReleaseTime=fmt_in(late), code=MALFORMED, status=400)
    assert describe(sdk, iid)["AutoReleaseTime"] == fmt_out(ok), "a refused call changed AutoReleaseTime"


def test_malformed_times_are_refused(sdk, admin):
    iid = run_instances(sdk)[0]
    for bad in malformed_shapes(admin.now() + timedelta(days=2)):
        try:
            expect_error(sdk.call, "ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid,
                         AutoReleaseTime=bad, code=MALFORMED, status=400)
        except AssertionError as e:
            raise AssertionError(f"AutoReleaseTime={bad!r}: {e}") from None
    assert describe(sdk, iid)["AutoReleaseTime"] == ""


def test_prepaid_instance_is_charge_type_violation(sdk, admin):
    iid = run_prepaid(sdk)[0]
    expect_error(sdk.call, "ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid,
                 AutoReleaseTime=fmt_in(admin.now() + timedelta(days=2)),
                 code="ChargeTypeViolation", status=403,
                 message="The operation is not permitted due to charge type of the instance.")
    assert describe(sdk, iid)["AutoReleaseTime"] == "", "a refused call set an auto-release time"


def test_prepaid_instance_cancel_is_charge_type_violation_too(sdk):
    iid = run_prepaid(sdk)[0]
    expect_error(sdk.call, "ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid,
                 code="ChargeTypeViolation", status=403)


def test_unknown_instance_is_no_such_resource(sdk, admin):
    expect_error(sdk.call, "ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId="i-doesnotexist0000",
                 AutoReleaseTime=fmt_in(admin.now() + timedelta(days=1)),
                 code="NoSuchResource", status=404, message="The specified resource is not found.")


def test_missing_instance_id_is_missing_parameter(sdk, admin):
    expect_error(sdk.call, "ModifyInstanceAutoReleaseTime", RegionId=REGION,
                 AutoReleaseTime=fmt_in(admin.now() + timedelta(days=1)),
                 code="MissingParameter", status=400, message="InstanceId should not be null.")


def test_works_on_a_stopped_instance(sdk, admin):
    iid = run_instances(sdk)[0]
    sdk.call("StopInstance", InstanceId=iid)
    when = admin.now() + timedelta(days=1)
    sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid, AutoReleaseTime=fmt_in(when))
    assert describe(sdk, iid)["AutoReleaseTime"] == fmt_out(when)


# -- dedicated hosts --------------------------------------------------------------------------------


def test_host_time_is_shown_truncated_to_the_minute(sdk, admin):
    hid = allocate_hosts(sdk)[0]
    assert describe_host(sdk, hid)["AutoReleaseTime"] == "", "a new host has no auto-release time"
    when = floor_minute(admin.now() + timedelta(hours=7)).replace(second=13)
    sdk.call("ModifyDedicatedHostAutoReleaseTime", RegionId=REGION, DedicatedHostId=hid,
             AutoReleaseTime=fmt_in(when))
    got = describe_host(sdk, hid)["AutoReleaseTime"]
    assert got == fmt_out(when), f"host AutoReleaseTime: expected {fmt_out(when)}, got {got!r}"


def test_host_omitting_auto_release_time_cancels_it(sdk, admin):
    hid = allocate_hosts(sdk)[0]
    sdk.call("ModifyDedicatedHostAutoReleaseTime", RegionId=REGION, DedicatedHostId=hid,
             AutoReleaseTime=fmt_in(admin.now() + timedelta(days=1)))
    sdk.call("ModifyDedicatedHostAutoReleaseTime", RegionId=REGION, DedicatedHostId=hid)
    got = describe_host(sdk, hid)["AutoReleaseTime"]
    assert got == "", f"after cancelling: expected \"\", got {got!r}"


def test_host_time_window_and_format(sdk, admin):
    hid = allocate_hosts(sdk)[0]
    now = admin.align_to_minute()
    sdk.call("ModifyDedicatedHostAutoReleaseTime", RegionId=REGION, DedicatedHostId=hid,
             AutoReleaseTime=fmt_in(now + timedelta(minutes=30)))
    assert describe_host(sdk, hid)["AutoReleaseTime"] == fmt_out(now + timedelta(minutes=30))
    bad_values = [fmt_in(now + timedelta(minutes=29)), fmt_in(now - timedelta(days=1)),
                  fmt_in(add_months(now, 36) + timedelta(days=1))] + malformed_shapes(now + timedelta(days=2))
    for bad in bad_values:
        try:
            expect_error(sdk.call, "ModifyDedicatedHostAutoReleaseTime", RegionId=REGION, DedicatedHostId=hid,
                         AutoReleaseTime=bad, code=MALFORMED, status=400)
        except AssertionError as e:
            raise AssertionError(f"AutoReleaseTime={bad!r}: {e}") from None
    got = describe_host(sdk, hid)["AutoReleaseTime"]
    assert got == fmt_out(now + timedelta(minutes=30)), f"a refused call changed the host's time: {got!r}"


def test_host_missing_id_is_missing_parameter(sdk, admin):
    expect_error(sdk.call, "ModifyDedicatedHostAutoReleaseTime", RegionId=REGION,
                 AutoReleaseTime=fmt_in(admin.now() + timedelta(days=1)),
                 code="MissingParameter", status=400, message="DedicatedHostId should not be null.")


def test_host_unknown_id_is_no_such_resource(sdk, admin):
    expect_error(sdk.call, "ModifyDedicatedHostAutoReleaseTime", RegionId=REGION, DedicatedHostId="dh-doesnotexist00",
                 AutoReleaseTime=fmt_in(admin.now() + timedelta(days=1)),
                 code="NoSuchResource", status=404, message="The specified resource is not found.")


def test_host_prepaid_is_charge_type_violation(sdk, admin):
    hid = allocate_hosts(sdk, ChargeType="PrePaid", Period=1, PeriodUnit="Month")[0]
    expect_error(sdk.call, "ModifyDedicatedHostAutoReleaseTime", RegionId=REGION, DedicatedHostId=hid,
                 AutoReleaseTime=fmt_in(admin.now() + timedelta(days=1)),
                 code="ChargeTypeViolation", status=403,
                 message="The operation is not permitted due to charge type of the dedicated host.")


@pytest.mark.parametrize("field", ["InstanceId", "DedicatedHostId"])
def test_instance_and_host_ids_do_not_mix(sdk, admin, field):
    """An instance id is not a host id and vice versa: NoSuchResource."""
    if field == "InstanceId":
        other = allocate_hosts(sdk)[0]
        action = "ModifyInstanceAutoReleaseTime"
    else:
        other = run_instances(sdk)[0]
        action = "ModifyDedicatedHostAutoReleaseTime"
    expect_error(sdk.call, action, RegionId=REGION, **{field: other},
                 AutoReleaseTime=fmt_in(admin.now() + timedelta(days=1)), code="NoSuchResource", status=404)


def test_window_is_measured_on_the_servers_clock_not_the_wall_clock(sdk, admin):
    """Move the virtual clock 10 days ahead of real time: a time 1 hour after *real* now is in the
    server's past and refused; 1 hour after the server's now is accepted."""
    from datetime import datetime, timezone
    admin.advance(10 * 86400)
    iid = run_instances(sdk)[0]
    wall = datetime.now(timezone.utc) + timedelta(hours=1)
    expect_error(sdk.call, "ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid,
                 AutoReleaseTime=fmt_in(wall), code=MALFORMED, status=400)
    server_now = admin.now()
    ok = server_now + timedelta(hours=1)
    sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid, AutoReleaseTime=fmt_in(ok))
    assert describe(sdk, iid)["AutoReleaseTime"] == fmt_out(ok)
    # the upper bound too: 3 years from the wall clock + 5 days is inside the server's window
    late_for_wall = add_months(datetime.now(timezone.utc), 36) + timedelta(days=5)
    sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid, AutoReleaseTime=fmt_in(late_for_wall))
    assert describe(sdk, iid)["AutoReleaseTime"] == fmt_out(late_for_wall)


@pytest.mark.parametrize("kind", ["instance", "host"])
def test_exactly_three_years_ahead_is_allowed_and_a_minute_more_is_not(sdk, admin, kind):
    """The window's far end to the minute: now + 36 calendar months is accepted, one minute past
    it refused (the clock on a whole minute, so truncation cannot blur the edge)."""
    if kind == "instance":
        rid = run_instances(sdk)[0]
        action, id_param, shown = "ModifyInstanceAutoReleaseTime", "InstanceId", describe
    else:
        rid = allocate_hosts(sdk)[0]
        action, id_param, shown = "ModifyDedicatedHostAutoReleaseTime", "DedicatedHostId", describe_host
    now = admin.align_to_minute()
    edge = add_months(now, 36)
    expect_error(sdk.call, action, RegionId=REGION, **{id_param: rid},
                 AutoReleaseTime=fmt_in(edge + timedelta(minutes=1)), code=MALFORMED, status=400)
    assert shown(sdk, rid)["AutoReleaseTime"] == ""
    sdk.call(action, RegionId=REGION, **{id_param: rid}, AutoReleaseTime=fmt_in(edge))
    assert shown(sdk, rid)["AutoReleaseTime"] == fmt_out(edge)
