"""A dedicated host's shape and capacity (DescribeDedicatedHosts), and RunInstances/CreateInstance
placing instances on it only while its type carries their family and it has room, through both
Python SDKs.

ddh.g7 (built in): 2 sockets, 64 physical cores, 128 vCPUs, 512 GiB; an instance sits on one
socket (64 vCPUs, 256 GiB each), so ecs.g7.16xlarge (64 vCPUs, 256 GiB) fits twice and
ecs.g7.32xlarge never."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from harness import (
    IMAGE, REGION, allocate_hosts, describe_host, expect_error, hosts_of, parse_minute, run_instances,
)


def host(sdk, hid: str, **asked) -> dict:
    resp = sdk.call("DescribeDedicatedHosts", RegionId=REGION, DedicatedHostIds=json.dumps([hid]), **asked)
    found = [h for h in hosts_of(resp) if h.get("DedicatedHostId") == hid]
    assert len(found) == 1, f"DescribeDedicatedHosts {hid}: {resp!r}"
    return found[0]


def free(h: dict) -> tuple:
    c = h["Capacity"]
    return c["AvailableVcpus"], c["AvailableMemory"]


def instance_count(sdk) -> int:
    return int(sdk.call("DescribeInstances", RegionId=REGION, PageSize=100)["TotalCount"])


def inventory(h: dict) -> dict[str, int]:
    rows = h["Capacity"]["AvailableInstanceTypes"]["AvailableInstanceType"]
    return {r["InstanceType"]: r["AvailableInstanceCapacity"] for r in rows}


def test_a_new_host_shows_its_shape_and_all_of_its_capacity(sdk):
    hid = allocate_hosts(sdk, DedicatedHostType="ddh.g7")[0]
    h = host(sdk, hid)
    shape = {k: h.get(k) for k in ("Sockets", "Cores", "PhysicalGpus", "GPUSpec", "CpuOverCommitRatio")}
    assert shape == {"Sockets": 2, "Cores": 64, "PhysicalGpus": 0, "GPUSpec": "", "CpuOverCommitRatio": 1}, shape
    c = h["Capacity"]
    assert (c["TotalVcpus"], c["AvailableVcpus"]) == (128, 128), c
    assert (c["TotalMemory"], c["AvailableMemory"]) == (512, 512), c
    assert isinstance(c["TotalMemory"], float), "ECS shows memory in GiB as a float"
    assert (c["TotalLocalStorage"], c["AvailableLocalStorage"], c["LocalStorageCategory"]) == (0, 0, ""), c
    assert (c["TotalVgpus"], c["AvailableVgpus"]) == (0, 0), c
    assert h["SupportedInstanceTypeFamilies"]["SupportedInstanceTypeFamily"] == ["ecs.g7"]
    supported = h["SupportedInstanceTypesList"]["SupportedInstanceTypesList"]
    assert "ecs.g7.16xlarge" in supported and "ecs.g7.large" in supported, supported
    assert "ecs.g7.32xlarge" not in supported, "128 vCPUs fit on no socket of 64"
    assert all(t.startswith("ecs.g7.") for t in supported), supported
    assert h["SupportedCustomInstanceTypeFamilies"].get("SupportedCustomInstanceTypeFamily", []) == []
    assert h["DedicatedHostOwnerId"] and h["MachineId"], h
    assert (h["ActionOnMaintenance"], h["AutoPlacement"]) == ("Migrate", "on"), h
    # Asked for only: the sockets, the inventory, the machine's details.
    assert "SocketCapacities" not in c and "AvailableInstanceTypes" not in c, c
    assert "HostDetailInfo" not in h, h


def test_capacity_follows_the_instances_placed_and_released(sdk):
    hid = allocate_hosts(sdk, DedicatedHostType="ddh.g7")[0]
    # 16 vCPUs, 64 GiB each.
    placed = run_instances(sdk, amount=3, DedicatedHostId=hid, InstanceType="ecs.g7.4xlarge")
    h = host(sdk, hid, SocketDetails=True)
    assert free(h) == (128 - 48, 512 - 192), h["Capacity"]
    on_host = {i["InstanceId"]: i for i in h["Instances"]["Instance"]}
    assert sorted(on_host) == sorted(placed), on_host
    assert all(i["InstanceType"] == "ecs.g7.4xlarge" and i["SocketId"] == "0"
               and i["InstanceOwnerId"] == h["DedicatedHostOwnerId"] for i in on_host.values()), on_host
    sockets = {s["SocketId"]: s for s in h["Capacity"]["SocketCapacities"]["SocketCapacity"]}
    assert sorted(sockets) == [0, 1], sockets
    assert (sockets[0]["TotalVcpu"], sockets[0]["AvailableVcpu"]) == (64, 16), sockets[0]
    assert (sockets[0]["TotalMemory"], sockets[0]["AvailableMemory"]) == (256, 64), sockets[0]
    assert (sockets[1]["AvailableVcpu"], sockets[1]["AvailableMemory"]) == (64, 256), sockets[1]

    # A stopped instance keeps its place; a released one gives it back.
    sdk.call("StopInstance", InstanceId=placed[0])
    assert free(host(sdk, hid)) == (80, 320)
    sdk.call("DeleteInstance", InstanceId=placed[1], Force=True)
    h = host(sdk, hid)
    assert free(h) == (96, 384), h["Capacity"]
    assert sorted(i["InstanceId"] for i in h["Instances"]["Instance"]) == sorted([placed[0], placed[2]])


def test_available_instance_types_count_how_many_more_fit(sdk):
    hid = allocate_hosts(sdk, DedicatedHostType="ddh.g7")[0]
    assert "AvailableInstanceTypes" not in host(sdk, hid)["Capacity"], "only with QueryInventory=true"
    empty = inventory(host(sdk, hid, QueryInventory=True))
    assert (empty["ecs.g7.large"], empty["ecs.g7.4xlarge"], empty["ecs.g7.16xlarge"]) == (64, 8, 2), empty
    assert "ecs.g7.32xlarge" not in empty and not any(t.startswith("ecs.c7") for t in empty), empty

    run_instances(sdk, DedicatedHostId=hid, InstanceType="ecs.g7.16xlarge")  # socket 0, all of it
    after = inventory(host(sdk, hid, QueryInventory=True))
    assert (after["ecs.g7.large"], after["ecs.g7.4xlarge"], after["ecs.g7.16xlarge"]) == (32, 4, 1), after
    # Each count holds: exactly that many more go on, and then the type is gone from the list.
    run_instances(sdk, amount=4, DedicatedHostId=hid, InstanceType="ecs.g7.4xlarge")
    full = inventory(host(sdk, hid, QueryInventory=True))
    assert full == {}, full


def test_a_full_host_refuses_more_and_creates_nothing(sdk):
    hid = allocate_hosts(sdk, DedicatedHostType="ddh.g7")[0]
    # Three of a socket's worth do not fit on two sockets: none of them is created.
    expect_error(run_instances, sdk, amount=3, DedicatedHostId=hid, InstanceType="ecs.g7.16xlarge",
                 code="LackResource", status=400,
                 message="There's no enough resource on the specified dedicated host.")
    assert instance_count(sdk) == 0
    assert free(host(sdk, hid)) == (128, 512)
    run_instances(sdk, amount=2, DedicatedHostId=hid, InstanceType="ecs.g7.16xlarge")
    before = instance_count(sdk)
    expect_error(run_instances, sdk, DedicatedHostId=hid, InstanceType="ecs.g7.large",
                 code="LackResource", status=400)
    expect_error(sdk.call, "CreateInstance", RegionId=REGION, DedicatedHostId=hid, InstanceType="ecs.g7.large",
                 ImageId=IMAGE, code="NoAvaliableDedicatedHost", status=400)
    assert instance_count(sdk) == before
    assert free(host(sdk, hid)) == (0, 0)


def test_a_type_whose_family_the_host_does_not_carry_is_refused(sdk):
    hid = allocate_hosts(sdk, DedicatedHostType="ddh.g7")[0]
    for itype in ("ecs.c7.large", "ecs.g6.large"):
        expect_error(run_instances, sdk, DedicatedHostId=hid, InstanceType=itype,
                     code="DedicatedHostType.Unmatched", status=400)
    expect_error(sdk.call, "CreateInstance", RegionId=REGION, DedicatedHostId=hid, InstanceType="ecs.r7.large",
                 ImageId=IMAGE, code="DedicatedHostType.Unmatched", status=400)
    assert instance_count(sdk) == 0
    c7 = allocate_hosts(sdk, DedicatedHostType="ddh.c7")[0]
    run_instances(sdk, DedicatedHostId=c7, InstanceType="ecs.c7.large")
    assert free(host(sdk, c7)) == (126, 256 - 4)


def test_a_host_locked_for_an_unpaid_expiry_takes_no_instances_and_stays_available(sdk, admin):
    """ECS documents no Status for an expired host (its values are about the machine): the host
    shows Available with the financial lock in OperationLocks, and the Status filter agrees."""
    hid = allocate_hosts(sdk, ChargeType="PrePaid", Period=1, PeriodUnit="Month")[0]
    run_instances(sdk, DedicatedHostId=hid)
    admin.advance_to(parse_minute(describe_host(sdk, hid)["ExpiredTime"]) + timedelta(minutes=1))
    h = host(sdk, hid)
    assert h["Status"] == "Available", h["Status"]
    assert [lock["LockReason"] for lock in h["OperationLocks"]["OperationLock"]] == ["financial"], h
    listed = lambda status: [x["DedicatedHostId"] for x in hosts_of(  # noqa: E731
        sdk.call("DescribeDedicatedHosts", RegionId=REGION, Status=status))]
    assert listed("Available") == [hid]
    assert listed("UnderAssessment") == []
    before = instance_count(sdk)
    expect_error(run_instances, sdk, DedicatedHostId=hid, code="InvalidDedicatedHostStatus.NotSupport",
                 status=400, message="Operation denied due to dedicated host status.")
    assert instance_count(sdk) == before


def test_tags_show_as_tag_key_and_value(sdk):
    tag = {"Key": "team", "Value": "infra"}
    if sdk.name == "py-tea":  # the Tea request takes its own tag objects
        from alibabacloud_ecs20140526.models import AllocateDedicatedHostsRequestTag
        tag = AllocateDedicatedHostsRequestTag(key="team", value="infra")
    hid = allocate_hosts(sdk, Tag=[tag])[0]
    assert host(sdk, hid)["Tags"]["Tag"] == [{"TagKey": "team", "TagValue": "infra"}]


def test_need_host_detail_shows_the_machine_serial_number(sdk):
    if sdk.name == "py-core":
        pytest.skip("the classic SDK's DescribeDedicatedHostsRequest has no NeedHostDetail")
    hid, other = allocate_hosts(sdk, quantity=2)
    h = host(sdk, hid, NeedHostDetail="true")
    serial = h["HostDetailInfo"]["SerialNumber"]
    assert serial and host(sdk, hid, NeedHostDetail="true")["HostDetailInfo"]["SerialNumber"] == serial
    assert host(sdk, other, NeedHostDetail="true")["HostDetailInfo"]["SerialNumber"] != serial
    assert "HostDetailInfo" not in host(sdk, hid, NeedHostDetail="false")
    assert host(sdk, other)["MachineId"] != h["MachineId"]
