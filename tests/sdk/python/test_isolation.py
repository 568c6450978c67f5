"""Isolation between accounts: account B tries every operation ecsd serves on account A's
resources. Each attempt is refused with the not-found answer the operation gives for an id that
never existed (same code, HTTP status and message: B cannot even learn that A's id exists), and
A's own answers (DescribeInstances, DescribeDedicatedHosts, DescribeInstanceAutoRenewAttribute)
are byte-identical, RequestId aside, before and after. ClientTokens are per account: B reusing
A's token gets its own resource, never A's answer.

The list of operations is read from crates/ecsd/src/ops/mod.rs (OPERATIONS): an operation added
there without a case here fails `test_every_served_operation_has_an_isolation_case`.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import timedelta

import pytest

from harness import (
    IMAGE, REGION, REPO_ROOT, Admin, ClassicSdk, allocate_hosts, expect_error, fmt_in, hosts_of,
    instances_of, make_sdk, parse_key_output, run_cli, run_instances, run_prepaid, start_server,
    tmpdir,
)

OPS_RS = REPO_ROOT / "crates" / "ecsd" / "src" / "ops" / "mod.rs"
FAKE = {"post": "i-isofake00000000post", "pre": "i-isofake000000000pre", "prot": "i-isofake00000000prot",
        "stopped": "i-isofake0000000stopd", "on_host": "i-isofake000000onhost", "gone": "i-isofake00000000gone",
        "host": "dh-isofake000000000host"}


def served_operations() -> set[str]:
    """The names in OPERATIONS (`module_name::OP,` lines), in CamelCase."""
    text = OPS_RS.read_text()
    block = text[text.index("pub const OPERATIONS"):]
    block = block[:block.index("];")]
    mods = re.findall(r"^\s*([a-z_]+)::OP,", block, flags=re.M)
    assert mods, f"no operations found in {OPS_RS}"
    return {"".join(w.capitalize() for w in m.split("_")) for m in mods}


@pytest.fixture(scope="module")
def accounts():
    """A fresh data dir with accounts iso-a and iso-b made offline, then served."""
    base = tmpdir("ecsd-isolation-")
    data = base / "data"
    data.mkdir()
    keys = {}
    for name in ("iso-a", "iso-b"):
        run_cli(["account", "create", name], data)
        keys[name] = parse_key_output(run_cli(["access-key", "create", "--account", name], data))
    srv = start_server(data, virtual_clock=True)
    yield srv, keys
    srv.stop()
    shutil.rmtree(base, ignore_errors=True)


def raw_call(classic: ClassicSdk, action: str, query: dict | None = None, **params) -> bytes:
    """The answer's bytes, RequestId taken out. `query`: parameters the SDK's request class has
    no setter for (DescribeInstances' DedicatedHostId), sent as they are."""
    req = classic.build(action, params)
    for k, v in (query or {}).items():
        req.add_query_param(k, v)
    raw = classic.client.do_action_with_exception(req)
    out, n = re.subn(rb'"RequestId":"[^"]*",?', b"", raw)
    assert n == 1, f"{action}: expected one RequestId in {raw[:300]!r}"
    return out


def snapshot(classic: ClassicSdk, ids: dict, admin: Admin) -> dict:
    """What A sees of its resources, as bytes."""
    return {
        "DescribeInstances": raw_call(classic, "DescribeInstances", RegionId=REGION, PageSize=100),
        "DescribeInstances(ids)": raw_call(classic, "DescribeInstances", RegionId=REGION,
                                           InstanceIds=json.dumps([ids[k] for k in ("post", "pre", "prot", "stopped", "on_host")])),
        "DescribeInstances(host)": raw_call(classic, "DescribeInstances", {"DedicatedHostId": ids["host"]},
                                            RegionId=REGION),
        "DescribeDedicatedHosts": raw_call(classic, "DescribeDedicatedHosts", RegionId=REGION),
        "DescribeDedicatedHosts(ids)": raw_call(classic, "DescribeDedicatedHosts", RegionId=REGION,
                                                DedicatedHostIds=json.dumps([ids["host"]])),
        "DescribeInstanceAutoRenewAttribute(id)": raw_call(classic, "DescribeInstanceAutoRenewAttribute",
                                                           RegionId=REGION, InstanceId=ids["pre"]),
        "DescribeInstanceAutoRenewAttribute(AutoRenewal)": raw_call(
            classic, "DescribeInstanceAutoRenewAttribute", RegionId=REGION, RenewalStatus="AutoRenewal"),
        "events": json.dumps(admin.all_events()).encode(),
    }


def refusal_cases(ids: dict, later: str) -> list[tuple[str, dict, str, int]]:
    """(operation, parameters, code, HTTP status) of every refused attempt on resources `ids`."""
    t = {"RegionId": REGION}
    run = {"RegionId": REGION, "InstanceType": "ecs.g7.large", "ImageId": IMAGE}
    return [
        ("ModifyInstanceAutoReleaseTime", {**t, "InstanceId": ids["post"], "AutoReleaseTime": later}, "NoSuchResource", 404),
        ("ModifyInstanceAutoReleaseTime", {**t, "InstanceId": ids["post"]}, "NoSuchResource", 404),  # cancel
        ("ModifyInstanceAutoReleaseTime", {**t, "InstanceId": ids["on_host"], "AutoReleaseTime": later}, "NoSuchResource", 404),
        ("ModifyDedicatedHostAutoReleaseTime", {**t, "DedicatedHostId": ids["host"], "AutoReleaseTime": later}, "NoSuchResource", 404),
        ("ModifyDedicatedHostAutoReleaseTime", {**t, "DedicatedHostId": ids["host"]}, "NoSuchResource", 404),
        ("ModifyInstanceAutoRenewAttribute", {**t, "InstanceId": ids["pre"], "AutoRenew": False, "Duration": 1},
         "InvalidParameter.InvalidInstanceId", 403),
        ("ModifyInstanceAutoRenewAttribute", {**t, "InstanceId": ids["pre"], "RenewalStatus": "NotRenewal"},
         "InvalidParameter.InvalidInstanceId", 403),
        ("DescribeInstanceAutoRenewAttribute", {**t, "InstanceId": ids["pre"]}, "InvalidParameter.InvalidInstanceId", 403),
        ("RunInstances", {**run, "DedicatedHostId": ids["host"]}, "InvalidDedicatedHostId.NotFound", 404),
        ("RunInstances", {**run, "DedicatedHostId": ids["host"], "DryRun": True}, "InvalidDedicatedHostId.NotFound", 404),
        ("DeleteInstance", {"InstanceId": ids["post"], "Force": True}, "InvalidInstanceId.NotFound", 404),
        ("DeleteInstance", {"InstanceId": ids["prot"], "Force": True}, "InvalidInstanceId.NotFound", 404),
        ("DeleteInstance", {"InstanceId": ids["stopped"]}, "InvalidInstanceId.NotFound", 404),
        ("DeleteInstance", {"InstanceId": ids["pre"], "Force": True, "TerminateSubscription": True}, "InvalidInstanceId.NotFound", 404),
        ("DeleteInstance", {"InstanceId": ids["post"], "Force": True, "DryRun": True}, "InvalidInstanceId.NotFound", 404),
        ("DeleteInstances", {**t, "InstanceId": [ids["post"]], "Force": True}, "InvalidInstanceId.NotFound", 404),
        ("DeleteInstances", {**t, "InstanceId": [ids["stopped"], ids["on_host"]], "Force": True}, "InvalidInstanceId.NotFound", 404),
        ("DeleteInstances", {**t, "InstanceId": [ids["post"]], "Force": True, "DryRun": True}, "InvalidInstanceId.NotFound", 404),
        ("ModifyInstanceAttribute", {"InstanceId": ids["prot"], "DeletionProtection": False}, "InvalidInstanceId.NotFound", 404),
        ("ModifyInstanceAttribute", {"InstanceId": ids["post"], "InstanceName": "taken-by-b"}, "InvalidInstanceId.NotFound", 404),
        ("ModifyInstanceAttribute", {"InstanceId": ids["post"], "Description": "b was here"}, "InvalidInstanceId.NotFound", 404),
        ("StopInstance", {"InstanceId": ids["post"]}, "InvalidInstanceId.NotFound", 404),
        ("StopInstance", {"InstanceId": ids["post"], "StoppedMode": "StopCharging"}, "InvalidInstanceId.NotFound", 404),
        ("StopInstance", {"InstanceId": ids["post"], "DryRun": True}, "InvalidInstanceId.NotFound", 404),
        ("StartInstance", {"InstanceId": ids["stopped"]}, "InvalidInstanceId.NotFound", 404),
        ("StartInstance", {"InstanceId": ids["stopped"], "DryRun": True}, "InvalidInstanceId.NotFound", 404),
        ("ReleaseDedicatedHost", {**t, "DedicatedHostId": ids["host"]}, "InvalidDedicatedHostId.NotFound", 404),
        # issue 14
        ("RebootInstance", {"InstanceId": ids["post"]}, "InvalidInstanceId.NotFound", 404),
        ("RebootInstance", {"InstanceId": ids["post"], "DryRun": True}, "InvalidInstanceId.NotFound", 404),
        ("DescribeInstanceAttribute", {"InstanceId": ids["pre"]}, "InvalidInstanceId.NotFound", 404),
        ("DescribeUserData", {**t, "InstanceId": ids["post"]}, "InvalidInstanceId.NotFound", 404),
        ("RenewInstance", {"InstanceId": ids["pre"], "Period": 1}, "InvalidInstanceId.NotFound", 404),
        ("ModifyInstanceChargeType", {**t, "InstanceIds": json.dumps([ids["pre"]]), "InstanceChargeType": "PostPaid"},
         "InvalidInstanceId.NotFound", 404),
        ("ModifyInstanceChargeType", {**t, "InstanceIds": json.dumps([ids["post"]]), "Period": 1},
         "InvalidInstanceId.NotFound", 404),
    ]


# operations B calls that answer success with nothing of A's in them, and how (see the test)
LISTING_OPERATIONS = {"DescribeInstances", "DescribeDedicatedHosts", "DescribeInstanceAutoRenewAttribute",
                      "DescribeRegions", "RunInstances", "AllocateDedicatedHosts", "DeleteInstances",
                      "DescribeInstanceStatus", "CreateInstance", "DescribeZones", "DescribeInstanceTypes",
                      "DescribeImages", "DescribeDisks"}


def test_every_served_operation_has_an_isolation_case():
    covered = {op for op, *_ in refusal_cases(FAKE, "x")} | LISTING_OPERATIONS
    missing = served_operations() - covered
    assert not missing, f"operations ecsd serves with no isolation case in {__file__}: {sorted(missing)}"


def masked(message, *ids) -> str:
    for i in ids:
        message = (message or "").replace(i, "<ID>")
    return message


@pytest.mark.parametrize("sdk_name", ["py-core", "py-tea"])
def test_b_cannot_touch_or_see_a_resources(accounts, sdk_name):
    srv, keys = accounts
    admin = Admin(srv)
    a = make_sdk(sdk_name, srv.endpoint, *keys["iso-a"])
    a_raw = ClassicSdk(srv.endpoint, *keys["iso-a"])
    b = make_sdk(sdk_name, srv.endpoint, *keys["iso-b"])
    now = admin.now()
    later = fmt_in(now + timedelta(days=2))
    tag = sdk_name.replace("-", "")

    # A's resources: pay-as-you-go with a release time, subscription with auto-renew, protected,
    # stopped, a dedicated host with a release time and an instance on it, and ClientToken calls
    host = allocate_hosts(a, AutoReleaseTime=fmt_in(now + timedelta(days=3)), ClientToken=f"a-host-{tag}")[0]
    ids = {
        "post": run_instances(a, AutoReleaseTime=later, InstanceName=f"a-post-{tag}")[0],
        "pre": run_prepaid(a, AutoRenew=True, AutoRenewPeriod=1)[0],
        "prot": run_instances(a, DeletionProtection=True)[0],
        "stopped": run_instances(a)[0],
        "on_host": run_instances(a, DedicatedHostId=host)[0],
        "host": host,
    }
    a.call("StopInstance", InstanceId=ids["stopped"])
    token_run = {"InstanceType": "ecs.g7.large", "InstanceName": f"a-token-{tag}", "ClientToken": f"a-run-{tag}"}
    a_token_ids = run_instances(a, **token_run)
    gone = run_instances(a)[0]
    del_token = f"a-del-{tag}"
    a.call("DeleteInstances", RegionId=REGION, InstanceId=[gone], Force=True, ClientToken=del_token)
    ids["gone"] = gone

    before = snapshot(a_raw, ids, admin)
    a_regions = raw_call(a_raw, "DescribeRegions")

    # 1. every refused attempt: the answer for A's id is the answer for an id that never existed
    for (op, params, code, status), (_, fake_params, _, _) in zip(refusal_cases(ids, later), refusal_cases(FAKE, later)):
        got = expect_error(b.call, op, **params, code=code, status=status)
        ref = expect_error(b.call, op, **fake_params, code=code, status=status)
        assert masked(got.message, *ids.values()) == masked(ref.message, *FAKE.values()), (
            f"{op} {params}: B's refusal for A's resource differs from the one for an unknown id: "
            f"{got.message!r} vs {ref.message!r}")

    # 2. ClientTokens are per account: B repeating A's exact calls gets its own answer
    b_ids = run_instances(b, **token_run)
    assert not set(b_ids) & set(a_token_ids), f"B's RunInstances with A's ClientToken answered A's ids {b_ids}"
    b_host = allocate_hosts(b, AutoReleaseTime=fmt_in(now + timedelta(days=3)), ClientToken=f"a-host-{tag}")[0]
    assert b_host != host, "B's AllocateDedicatedHosts with A's ClientToken answered A's host"
    expect_error(b.call, "DeleteInstances", RegionId=REGION, InstanceId=[gone], Force=True, ClientToken=del_token,
                 code="InvalidInstanceId.NotFound", status=404)

    # 3. B's listings and lookups show nothing of A's
    b_raw = ClassicSdk(srv.endpoint, *keys["iso-b"])
    a_all = set(ids.values()) | set(a_token_ids)
    views = {
        "DescribeInstances": b.call("DescribeInstances", RegionId=REGION, PageSize=100),
        "DescribeInstances(A ids)": b.call("DescribeInstances", RegionId=REGION,
                                           InstanceIds=json.dumps([ids[k] for k in ("post", "pre", "prot", "stopped", "on_host")])),
        "DescribeInstances(A host)": json.loads(raw_call(b_raw, "DescribeInstances", {"DedicatedHostId": host},
                                                         RegionId=REGION)),
        "DescribeInstances(A name)": b.call("DescribeInstances", RegionId=REGION, InstanceName=f"a-post-{tag}"),
        "DescribeDedicatedHosts": b.call("DescribeDedicatedHosts", RegionId=REGION),
        "DescribeDedicatedHosts(A id)": b.call("DescribeDedicatedHosts", RegionId=REGION, DedicatedHostIds=json.dumps([host])),
        "DescribeInstanceAutoRenewAttribute(AutoRenewal)": b.call(
            "DescribeInstanceAutoRenewAttribute", RegionId=REGION, RenewalStatus="AutoRenewal"),
        "DescribeInstanceStatus": b.call("DescribeInstanceStatus", RegionId=REGION, PageSize=50),
        "DescribeInstanceStatus(A ids)": b.call("DescribeInstanceStatus", RegionId=REGION,
                                                InstanceId=[ids["post"], ids["pre"]]),
        "DescribeDisks": b.call("DescribeDisks", RegionId=REGION, PageSize=100),
        "DescribeDisks(A instance)": b.call("DescribeDisks", RegionId=REGION, InstanceId=ids["post"]),
        "CreateInstance": b.call("CreateInstance", RegionId=REGION, ImageId=IMAGE, InstanceType="ecs.g7.large",
                                 ClientToken=f"a-run-{tag}"),
    }
    for what, resp in views.items():
        leaked = sorted(i for i in a_all if i in json.dumps(resp))
        assert not leaked, f"B's {what} shows A's {leaked}: {resp!r}"
    assert instances_of(views["DescribeInstances(A ids)"]) == [] and int(views["DescribeInstances(A ids)"]["TotalCount"]) == 0
    assert views["DescribeInstanceStatus(A ids)"]["InstanceStatuses"]["InstanceStatus"] == []
    assert views["DescribeDisks(A instance)"]["Disks"]["Disk"] == []
    assert instances_of(views["DescribeInstances(A host)"]) == []
    assert hosts_of(views["DescribeDedicatedHosts(A id)"]) == []
    # B's own resources are there (the listings work, they are not empty by accident)
    assert set(b_ids) <= {i["InstanceId"] for i in instances_of(views["DescribeInstances"])}
    assert b_host in {h["DedicatedHostId"] for h in hosts_of(views["DescribeDedicatedHosts"])}
    # DescribeRegions has nothing per account: the same answer for both
    assert raw_call(b_raw, "DescribeRegions") == a_regions

    # 4. A's view is byte for byte what it was
    after = snapshot(a_raw, ids, admin)
    # B's own calls added events (its instances, its host): compare A's events only
    for snap in (before, after):
        snap["events"] = json.dumps([e for e in json.loads(snap["events"])
                                     if e["resource_id"] in a_all]).encode()
    changed = [k for k in before if before[k] != after[k]]
    assert not changed, "B's calls changed A's answers:\n" + "\n".join(
        f"{k}:\n  before {before[k][:600]!r}\n  after  {after[k][:600]!r}" for k in changed)
