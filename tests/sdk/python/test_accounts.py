"""Accounts made offline with the CLI; resources are visible only to the account that owns them."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from decimal import Decimal

import pytest

from harness import (
    DEFAULT_AK, DEFAULT_SK, REGION, Admin, allocate_hosts, describe, describe_host, expect_error, fmt_in, fmt_out,
    hosts_of, instances_of, make_sdk, parse_key_output, parse_minute, run_cli, run_instances, run_prepaid, start_server,
    tmpdir,
)


@pytest.fixture(scope="module")
def two_accounts():
    """A fresh data dir with accounts alice and bob made offline, then served."""
    base = tmpdir("ecsd-accounts-")
    data = base / "data"
    data.mkdir()
    keys = {}
    for name in ("alice", "bob"):
        run_cli(["account", "create", name], data)
        keys[name] = parse_key_output(run_cli(["access-key", "create", "--account", name], data))
    assert keys["alice"][0] != keys["bob"][0], f"two accounts got the same AccessKeyId {keys}"
    srv = start_server(data, virtual_clock=True)
    yield srv, keys
    srv.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("sdk_name", ["py-core", "py-tea"])
def test_offline_created_keys_work(two_accounts, sdk_name):
    srv, keys = two_accounts
    for name, (ak, sk) in keys.items():
        sdk = make_sdk(sdk_name, srv.endpoint, ak, sk)
        resp = sdk.call("DescribeRegions")
        assert resp.get("Regions"), f"{name}'s key: DescribeRegions failed: {resp!r}"


@pytest.mark.parametrize("sdk_name", ["py-core", "py-tea"])
def test_resources_are_invisible_to_other_accounts(two_accounts, sdk_name):
    srv, keys = two_accounts
    alice = make_sdk(sdk_name, srv.endpoint, *keys["alice"])
    bob = make_sdk(sdk_name, srv.endpoint, *keys["bob"])
    default = make_sdk(sdk_name, srv.endpoint, DEFAULT_AK, DEFAULT_SK)
    now = Admin(srv).now()

    a_ids = run_instances(alice, amount=2)
    a_pre = run_prepaid(alice)[0]
    a_host = allocate_hosts(alice)[0]
    b_ids = run_instances(bob)

    for who, sdk in (("bob", bob), ("default", default)):
        listed = {i["InstanceId"] for i in instances_of(sdk.call("DescribeInstances", RegionId=REGION, PageSize=100))}
        leaked = listed & set(a_ids + [a_pre])
        assert not leaked, f"{who} sees alice's instances {leaked}"
        resp = sdk.call("DescribeInstances", RegionId=REGION, InstanceIds=json.dumps(a_ids))
        assert instances_of(resp) == [], f"{who} sees alice's instances by id: {resp!r}"
        assert a_host not in {h["DedicatedHostId"] for h in hosts_of(sdk.call("DescribeDedicatedHosts", RegionId=REGION))}
    assert describe(alice, b_ids[0]) is None, "alice sees bob's instance"
    assert {i["InstanceId"] for i in instances_of(alice.call("DescribeInstances", RegionId=REGION, PageSize=100))} \
        >= set(a_ids), "alice does not see her own instances"

    # every operation on another account's resource answers as if it did not exist
    target = a_ids[0]
    expect_error(bob.call, "ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=target,
                 AutoReleaseTime=fmt_in(now + timedelta(days=1)), code="NoSuchResource", status=404)
    expect_error(bob.call, "DeleteInstance", InstanceId=target, Force=True, code="InvalidInstanceId.NotFound", status=404)
    expect_error(bob.call, "StopInstance", InstanceId=target, code="InvalidInstanceId.NotFound", status=404)
    expect_error(bob.call, "ModifyInstanceAttribute", InstanceId=target, DeletionProtection=True,
                 code="InvalidInstanceId.NotFound", status=404)
    expect_error(bob.call, "ModifyInstanceAutoRenewAttribute", RegionId=REGION, InstanceId=a_pre, AutoRenew=True,
                 Duration=1, code="InvalidParameter.InvalidInstanceId", status=403)
    expect_error(bob.call, "ModifyDedicatedHostAutoReleaseTime", RegionId=REGION, DedicatedHostId=a_host,
                 AutoReleaseTime=fmt_in(now + timedelta(days=1)), code="NoSuchResource", status=404)
    expect_error(bob.call, "ReleaseDedicatedHost", RegionId=REGION, DedicatedHostId=a_host,
                 code="InvalidDedicatedHostId.NotFound", status=404)

    # and nothing changed for alice
    inst = describe(alice, target)
    assert inst is not None and inst["Status"] == "Running" and inst["AutoReleaseTime"] == "" \
        and inst["DeletionProtection"] is False, f"bob's calls changed alice's instance: {inst!r}"
    assert describe_host(alice, a_host) is not None


def test_balances_are_per_account(two_accounts):
    srv, keys = two_accounts
    admin = Admin(srv)
    admin.set_balance(keys["alice"][0], "10.50")
    admin.set_balance(keys["bob"][0], "99.00")
    assert admin.balance(keys["alice"][0]) == Decimal("10.50")
    assert admin.balance(keys["bob"][0]) == Decimal("99.00")


def test_a_key_of_one_account_with_the_secret_of_another_is_refused(two_accounts):
    srv, keys = two_accounts
    sdk = make_sdk("py-tea", srv.endpoint, keys["alice"][0], keys["bob"][1])
    expect_error(sdk.call, "DescribeRegions", code="SignatureDoesNotMatch", status=400)


def test_renewal_is_charged_to_the_owning_account_only(two_accounts):
    srv, keys = two_accounts
    admin = Admin(srv)
    alice = make_sdk("py-tea", srv.endpoint, *keys["alice"])
    for who in ("alice", "bob"):
        admin.set_balance(keys[who][0], "100000")
    admin.set_balance(DEFAULT_AK, "100000")
    iid = run_prepaid(alice, AutoRenew=True, AutoRenewPeriod=1)[0]
    expired = parse_minute(describe(alice, iid)["ExpiredTime"])
    admin.advance_to(expired - timedelta(days=1))  # past the renewal day, before expiry
    assert admin.balance(keys["alice"][0]) < Decimal("100000"), "alice's renewal did not charge alice"
    assert admin.balance(keys["bob"][0]) == Decimal("100000"), "alice's renewal charged bob"
    assert admin.balance(DEFAULT_AK) == Decimal("100000"), "alice's renewal charged the default account"
    assert describe(alice, iid)["ExpiredTime"] != fmt_out(expired), "alice's instance was not extended"
