"""Names and descriptions as ECS validates them (issue 15): InstanceName on RunInstances,
CreateInstance and ModifyInstanceAttribute, DedicatedHostName on AllocateDedicatedHosts, and
Description on all four. A refused call answers ECS's code with HTTP 400 (403 for a name
UniqueSuffix would take past 128 characters) and creates or changes nothing. Also the creating
calls' CreditSpecification (burstable types only) and DeploymentSetId (ecsd has no deployment
sets)."""

from __future__ import annotations

import pytest

from harness import (
    IMAGE, REGION, allocate_hosts, describe, describe_host, expect_error, hosts_of, instances_of,
    run_instances,
)

BAD_NAME = "InvalidInstanceName.Malformed"
BAD_DESCRIPTION = "InvalidDescription.Malformed"


def listed(sdk) -> list[dict]:
    return instances_of(sdk.call("DescribeInstances", RegionId=REGION, PageSize=100))


def create(sdk, **params) -> str:
    params.setdefault("RegionId", REGION)
    params.setdefault("ImageId", IMAGE)
    params.setdefault("InstanceType", "ecs.g7.large")
    return sdk.call("CreateInstance", **params)["InstanceId"]


def run(sdk, **params):
    params.setdefault("RegionId", REGION)
    params.setdefault("ImageId", IMAGE)
    params.setdefault("InstanceType", "ecs.g7.large")
    return sdk.call("RunInstances", **params)


# ------------------------------------------------------------------------------------------------
# RunInstances and CreateInstance


@pytest.mark.parametrize("params,code,status", [
    ({"InstanceName": "my web server"}, BAD_NAME, 400),
    ({"InstanceName": "a"}, BAD_NAME, 400),
    ({"InstanceName": "web/1"}, BAD_NAME, 400),
    ({"InstanceName": "n" * 129}, BAD_NAME, 400),
    # `[1,1]` alone is the name "1": one character.
    ({"InstanceName": "[1,1]"}, BAD_NAME, 400),
    # 128 characters as sent, 130 once `[,6]` becomes six digits.
    ({"InstanceName": "n" * 124 + "[,6]", "Amount": 2}, BAD_NAME, 400),
    # Fits as sent; UniqueSuffix's three digits would not.
    ({"InstanceName": "n" * 126, "Amount": 2, "UniqueSuffix": True}, "InvalidParams.InstanceNameExceed", 403),
    # The same for a host name (64 characters at most on Linux, 15 on Windows).
    ({"HostName": "h" * 62, "Amount": 2, "UniqueSuffix": True}, "InvalidParams.HostnameExceed", 403),
    ({"HostName": "win-" + "h" * 9, "Amount": 2, "UniqueSuffix": True,
      "ImageId": "win2022_21H2_x64_dtc_en-us_40G_alibase_20240816.vhd"}, "InvalidParams.HostnameExceed", 403),
    ({"HostName": "h" * 65, "Amount": 2, "UniqueSuffix": True}, "InvalidHostName.Malformed", 400),
    ({"Description": "https://example.com/web"}, BAD_DESCRIPTION, 400),
    ({"Description": "x"}, BAD_DESCRIPTION, 400),
    ({"Description": "d" * 257}, BAD_DESCRIPTION, 400),
])
def test_run_instances_refuses_names_and_descriptions_ecs_refuses(sdk, params, code, status):
    expect_error(run, sdk, **params, code=code, status=status)
    assert listed(sdk) == [], "a refused RunInstances created instances"


def test_run_instances_takes_unicode_names_placeholders_and_the_longest_names(sdk):
    [iid] = run_instances(sdk, InstanceName="测试实例-1", Description="my web server, see http://x")
    got = describe(sdk, iid)
    assert (got["InstanceName"], got["Description"]) == ("测试实例-1", "my web server, see http://x"), got
    ids = run_instances(sdk, amount=2, InstanceName="web-[1,4]:eu")
    assert sorted(describe(sdk, i)["InstanceName"] for i in ids) == ["web-0001:eu", "web-0002:eu"]
    ids = run_instances(sdk, amount=2, InstanceName="n" * 125, UniqueSuffix=True, HostName="h" * 61)
    assert sorted(describe(sdk, i)["HostName"] for i in ids) == ["h" * 61 + "001", "h" * 61 + "002"]
    assert sorted(describe(sdk, i)["InstanceName"] for i in ids) == ["n" * 125 + "001", "n" * 125 + "002"]
    [iid] = run_instances(sdk, InstanceName="n" * 128)
    assert describe(sdk, iid)["InstanceName"] == "n" * 128


@pytest.mark.parametrize("params", [
    {"InstanceName": "my web server"},
    # CreateInstance makes one instance: its name has no placeholders, so no brackets.
    {"InstanceName": "web-[1,4]"},
    {"Description": "http://example.com"},
])
def test_create_instance_refuses_names_and_descriptions_ecs_refuses(sdk, params):
    code = BAD_NAME if "InstanceName" in params else BAD_DESCRIPTION
    expect_error(create, sdk, **params, code=code, status=400)
    assert listed(sdk) == [], "a refused CreateInstance created an instance"


# ------------------------------------------------------------------------------------------------
# ModifyInstanceAttribute


@pytest.mark.parametrize("params,code", [
    ({"InstanceName": "my web server"}, BAD_NAME),
    # Its own documentation adds: a new name starts with a letter.
    ({"InstanceName": "1web"}, BAD_NAME),
    ({"InstanceName": "-web"}, BAD_NAME),
    ({"InstanceName": "x"}, BAD_NAME),
    ({"Description": "HTTPS://example.com"}, BAD_DESCRIPTION),
    ({"Description": "x"}, BAD_DESCRIPTION),
])
def test_modify_instance_attribute_refuses_bad_names_and_changes_nothing(sdk, params, code):
    [iid] = run_instances(sdk, InstanceName="before", Description="as created")
    expect_error(sdk.call, "ModifyInstanceAttribute", InstanceId=iid, DeletionProtection=True, **params,
                 code=code, status=400)
    got = describe(sdk, iid)
    assert (got["InstanceName"], got["Description"], got["DeletionProtection"]) == (
        "before", "as created", False), got


def test_modify_instance_attribute_renames_and_describes_by_the_rule(sdk):
    [iid] = run_instances(sdk, InstanceName="before", Description="as created")
    sdk.call("ModifyInstanceAttribute", InstanceId=iid, InstanceName="实例_after.2:eu",
             Description="renamed, 重新命名")
    got = describe(sdk, iid)
    assert (got["InstanceName"], got["Description"]) == ("实例_after.2:eu", "renamed, 重新命名"), got


# ------------------------------------------------------------------------------------------------
# AllocateDedicatedHosts


@pytest.mark.parametrize("params,code,status", [
    # 404 is the status ECS's current AllocateDedicatedHosts table gives this code.
    ({"DedicatedHostName": "my host"}, "InvalidDedicatedHostName.Malformed", 404),
    ({"DedicatedHostName": "h"}, "InvalidDedicatedHostName.Malformed", 404),
    ({"DedicatedHostName": "h" * 129}, "InvalidDedicatedHostName.Malformed", 404),
    ({"Description": "http://example.com"}, BAD_DESCRIPTION, 400),
])
def test_allocate_dedicated_hosts_refuses_bad_names_and_allocates_nothing(sdk, params, code, status):
    expect_error(sdk.call, "AllocateDedicatedHosts", RegionId=REGION, DedicatedHostType="ddh.g7", **params,
                 code=code, status=status)
    assert hosts_of(sdk.call("DescribeDedicatedHosts", RegionId=REGION)) == []


def test_allocate_dedicated_hosts_takes_a_unicode_name(sdk):
    [hid] = allocate_hosts(sdk, DedicatedHostName="宿主机_rack-7.a", Description="rack 7, row a")
    got = describe_host(sdk, hid)
    assert (got["DedicatedHostName"], got["Description"]) == ("宿主机_rack-7.a", "rack 7, row a"), got


# ------------------------------------------------------------------------------------------------
# CreditSpecification and deployment sets


def attribute(sdk, iid: str) -> dict:
    return sdk.call("DescribeInstanceAttribute", InstanceId=iid)


def test_burstable_instances_keep_their_performance_mode(sdk):
    [unlimited] = run_instances(sdk, InstanceType="ecs.t6-c1m2.large", CreditSpecification="Unlimited")
    [standard] = run_instances(sdk, InstanceType="ecs.t6-c1m1.large")
    made = create(sdk, InstanceType="ecs.t6-c2m1.large", CreditSpecification="Unlimited")
    [plain] = run_instances(sdk)
    for iid, mode in [(unlimited, "Unlimited"), (standard, "Standard"), (made, "Unlimited"), (plain, "")]:
        assert describe(sdk, iid)["CreditSpecification"] == mode, iid
        assert attribute(sdk, iid)["CreditSpecification"] == mode, iid
    assert describe(sdk, unlimited)["InstanceTypeFamily"] == "ecs.t6"
    types = sdk.call("DescribeInstanceTypes", InstanceTypeFamily="ecs.t6")["InstanceTypes"]["InstanceType"]
    assert "ecs.t6-c1m2.large" in [t["InstanceTypeId"] for t in types], types


@pytest.mark.parametrize("action", ["RunInstances", "CreateInstance"])
@pytest.mark.parametrize("params,code,status", [
    # Only burstable types have a performance mode.
    ({"InstanceType": "ecs.g7.large", "CreditSpecification": "Standard"}, "InvalidParameter.CreditSpecification", 400),
    ({"InstanceType": "ecs.t6-c1m1.large", "CreditSpecification": "Turbo"}, "InvalidParameter", 400),
    # ecsd keeps no deployment sets: any id is one that does not exist.
    ({"DeploymentSetId": "ds-bp1brhwhoqinyjd6abcd"}, "DeploymentSet.NotFound", 404),
    ({"DeploymentSetId": "ds-bp1brhwhoqinyjd6abcd", "DeploymentSetGroupNo": 1}, "DeploymentSet.NotFound", 404),
    ({"DeploymentSetGroupNo": 1}, "InvalidParameter", 400),
])
def test_creating_calls_refuse_modes_and_sets_they_cannot_have(sdk, action, params, code, status):
    params.setdefault("InstanceType", "ecs.g7.large")
    expect_error(sdk.call, action, RegionId=REGION, ImageId=IMAGE, **params, code=code, status=status)
    assert listed(sdk) == [], f"a refused {action} created an instance"


def test_a_refused_name_is_refused_before_any_instance_is_counted(sdk):
    """DryRun checks the name too: the same refusal, and nothing created."""
    expect_error(run, sdk, InstanceName="my web server", DryRun=True, code=BAD_NAME, status=400)
    expect_error(run, sdk, InstanceName="web-1", DryRun=True, code="DryRunOperation", status=400)
    assert listed(sdk) == []


def test_modify_instance_attribute_switches_a_burstable_instances_mode_only(sdk):
    [burstable] = run_instances(sdk, InstanceType="ecs.t6-c1m4.large")
    sdk.call("ModifyInstanceAttribute", InstanceId=burstable, CreditSpecification="Unlimited")
    assert attribute(sdk, burstable)["CreditSpecification"] == "Unlimited"
    sdk.call("ModifyInstanceAttribute", InstanceId=burstable, CreditSpecification="Standard")
    assert describe(sdk, burstable)["CreditSpecification"] == "Standard"
    expect_error(sdk.call, "ModifyInstanceAttribute", InstanceId=burstable, CreditSpecification="Turbo",
                 InstanceName="renamed", code="InvalidParameter", status=400)
    [plain] = run_instances(sdk, InstanceName="plain")
    expect_error(sdk.call, "ModifyInstanceAttribute", InstanceId=plain, CreditSpecification="Unlimited",
                 InstanceName="renamed", code="InvalidParameter.CreditSpecification", status=400)
    # Refused whole: the name in the same call is not changed either.
    got = describe(sdk, plain)
    assert (got["InstanceName"], got["CreditSpecification"]) == ("plain", ""), got
    assert describe(sdk, burstable)["CreditSpecification"] == "Standard"


def test_describe_instances_filters_by_the_family_it_shows(sdk):
    [t6] = run_instances(sdk, InstanceType="ecs.t6-c1m2.large")
    run_instances(sdk)
    got = instances_of(sdk.call("DescribeInstances", RegionId=REGION, InstanceTypeFamily="ecs.t6"))
    assert [(i["InstanceId"], i["InstanceTypeFamily"]) for i in got] == [(t6, "ecs.t6")], got
