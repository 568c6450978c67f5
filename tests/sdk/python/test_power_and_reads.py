"""RebootInstance, DescribeInstanceStatus and DescribeInstanceAttribute through both Python SDKs
(issue 14)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from harness import (
    REGION, describe, expect_error, floor_minute, fmt_out, lock_reasons, run_instances, run_prepaid,
)
from test_protocol import signed_get


def test_reboot_restarts_a_running_instance(sdk, admin):
    iid = run_instances(sdk)[0]
    admin.advance(3600)
    sdk.call("RebootInstance", InstanceId=iid, ForceStop=True)
    inst = describe(sdk, iid)
    assert inst["Status"] == "Running", inst
    assert inst["StartTime"] == fmt_out(floor_minute(admin.now())), inst
    expect_error(sdk.call, "RebootInstance", InstanceId=iid, DryRun=True, code="DryRunOperation", status=400)


def test_reboot_error_rows(sdk, admin):
    iid = run_instances(sdk)[0]
    sdk.call("StopInstance", InstanceId=iid)
    expect_error(sdk.call, "RebootInstance", InstanceId=iid, code="IncorrectInstanceStatus", status=403,
                 message="The current status of the resource does not support this operation.")
    expect_error(sdk.call, "RebootInstance", InstanceId="i-doesnotexist0000", code="InvalidInstanceId.NotFound",
                 status=404, message="The specified InstanceId does not exist.")
    expect_error(sdk.call, "RebootInstance", code="MissingParameter", status=400)
    # An expired subscription is locked: refused as for StopInstance.
    pre = run_prepaid(sdk)[0]
    admin.advance(40 * 86400)
    assert lock_reasons(describe(sdk, pre)) == ["financial"]
    expect_error(sdk.call, "RebootInstance", InstanceId=pre, code="InstanceExpiredOrInArrears", status=403)


def test_describe_instance_status_lists_and_pages(sdk):
    ids = run_instances(sdk, amount=3)
    sdk.call("StopInstance", InstanceId=ids[1])
    got = sdk.call("DescribeInstanceStatus", RegionId=REGION, PageSize=50)
    statuses = {s["InstanceId"]: s["Status"] for s in got["InstanceStatuses"]["InstanceStatus"]}
    assert statuses == {ids[0]: "Running", ids[1]: "Stopped", ids[2]: "Running"}, got
    assert (got["TotalCount"], got["PageNumber"], got["PageSize"]) == (3, 1, 50)
    one = sdk.call("DescribeInstanceStatus", RegionId=REGION, InstanceId=[ids[1]])
    assert one["InstanceStatuses"]["InstanceStatus"] == [{"InstanceId": ids[1], "Status": "Stopped"}], one
    page2 = sdk.call("DescribeInstanceStatus", RegionId=REGION, PageSize=2, PageNumber=2)
    assert len(page2["InstanceStatuses"]["InstanceStatus"]) == 1 and page2["TotalCount"] == 3, page2
    expect_error(sdk.call, "DescribeInstanceStatus", RegionId=REGION, PageSize=51, code="InvalidParameter",
                 status=400)
    expect_error(sdk.call, "DescribeInstanceStatus", RegionId="xx-nowhere-1", code="InvalidRegionId.NotFound",
                 status=404)


def test_describe_instance_attribute_matches_describe_instances(sdk):
    iid = run_prepaid(sdk, InstanceName="db-1", InstanceType="ecs.r7.xlarge")[0]
    attr = sdk.call("DescribeInstanceAttribute", InstanceId=iid)
    listed = describe(sdk, iid)
    for key in ["InstanceId", "InstanceName", "Status", "InstanceChargeType", "InstanceType", "Cpu", "Memory",
                "ImageId", "RegionId", "ZoneId", "CreationTime", "ExpiredTime"]:
        assert attr[key] == listed[key], f"{key}: attribute {attr[key]!r}, listed {listed[key]!r}"
    assert (attr["InstanceName"], attr["Cpu"], attr["Memory"]) == ("db-1", 4, 32768), attr
    assert attr["OperationLocks"]["LockReason"] == [], attr
    expect_error(sdk.call, "DescribeInstanceAttribute", InstanceId="i-doesnotexist0000",
                 code="InvalidInstanceId.NotFound", status=404)


def test_power_and_reads_answer_in_xml(server, sdk):
    iid = run_instances(sdk)[0]
    status, _, body = signed_get(server, "DescribeInstanceAttribute", {"InstanceId": iid}, "XML")
    assert status == 200 and ET.fromstring(body).findtext("InstanceId") == iid, body[:300]
    status, _, body = signed_get(server, "DescribeInstanceStatus", {"RegionId": REGION}, "XML")
    root = ET.fromstring(body)
    assert status == 200 and [e.text for e in root.iter("InstanceId")] == [iid], body[:300]
    status, _, body = signed_get(server, "RebootInstance", {"InstanceId": iid}, "XML")
    assert status == 200 and ET.fromstring(body).tag == "RebootInstanceResponse", body[:300]
    status, _, body = signed_get(server, "RebootInstance", {"InstanceId": "i-doesnotexist0000"}, "XML")
    assert status == 404 and ET.fromstring(body).findtext("Code") == "InvalidInstanceId.NotFound", body[:300]
