"""AllocateDedicatedHosts, DescribeDedicatedHosts, ReleaseDedicatedHost through both Python SDKs.
(ModifyDedicatedHostAutoReleaseTime is in test_auto_release_time.py.)"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from harness import (
    REGION, allocate_hosts, describe_host, expect_error, floor_minute, fmt_in, fmt_out, hosts_of,
    instances_of, parse_minute, run_instances,
)


def listed_host_ids(sdk, **filters):
    return [h["DedicatedHostId"] for h in hosts_of(sdk.call("DescribeDedicatedHosts", RegionId=REGION,
                                                             PageSize=100, **filters))]


@pytest.mark.parametrize("htype", ["ddh.g6", "ddh.g7", "ddh.c7"])
def test_allocate_host_of_each_built_in_type(sdk, admin, htype):
    before = floor_minute(admin.now())
    hid = allocate_hosts(sdk, DedicatedHostType=htype, DedicatedHostName=f"host-{htype}")[0]
    host = describe_host(sdk, hid)
    assert host is not None, f"{hid} not listed by DescribeDedicatedHosts"
    expected = {"DedicatedHostType": htype, "ChargeType": "PostPaid", "Status": "Available",
                "AutoReleaseTime": "", "RegionId": REGION}
    got = {k: host.get(k) for k in expected}
    assert got == expected, f"new host: expected {expected}, got {got}"
    created = parse_minute(host["CreationTime"])
    assert before <= created <= before + timedelta(minutes=1), f"CreationTime {host['CreationTime']}"


def test_allocate_quantity_and_filter_by_ids(sdk):
    ids = allocate_hosts(sdk, quantity=3)
    assert len(set(ids)) == 3
    assert sorted(listed_host_ids(sdk)) == sorted(ids)
    assert listed_host_ids(sdk, DedicatedHostIds=json.dumps([ids[2]])) == [ids[2]]
    assert listed_host_ids(sdk, DedicatedHostIds=json.dumps(["dh-doesnotexist00"])) == []


def test_allocate_with_auto_release_time(sdk, admin):
    when = floor_minute(admin.now() + timedelta(days=2)).replace(second=9)
    hid = allocate_hosts(sdk, AutoReleaseTime=fmt_in(when))[0]
    assert describe_host(sdk, hid)["AutoReleaseTime"] == fmt_out(when)


def test_allocate_unknown_type_is_refused(sdk):
    expect_error(allocate_hosts, sdk, DedicatedHostType="ddh.nosuch",
                 code="InvalidDedicatedHostType.ValueNotSupported", status=403)
    assert listed_host_ids(sdk) == []


def test_allocate_subscription_host(sdk):
    hid = allocate_hosts(sdk, ChargeType="PrePaid", Period=1, PeriodUnit="Month")[0]
    host = describe_host(sdk, hid)
    assert host["ChargeType"] == "PrePaid", f"expected ChargeType PrePaid, got {host.get('ChargeType')!r}"
    parse_minute(host["ExpiredTime"])


@pytest.mark.parametrize("period", [24, 36, 60, 4])
def test_allocate_auto_renew_period_is_one_of_1_2_3_6_12_months(sdk, period):
    """AllocateDedicatedHosts documents 1, 2, 3, 6 and 12 months, in its own wording (RunInstances
    allows more and words the error differently)."""
    before = len(hosts_of(sdk.call("DescribeDedicatedHosts", RegionId=REGION, PageSize=100)))
    expect_error(sdk.call, "AllocateDedicatedHosts", RegionId=REGION, DedicatedHostType="ddh.g7",
                 ChargeType="PrePaid", Period=1, AutoRenew=True, AutoRenewPeriod=period,
                 code="InvalidAutoRenewPeriod.ValueNotSupported", status=400,
                 message="The specified autoRenewPeriod is not valid.")
    after = len(hosts_of(sdk.call("DescribeDedicatedHosts", RegionId=REGION, PageSize=100)))
    assert after == before, "a refused AllocateDedicatedHosts created a host"
    ok = allocate_hosts(sdk, ChargeType="PrePaid", Period=1, AutoRenew=True, AutoRenewPeriod=12)
    assert len(ok) == 1


def test_an_instance_on_a_host_is_in_the_hosts_zone(sdk):
    hid = allocate_hosts(sdk, ZoneId="cn-hangzhou-j")[0]
    iid = run_instances(sdk, DedicatedHostId=hid)[0]
    resp = sdk.call("DescribeInstances", RegionId=REGION, InstanceIds=json.dumps([iid]))
    assert instances_of(resp)[0]["ZoneId"] == "cn-hangzhou-j", resp
    expect_error(run_instances, sdk, DedicatedHostId=hid, ZoneId="cn-hangzhou-i",
                 code="InvalidParameter", status=400)


def test_describe_hosts_filters_by_lock_reason(sdk, admin):
    from datetime import timedelta as td
    locked = allocate_hosts(sdk, ChargeType="PrePaid", Period=1, PeriodUnit="Month")[0]
    free = allocate_hosts(sdk)[0]
    expired = parse_minute(describe_host(sdk, locked)["ExpiredTime"])
    admin.advance_to(expired + td(minutes=1))
    listed = lambda **f: [h["DedicatedHostId"] for h in hosts_of(  # noqa: E731
        sdk.call("DescribeDedicatedHosts", RegionId=REGION, PageSize=100, **f))]
    assert listed(LockReason="financial") == [locked]
    assert listed(LockReason="security") == []
    assert sorted(listed()) == sorted([locked, free])
    expect_error(sdk.call, "DescribeDedicatedHosts", RegionId=REGION, LockReason="Foo",
                 code="InvalidLockReason.NotFound", status=404)


def test_release_host(sdk):
    hid, keep = allocate_hosts(sdk, quantity=2)
    resp = sdk.call("ReleaseDedicatedHost", RegionId=REGION, DedicatedHostId=hid)
    assert resp.get("RequestId") and "Code" not in resp
    assert listed_host_ids(sdk) == [keep]
    expect_error(sdk.call, "ReleaseDedicatedHost", RegionId=REGION, DedicatedHostId=hid,
                 code="InvalidDedicatedHostId.NotFound", status=404)


def test_release_unknown_host_is_not_found(sdk):
    expect_error(sdk.call, "ReleaseDedicatedHost", RegionId=REGION, DedicatedHostId="dh-doesnotexist00",
                 code="InvalidDedicatedHostId.NotFound", status=404)


def test_release_subscription_host_is_charge_type_violation(sdk):
    hid = allocate_hosts(sdk, ChargeType="PrePaid", Period=1, PeriodUnit="Month")[0]
    expect_error(sdk.call, "ReleaseDedicatedHost", RegionId=REGION, DedicatedHostId=hid,
                 code="ChargeTypeViolation", status=400)
    assert describe_host(sdk, hid) is not None


def test_describe_hosts_pages_by_page_number_and_size(sdk):
    ids = allocate_hosts(sdk, quantity=5)
    seen = []
    for page, size in ((1, 2), (2, 2), (3, 1)):
        resp = sdk.call("DescribeDedicatedHosts", RegionId=REGION, PageNumber=page, PageSize=2)
        got = [h["DedicatedHostId"] for h in hosts_of(resp)]
        assert len(got) == size, f"host page {page} of 5 by 2: expected {size}, got {len(got)}"
        assert int(resp["TotalCount"]) == 5, f"TotalCount: expected 5, got {resp.get('TotalCount')}"
        seen += got
    assert sorted(seen) == sorted(ids), f"host pages must cover each host once: {seen}"
