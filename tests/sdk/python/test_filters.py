"""Every DescribeInstances / DescribeDedicatedHosts filter narrows the listing exactly (matching
and non-matching instances side by side) or is refused; the network each instance gets
(VPC, vSwitch, addresses, interface) and the address containers every answer carries; what
RunInstances keeps and checks. Through both Python SDKs."""

from __future__ import annotations

import json

import pytest

from harness import REGION, allocate_hosts, describe, expect_error, hosts_of, instances_of, run_instances


def listed(sdk, **filters) -> list[str]:
    resp = sdk.call("DescribeInstances", RegionId=REGION, PageSize=100, **filters)
    ids = [i["InstanceId"] for i in instances_of(resp)]
    assert int(resp["TotalCount"]) == len(ids), f"TotalCount {resp['TotalCount']} for {len(ids)} listed"
    return sorted(ids)


@pytest.fixture
def fleet(sdk):
    """Two instances that differ in every attribute a filter looks at."""
    a = run_instances(sdk, InstanceType="ecs.g7.large", ImageId="centos_7_9_x64_20G_alibase_20240628.vhd", KeyPairName="kp-a",
                      ResourceGroupId="rg-a", InternetChargeType="PayByBandwidth",
                      InternetMaxBandwidthOut=5, HostName="host-a", ZoneId=f"{REGION}-i")[0]
    b = run_instances(sdk, InstanceType="ecs.c7.xlarge", ImageId="debian_12_6_x64_20G_alibase_20240823.vhd", ZoneId=f"{REGION}-j")[0]
    return describe(sdk, a), describe(sdk, b)


def test_every_address_container_is_present_and_the_first_private_address_is_reachable(sdk, fleet):
    a, b = fleet
    for inst in (a, b):
        first = inst["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0]
        assert first.startswith("172."), inst["VpcAttributes"]
        assert inst["VpcAttributes"]["VpcId"].startswith("vpc-")
        assert inst["VpcAttributes"]["VSwitchId"].startswith("vsw-")
        for container in ("PublicIpAddress", "InnerIpAddress"):
            assert isinstance(inst[container]["IpAddress"], list), (container, inst.get(container))
        assert inst["EipAddress"]["IpAddress"] == ""
        nic = inst["NetworkInterfaces"]["NetworkInterface"]
        assert len(nic) == 1 and nic[0]["PrimaryIpAddress"] == first and nic[0]["Type"] == "Primary", nic
        assert inst["SecurityGroupIds"]["SecurityGroupId"][0].startswith("sg-")
    # A public address only with outbound bandwidth.
    assert len(a["PublicIpAddress"]["IpAddress"]) == 1
    assert b["PublicIpAddress"]["IpAddress"] == []
    # Same account and region: same VPC; different zones: different vSwitches and addresses.
    assert a["VpcAttributes"]["VpcId"] == b["VpcAttributes"]["VpcId"]
    assert a["VpcAttributes"]["VSwitchId"] != b["VpcAttributes"]["VSwitchId"]
    shown = {k: a[k] for k in ("KeyPairName", "ResourceGroupId", "InternetChargeType",
                               "InternetMaxBandwidthOut", "HostName")}
    assert shown == {"KeyPairName": "kp-a", "ResourceGroupId": "rg-a", "InternetChargeType": "PayByBandwidth",
                     "InternetMaxBandwidthOut": 5, "HostName": "host-a"}
    assert "Password" not in a


def test_each_filter_matches_exactly(sdk, fleet):
    a, b = fleet
    ia, ib = a["InstanceId"], b["InstanceId"]
    both = sorted([ia, ib])
    cases = [
        ({"VpcId": a["VpcAttributes"]["VpcId"]}, both),
        ({"VpcId": "vpc-other"}, []),
        ({"VSwitchId": a["VpcAttributes"]["VSwitchId"]}, [ia]),
        ({"SecurityGroupId": a["SecurityGroupIds"]["SecurityGroupId"][0]}, both),
        ({"SecurityGroupId": "sg-other"}, []),
        ({"InstanceType": "ecs.c7.xlarge"}, [ib]),
        ({"InstanceTypeFamily": "ecs.g7"}, [ia]),
        ({"InstanceTypeFamily": "ecs.g"}, []),
        ({"ImageId": "centos_7_9_x64_20G_alibase_20240628.vhd"}, [ia]),
        ({"KeyPairName": "kp-a"}, [ia]),
        ({"KeyPairName": "kp-b"}, []),
        ({"ResourceGroupId": "rg-a"}, [ia]),
        ({"InternetChargeType": "PayByBandwidth"}, [ia]),
        ({"InternetChargeType": "PayByTraffic"}, [ib]),
        ({"PrivateIpAddresses": json.dumps(a["VpcAttributes"]["PrivateIpAddress"]["IpAddress"])}, [ia]),
        ({"PrivateIpAddresses": json.dumps(["10.9.9.9"])}, []),
        ({"PublicIpAddresses": json.dumps(a["PublicIpAddress"]["IpAddress"])}, [ia]),
        ({"InnerIpAddresses": json.dumps(["10.0.0.1"])}, []),
        ({"EipAddresses": json.dumps(["47.0.0.1"])}, []),
        ({"RdmaIpAddresses": json.dumps(["10.0.0.1"])}, []),
        ({"HpcClusterId": "hpc-1"}, []),
        ({"InstanceNetworkType": "vpc"}, both),
        ({"InstanceNetworkType": "classic"}, []),
        ({"IoOptimized": True}, both),
        ({"IoOptimized": False}, []),
        ({"HttpEndpoint": "enabled"}, both),
        ({"HttpEndpoint": "disabled"}, []),
        ({"HttpTokens": "required"}, []),
        ({"VSwitchId": a["VpcAttributes"]["VSwitchId"], "InstanceType": "ecs.c7.xlarge"}, []),
    ]
    for filters, want in cases:
        assert listed(sdk, **filters) == sorted(want), f"{filters}: expected {want}"


@pytest.mark.parametrize("name,value", [
    ("InternetChargeType", "PayByNothing"), ("InstanceNetworkType", "mesh"), ("IoOptimized", "maybe"),
    ("HttpEndpoint", "on"), ("HttpTokens", "sometimes"), ("PrivateIpAddresses", "172.16.0.1"),
    ("PublicIpAddresses", json.dumps([1])), ("HttpPutResponseHopLimit", "65"),
])
def test_malformed_filters_are_refused(sdk, name, value):
    expect_error(sdk.call, "DescribeInstances", RegionId=REGION, code="InvalidParameter", status=400,
                 **{name: value})


def test_vswitch_and_private_address_given(sdk):
    first = describe(sdk, run_instances(sdk, ZoneId=f"{REGION}-i")[0])
    vsw = first["VpcAttributes"]["VSwitchId"]
    ip = first["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0]
    prefix = ip.rsplit(".", 1)[0]
    wanted = f"{prefix}.200"
    iid = run_instances(sdk, VSwitchId=vsw, PrivateIpAddress=wanted)[0]
    inst = describe(sdk, iid)
    assert inst["ZoneId"] == f"{REGION}-i" and inst["VpcAttributes"]["PrivateIpAddress"]["IpAddress"] == [wanted]
    expect_error(run_instances, sdk, VSwitchId=vsw, PrivateIpAddress=wanted,
                 code="InvalidPrivateIpAddress.Duplicated", status=400)
    expect_error(run_instances, sdk, VSwitchId=vsw, PrivateIpAddress="999.1.1.1",
                 code="InvalidPrivateIpAddress.Malformed", status=400)
    expect_error(run_instances, sdk, VSwitchId=vsw, PrivateIpAddress="10.1.1.1",
                 code="InvalidPrivateIpAddress", status=400)
    expect_error(run_instances, sdk, VSwitchId="vsw-nosuch", code="InvalidVSwitchId.NotFound", status=404)
    expect_error(run_instances, sdk, SecurityGroupId="sg-nosuch", code="InvalidSecurityGroupId.NotFound",
                 status=404)
    expect_error(run_instances, sdk, VSwitchId=vsw, ZoneId=f"{REGION}-j", code="InvalidParameter.Mismatch",
                 status=400)
    # Released, the address is free again for an instance that asks for it.
    sdk.call("DeleteInstance", InstanceId=iid, Force=True)
    assert describe(sdk, run_instances(sdk, VSwitchId=vsw, PrivateIpAddress=wanted)[0]) is not None


def test_addresses_are_distinct(sdk):
    ids = run_instances(sdk, amount=5, InternetMaxBandwidthOut=1)
    insts = [describe(sdk, i) for i in ids]
    private = [i["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0] for i in insts]
    public = [i["PublicIpAddress"]["IpAddress"][0] for i in insts]
    assert len(set(private)) == 5 and len(set(public)) == 5, (private, public)


@pytest.mark.parametrize("params,code", [
    ({"Password": "short1A"}, "InvalidPassword.Malformed"),
    ({"Password": "alllowercase1"}, "InvalidPassword.Malformed"),
    ({"HostName": "-bad"}, "InvalidHostName.Malformed"),
    ({"HostName": "web.example", "ImageId": "win2022_21H2_x64_dtc_en-us_40G_alibase_20240816.vhd"},
     "InvalidHostName.Malformed"),
    ({"InternetMaxBandwidthOut": 99999}, "InvalidParameter"),
    ({"InternetChargeType": "Free"}, "InvalidInternetChargeType.ValueNotSupported"),
    ({"Password": "Ecsd-Pass-1", "PasswordInherit": True}, "InvalidPasswordParam.Mismatch"),
    ({"Tag": [{"Key": "aliyun-x", "Value": "v"}]}, "InvalidTagKey.Malformed"),
    ({"Tag": [{"Key": "acs:x", "Value": "v"}]}, "InvalidTagKey.Malformed"),
    ({"Tag": [{"Key": "k", "Value": "acs:v"}]}, "InvalidTagValue.Malformed"),
    ({"Tag": [{"Key": "k", "Value": "http://x"}]}, "InvalidTagValue.Malformed"),
    ({"Tag": [{"Key": "k", "Value": "a"}, {"Key": "k", "Value": "b"}]}, "Duplicate.TagKey"),
])
def test_run_instances_checks_its_settings(sdk, params, code):
    if "Tag" in params and sdk.name == "py-tea":
        pytest.skip("the Tea harness sends no RunInstances tag list")
    expect_error(run_instances, sdk, code=code, status=400, **params)
    assert listed(sdk) == []


def test_a_good_password_is_taken_and_never_shown(sdk):
    iid = run_instances(sdk, Password="Ecsd-Pass-1")[0]
    resp = sdk.call("DescribeInstances", RegionId=REGION, InstanceIds=json.dumps([iid]))
    assert "Ecsd-Pass-1" not in json.dumps(resp)


def test_host_filters(sdk):
    h1 = allocate_hosts(sdk, DedicatedHostType="ddh.g7", DedicatedHostName="alpha")[0]
    h2 = allocate_hosts(sdk, DedicatedHostType="ddh.c7", DedicatedHostName="beta")[0]

    def hosts(**filters):
        resp = sdk.call("DescribeDedicatedHosts", RegionId=REGION, **filters)
        return sorted(h["DedicatedHostId"] for h in hosts_of(resp))

    assert hosts() == sorted([h1, h2])
    assert hosts(DedicatedHostName="alpha") == [h1]
    assert hosts(DedicatedHostType="ddh.c7") == [h2]
    assert hosts(DedicatedHostClusterId="dc-1") == []
    shown = hosts_of(sdk.call("DescribeDedicatedHosts", RegionId=REGION, DedicatedHostName="beta"))[0]
    assert shown["SupportedInstanceTypeFamilies"] == {"SupportedInstanceTypeFamily": ["ecs.c7"]}, shown
    assert hosts(ResourceGroupId="rg-1") == []
    expect_error(sdk.call, "DescribeDedicatedHosts", RegionId=REGION, QueryInventory="maybe",
                 code="InvalidParameter", status=400)


def test_name_placeholders_and_unique_suffix(sdk):
    ids = run_instances(sdk, amount=3, InstanceName="web-[1,4]", HostName="host-[7,2]")
    got = sorted((describe(sdk, i)["InstanceName"], describe(sdk, i)["HostName"]) for i in ids)
    assert got == [("web-0001", "host-07"), ("web-0002", "host-08"), ("web-0003", "host-09")], got
    ids = run_instances(sdk, amount=2, InstanceName="db", HostName="db", UniqueSuffix=True)
    assert sorted(describe(sdk, i)["InstanceName"] for i in ids) == ["db001", "db002"]
    assert sorted(describe(sdk, i)["HostName"] for i in ids) == ["db001", "db002"]


def test_operating_system_and_cpu_follow_the_image_and_type(sdk):
    win = describe(sdk, run_instances(sdk, ImageId="win2022_21H2_x64_dtc_en-us_40G_alibase_20240816.vhd",
                                      InstanceType="ecs.c7.xlarge")[0])
    assert (win["OSType"], win["OSNameEn"]) == (
        "windows", "Windows Server  2022 Datacenter Edition 64-bit English"), win
    assert win["CpuOptions"]["CoreCount"] * win["CpuOptions"]["ThreadsPerCore"] == win["Cpu"]
    linux = describe(sdk, run_instances(sdk, ImageId="ubuntu_22_04_x64_20G_alibase_20240101.vhd")[0])
    assert (linux["OSType"], linux["OSNameEn"]) == ("linux", "Ubuntu  22.04 64 bit"), linux
    assert linux["SerialNumber"] != win["SerialNumber"] and len(linux["SerialNumber"]) == 36


def test_an_instance_on_a_host_shows_the_host_by_name(sdk):
    host = allocate_hosts(sdk, DedicatedHostType="ddh.g7", DedicatedHostName="rack-7")[0]
    attr = describe(sdk, run_instances(sdk, DedicatedHostId=host)[0])["DedicatedHostAttribute"]
    assert attr == {"DedicatedHostId": host, "DedicatedHostName": "rack-7"}, attr
    attr = describe(sdk, run_instances(sdk)[0])["DedicatedHostAttribute"]
    assert attr == {"DedicatedHostId": "", "DedicatedHostName": ""}, attr
