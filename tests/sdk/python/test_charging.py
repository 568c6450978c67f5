"""RenewInstance and ModifyInstanceChargeType through both Python SDKs (issue 14, seed 004): manual
renewal paid from the balance, renewal of an expired instance within the grace period, and a
subscription converted to pay-as-you-go so it can be released before it expires."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import xml.etree.ElementTree as ET

from harness import (
    DEFAULT_AK, REGION, add_months, describe, expect_error, lock_reasons, parse_minute, run_instances,
    run_prepaid,
)
from test_protocol import signed_get

# ecs.g7.large: 2 vCPU at 12 a vCPU-month.
G7_LARGE_MONTH = Decimal("24")


def events_of(admin, iid, action):
    return [e for e in admin.all_events() if e.get("resource_id") == iid and e.get("action") == action]


def test_renew_instance_extends_expired_time_and_charges_the_balance(sdk, admin):
    admin.set_balance(DEFAULT_AK, "100")
    iid = run_prepaid(sdk, months=1)[0]
    expired = parse_minute(describe(sdk, iid)["ExpiredTime"])
    resp = sdk.call("RenewInstance", InstanceId=iid, Period=2, PeriodUnit="Month")
    assert resp["OrderId"], resp
    assert parse_minute(describe(sdk, iid)["ExpiredTime"]) == add_months(expired, 2)
    assert admin.balance(DEFAULT_AK) == Decimal("100") - 2 * G7_LARGE_MONTH
    assert len(events_of(admin, iid, "RenewInstance")) == 1


def test_renew_instance_error_rows_change_nothing(sdk, admin):
    admin.set_balance(DEFAULT_AK, "10")
    pre = run_prepaid(sdk)[0]
    post = run_instances(sdk)[0]
    before = describe(sdk, pre)["ExpiredTime"]
    expect_error(sdk.call, "RenewInstance", InstanceId=pre, Period=1, code="InvalidAccountStatus.NotEnoughBalance",
                 status=403, message="Your account does not have enough balance.")
    admin.set_balance(DEFAULT_AK, "1000")
    expect_error(sdk.call, "RenewInstance", InstanceId=post, Period=1, code="ChargeTypeViolation", status=403)
    for period in (0, 10, 13):
        expect_error(sdk.call, "RenewInstance", InstanceId=pre, Period=period, code="InvalidPeriod", status=400)
    expect_error(sdk.call, "RenewInstance", InstanceId=pre, Period=1, PeriodUnit="Year",
                 code="InvalidPeriodUnit.ValueNotSupported", status=400)
    expect_error(sdk.call, "RenewInstance", InstanceId=pre, code="MissingParameter", status=400)
    expect_error(sdk.call, "RenewInstance", InstanceId="i-doesnotexist0000", Period=1,
                 code="InvalidInstanceId.NotFound", status=404)
    assert describe(sdk, pre)["ExpiredTime"] == before
    assert admin.balance(DEFAULT_AK) == Decimal("1000")


def test_renewing_an_expired_locked_instance_unlocks_and_starts_it(sdk, admin):
    admin.set_balance(DEFAULT_AK, "0")
    iid = run_prepaid(sdk, months=1)[0]
    expired = parse_minute(describe(sdk, iid)["ExpiredTime"])
    admin.advance_to(expired + timedelta(days=3))
    inst = describe(sdk, iid)
    assert (inst["Status"], lock_reasons(inst)) == ("Stopped", ["financial"]), inst
    admin.set_balance(DEFAULT_AK, "24")
    sdk.call("RenewInstance", InstanceId=iid, Period=1)
    inst = describe(sdk, iid)
    assert (inst["Status"], lock_reasons(inst)) == ("Running", []), inst
    # A new month from the renewal, and no release at the end of the old grace period.
    assert parse_minute(inst["ExpiredTime"]) > expired + timedelta(days=20), inst
    admin.advance_to(expired + timedelta(days=16))
    assert describe(sdk, iid)["Status"] == "Running"


def test_subscription_converted_to_pay_as_you_go_can_be_released_before_expiry(sdk, admin):
    admin.set_balance(DEFAULT_AK, "0")
    iid = run_prepaid(sdk, months=1)[0]
    expect_error(sdk.call, "DeleteInstance", InstanceId=iid, Force=True, code="ChargeTypeViolation", status=403)
    resp = sdk.call("ModifyInstanceChargeType", RegionId=REGION, InstanceIds=json.dumps([iid]),
                    InstanceChargeType="PostPaid")
    fees = resp["FeeOfInstances"]["FeeOfInstance"]
    assert [f["InstanceId"] for f in fees] == [iid] and Decimal(fees[0]["Fee"]) < 0, resp
    assert admin.balance(DEFAULT_AK) == -Decimal(fees[0]["Fee"]), "the unused time is refunded"
    inst = describe(sdk, iid)
    assert inst["InstanceChargeType"] == "PostPaid", inst
    # Released as any pay-as-you-go instance: by hand, or at an auto-release time.
    sdk.call("DeleteInstance", InstanceId=iid, Force=True)
    assert describe(sdk, iid) is None
    other = run_prepaid(sdk, months=1)[0]
    sdk.call("ModifyInstanceChargeType", RegionId=REGION, InstanceIds=json.dumps([other]),
             InstanceChargeType="PostPaid")
    release_at = admin.now() + timedelta(hours=2)
    sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=other,
             AutoReleaseTime=release_at.strftime("%Y-%m-%dT%H:%M:%SZ"))
    admin.advance(3 * 3600)
    assert describe(sdk, other) is None


def test_pay_as_you_go_converted_to_subscription_is_paid_and_expires(sdk, admin):
    admin.set_balance(DEFAULT_AK, "100")
    ids = run_instances(sdk, amount=2)
    resp = sdk.call("ModifyInstanceChargeType", RegionId=REGION, InstanceIds=json.dumps(ids), Period=1)
    assert len(resp["FeeOfInstances"]["FeeOfInstance"]) == 2, resp
    assert admin.balance(DEFAULT_AK) == Decimal("100") - 2 * G7_LARGE_MONTH
    for iid in ids:
        inst = describe(sdk, iid)
        assert inst["InstanceChargeType"] == "PrePaid", inst
    expired = parse_minute(describe(sdk, ids[0])["ExpiredTime"])
    admin.advance_to(expired)
    assert lock_reasons(describe(sdk, ids[0])) == ["financial"]


def test_modify_instance_charge_type_error_rows_are_all_or_none(sdk, admin):
    a, b = run_instances(sdk, amount=2)
    pre = run_prepaid(sdk)[0]
    admin.set_balance(DEFAULT_AK, "30")
    call = sdk.call
    expect_error(call, "ModifyInstanceChargeType", RegionId=REGION, InstanceIds=json.dumps([a, b]), Period=1,
                 code="InvalidAccountStatus.NotEnoughBalance", status=403)
    assert describe(sdk, a)["InstanceChargeType"] == "PostPaid", "all or none"
    expect_error(call, "ModifyInstanceChargeType", RegionId=REGION, InstanceIds=json.dumps([a]),
                 code="MissingParameter", status=400)
    expect_error(call, "ModifyInstanceChargeType", RegionId=REGION, InstanceIds=json.dumps([pre]), Period=1,
                 code="ChargeTypeViolation", status=403)
    expect_error(call, "ModifyInstanceChargeType", RegionId=REGION, InstanceIds=json.dumps([a, "i-doesnotexist0000"]),
                 InstanceChargeType="PrePaid", Period=1, code="InvalidInstanceId.NotFound", status=404)
    expect_error(call, "ModifyInstanceChargeType", RegionId=REGION, InstanceIds=json.dumps([a]), Period=1,
                 DryRun=True, code="DryRunOperation", status=400)
    expect_error(call, "ModifyInstanceChargeType", RegionId=REGION, code="MissingParameter", status=400)
    expect_error(call, "ModifyInstanceChargeType", RegionId=REGION, InstanceIds=json.dumps([a]), Period=1,
                 AutoPay=False, code="UnsupportedParameter", status=400)
    assert admin.balance(DEFAULT_AK) == Decimal("30")
    assert describe(sdk, a)["InstanceChargeType"] == "PostPaid"
    # An expired, locked subscription cannot change charge type; it can only be renewed.
    admin.set_balance(DEFAULT_AK, "0")
    expired = parse_minute(describe(sdk, pre)["ExpiredTime"])
    admin.advance_to(expired)
    expect_error(call, "ModifyInstanceChargeType", RegionId=REGION, InstanceIds=json.dumps([pre]),
                 InstanceChargeType="PostPaid", code="InstanceExpiredOrInArrears", status=403)


def test_charging_calls_answer_in_xml(server, sdk, admin):
    admin.set_balance(DEFAULT_AK, "100")
    iid = run_prepaid(sdk)[0]
    status, _, body = signed_get(server, "RenewInstance", {"InstanceId": iid, "Period": "1"}, "XML")
    assert status == 200 and ET.fromstring(body).findtext("OrderId"), body[:300]
    status, _, body = signed_get(server, "ModifyInstanceChargeType",
                                 {"RegionId": REGION, "InstanceIds": json.dumps([iid]),
                                  "InstanceChargeType": "PostPaid"}, "XML")
    root = ET.fromstring(body)
    assert status == 200 and [e.text for e in root.iter("InstanceId")] == [iid], body[:300]
