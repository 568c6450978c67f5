"""How much of each answer's official model ecsd fills: walks the Tea SDK's response models
(alibabacloud_ecs20140526 *ResponseBody) of every operation ecsd serves, calls each operation
once on a store with a bit of everything (an instance on a host, tagged, with bandwidth; a
subscription instance; a host), and lists the model's fields the raw JSON answer carries.

The table is printed, and kept in docs/answer-coverage.md; `answer_coverage.json` holds the
fields covered so far, and the test fails if one of them disappears. After adding fields, run
with ECSD_UPDATE_COVERAGE=1 to rewrite both files."""

from __future__ import annotations

import inspect
import json
import os
import re
from pathlib import Path

import pytest

import alibabacloud_ecs20140526.models as models
from harness import REGION, allocate_hosts, run_instances, run_prepaid

HERE = Path(__file__).resolve().parent
BASELINE = HERE / "answer_coverage.json"
DOC = HERE.parents[2] / "docs" / "answer-coverage.md"


def model_paths(cls, prefix: str = "") -> list[str]:
    """Every field path of a Tea model: `A.B` for nested objects, `A[]` for lists."""
    wire = re.findall(r"m\.get\('([^']+)'\)", inspect.getsource(cls.from_map))
    params = inspect.signature(cls.__init__).parameters
    by_key = {name.replace("_", "").lower(): p for name, p in params.items() if name != "self"}
    out: list[str] = []
    for w in dict.fromkeys(wire):
        p = by_key.get(w.lower())
        ann = str(p.annotation) if p is not None else ""
        path = f"{prefix}{w}"
        listed = ann.startswith("List[")
        inner = re.search(r"main_models\.(\w+)", ann)
        out.append(path + ("[]" if listed else ""))
        if inner:
            out.extend(model_paths(getattr(models, inner.group(1)), path + ("[]" if listed else "") + "."))
    return out


def present(answer, path: str) -> bool:
    """Whether the JSON answer carries `path` (in any element of a list)."""
    def walk(node, parts):
        if not parts:
            return True
        head, rest = parts[0], parts[1:]
        listed = head.endswith("[]")
        key = head[:-2] if listed else head
        if not isinstance(node, dict) or key not in node:
            return False
        value = node[key]
        if listed:
            return isinstance(value, list) and (not rest or any(walk(v, rest) for v in value))
        return walk(value, rest)
    return walk(answer, path.split("."))


def answers(sdk) -> dict[str, dict]:
    """One successful answer of every operation."""
    host = allocate_hosts(sdk, DedicatedHostType="ddh.g7", DedicatedHostName="cov-host",
                          Tag=[{"Key": "env", "Value": "cov"}])[0]
    on_host = run_instances(sdk, DedicatedHostId=host, InternetMaxBandwidthOut=5, KeyPairName="kp",
                            Tag=[{"Key": "env", "Value": "cov"}])[0]
    sub = run_prepaid(sdk)[0]
    spare = run_instances(sdk, amount=2)
    out = {
        "DescribeRegions": sdk.call("DescribeRegions"),
        "DescribeInstances": sdk.call("DescribeInstances", RegionId=REGION, PageSize=100),
        "DescribeDedicatedHosts": hosts_in_detail(sdk),
        "DescribeInstanceAutoRenewAttribute": sdk.call("DescribeInstanceAutoRenewAttribute", RegionId=REGION,
                                                       InstanceId=sub),
        "ModifyInstanceAutoRenewAttribute": sdk.call("ModifyInstanceAutoRenewAttribute", RegionId=REGION,
                                                     InstanceId=sub, AutoRenew=True, Duration=1),
        "ModifyInstanceAutoReleaseTime": sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION,
                                                  InstanceId=on_host),
        "ModifyDedicatedHostAutoReleaseTime": sdk.call("ModifyDedicatedHostAutoReleaseTime", RegionId=REGION,
                                                       DedicatedHostId=host),
        "ModifyInstanceAttribute": sdk.call("ModifyInstanceAttribute", InstanceId=on_host, InstanceName="cov"),
        "StopInstance": sdk.call("StopInstance", InstanceId=spare[0]),
        "StartInstance": sdk.call("StartInstance", InstanceId=spare[0]),
        "RunInstances": sdk.call("RunInstances", RegionId=REGION, InstanceType="ecs.g7.large",
                                 ImageId="aliyun_3_x64_20G_alibase_20240819.vhd"),
        "AllocateDedicatedHosts": sdk.call("AllocateDedicatedHosts", RegionId=REGION, DedicatedHostType="ddh.g7"),
        "DeleteInstance": sdk.call("DeleteInstance", InstanceId=spare[0], Force=True),
        "DeleteInstances": sdk.call("DeleteInstances", RegionId=REGION, InstanceId=[spare[1]], Force=True),
    }
    sdk.call("DeleteInstance", InstanceId=on_host, Force=True)
    out["ReleaseDedicatedHost"] = sdk.call("ReleaseDedicatedHost", RegionId=REGION, DedicatedHostId=host)
    return out


def hosts_in_detail(sdk) -> dict:
    """DescribeDedicatedHosts asked for everything it can show: socket capacity, inventory and
    the machine's details (the classic request class has no setter for NeedHostDetail)."""
    req = sdk.build("DescribeDedicatedHosts", {"RegionId": REGION, "SocketDetails": "true",
                                               "QueryInventory": True})
    req.add_query_param("NeedHostDetail", "true")
    return json.loads(sdk.client.do_action_with_exception(req))


def table(rows: dict[str, tuple[list[str], list[str]]]) -> str:
    lines = ["| operation | model fields | returned | not returned |", "|---|---|---|---|"]
    for op, (fields, covered) in sorted(rows.items()):
        missing = [f for f in fields if f not in covered]
        shown = ", ".join(f"`{f}`" for f in missing) if missing else ""
        lines.append(f"| {op} | {len(fields)} | {len(covered)} | {shown} |")
    return "\n".join(lines) + "\n"


def test_answers_cover_their_sdk_models(sdk, capsys):
    if sdk.name != "py-core":
        pytest.skip("the raw JSON answer is read through the classic SDK")
    got = answers(sdk)
    rows = {}
    for op, answer in got.items():
        fields = model_paths(getattr(models, f"{op}ResponseBody"))
        rows[op] = (fields, [f for f in fields if present(answer, f)])
    text = table(rows)
    with capsys.disabled():
        print("\nAnswer fields ecsd returns, against the Tea SDK's response models:\n" + text)
    covered = {op: covered for op, (_, covered) in rows.items()}
    if os.environ.get("ECSD_UPDATE_COVERAGE") == "1":
        BASELINE.write_text(json.dumps(covered, indent=1, sort_keys=True) + "\n")
        head = DOC.read_text().split("<!-- table -->")[0] if DOC.exists() else ""
        DOC.write_text(head + "<!-- table -->\n\n" + text)
    kept = json.loads(BASELINE.read_text())
    lost = {op: sorted(set(fields) - set(covered.get(op, []))) for op, fields in kept.items()}
    lost = {op: fields for op, fields in lost.items() if fields}
    assert not lost, f"answer fields that were returned and are no longer: {lost}"
