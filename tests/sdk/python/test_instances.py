"""RunInstances, DescribeInstances, DeleteInstance(s), Stop/StartInstance, ModifyInstanceAttribute,
through both Python SDKs."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from harness import (
    REGION, UUID_UPPER, ApiFailure, ClassicSdk, add_months, describe, expect_error, floor_minute, fmt_in, fmt_out,
    instances_of, lock_reasons, parse_minute, run_instances, run_prepaid,
)


def listed_ids(sdk, **filters) -> list[str]:
    resp = sdk.call("DescribeInstances", RegionId=REGION, PageSize=100, **filters)
    return [i["InstanceId"] for i in instances_of(resp)]


def total(sdk) -> int:
    return int(sdk.call("DescribeInstances", RegionId=REGION)["TotalCount"])


# -- RunInstances -------------------------------------------------------------------------------


def test_new_pay_as_you_go_instance_is_running_with_its_attributes(sdk, admin):
    before = floor_minute(admin.now())
    iid = run_instances(sdk, InstanceType="ecs.c7.xlarge", ImageId="ubuntu_22_04_x64_20G_alibase_20240101.vhd", InstanceName="web-1")[0]
    inst = describe(sdk, iid)
    assert inst is not None, f"{iid} not listed by DescribeInstances"
    expected = {"Status": "Running", "InstanceChargeType": "PostPaid", "InstanceType": "ecs.c7.xlarge",
                "ImageId": "ubuntu_22_04_x64_20G_alibase_20240101.vhd", "RegionId": REGION, "AutoReleaseTime": "", "DeletionProtection": False}
    got = {k: inst.get(k) for k in expected}
    assert got == expected, f"new instance: expected {expected}, got {got}"
    assert lock_reasons(inst) == [], f"new instance has locks: {inst.get('OperationLocks')!r}"
    created = parse_minute(inst["CreationTime"])  # minute precision yyyy-MM-ddTHH:mmZ
    assert before <= created <= before + timedelta(minutes=1), (
        f"CreationTime {inst['CreationTime']} is not the server's now ({fmt_out(before)})")
    parse_minute(inst["ExpiredTime"])
    assert inst.get("ZoneId", "").startswith(REGION), f"ZoneId {inst.get('ZoneId')!r} not in {REGION}"


@pytest.mark.parametrize("itype,cpu,mem", [("ecs.g7.large", 2, 8192), ("ecs.c7.xlarge", 4, 8192),
                                           ("ecs.g6.large", 2, 8192)])
def test_instance_type_sizes_come_from_the_catalogue(sdk, itype, cpu, mem):
    inst = describe(sdk, run_instances(sdk, InstanceType=itype)[0])
    assert (inst.get("Cpu"), inst.get("Memory")) == (cpu, mem), (
        f"{itype}: expected Cpu={cpu} Memory={mem}, got Cpu={inst.get('Cpu')} Memory={inst.get('Memory')}")


def test_amount_creates_that_many_distinct_instances(sdk):
    ids = run_instances(sdk, amount=3)
    assert len(set(ids)) == 3, f"expected 3 distinct ids, got {ids}"
    assert sorted(listed_ids(sdk)) == sorted(ids)
    for iid in ids:
        assert describe(sdk, iid)["Status"] == "Running"


def test_run_with_auto_release_time_shows_it_truncated(sdk, admin):
    when = floor_minute(admin.now() + timedelta(days=1)).replace(second=31)
    iid = run_instances(sdk, AutoReleaseTime=fmt_in(when))[0]
    assert describe(sdk, iid)["AutoReleaseTime"] == fmt_out(when)


@pytest.mark.parametrize("delta", [timedelta(minutes=10), timedelta(days=-1), timedelta(days=365 * 3 + 30)])
def test_run_with_out_of_window_auto_release_time_creates_nothing(sdk, admin, delta):
    expect_error(run_instances, sdk, amount=2, AutoReleaseTime=fmt_in(admin.now() + delta),
                 code="InvalidAutoReleaseTime.Malformed", status=400)
    assert total(sdk) == 0, "a refused RunInstances created instances"


def test_run_with_malformed_auto_release_time_creates_nothing(sdk):
    expect_error(run_instances, sdk, AutoReleaseTime="2031-01-01 00:00:00",
                 code="InvalidAutoReleaseTime.Malformed", status=400)
    assert total(sdk) == 0


def test_run_with_deletion_protection(sdk):
    iid = run_instances(sdk, DeletionProtection=True)[0]
    assert describe(sdk, iid)["DeletionProtection"] is True


@pytest.mark.parametrize("months", [1, 3, 12])
def test_subscription_instance_expires_after_its_period(sdk, admin, months):
    start = admin.now()
    iid = run_prepaid(sdk, months=months)[0]
    inst = describe(sdk, iid)
    assert inst["InstanceChargeType"] == "PrePaid", f"expected PrePaid, got {inst['InstanceChargeType']!r}"
    assert inst["Status"] == "Running"
    expired = parse_minute(inst["ExpiredTime"])
    low = floor_minute(add_months(start, months))
    assert low <= expired <= low + timedelta(days=1), (
        f"Period={months} Month: expected ExpiredTime about {fmt_out(low)}, got {inst['ExpiredTime']}")


def test_client_token_makes_run_instances_idempotent(sdk):
    token = str(uuid.uuid4())
    first = run_instances(sdk, amount=2, ClientToken=token)
    again = run_instances(sdk, amount=2, ClientToken=token)
    assert sorted(again) == sorted(first), f"same ClientToken: expected the same ids {first}, got {again}"
    assert total(sdk) == 2, f"same ClientToken twice: expected 2 instances, got {total(sdk)}"


def test_client_token_reused_with_other_parameters_is_idempotent_parameter_mismatch(sdk):
    token = str(uuid.uuid4())
    run_instances(sdk, ClientToken=token, InstanceType="ecs.g7.large")
    expect_error(run_instances, sdk, ClientToken=token, InstanceType="ecs.c7.xlarge",
                 code="IdempotentParameterMismatch", status=400)
    assert total(sdk) == 1


def test_client_token_retry_after_the_release_time_came_close_gets_the_first_answer(sdk, admin):
    """The retry repeats the first call, whose AutoReleaseTime was 40 minutes ahead then and
    is only 25 now: the first answer comes back instead of InvalidAutoReleaseTime.Malformed."""
    token = str(uuid.uuid4())
    when = fmt_in(floor_minute(admin.now()) + timedelta(minutes=40))
    first = run_instances(sdk, ClientToken=token, AutoReleaseTime=when)
    admin.advance(15 * 60)
    again = run_instances(sdk, ClientToken=token, AutoReleaseTime=when)
    assert again == first and total(sdk) == 1, f"expected {first} again, got {again}"


def test_client_token_retry_from_another_sdk_or_spelling_out_defaults_is_the_same_request(classic, tea):
    """Python sends True, Node and Tea true; Amount=1 and InstanceChargeType=PostPaid are the
    defaults; OwnerId is accepted and ignored: none of these makes a retry a different request."""
    token = str(uuid.uuid4())
    first = run_instances(classic, ClientToken=token, DeletionProtection=True)
    assert run_instances(tea, ClientToken=token, DeletionProtection=True) == first
    assert run_instances(classic, ClientToken=token, DeletionProtection=True, Amount=1,
                         InstanceChargeType="PostPaid", OwnerId=123) == first
    expect_error(run_instances, classic, ClientToken=token, DeletionProtection=False,
                 code="IdempotentParameterMismatch", status=400)
    assert total(classic) == 1


def test_dry_run_creates_nothing(sdk):
    expect_error(run_instances, sdk, DryRun=True, code="DryRunOperation", status=400)
    assert total(sdk) == 0, "RunInstances DryRun=true created an instance"


def test_unknown_instance_type_is_refused_and_creates_nothing(sdk):
    expect_error(run_instances, sdk, InstanceType="ecs.nosuch.huge",
                 code="InvalidInstanceType.ValueNotSupported", status=400)
    assert total(sdk) == 0


# -- DescribeInstances --------------------------------------------------------------------------


def test_describe_by_instance_ids_json_array(sdk):
    ids = run_instances(sdk, amount=4)
    pick = [ids[3], ids[1]]
    got = listed_ids(sdk, InstanceIds=json.dumps(pick))
    assert sorted(got) == sorted(pick), f"InstanceIds={pick}: got {got}"
    assert listed_ids(sdk, InstanceIds=json.dumps(["i-doesnotexist0000"])) == []
    assert listed_ids(sdk, InstanceIds="[]") == [], "InstanceIds=[] is a filter that matches nothing"


def test_describe_filters_by_charge_type_and_status(sdk):
    post = run_instances(sdk, amount=2)
    pre = run_prepaid(sdk)
    sdk.call("StopInstance", InstanceId=post[0])
    assert sorted(listed_ids(sdk, InstanceChargeType="PostPaid")) == sorted(post)
    assert listed_ids(sdk, InstanceChargeType="PrePaid") == pre
    assert listed_ids(sdk, Status="Stopped") == [post[0]]
    assert sorted(listed_ids(sdk, Status="Running")) == sorted([post[1]] + pre)
    assert listed_ids(sdk, Status="Running", InstanceChargeType="PostPaid") == [post[1]], "filters must AND"


def test_describe_filters_by_tags(server):
    """Tag.N.Key/Tag.N.Value filter (classic SDK: set_Tags). Every pair must match; a key
    without a value matches any value."""
    sdk = ClassicSdk(server.endpoint)
    prod = run_instances(sdk, Tag=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "a"}])
    test = run_instances(sdk, Tag=[{"Key": "env", "Value": "test"}])
    run_instances(sdk)
    shown = describe(sdk, prod[0])["Tags"]["Tag"]
    assert {(t["TagKey"], t["TagValue"]) for t in shown} == {("env", "prod"), ("team", "a")}, shown
    assert listed_ids(sdk, Tag=[{"Key": "env", "Value": "prod"}]) == prod
    assert sorted(listed_ids(sdk, Tag=[{"Key": "env"}])) == sorted(prod + test)
    assert listed_ids(sdk, Tag=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "b"}]) == []


def test_describe_filters_by_creation_and_expiry_time(classic, tea, admin):
    """Filter.N.Key/Value with CreationStartTime/CreationEndTime/ExpiredStartTime/ExpiredEndTime
    (yyyy-MM-ddTHH:mmZ, bounds inclusive, by the minute as answers show the times): the classic
    SDK sends them as Filter1Key/Filter1Value..., the Tea SDK as a list of Filter objects."""
    from alibabacloud_ecs20140526.models import DescribeInstancesRequestFilter as TeaFilter

    early = run_instances(classic)[0]
    admin.advance(3600)
    late = run_prepaid(classic, months=1)[0]
    created_early = parse_minute(describe(classic, early)["CreationTime"])
    created_late = parse_minute(describe(classic, late)["CreationTime"])
    expires_late = parse_minute(describe(classic, late)["ExpiredTime"])

    def classic_ids(*pairs):
        params = {}
        for n, (key, value) in enumerate(pairs, start=1):
            params[f"Filter{n}Key"], params[f"Filter{n}Value"] = key, value
        return listed_ids(classic, **params)

    assert classic_ids(("CreationStartTime", fmt_out(created_late))) == [late]
    assert classic_ids(("CreationEndTime", fmt_out(created_early))) == [early]
    assert classic_ids(("CreationStartTime", fmt_out(created_early)),
                       ("CreationEndTime", fmt_out(created_late))) == [early, late]
    assert classic_ids(("CreationStartTime", fmt_out(created_late + timedelta(minutes=1)))) == []
    # A key given twice: both bounds apply, whichever comes first.
    assert classic_ids(("CreationStartTime", fmt_out(created_late)),
                       ("CreationStartTime", fmt_out(created_early))) == [late]
    assert classic_ids(("CreationStartTime", fmt_out(created_early)),
                       ("CreationStartTime", fmt_out(created_late))) == [late]
    # A pay-as-you-go instance shows (and is filtered by) ECS's far-off expiry.
    assert classic_ids(("ExpiredEndTime", fmt_out(expires_late))) == [late]
    assert classic_ids(("ExpiredStartTime", fmt_out(expires_late + timedelta(minutes=1)))) == [early]
    tea_ids = listed_ids(tea, Filter=[TeaFilter(key="CreationStartTime", value=fmt_out(created_late)),
                                      TeaFilter(key="ExpiredEndTime", value=fmt_out(expires_late))])
    assert tea_ids == [late]

    expect_error(classic.call, "DescribeInstances", RegionId=REGION, Filter1Key="LaunchTime",
                 Filter1Value=fmt_out(created_early), code="InvalidFilterKey.NotFound", status=404)
    expect_error(classic.call, "DescribeInstances", RegionId=REGION, Filter1Key="CreationStartTime",
                 Filter1Value="yesterday", code="InvalidParameter", status=400)


def test_describe_dry_run_checks_and_answers_dry_run_operation(classic):
    run_instances(classic)
    expect_error(classic.call, "DescribeInstances", RegionId=REGION, DryRun=True,
                 code="DryRunOperation", status=400)
    expect_error(classic.call, "DescribeInstances", RegionId=REGION, DryRun="yes",
                 code="InvalidParameter", status=400)
    assert len(listed_ids(classic, DryRun=False)) == 1


def test_describe_unknown_status_is_invalid_status_not_found(sdk):
    expect_error(sdk.call, "DescribeInstances", RegionId=REGION, Status="Sleeping",
                 code="InvalidStatus.NotFound", status=404)


def test_describe_unknown_charge_type_is_invalid_instance_charge_type_not_found(sdk):
    expect_error(sdk.call, "DescribeInstances", RegionId=REGION, InstanceChargeType="Free",
                 code="InvalidInstanceChargeType.NotFound", status=404)


def test_describe_pages_by_page_number_and_size(sdk):
    ids = run_instances(sdk, amount=7)
    seen = []
    for page, size in ((1, 3), (2, 3), (3, 1)):
        resp = sdk.call("DescribeInstances", RegionId=REGION, PageNumber=page, PageSize=3)
        got = [i["InstanceId"] for i in instances_of(resp)]
        assert len(got) == size, f"page {page} of 7 by 3: expected {size} instances, got {len(got)}"
        assert (int(resp["TotalCount"]), int(resp["PageNumber"]), int(resp["PageSize"])) == (7, page, 3), (
            f"page {page}: TotalCount/PageNumber/PageSize {resp.get('TotalCount')}/{resp.get('PageNumber')}/{resp.get('PageSize')}")
        seen += got
    assert sorted(seen) == sorted(ids), f"pages must cover each instance once: {seen}"
    resp = sdk.call("DescribeInstances", RegionId=REGION, PageNumber=4, PageSize=3)
    assert instances_of(resp) == [], "page past the end must be empty"


def test_describe_default_page_size_is_10(sdk):
    run_instances(sdk, amount=12)
    resp = sdk.call("DescribeInstances", RegionId=REGION)
    assert len(instances_of(resp)) == 10 and int(resp["TotalCount"]) == 12, (
        f"default paging: expected 10 of 12, got {len(instances_of(resp))} of {resp.get('TotalCount')}")


def test_describe_pages_by_next_token_and_max_results(sdk):
    ids = run_instances(sdk, amount=7)
    seen, token, calls = [], None, 0
    while True:
        resp = sdk.call("DescribeInstances", RegionId=REGION, MaxResults=3, NextToken=token)
        page = [i["InstanceId"] for i in instances_of(resp)]
        assert len(page) <= 3, f"MaxResults=3 returned {len(page)}"
        seen += page
        token = resp.get("NextToken") or None
        calls += 1
        if not token:
            break
        assert calls < 10, "NextToken paging does not end"
    assert sorted(seen) == sorted(ids), f"NextToken pages must cover each instance once: {seen}"
    assert calls == 3, f"7 instances by 3: expected 3 pages, got {calls}"


# -- DeleteInstance -----------------------------------------------------------------------------


def test_delete_running_instance_needs_force(sdk):
    iid = run_instances(sdk)[0]
    expect_error(sdk.call, "DeleteInstance", InstanceId=iid, code="IncorrectInstanceStatus", status=403)
    assert describe(sdk, iid) is not None, "a refused DeleteInstance released the instance"
    sdk.call("DeleteInstance", InstanceId=iid, Force=True)
    assert describe(sdk, iid) is None, "DeleteInstance Force=true did not release a Running instance"


def test_delete_stopped_instance_without_force(sdk):
    iid = run_instances(sdk)[0]
    sdk.call("StopInstance", InstanceId=iid)
    sdk.call("DeleteInstance", InstanceId=iid)
    assert describe(sdk, iid) is None


def test_released_instance_is_not_found_afterwards(sdk, admin):
    iid = run_instances(sdk)[0]
    sdk.call("DeleteInstance", InstanceId=iid, Force=True)
    assert listed_ids(sdk) == []
    expect_error(sdk.call, "DeleteInstance", InstanceId=iid, Force=True,
                 code="InvalidInstanceId.NotFound", status=404)
    expect_error(sdk.call, "StopInstance", InstanceId=iid, code="InvalidInstanceId.NotFound", status=404)
    expect_error(sdk.call, "ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid,
                 AutoReleaseTime=fmt_in(admin.now() + timedelta(days=1)), code="NoSuchResource", status=404)


def test_deletion_protection_refuses_delete_instance(sdk):
    iid = run_instances(sdk, DeletionProtection=True)[0]
    expect_error(sdk.call, "DeleteInstance", InstanceId=iid, Force=True,
                 code="InvalidOperation.DeletionProtection", status=403)
    sdk.call("StopInstance", InstanceId=iid)
    expect_error(sdk.call, "DeleteInstance", InstanceId=iid,
                 code="InvalidOperation.DeletionProtection", status=403)
    assert describe(sdk, iid) is not None
    sdk.call("ModifyInstanceAttribute", InstanceId=iid, DeletionProtection=False)
    sdk.call("DeleteInstance", InstanceId=iid)
    assert describe(sdk, iid) is None


def test_delete_subscription_instance_is_charge_type_violation(sdk):
    iid = run_prepaid(sdk)[0]
    expect_error(sdk.call, "DeleteInstance", InstanceId=iid, Force=True, code="ChargeTypeViolation", status=403)
    assert describe(sdk, iid) is not None


def test_delete_dry_run_releases_nothing(sdk):
    iid = run_instances(sdk)[0]
    expect_error(sdk.call, "DeleteInstance", InstanceId=iid, Force=True, DryRun=True,
                 code="DryRunOperation", status=400)
    assert describe(sdk, iid) is not None


def test_delete_unknown_instance_is_invalid_instance_id_not_found(sdk):
    expect_error(sdk.call, "DeleteInstance", InstanceId="i-doesnotexist0000", Force=True,
                 code="InvalidInstanceId.NotFound", status=404)


# -- DeleteInstances ----------------------------------------------------------------------------


def test_delete_instances_releases_the_batch(sdk):
    ids = run_instances(sdk, amount=3)
    keep = run_instances(sdk)[0]
    resp = sdk.call("DeleteInstances", RegionId=REGION, InstanceId=ids, Force=True)
    assert UUID_UPPER.match(resp.get("RequestId", "")), f"unexpected answer {resp!r}"
    assert listed_ids(sdk) == [keep]


def test_delete_instances_dry_run_releases_nothing(sdk):
    ids = run_instances(sdk, amount=2)
    # DeleteInstances' SDK model names DRYRUN.SUCCESS (DeleteInstance's dry run is DryRunOperation)
    expect_error(sdk.call, "DeleteInstances", RegionId=REGION, InstanceId=ids, Force=True, DryRun=True,
                 code="DRYRUN.SUCCESS", status=400)
    assert sorted(listed_ids(sdk)) == sorted(ids)


def test_delete_instances_running_without_force_releases_nothing(sdk):
    ids = run_instances(sdk, amount=2)
    sdk.call("StopInstance", InstanceId=ids[0])
    expect_error(sdk.call, "DeleteInstances", RegionId=REGION, InstanceId=ids,
                 code="IncorrectInstanceStatus", status=403)
    assert sorted(listed_ids(sdk)) == sorted(ids), "a failed DeleteInstances released part of the batch"


def test_delete_instances_with_a_protected_one_releases_nothing(sdk):
    ids = run_instances(sdk, amount=2) + run_instances(sdk, DeletionProtection=True)
    expect_error(sdk.call, "DeleteInstances", RegionId=REGION, InstanceId=ids, Force=True,
                 code="InvalidOperation.DeletionProtection", status=403)
    assert sorted(listed_ids(sdk)) == sorted(ids), "a failed DeleteInstances released part of the batch"


def test_delete_instances_with_an_unknown_one_releases_nothing(sdk):
    ids = run_instances(sdk, amount=2)
    expect_error(sdk.call, "DeleteInstances", RegionId=REGION, InstanceId=ids + ["i-doesnotexist0000"],
                 Force=True, code="InvalidInstanceId.NotFound", status=404)
    assert sorted(listed_ids(sdk)) == sorted(ids), "a failed DeleteInstances released part of the batch"


def test_delete_instances_over_100_ids_is_refused_and_releases_nothing(sdk):
    ids = run_instances(sdk, amount=100) + run_instances(sdk)
    expect_error(sdk.call, "DeleteInstances", RegionId=REGION, InstanceId=ids, Force=True,
                 code="InvalidParameter", status=400)
    assert total(sdk) == 101, "a refused DeleteInstances of 101 ids released instances"
    sdk.call("DeleteInstances", RegionId=REGION, InstanceId=ids[:100], Force=True)
    assert listed_ids(sdk) == [ids[100]]


def test_delete_instances_with_a_subscription_in_the_batch_releases_nothing(sdk):
    ids = run_instances(sdk, amount=2) + run_prepaid(sdk)
    expect_error(sdk.call, "DeleteInstances", RegionId=REGION, InstanceId=ids, Force=True,
                 code="ChargeTypeViolation", status=403)
    assert sorted(listed_ids(sdk)) == sorted(ids), "a failed DeleteInstances released part of the batch"


# -- Stop / Start -------------------------------------------------------------------------------


def test_stop_then_start(sdk):
    iid = run_instances(sdk)[0]
    sdk.call("StopInstance", InstanceId=iid)
    assert describe(sdk, iid)["Status"] == "Stopped"
    expect_error(sdk.call, "StopInstance", InstanceId=iid, code="IncorrectInstanceStatus", status=403)
    sdk.call("StartInstance", InstanceId=iid)
    assert describe(sdk, iid)["Status"] == "Running"
    expect_error(sdk.call, "StartInstance", InstanceId=iid, code="IncorrectInstanceStatus", status=403)


def test_stop_and_start_unknown_instance_is_not_found(sdk):
    for action in ("StopInstance", "StartInstance"):
        expect_error(sdk.call, action, InstanceId="i-doesnotexist0000",
                     code="InvalidInstanceId.NotFound", status=404)


def test_stop_with_force_stop(sdk):
    iid = run_instances(sdk)[0]
    sdk.call("StopInstance", InstanceId=iid, ForceStop=True)
    assert describe(sdk, iid)["Status"] == "Stopped"


def test_stop_charging_mode_is_shown_until_started_again(sdk):
    iid = run_instances(sdk)[0]
    assert describe(sdk, iid)["StoppedMode"] == "Not-applicable"
    sdk.call("StopInstance", InstanceId=iid, StoppedMode="StopCharging")
    assert describe(sdk, iid)["StoppedMode"] == "StopCharging"
    sdk.call("StartInstance", InstanceId=iid)
    assert describe(sdk, iid)["StoppedMode"] == "Not-applicable"
    sdk.call("StopInstance", InstanceId=iid, StoppedMode="KeepCharging")
    assert describe(sdk, iid)["StoppedMode"] == "KeepCharging"


def test_subscription_keeps_charging_when_stopped(sdk):
    iid = run_prepaid(sdk)[0]
    sdk.call("StopInstance", InstanceId=iid, StoppedMode="StopCharging")
    got = describe(sdk, iid)
    assert got["Status"] == "Stopped" and got["StoppedMode"] == "KeepCharging", got


def test_unknown_stopped_mode_is_invalid_parameter_and_stops_nothing(sdk):
    iid = run_instances(sdk)[0]
    expect_error(sdk.call, "StopInstance", InstanceId=iid, StoppedMode="Sometimes",
                 code="InvalidParameter", status=400)
    assert describe(sdk, iid)["Status"] == "Running"


@pytest.mark.parametrize("action,flag,stopped_first", [
    ("StopInstance", "ForceStop", False), ("StopInstance", "ConfirmStop", False),
    ("StartInstance", "InitLocalDisk", True), ("DeleteInstance", "ForceStop", True),
])
def test_flags_that_change_nothing_here_must_still_be_booleans(classic, action, flag, stopped_first):
    iid = run_instances(classic)[0]
    if stopped_first:
        classic.call("StopInstance", InstanceId=iid)
    status = describe(classic, iid)["Status"]
    expect_error(classic.call, action, InstanceId=iid, **{flag: "zz"}, code="InvalidParameter", status=400)
    assert describe(classic, iid)["Status"] == status, f"{action} with {flag}=zz changed the instance"


def test_delete_instances_force_stop_must_be_a_boolean(classic):
    iid = run_instances(classic)[0]
    expect_error(classic.call, "DeleteInstances", RegionId=REGION, InstanceId=[iid], Force=True, ForceStop="zz",
                 code="InvalidParameter", status=400)
    assert describe(classic, iid) is not None


# -- ModifyInstanceAttribute --------------------------------------------------------------------


def test_modify_instance_attribute_toggles_deletion_protection(sdk):
    iid = run_instances(sdk)[0]
    sdk.call("ModifyInstanceAttribute", InstanceId=iid, DeletionProtection=True)
    assert describe(sdk, iid)["DeletionProtection"] is True
    sdk.call("ModifyInstanceAttribute", InstanceId=iid, DeletionProtection=False)
    assert describe(sdk, iid)["DeletionProtection"] is False


def test_modify_instance_attribute_unknown_instance_is_not_found(sdk):
    expect_error(sdk.call, "ModifyInstanceAttribute", InstanceId="i-doesnotexist0000", DeletionProtection=True,
                 code="InvalidInstanceId.NotFound", status=404)


@pytest.mark.parametrize("attribute,value", [("Password", "Secret-123!"), ("HostName", "web-1"),
                                             ("UserData", "ZWNobyBoaQ==")])
def test_modify_instance_attribute_ecsd_does_not_keep_is_unsupported_parameter(sdk, attribute, value):
    """ECS takes these attributes here; ecsd keeps none of them, so it refuses them rather than
    answer a success that changed nothing, and the rest of the call is not carried out."""
    iid = run_instances(sdk, InstanceName="before")[0]
    expect_error(sdk.call, "ModifyInstanceAttribute", InstanceId=iid, InstanceName="after",
                 **{attribute: value}, code="UnsupportedParameter", status=400,
                 message="The parameters is unsupported.")
    assert describe(sdk, iid)["InstanceName"] == "before"


@pytest.mark.parametrize("text", ["my web server", "测试 实例-1", "a*b~c!'(x)/y+z=&%20"])
def test_texts_with_spaces_unicode_and_reserved_characters_survive_signing(sdk, text):
    """Tea writes spaces as '+' in the query, the classic SDK as %20; both must verify and
    round-trip. A Description takes any character (a name takes no space: test_names.py)."""
    iid = run_instances(sdk, InstanceName="测试实例-1", Description=text)[0]
    got = describe(sdk, iid)
    assert (got.get("InstanceName"), got.get("Description")) == ("测试实例-1", text), got


@pytest.mark.parametrize("value", ["yes", "1", "maybe"])
def test_non_boolean_value_for_a_boolean_is_invalid_parameter(classic, value):
    """Booleans are true/false in any case (Python sends True/False); anything else is refused."""
    iid = run_instances(classic)[0]
    expect_error(classic.call, "ModifyInstanceAttribute", InstanceId=iid, DeletionProtection=value,
                 code="InvalidParameter", status=400)
    assert describe(classic, iid)["DeletionProtection"] is False


@pytest.mark.parametrize("value", ["True", "true", "TRUE"])
def test_booleans_are_read_case_insensitively(classic, value):
    iid = run_instances(classic)[0]
    classic.call("ModifyInstanceAttribute", InstanceId=iid, DeletionProtection=value)
    assert describe(classic, iid)["DeletionProtection"] is True


def test_concurrent_run_instances_with_one_client_token_create_once(server):
    """Eight clients send the same RunInstances+ClientToken at once: one set of instances, one answer."""
    import threading
    from harness import ClassicSdk, TeaSdk
    token = str(uuid.uuid4())
    answers, errors = [], []

    def go(n):
        sdk = TeaSdk(server.endpoint) if n % 2 else ClassicSdk(server.endpoint)
        try:
            answers.append(sorted(run_instances(sdk, amount=3, ClientToken=token)))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=go, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, f"concurrent idempotent RunInstances failed: {errors}"
    assert len({tuple(a) for a in answers}) == 1, f"same ClientToken answered different instances: {answers}"
    assert total(ClassicSdk(server.endpoint)) == 3, "same ClientToken sent concurrently created more than one set"


@pytest.mark.parametrize("amount", [0, 101])
def test_amount_outside_1_to_100_is_refused(sdk, amount):
    expect_error(run_instances, sdk, amount=amount, code="InvalidParameter", status=400,
                 message='The specified parameter "Amount" is not valid.')
    assert total(sdk) == 0
