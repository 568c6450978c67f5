"""The catalogue through both Python SDKs: DescribeZones, DescribeInstanceTypes, DescribeImages, and
RunInstances' ImageId and InstanceType checked against it (issue 14)."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET

import pytest

from harness import (
    IMAGE, REGION, ClassicSdk, expect_error, run_instances, server_env, start_server, tmpdir,
)
from test_protocol import signed_get

WINDOWS = "win2022_21H2_x64_dtc_en-us_40G_alibase_20240816.vhd"


def test_describe_zones_lists_the_region_zones_with_what_they_offer(sdk):
    zones = sdk.call("DescribeZones", RegionId=REGION)["Zones"]["Zone"]
    ids = [z["ZoneId"] for z in zones]
    assert ids == ["cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j", "cn-hangzhou-k"], ids
    first = zones[0]
    assert first["ZoneType"] == "AvailabilityZone"
    assert "ecs.g7.large" in first["AvailableInstanceTypes"]["InstanceTypes"], first
    assert "cloud_essd" in first["AvailableDiskCategories"]["DiskCategories"], first
    assert "Instance" in first["AvailableResourceCreation"]["ResourceTypes"], first
    # Every zone listed takes an instance.
    for zone in ids:
        run_instances(sdk, ZoneId=zone)


def test_describe_zones_not_verbose_and_in_english(sdk):
    zones = sdk.call("DescribeZones", RegionId="us-west-1", Verbose=False, AcceptLanguage="en-US")["Zones"]["Zone"]
    assert [z["LocalName"] for z in zones] == ["US (Silicon Valley) Zone A", "US (Silicon Valley) Zone B"], zones
    assert all("AvailableInstanceTypes" not in z for z in zones), zones


def test_describe_zones_error_rows(sdk):
    expect_error(sdk.call, "DescribeZones", RegionId="xx-nowhere-1", code="InvalidRegionId.NotFound", status=404)
    expect_error(sdk.call, "DescribeZones", RegionId=REGION, InstanceChargeType="Free",
                 code="InvalidInstanceChargeType.NotFound", status=404)
    expect_error(sdk.call, "DescribeZones", RegionId=REGION, AcceptLanguage="fr-FR",
                 code="InvalidAcceptLanguage.NotFound", status=404)
    expect_error(sdk.call, "DescribeZones", RegionId=REGION, SpotStrategy="Cheap",
                 code="InvalidSpotStrategy.NotFound", status=404)


def test_describe_instance_types_by_id_and_by_family(sdk):
    got = sdk.call("DescribeInstanceTypes", InstanceTypes=["ecs.g7.large", "ecs.r7.xlarge"])
    types = {t["InstanceTypeId"]: t for t in got["InstanceTypes"]["InstanceType"]}
    assert set(types) == {"ecs.g7.large", "ecs.r7.xlarge"}, got
    assert (types["ecs.g7.large"]["CpuCoreCount"], types["ecs.g7.large"]["MemorySize"]) == (2, 8.0)
    assert (types["ecs.r7.xlarge"]["CpuCoreCount"], types["ecs.r7.xlarge"]["MemorySize"]) == (4, 32.0)
    assert types["ecs.r7.xlarge"]["InstanceTypeFamily"] == "ecs.r7"
    family = sdk.call("DescribeInstanceTypes", InstanceTypeFamily="ecs.c7")["InstanceTypes"]["InstanceType"]
    assert family and all(t["InstanceTypeFamily"] == "ecs.c7" for t in family), family
    # Paged with MaxResults / NextToken: every c7 type once, in order.
    seen, token = [], None
    while True:
        page = sdk.call("DescribeInstanceTypes", InstanceTypeFamily="ecs.c7", MaxResults=3, NextToken=token)
        seen += [t["InstanceTypeId"] for t in page["InstanceTypes"]["InstanceType"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == [t["InstanceTypeId"] for t in family], seen
    sized = sdk.call("DescribeInstanceTypes", MinimumCpuCoreCount=64, MaximumMemorySize=256)
    assert {t["InstanceTypeId"] for t in sized["InstanceTypes"]["InstanceType"]} == {
        "ecs.g7.16xlarge", "ecs.c7.16xlarge", "ecs.c7.32xlarge", "ecs.g6.16xlarge", "ecs.c6.16xlarge",
        "ecs.c6.32xlarge"}, sized
    expect_error(sdk.call, "DescribeInstanceTypes", MaxResults=1601, code="InvalidParameter", status=400)


def test_describe_images_lists_the_public_images(sdk):
    got = sdk.call("DescribeImages", RegionId=REGION, PageSize=100)
    ids = [i["ImageId"] for i in got["Images"]["Image"]]
    assert IMAGE in ids and WINDOWS in ids, ids
    assert int(got["TotalCount"]) == len(ids)
    one = sdk.call("DescribeImages", RegionId=REGION, ImageId=WINDOWS)["Images"]["Image"]
    assert [(i["ImageId"], i["OSType"], i["Size"], i["ImageOwnerAlias"], i["Status"]) for i in one] == [
        (WINDOWS, "windows", 40, "system", "Available")], one
    linux = sdk.call("DescribeImages", RegionId=REGION, OSType="linux", Architecture="arm64")["Images"]["Image"]
    assert [i["ImageId"] for i in linux] == ["aliyun_3_arm64_20G_alibase_20240819.vhd"], linux
    mine = sdk.call("DescribeImages", RegionId=REGION, ImageOwnerAlias="self")
    assert (mine["TotalCount"], mine["Images"]["Image"]) == (0, []), mine
    paged = sdk.call("DescribeImages", RegionId=REGION, PageSize=2, PageNumber=2)
    assert [i["ImageId"] for i in paged["Images"]["Image"]] == ids[2:4], paged
    for kwargs, code in [({"OSType": "beos"}, "InvalidOSType.ValueNotSupported"),
                         ({"Architecture": "sparc"}, "InvalidArchitecture.ValueNotSupported"),
                         ({"ImageOwnerAlias": "nobody"}, "InvalidImageOwnerAlias.ValueNotSupported")]:
        expect_error(sdk.call, "DescribeImages", RegionId=REGION, code=code, status=400, **kwargs)
    expect_error(sdk.call, "DescribeImages", RegionId="xx-nowhere-1", code="InvalidRegionId.NotFound", status=404)


def test_run_instances_checks_image_and_type_against_the_catalogue(sdk):
    expect_error(run_instances, sdk, ImageId="m-doesnotexist", code="InvalidImageId.NotFound", status=404,
                 message="The specified ImageId does not exist.")
    expect_error(run_instances, sdk, InstanceType="ecs.nosuch.large",
                 code="InvalidInstanceType.ValueNotSupported", status=400)
    assert sdk.call("DescribeInstances", RegionId=REGION)["TotalCount"] == 0
    run_instances(sdk, ImageId=WINDOWS)


@pytest.mark.parametrize("action,params,root,needle", [
    ("DescribeZones", {"RegionId": REGION}, "DescribeZonesResponse", "ZoneId"),
    ("DescribeInstanceTypes", {"InstanceTypeFamily": "ecs.g7"}, "DescribeInstanceTypesResponse", "InstanceTypeId"),
    ("DescribeImages", {"RegionId": REGION}, "DescribeImagesResponse", "ImageId"),
])
def test_catalogue_answers_in_xml(server, action, params, root, needle):
    status, ctype, body = signed_get(server, action, params, "XML")
    assert status == 200, f"{action} XML: {status} {body[:300]}"
    tree = ET.fromstring(body)
    assert tree.tag == root and tree.findtext("RequestId"), body[:300]
    assert list(tree.iter(needle)), body[:300]


def test_config_file_adds_images_and_types(request):
    base = tmpdir("ecsd-catalogue-")
    request.addfinalizer(lambda: shutil.rmtree(base, ignore_errors=True))
    config = base / "ecsd.json"
    config.write_text(json.dumps({
        "images": [{"id": "m-lab-image", "os_name": "Lab OS 1", "os_type": "linux", "platform": "Lab",
                    "architecture": "x86_64", "size_gib": 8}],
        "instance_types": [{"id": "ecs.lab.tiny", "cpu": 1, "memory_mib": 512, "monthly_price": "3"}],
    }))
    srv = start_server(base / "data", env={**server_env(), "ECSD_CONFIG": str(config)})
    try:
        sdk = ClassicSdk(srv.endpoint)
        got = sdk.call("DescribeImages", RegionId=REGION, ImageId="m-lab-image")["Images"]["Image"]
        assert [(i["ImageId"], i["OSName"], i["OSNameEn"], i["Size"]) for i in got] == [
            ("m-lab-image", "Lab OS 1", "Lab OS 1", 8)], got
        assert sdk.call("DescribeImages", RegionId=REGION, ImageId=IMAGE)["TotalCount"] == 1
        types = sdk.call("DescribeInstanceTypes", InstanceTypes=["ecs.lab.tiny"])["InstanceTypes"]["InstanceType"]
        assert [(t["InstanceTypeId"], t["MemorySize"]) for t in types] == [("ecs.lab.tiny", 0.5)], types
        iid = run_instances(sdk, ImageId="m-lab-image", InstanceType="ecs.lab.tiny")[0]
        # DescribeInstances reads the OS from the catalogue image, config-added ones included.
        shown = sdk.call("DescribeInstances", RegionId=REGION, InstanceIds=json.dumps([iid]))
        inst = shown["Instances"]["Instance"][0]
        assert (inst["OSType"], inst["OSName"], inst["OSNameEn"]) == ("linux", "Lab OS 1", "Lab OS 1"), inst
    finally:
        srv.stop()
