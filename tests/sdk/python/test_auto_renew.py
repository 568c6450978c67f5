"""ModifyInstanceAutoRenewAttribute (seed 002) and DescribeInstanceAutoRenewAttribute: settings and
every error row (all HTTP 403 per the seed), through both Python SDKs."""

from __future__ import annotations

import pytest

from harness import REGION, ApiFailure, expect_error, renew_attr, run_instances, run_prepaid

ROW_STATUS = 403


def modify(sdk, instance_id, **params):
    return sdk.call("ModifyInstanceAutoRenewAttribute", RegionId=REGION, InstanceId=instance_id, **params)


def expect_settings(sdk, iid, renewal_status, enabled, duration=None, unit=None):
    row = renew_attr(sdk, iid)
    got = (row.get("RenewalStatus"), row.get("AutoRenewEnabled"))
    assert got == (renewal_status, enabled), (
        f"{iid}: expected RenewalStatus={renewal_status} AutoRenewEnabled={enabled}, got {row!r}")
    if duration is not None:
        assert int(row.get("Duration")) == duration, f"{iid}: expected Duration {duration}, got {row!r}"
    if unit is not None:
        assert row.get("PeriodUnit") == unit, f"{iid}: expected PeriodUnit {unit}, got {row!r}"


def test_new_subscription_is_normal_not_auto_renewing(sdk):
    iid = run_prepaid(sdk)[0]
    expect_settings(sdk, iid, "Normal", False)


def test_run_instances_auto_renew_sets_auto_renewal(sdk):
    iid = run_prepaid(sdk, AutoRenew=True, AutoRenewPeriod=3)[0]
    expect_settings(sdk, iid, "AutoRenewal", True, duration=3, unit="Month")


def test_auto_renew_true_turns_auto_renewal_on(sdk):
    iid = run_prepaid(sdk)[0]
    resp = modify(sdk, iid, AutoRenew=True, Duration=3, PeriodUnit="Month")
    assert resp.get("RequestId") and "Code" not in resp, f"unexpected answer {resp!r}"
    expect_settings(sdk, iid, "AutoRenewal", True, duration=3, unit="Month")


def test_auto_renew_false_is_normal(sdk):
    iid = run_prepaid(sdk)[0]
    modify(sdk, iid, AutoRenew=True, Duration=1)
    modify(sdk, iid, AutoRenew=False)
    expect_settings(sdk, iid, "Normal", False)


def test_period_unit_defaults_to_month(sdk):
    iid = run_prepaid(sdk)[0]
    modify(sdk, iid, AutoRenew=True, Duration=6)
    expect_settings(sdk, iid, "AutoRenewal", True, duration=6, unit="Month")


@pytest.mark.parametrize("status,enabled", [("AutoRenewal", True), ("Normal", False), ("NotRenewal", False)])
def test_renewal_status_takes_precedence_over_auto_renew(sdk, status, enabled):
    iid = run_prepaid(sdk)[0]
    modify(sdk, iid, AutoRenew=not enabled, RenewalStatus=status, Duration=1, PeriodUnit="Month")
    expect_settings(sdk, iid, status, enabled)


def test_comma_separated_batch_sets_every_instance(sdk):
    ids = run_prepaid(sdk, amount=3)
    modify(sdk, ",".join(ids), AutoRenew=True, Duration=2, PeriodUnit="Month")
    for iid in ids:
        expect_settings(sdk, iid, "AutoRenewal", True, duration=2, unit="Month")
    resp = sdk.call("DescribeInstanceAutoRenewAttribute", RegionId=REGION, InstanceId=",".join(ids))
    rows = resp["InstanceRenewAttributes"]["InstanceRenewAttribute"]
    assert sorted(r["InstanceId"] for r in rows) == sorted(ids), f"batch describe: expected {ids}, got {resp!r}"


@pytest.mark.parametrize("unit,durations", [("Month", [1, 2, 3, 6, 12]), ("Year", [1, 2, 3])])
def test_seed_durations_are_accepted(sdk, unit, durations):
    iid = run_prepaid(sdk)[0]
    for d in durations:
        modify(sdk, iid, AutoRenew=True, Duration=d, PeriodUnit=unit)
        expect_settings(sdk, iid, "AutoRenewal", True, duration=d, unit=unit)


@pytest.mark.parametrize("unit,duration", [
    ("Month", 4), ("Month", 5), ("Month", 7), ("Month", 0), ("Month", 13),
    # newer docs allow these; the seed does not, and the seed wins
    ("Month", 24), ("Month", 36), ("Month", 48), ("Month", 60), ("Year", 4), ("Year", 5),
    ("Year", 0), ("Year", 12),
])
def test_durations_outside_the_seed_sets_are_invalid_parameter_duration(sdk, unit, duration):
    iid = run_prepaid(sdk)[0]
    modify(sdk, iid, AutoRenew=True, Duration=1, PeriodUnit="Month")
    expect_error(modify, sdk, iid, AutoRenew=True, Duration=duration, PeriodUnit=unit,
                 code="InvalidParameter.Duration", status=ROW_STATUS)
    expect_settings(sdk, iid, "AutoRenewal", True, duration=1, unit="Month")


def test_duration_24_without_period_unit_is_invalid_as_a_month_count(sdk):
    iid = run_prepaid(sdk)[0]
    expect_error(modify, sdk, iid, AutoRenew=True, Duration=24,
                 code="InvalidParameter.Duration", status=ROW_STATUS)


@pytest.mark.parametrize("unit", ["Week", "Day", "month", "YEAR", "Hour", "x"])
def test_period_units_other_than_month_and_year_are_not_supported(sdk, unit):
    iid = run_prepaid(sdk)[0]
    expect_error(modify, sdk, iid, AutoRenew=True, Duration=1, PeriodUnit=unit,
                 code="InvalidPeriodUnit.ValueNotSupported", status=ROW_STATUS,
                 message="The specified parameter PeriodUnit is not valid.")


@pytest.mark.parametrize("status", ["Bogus", "autorenewal", "Renewal"])
def test_unknown_renewal_status_is_invalid_parameter_renewal_status(sdk, status):
    iid = run_prepaid(sdk)[0]
    expect_error(modify, sdk, iid, RenewalStatus=status,
                 code="InvalidParameter.RenewalStatus", status=ROW_STATUS)
    expect_settings(sdk, iid, "Normal", False)


def test_missing_instance_id_is_missing_parameter_instance_id(sdk):
    expect_error(sdk.call, "ModifyInstanceAutoRenewAttribute", RegionId=REGION, AutoRenew=True, Duration=1,
                 code="MissingParameter.InstanceId", status=ROW_STATUS, message="InstanceId should not be null.")


def test_more_than_100_ids_is_too_many_instance_ids(sdk):
    ids = ",".join(f"i-bogus{n:06d}" for n in range(101))
    expect_error(modify, sdk, ids, AutoRenew=True, Duration=1,
                 code="InvalidParameter.ToManyInstanceIds", status=ROW_STATUS,
                 message="InstanceId should be less than 100.")


def test_exactly_100_ids_is_not_too_many(sdk):
    ids = run_prepaid(sdk, amount=100)
    modify(sdk, ",".join(ids), AutoRenew=True, Duration=1)
    for iid in (ids[0], ids[57], ids[99]):
        expect_settings(sdk, iid, "AutoRenewal", True, duration=1)


def test_unknown_instance_id_is_invalid_instance_id(sdk):
    expect_error(modify, sdk, "i-doesnotexist0000", AutoRenew=True, Duration=1,
                 code="InvalidParameter.InvalidInstanceId", status=ROW_STATUS)


def test_pay_as_you_go_instance_is_charge_type_violation(sdk):
    iid = run_instances(sdk)[0]
    expect_error(modify, sdk, iid, AutoRenew=True, Duration=1,
                 code="ChargeTypeViolation", status=ROW_STATUS,
                 message="Pay-As-You-Go instances do not support this operation.")


def test_a_bad_id_in_a_batch_changes_no_instance(sdk):
    good = run_prepaid(sdk, amount=2)
    postpaid = run_instances(sdk)[0]
    expect_error(modify, sdk, ",".join(good + ["i-doesnotexist0000"]), AutoRenew=True, Duration=1,
                 code="InvalidParameter.InvalidInstanceId", status=403,
                 message="The specified InstanceId i-doesnotexist0000 is invalid.")
    expect_error(modify, sdk, ",".join(good + [postpaid]), AutoRenew=True, Duration=1,
                 code="ChargeTypeViolation", status=403,
                 message="Pay-As-You-Go instances do not support this operation.")
    for iid in good:
        expect_settings(sdk, iid, "Normal", False)


# -- DescribeInstanceAutoRenewAttribute ---------------------------------------------------------


def test_describe_filters_by_renewal_status(sdk):
    auto = run_prepaid(sdk, amount=2)
    normal = run_prepaid(sdk)[0]
    modify(sdk, ",".join(auto), AutoRenew=True, Duration=1)
    resp = sdk.call("DescribeInstanceAutoRenewAttribute", RegionId=REGION, RenewalStatus="AutoRenewal")
    got = sorted(r["InstanceId"] for r in resp["InstanceRenewAttributes"]["InstanceRenewAttribute"])
    assert got == sorted(auto), f"RenewalStatus=AutoRenewal: expected {sorted(auto)}, got {got}"
    assert int(resp.get("TotalCount", -1)) == 2, f"TotalCount: expected 2, got {resp.get('TotalCount')!r}"
    resp = sdk.call("DescribeInstanceAutoRenewAttribute", RegionId=REGION, RenewalStatus="Normal")
    got = [r["InstanceId"] for r in resp["InstanceRenewAttributes"]["InstanceRenewAttribute"]]
    assert got == [normal], f"RenewalStatus=Normal: expected [{normal}], got {got}"


def test_describe_pay_as_you_go_is_charge_type_violation(sdk):
    iid = run_instances(sdk)[0]
    expect_error(sdk.call, "DescribeInstanceAutoRenewAttribute", RegionId=REGION, InstanceId=iid,
                 code="ChargeTypeViolation", status=403)


def test_describe_unknown_id_is_invalid_instance_id(sdk):
    expect_error(sdk.call, "DescribeInstanceAutoRenewAttribute", RegionId=REGION, InstanceId="i-doesnotexist0000",
                 code="InvalidParameter.InvalidInstanceId", status=403)


def test_describe_without_id_or_status_is_renewal_status_instance_id(sdk):
    expect_error(sdk.call, "DescribeInstanceAutoRenewAttribute", RegionId=REGION,
                 code="InvalidParameter.RenewalStatusInstanceId", status=403)


def test_describe_more_than_100_ids_is_too_many(sdk):
    ids = ",".join(f"i-bogus{n:06d}" for n in range(101))
    expect_error(sdk.call, "DescribeInstanceAutoRenewAttribute", RegionId=REGION, InstanceId=ids,
                 code="InvalidParameter.ToManyInstanceIds", status=403)
