"""CreateInstance, DescribeUserData and spot settings through both Python SDKs (issue 14, seed 004).
An instance made by CreateInstance starts Stopped and then goes through the same lifecycle as one
made by RunInstances: release by hand and at its release time, renewal, expiry."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from decimal import Decimal

import pytest

from harness import (
    DEFAULT_AK, IMAGE, REGION, describe, expect_error, fmt_in, lock_reasons, parse_minute, run_instances,
)

USER_DATA = base64.b64encode(b"#!/bin/sh\necho hello > /tmp/hello\n").decode()


def create(sdk, **params) -> str:
    params.setdefault("RegionId", REGION)
    params.setdefault("ImageId", IMAGE)
    params.setdefault("InstanceType", "ecs.g7.large")
    resp = sdk.call("CreateInstance", **params)
    assert resp["InstanceId"].startswith("i-") and resp["OrderId"], resp
    return resp["InstanceId"]


def test_create_instance_makes_one_stopped_instance_until_started(sdk, admin):
    iid = create(sdk, InstanceName="legacy-1", UserData=USER_DATA, DeletionProtection=True)
    inst = describe(sdk, iid)
    assert (inst["Status"], inst["InstanceName"], inst["DeletionProtection"]) == ("Stopped", "legacy-1", True), inst
    assert inst["StartTime"] == "", inst
    sdk.call("StartInstance", InstanceId=iid)
    assert describe(sdk, iid)["Status"] == "Running"
    got = sdk.call("DescribeUserData", RegionId=REGION, InstanceId=iid)
    assert (got["InstanceId"], got["UserData"]) == (iid, USER_DATA), got


def test_user_data_given_to_run_instances_is_kept_too(sdk):
    iid = run_instances(sdk, UserData=USER_DATA)[0]
    assert sdk.call("DescribeUserData", RegionId=REGION, InstanceId=iid)["UserData"] == USER_DATA
    plain = run_instances(sdk)[0]
    assert sdk.call("DescribeUserData", RegionId=REGION, InstanceId=plain)["UserData"] == ""
    expect_error(sdk.call, "DescribeUserData", RegionId=REGION, InstanceId="i-doesnotexist0000",
                 code="InvalidInstanceId.NotFound", status=404)


def test_create_instance_error_rows_create_nothing(sdk):
    for kwargs, code, status in [
        ({"ImageId": "m-doesnotexist"}, "InvalidImageId.NotFound", 404),
        ({"InstanceType": "ecs.nosuch.large"}, "InvalidInstanceType.ValueNotSupported", 400),
        ({"UserData": "not base64!"}, "InvalidUserData.Base64FormatInvalid", 400),
        ({"UserData": base64.b64encode(b"x" * (32 * 1024 + 1)).decode()}, "InvalidUserData.SizeExceeded", 400),
        ({"SpotStrategy": "Cheapest"}, "InvalidSpotStrategy", 400),
        ({"SpotStrategy": "SpotWithPriceLimit"}, "InvalidSpotPriceLimit", 400),
        ({"SpotStrategy": "SpotWithPriceLimit", "SpotPriceLimit": 0.1234}, "InvalidSpotPriceLimit", 400),
        ({"SpotStrategy": "SpotAsPriceGo", "SpotDuration": 3}, "InvalidSpotDuration", 400),
        ({"SpotStrategy": "SpotAsPriceGo", "InstanceChargeType": "PrePaid", "Period": 1},
         "InvalidSpotPrepaid", 400),
        ({"InstanceChargeType": "PrePaid"}, "MissingParameter", 400),
        ({"DryRun": True}, "DryRunOperation", 400),
    ]:
        expect_error(create, sdk, code=code, status=status, **kwargs)
    assert sdk.call("DescribeInstances", RegionId=REGION)["TotalCount"] == 0


def test_create_instance_client_token_creates_once(sdk):
    a = create(sdk, ClientToken="legacy-token-1")
    b = create(sdk, ClientToken="legacy-token-1")
    assert a == b
    expect_error(create, sdk, ClientToken="legacy-token-1", InstanceName="other",
                 code="IdempotentParameterMismatch", status=400)


def test_spot_instances_are_shown_and_released_like_pay_as_you_go(sdk, admin):
    limited = run_instances(sdk, SpotStrategy="SpotWithPriceLimit", SpotPriceLimit=0.98)[0]
    market = create(sdk, SpotStrategy="SpotAsPriceGo", SpotDuration=0)
    a, b = describe(sdk, limited), describe(sdk, market)
    assert (a["SpotStrategy"], a["SpotPriceLimit"], a["SpotDuration"]) == ("SpotWithPriceLimit", 0.98, 1), a
    assert (b["SpotStrategy"], b["SpotDuration"], b["InstanceChargeType"]) == ("SpotAsPriceGo", 0, "PostPaid"), b
    plain = describe(sdk, run_instances(sdk)[0])
    assert plain["SpotStrategy"] == "NoSpot", plain
    # A spot instance has no subscription form.
    admin.set_balance(DEFAULT_AK, "1000")
    expect_error(sdk.call, "ModifyInstanceChargeType", RegionId=REGION, InstanceIds=json.dumps([market]),
                 Period=1, code="ChargeTypeViolation", status=403)
    # Spelling out the default strategy is the same ClientToken request.
    first = run_instances(sdk, ClientToken="spot-default-token")
    assert run_instances(sdk, ClientToken="spot-default-token", SpotStrategy="NoSpot") == first
    sdk.call("DeleteInstance", InstanceId=limited, Force=True)
    assert describe(sdk, limited) is None
    release = admin.now() + timedelta(hours=1)
    sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=market, AutoReleaseTime=fmt_in(release))
    admin.advance(2 * 3600)
    assert describe(sdk, market) is None


@pytest.mark.parametrize("maker", ["CreateInstance", "RunInstances"])
def test_both_creates_go_through_the_same_release_renewal_and_expiry(sdk, admin, maker):
    def make(**params):
        if maker == "CreateInstance":
            iid = create(sdk, **params)
            sdk.call("StartInstance", InstanceId=iid)
            return iid
        return run_instances(sdk, **params)[0]

    # Release at the auto-release time.
    post = make()
    release = admin.now() + timedelta(hours=1)
    sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=post, AutoReleaseTime=fmt_in(release))
    admin.advance(3600 + 60)
    assert describe(sdk, post) is None, f"{maker}: not released at its AutoReleaseTime"
    # Manual release after a stop.
    manual = make()
    sdk.call("StopInstance", InstanceId=manual)
    sdk.call("DeleteInstance", InstanceId=manual)
    assert describe(sdk, manual) is None
    # Auto-renewal charges the balance; then, unpaid, expiry locks and the grace ends in release.
    admin.set_balance(DEFAULT_AK, "24")
    sub = make(InstanceChargeType="PrePaid", Period=1, PeriodUnit="Month", AutoRenew=True, AutoRenewPeriod=1)
    expired = parse_minute(describe(sdk, sub)["ExpiredTime"])
    admin.advance_to(expired - timedelta(days=1))
    renewed = parse_minute(describe(sdk, sub)["ExpiredTime"])
    assert renewed > expired and admin.balance(DEFAULT_AK) == Decimal("0"), f"{maker}: not auto-renewed"
    admin.advance_to(renewed)
    inst = describe(sdk, sub)
    assert (inst["Status"], lock_reasons(inst)) == ("Stopped", ["financial"]), f"{maker}: {inst}"
    admin.advance_to(renewed + timedelta(days=15))
    assert describe(sdk, sub) is None, f"{maker}: not released after the grace period"
    events = [e for e in admin.all_events() if e.get("resource_id") == sub]
    actions = [(e["action"], e.get("outcome")) for e in events]
    assert actions[0] == ("RenewalAttempt", "renewed"), actions
    assert actions[-2:] == [("Expire", "locked"), ("ExpiryRelease", "released")], actions


def test_create_instance_and_describe_user_data_in_xml(server, sdk):
    import xml.etree.ElementTree as ET
    from test_protocol import signed_get
    status, _, body = signed_get(server, "CreateInstance", {"RegionId": REGION, "ImageId": IMAGE,
                                                            "InstanceType": "ecs.g7.large",
                                                            "UserData": USER_DATA}, "XML")
    root = ET.fromstring(body)
    assert status == 200 and root.tag == "CreateInstanceResponse", body[:300]
    iid = root.findtext("InstanceId")
    status, _, body = signed_get(server, "DescribeUserData", {"RegionId": REGION, "InstanceId": iid}, "XML")
    assert status == 200 and ET.fromstring(body).findtext("UserData") == USER_DATA, body[:300]


# -- Spot interruption, through the admin API (seed 004)


def interrupt(admin, iid, expect_ok=True):
    return admin.request("POST", f"/admin/accounts/{DEFAULT_AK}/instances/{iid}/interrupt", expect_ok=expect_ok)


def test_interrupted_spot_instance_is_locked_then_released_after_the_notice(sdk, admin):
    iid = run_instances(sdk, SpotStrategy="SpotAsPriceGo")[0]
    got = interrupt(admin, iid)
    release_at = parse_minute(got["release_time"][:16] + "Z")
    assert got["lock_reason"] == "recycling", got
    inst = describe(sdk, iid)
    assert lock_reasons(inst) == ["recycling"], inst
    locked = sdk.call("DescribeInstances", RegionId=REGION, LockReason="recycling")
    assert [i["InstanceId"] for i in locked["Instances"]["Instance"]] == [iid], locked
    notice = [e for e in admin.all_events() if e.get("resource_id") == iid]
    assert [(e["action"], e["outcome"]) for e in notice] == [("Instance:PreemptibleInstanceInterruption", "recycling")]
    assert interrupt(admin, iid, expect_ok=False)[0] == 409, "interrupted twice"
    admin.advance(4 * 60)
    assert describe(sdk, iid) is not None, "released before the five-minute notice ended"
    admin.advance(60)
    assert describe(sdk, iid) is None, "not released when the notice ended"
    assert release_at <= admin.now()
    released = [e for e in admin.all_events() if e.get("resource_id") == iid and e["action"] == "SpotInterruption"]
    assert [e["outcome"] for e in released] == ["released"], released


def test_only_spot_instances_of_the_key_account_can_be_interrupted(sdk, admin):
    plain = run_instances(sdk)[0]
    assert interrupt(admin, plain, expect_ok=False)[0] == 409
    assert interrupt(admin, "i-doesnotexist0000", expect_ok=False)[0] == 404
    status, _ = admin.request("POST", f"/admin/accounts/LTAInosuchkey/instances/{plain}/interrupt", expect_ok=False)
    assert status == 404
    assert lock_reasons(describe(sdk, plain)) == []
