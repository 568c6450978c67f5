"""Disks through both Python SDKs (issue 14, seed 004): every instance gets a system disk and the
data disks asked for; DescribeDisks lists them; releasing the instance (by hand, at its release
time, at the end of an expired subscription's grace) releases the disks that go with it and
detaches the others, in the same transaction, and the release event says which."""

from __future__ import annotations

import json
from datetime import timedelta

import xml.etree.ElementTree as ET

from harness import REGION, describe, expect_error, fmt_in, parse_minute, run_instances, run_prepaid
from test_protocol import signed_get

WINDOWS = "win2022_21H2_x64_dtc_en-us_40G_alibase_20240816.vhd"


def disk_params(sdk, system=None, data=()):
    """RunInstances' disk parameters as each SDK takes them: the classic request has SystemDisk.*
    setters and a DataDisk repeat list of dicts; Tea takes model objects."""
    if sdk.name == "py-tea":
        from alibabacloud_ecs20140526 import models as m
        out = {}
        if system:
            out["SystemDisk"] = m.RunInstancesRequestSystemDisk(
                size=str(system["Size"]) if "Size" in system else None, category=system.get("Category"))
        if data:
            out["DataDisk"] = [m.RunInstancesRequestDataDisk(
                size=d.get("Size"), category=d.get("Category"), disk_name=d.get("DiskName"),
                description=d.get("Description"), delete_with_instance=d.get("DeleteWithInstance"))
                for d in data]
        return out
    out = {}
    if system:
        if "Size" in system:
            out["SystemDiskSize"] = system["Size"]
        if "Category" in system:
            out["SystemDiskCategory"] = system["Category"]
    if data:
        out["DataDisk"] = list(data)
    return out


def disks(sdk, **filters):
    resp = sdk.call("DescribeDisks", RegionId=REGION, PageSize=100, **filters)
    return resp["Disks"]["Disk"]


def test_instances_get_a_system_disk_and_the_data_disks_asked_for(sdk):
    iid = run_instances(sdk, **disk_params(sdk, system={"Size": 60, "Category": "cloud_ssd"},
                                           data=[{"Size": 100, "DiskName": "logs"},
                                                 {"Size": 50, "Category": "cloud_efficiency",
                                                  "DeleteWithInstance": False}]))[0]
    got = disks(sdk, InstanceId=iid)
    assert [(d["Type"], d["Category"], d["Size"], d["Status"], d["DeleteWithInstance"], d["Device"])
            for d in got] == [
        ("system", "cloud_ssd", 60, "In_use", True, "/dev/xvda"),
        ("data", "cloud_essd", 100, "In_use", True, "/dev/xvdb"),
        ("data", "cloud_efficiency", 50, "In_use", False, "/dev/xvdc"),
    ], got
    assert got[1]["DiskName"] == "logs" and all(d["InstanceId"] == iid for d in got)
    plain = run_instances(sdk, ImageId=WINDOWS)[0]
    assert [(d["Type"], d["Size"]) for d in disks(sdk, InstanceId=plain)] == [("system", 40)]
    assert len(disks(sdk, DiskType="data")) == 2
    assert len(disks(sdk, DiskIds=json.dumps([got[0]["DiskId"]]))) == 1


def test_release_by_hand_releases_disks_with_the_instance_and_detaches_the_rest(sdk, admin):
    iid = run_instances(sdk, **disk_params(sdk, data=[{"Size": 100, "DeleteWithInstance": False},
                                                      {"Size": 20}]))[0]
    kept = [d["DiskId"] for d in disks(sdk, InstanceId=iid) if not d["DeleteWithInstance"]]
    gone = [d["DiskId"] for d in disks(sdk, InstanceId=iid) if d["DeleteWithInstance"]]
    sdk.call("DeleteInstance", InstanceId=iid, Force=True)
    left = disks(sdk)
    assert [(d["DiskId"], d["Status"], d["InstanceId"], d["Device"]) for d in left] == [
        (kept[0], "Available", "", "")], left
    assert disks(sdk, Status="Available")[0]["DiskId"] == kept[0]
    released = [e for e in admin.all_events() if e.get("resource_id") == iid and e["outcome"] == "released"]
    assert [(sorted(e["detail"]["ReleasedDisks"]), e["detail"]["DetachedDisks"]) for e in released] == [
        (sorted(gone), kept)], released


def test_auto_release_and_expiry_release_take_the_disks_too(sdk, admin):
    post = run_instances(sdk, **disk_params(sdk, data=[{"Size": 30, "DeleteWithInstance": False}]))[0]
    sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=post,
             AutoReleaseTime=fmt_in(admin.now() + timedelta(hours=1)))
    admin.advance(3600 + 60)
    assert describe(sdk, post) is None
    assert [(d["Type"], d["Status"]) for d in disks(sdk)] == [("data", "Available")]
    pre = run_prepaid(sdk, **disk_params(sdk, data=[{"Size": 30}]))[0]
    assert len(disks(sdk, InstanceId=pre)) == 2
    expired = parse_minute(describe(sdk, pre)["ExpiredTime"])
    admin.advance_to(expired + timedelta(days=15))
    assert describe(sdk, pre) is None
    assert disks(sdk, InstanceId=pre) == []
    assert len(disks(sdk)) == 1, "only the detached disk of the first instance is left"


def test_disk_parameters_error_rows_create_nothing(sdk):
    cases = [
        (dict(system={"Size": 30}), WINDOWS, "InvalidSystemDiskSize.LessThanImageSize"),
        (dict(system={"Size": 5000}), None, "InvalidSystemDiskSize.ValueNotSupported"),
        (dict(system={"Category": "floppy"}), None, "InvalidSystemDiskCategory.ValueNotSupported"),
        (dict(data=[{"Size": 10}]), None, "InvalidDataDiskSize.ValueNotSupported"),
        (dict(data=[{"Category": "cloud_essd"}]), None, "InvalidDataDiskSize.ValueNotSupported"),
        (dict(data=[{"Size": 40, "Category": "tape"}]), None, "InvalidDataDiskCategory.ValueNotSupported"),
    ]
    for kwargs, image, code in cases:
        params = disk_params(sdk, **kwargs)
        if image:
            params["ImageId"] = image
        expect_error(run_instances, sdk, code=code, status=400, **params)
    assert sdk.call("DescribeInstances", RegionId=REGION)["TotalCount"] == 0
    assert disks(sdk) == []
    expect_error(sdk.call, "DescribeDisks", RegionId=REGION, DiskType="floppy",
                 code="InvalidDiskType.ValueNotSupported", status=400)
    expect_error(sdk.call, "DescribeDisks", RegionId="xx-nowhere-1", code="InvalidRegionId.NotFound", status=404)


def test_describe_disks_in_xml(server, sdk):
    iid = run_instances(sdk)[0]
    status, _, body = signed_get(server, "DescribeDisks", {"RegionId": REGION, "InstanceId": iid}, "XML")
    root = ET.fromstring(body)
    assert status == 200 and root.tag == "DescribeDisksResponse", body[:300]
    assert [e.text for e in root.iter("Type")] == ["system"], body[:500]


def test_disk_names_and_descriptions_follow_the_instance_rules(sdk):
    """A data disk's name and description are checked as the instance's are (issue 15); a
    refused one creates neither the instance nor any disk."""
    for data, code in [([{"Size": 20, "DiskName": "my logs"}], "InvalidDiskName.Malformed"),
                       ([{"Size": 20, "DiskName": "l"}], "InvalidDiskName.Malformed"),
                       ([{"Size": 20, "Description": "https://example.com"}], "InvalidDiskDescription.Malformed")]:
        expect_error(run_instances, sdk, **disk_params(sdk, data=data), code=code, status=400)
    assert disks(sdk) == []
    iid = run_instances(sdk, **disk_params(sdk, data=[{"Size": 20, "DiskName": "日志_logs.1",
                                                       "Description": "app logs, rotated daily"}]))[0]
    [data] = disks(sdk, InstanceId=iid, DiskType="data")
    assert (data["DiskName"], data["Description"]) == ("日志_logs.1", "app logs, rotated daily"), data
