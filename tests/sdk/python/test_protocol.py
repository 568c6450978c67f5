"""Transport, envelope, regions and signatures, as each official Python SDK sees them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from harness import (
    IMAGE, DEFAULT_AK, REGION, UUID_UPPER, ApiFailure, ClassicSdk, TeaSdk, expect_error, instances_of,
    make_sdk, run_instances,
)

REQUIRED_REGIONS = {"cn-hangzhou", "cn-shanghai", "cn-beijing", "ap-southeast-1", "us-west-1"}


def test_health_answers_200_with_json(server):
    with urllib.request.urlopen(f"{server.base_url}/health", timeout=10) as r:
        assert r.status == 200, f"GET /health: expected 200, got {r.status}"
        body = r.read()
    try:
        json.loads(body)
    except ValueError:
        pytest.fail(f"GET /health: expected a JSON body, got {body[:200]!r}")


def test_every_answer_has_a_fresh_upper_case_uuid_request_id(sdk):
    ids = [sdk.call("DescribeRegions")["RequestId"] for _ in range(3)]
    for rid in ids:
        assert UUID_UPPER.match(rid or ""), f"RequestId: expected an upper-case UUID, got {rid!r}"
    assert len(set(ids)) == 3, f"RequestId: expected a fresh one per answer, got {ids}"


def test_error_answer_has_the_ecs_envelope(tea):
    """Tea keeps the whole error body: RequestId, HostId, Code, Message, Recommend."""
    err = expect_error(tea.call, "ModifyInstanceAutoReleaseTime", RegionId=REGION,
                       InstanceId="i-doesnotexist0000", code="NoSuchResource", status=404)
    data = err.raw.data
    missing = [k for k in ("RequestId", "HostId", "Code", "Message", "Recommend") if k not in data]
    assert not missing, f"error body: expected RequestId/HostId/Code/Message/Recommend, missing {missing} in {data!r}"
    assert UUID_UPPER.match(data["RequestId"]), f"error RequestId: expected upper-case UUID, got {data['RequestId']!r}"
    assert err.request_id == data["RequestId"], "SDK request id and body RequestId differ"


def test_describe_regions_lists_the_built_in_regions(sdk):
    resp = sdk.call("DescribeRegions")
    regions = (resp.get("Regions") or {}).get("Region") or []
    got = {r.get("RegionId") for r in regions}
    assert REQUIRED_REGIONS <= got, f"DescribeRegions: expected at least {sorted(REQUIRED_REGIONS)}, got {sorted(got)}"
    for r in regions:
        assert r.get("LocalName"), f"region without LocalName: {r!r}"
        assert r.get("RegionEndpoint"), f"region without RegionEndpoint: {r!r}"


def test_describe_regions_with_unknown_region_id_is_invalid_region_id_not_found(server):
    # The classic core always sends the client's RegionId; that is how users hit this row.
    sdk = ClassicSdk(server.endpoint, region="xx-nowhere-9")
    expect_error(sdk.call, "DescribeRegions", code="InvalidRegionId.NotFound", status=404)


def test_describe_instances_in_unknown_region_is_invalid_region_id_not_found(sdk):
    expect_error(sdk.call, "DescribeInstances", RegionId="xx-nowhere-9",
                 code="InvalidRegionId.NotFound", status=404)


def test_run_instances_in_every_built_in_region(sdk):
    for region in sorted(REQUIRED_REGIONS):
        ids = run_instances(sdk, RegionId=region)
        resp = sdk.call("DescribeInstances", RegionId=region, InstanceIds=json.dumps(ids))
        got = instances_of(resp)
        assert [i["InstanceId"] for i in got] == ids, f"{region}: expected {ids} listed, got {resp!r}"
        assert got[0].get("RegionId") == region, f"{region}: RegionId in answer {got[0].get('RegionId')!r}"
        # and not visible from another region
        other = "cn-hangzhou" if region != "cn-hangzhou" else "cn-shanghai"
        resp = sdk.call("DescribeInstances", RegionId=other, InstanceIds=json.dumps(ids))
        assert instances_of(resp) == [], f"instance of {region} listed in {other}: {resp!r}"


# -- signatures -----------------------------------------------------------------------------------


def test_wrong_secret_classic_sdk_reports_invalid_access_key_secret(server):
    """The server's SignatureDoesNotMatch message echoes the V1 string to sign after a ':'; the
    classic SDK compares it with its own and, being equal, reports InvalidAccessKeySecret."""
    sdk = ClassicSdk(server.endpoint, DEFAULT_AK, "not-the-secret")
    expect_error(sdk.call, "DescribeRegions", code="InvalidAccessKeySecret", status=400)


def test_wrong_secret_tea_sdk_reports_signature_does_not_match(server):
    sdk = TeaSdk(server.endpoint, DEFAULT_AK, "not-the-secret")
    err = expect_error(sdk.call, "DescribeRegions", code="SignatureDoesNotMatch", status=400)
    assert "string to sign is:" in (err.message or ""), (
        f"SignatureDoesNotMatch message: expected '...server string to sign is:<StringToSign>', got {err.message!r}")


@pytest.mark.parametrize("sdk_name", ["py-core", "py-tea"])
def test_unknown_access_key_is_invalid_access_key_id_not_found(server, sdk_name):
    sdk = make_sdk(sdk_name, server.endpoint, "LTAI-no-such-key-000", "whatever")
    expect_error(sdk.call, "DescribeRegions", code="InvalidAccessKeyId.NotFound", status=404)


@pytest.mark.parametrize("sdk_name", ["py-core", "py-tea"])
def test_failed_signature_changes_nothing(server, classic, sdk_name):
    ids = run_instances(classic)
    bad = make_sdk(sdk_name, server.endpoint, DEFAULT_AK, "not-the-secret")
    # SignatureDoesNotMatch; the classic SDK reports it as InvalidAccessKeySecret (see above)
    code = "InvalidAccessKeySecret" if sdk_name == "py-core" else "SignatureDoesNotMatch"
    expect_error(bad.call, "DeleteInstance", InstanceId=ids[0], Force=True, code=code, status=400)
    got = instances_of(classic.call("DescribeInstances", RegionId=REGION, InstanceIds=json.dumps(ids)))
    assert [i["InstanceId"] for i in got] == ids, "a call with a bad signature released the instance"


def test_unknown_action_is_invalid_action_not_found(server):
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkcore.request import CommonRequest
    sdk = ClassicSdk(server.endpoint)
    req = CommonRequest(domain=server.endpoint, version="2014-05-26", action_name="DescribeNothingAtAll")
    req.set_protocol_type("http")
    with pytest.raises(ServerException) as ei:
        sdk.client.do_action_with_exception(req)
    e = ei.value
    assert (e.get_error_code(), e.get_http_status()) == ("InvalidAction.NotFound", 404), (
        f"expected InvalidAction.NotFound 404, got {e.get_error_code()} {e.get_http_status()}")


def test_wrong_version_is_invalid_version(server):
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkcore.request import CommonRequest
    sdk = ClassicSdk(server.endpoint)
    req = CommonRequest(domain=server.endpoint, version="2099-01-01", action_name="DescribeRegions")
    req.set_protocol_type("http")
    with pytest.raises(ServerException) as ei:
        sdk.client.do_action_with_exception(req)
    e = ei.value
    assert (e.get_error_code(), e.get_http_status()) == ("InvalidVersion", 400), (
        f"expected InvalidVersion 400, got {e.get_error_code()} {e.get_http_status()} ({e.get_error_msg()})")


def test_common_request_get_works(server):
    """Classic CommonRequest defaults to GET with everything in the query string."""
    from aliyunsdkcore.request import CommonRequest
    sdk = ClassicSdk(server.endpoint)
    req = CommonRequest(domain=server.endpoint, version="2014-05-26", action_name="DescribeRegions")
    req.set_protocol_type("http")
    req.set_method("GET")
    body = json.loads(sdk.client.do_action_with_exception(req))
    assert "Regions" in body, f"DescribeRegions over GET: expected Regions, got {body!r}"


def test_common_request_body_params_are_read(server):
    """Parameters in a form body (CommonRequest.add_body_params) count like query parameters."""
    from aliyunsdkcore.request import CommonRequest
    sdk = ClassicSdk(server.endpoint)
    req = CommonRequest(domain=server.endpoint, version="2014-05-26", action_name="RunInstances")
    req.set_protocol_type("http")
    req.set_method("POST")
    req.add_body_params("InstanceType", "ecs.g7.large")
    req.add_body_params("ImageId", IMAGE)
    req.add_body_params("Amount", "2")
    body = json.loads(sdk.client.do_action_with_exception(req))
    ids = body["InstanceIdSets"]["InstanceIdSet"]
    assert len(ids) == 2, f"Amount=2 in a form body: expected 2 ids, got {body!r}"


def test_sdk_calls_still_verify_after_the_virtual_clock_moved_weeks(sdk, admin):
    """SDKs stamp requests with real time; moving the virtual clock must not make them stale."""
    admin.advance(40 * 24 * 3600)
    ids = run_instances(sdk)
    resp = sdk.call("DescribeInstances", RegionId=REGION, InstanceIds=json.dumps(ids))
    assert [i["InstanceId"] for i in instances_of(resp)] == ids


# -- freshness and replay (V1, through the classic SDK's own signer) ----------------------------


def test_reused_signature_nonce_is_signature_nonce_used(server, monkeypatch):
    from aliyunsdkcore.utils import parameter_helper
    sdk = ClassicSdk(server.endpoint)
    nonce = "ecsd-test-fixed-nonce-" + parameter_helper.get_uuid()
    monkeypatch.setattr(parameter_helper, "get_uuid", lambda: nonce)
    sdk.call("DescribeRegions")
    expect_error(sdk.call, "DescribeRegions", code="SignatureNonceUsed", status=400)


@pytest.mark.parametrize("minutes", [-20, 20])
def test_timestamp_more_than_15_minutes_off_is_invalid_timestamp_expired(server, monkeypatch, minutes):
    import time as _time
    from aliyunsdkcore.utils import parameter_helper
    stamp = _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(_time.time() + minutes * 60))
    monkeypatch.setattr(parameter_helper, "get_iso_8061_date", lambda: stamp)
    sdk = ClassicSdk(server.endpoint)
    expect_error(sdk.call, "DescribeRegions", code="InvalidTimeStamp.Expired", status=400)


def test_tea_client_with_v2_signature_algorithm_works(server):
    """Tea with Config(signature_algorithm='v2') signs V1 and sends Format=json (lower case)."""
    from alibabacloud_ecs20140526.client import Client
    from alibabacloud_ecs20140526 import models as ecs_models
    from alibabacloud_tea_openapi import models as open_api_models
    from harness import DEFAULT_SK
    client = Client(open_api_models.Config(access_key_id=DEFAULT_AK, access_key_secret=DEFAULT_SK,
                                           endpoint=server.endpoint, protocol="http", region_id=REGION,
                                           signature_algorithm="v2"))
    resp = client.run_instances(ecs_models.RunInstancesRequest(region_id=REGION, instance_type="ecs.g7.large",
                                                               image_id=IMAGE, amount=2))
    ids = resp.body.instance_id_sets.instance_id_set
    assert len(ids) == 2, f"RunInstances via Tea v2 signature: expected 2 ids, got {resp.body.to_map()}"
    got = client.describe_instances(ecs_models.DescribeInstancesRequest(region_id=REGION, instance_ids=json.dumps(ids)))
    assert sorted(i.instance_id for i in got.body.instances.instance) == sorted(ids)


# -- Format=XML (V1 signed URL made by the classic SDK's signer, fetched as a user's HTTP client would)


def signed_get(server, action, params, fmt):
    from aliyunsdkcore.request import RpcRequest
    from harness import DEFAULT_SK
    req = RpcRequest("Ecs", "2014-05-26", action)
    req.set_method("GET")
    req.set_accept_format(fmt)
    for k, v in params.items():
        req.add_query_param(k, v)
    url = server.base_url + req.get_url(REGION, DEFAULT_AK, DEFAULT_SK)
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def test_format_xml_success_answer(server):
    import xml.etree.ElementTree as ET
    status, ctype, body = signed_get(server, "DescribeRegions", {}, "XML")
    assert status == 200, f"Format=XML DescribeRegions: expected 200, got {status}: {body[:300]}"
    assert (ctype or "").startswith("text/xml"), f"Format=XML: expected a text/xml Content-Type, got {ctype!r}"
    root = ET.fromstring(body)
    assert root.tag == "DescribeRegionsResponse", f"XML root: expected DescribeRegionsResponse, got {root.tag}"
    assert UUID_UPPER.match(root.findtext("RequestId") or ""), f"XML RequestId missing: {body[:300]}"
    ids = {e.text for e in root.iter("RegionId")}
    assert REQUIRED_REGIONS <= ids, f"XML regions: expected {sorted(REQUIRED_REGIONS)}, got {sorted(ids)}"


def test_format_xml_describe_instances_nests_lists_as_repeated_elements(server, sdk):
    import xml.etree.ElementTree as ET
    ids = run_instances(sdk, amount=2)
    status, ctype, body = signed_get(server, "DescribeInstances",
                                     {"RegionId": REGION, "InstanceIds": json.dumps(ids)}, "XML")
    assert status == 200, f"Format=XML DescribeInstances: expected 200, got {status}: {body[:300]}"
    assert (ctype or "").startswith("text/xml"), f"Format=XML: expected a text/xml Content-Type, got {ctype!r}"
    root = ET.fromstring(body)
    assert root.tag == "DescribeInstancesResponse", f"XML root: expected DescribeInstancesResponse, got {root.tag}"
    assert UUID_UPPER.match(root.findtext("RequestId") or ""), f"XML RequestId missing: {body[:300]}"
    assert root.findtext("TotalCount") == "2", f"XML TotalCount: expected 2 in {body[:500]}"
    listed = root.findall("Instances/Instance")
    assert sorted(i.findtext("InstanceId") for i in listed) == sorted(ids), f"XML instances: {body[:800]}"
    for i in listed:
        assert i.findtext("Status") == "Running", f"XML Status: {ET.tostring(i)[:400]!r}"
        assert i.find("SecurityGroupIds") is not None, f"XML SecurityGroupIds missing: {ET.tostring(i)[:400]!r}"
        assert i.findtext("VpcAttributes/VSwitchId") is not None, f"XML VpcAttributes: {ET.tostring(i)[:400]!r}"
        assert i.findtext("OSType") == "linux", f"XML OSType: {ET.tostring(i)[:400]!r}"


def test_format_xml_error_answer_is_parseable_by_tea(server):
    import xml.etree.ElementTree as ET
    status, ctype, body = signed_get(server, "ModifyInstanceAutoReleaseTime",
                                     {"InstanceId": "i-doesnotexist0000"}, "XML")
    assert status == 404, f"XML error: expected 404, got {status}: {body[:300]}"
    assert ctype == "text/xml;charset=utf-8", (
        f"XML error Content-Type must be exactly text/xml;charset=utf-8 (Tea parses only that), got {ctype!r}")
    root = ET.fromstring(body)
    got = {k: root.findtext(k) for k in ("Code", "Message", "RequestId", "HostId")}
    assert root.tag == "Error" and got["Code"] == "NoSuchResource" and all(got.values()), (
        f"XML error: expected <Error> with Code NoSuchResource, Message, RequestId, HostId; got <{root.tag}> {got}")


def test_format_json_error_answer_content_type(server):
    status, ctype, body = signed_get(server, "ModifyInstanceAutoReleaseTime",
                                     {"InstanceId": "i-doesnotexist0000"}, "JSON")
    assert status == 404 and (ctype or "").startswith("application/json"), (
        f"JSON error: expected 404 application/json, got {status} {ctype!r}")
    body = json.loads(body)
    assert body.get("Code") == "NoSuchResource", f"JSON error body: {body!r}"


# -- requests no SDK would send: never a 500, always the ECS envelope ----------------------------


def raw(server, method, path, body=None, headers=None):
    req = urllib.request.Request(server.base_url + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


@pytest.mark.parametrize("method,path,expected_code", [
    ("GET", "/?Action=DescribeRegions&Version=2014-05-26&Format=JSON", "MissingParameter"),
    ("POST", "/?Action=DescribeRegions&Version=2014-05-26&Format=JSON", "MissingParameter"),
    ("PUT", "/?Action=DescribeRegions&Version=2014-05-26&Format=JSON", None),
    ("DELETE", "/", None),
])
def test_unsigned_or_unsupported_requests_get_an_ecs_error_not_a_500(server, method, path, expected_code):
    status, body = raw(server, method, path)
    assert 400 <= status < 500, f"{method} {path}: expected a 4xx, got {status}: {body[:300]}"
    try:
        parsed = json.loads(body)
    except ValueError:
        pytest.fail(f"{method} {path}: expected a JSON error body, got {body[:300]!r}")
    assert parsed.get("Code") and parsed.get("RequestId"), f"{method} {path}: error body without Code/RequestId: {parsed!r}"
    if expected_code:
        assert parsed["Code"] == expected_code, f"{method} {path}: expected {expected_code}, got {parsed['Code']}"


def test_garbage_authorization_header_is_refused_cleanly(server):
    status, body = raw(server, "POST", "/?RegionId=cn-hangzhou", b"",
                       {"Authorization": "ACS3-HMAC-SHA256 garbage", "x-acs-action": "DescribeRegions",
                        "x-acs-version": "2014-05-26"})
    assert 400 <= status < 500, f"garbage V3 Authorization: expected a 4xx, got {status}: {body[:300]}"
    assert json.loads(body).get("Code"), f"garbage V3 Authorization: error body without Code: {body[:300]}"


def test_reused_v3_nonce_is_signature_nonce_used(server, monkeypatch):
    from alibabacloud_tea_openapi.utils import Utils
    nonce = "ecsdtestfixednonce" + Utils.get_nonce()
    monkeypatch.setattr(Utils, "get_nonce", staticmethod(lambda: nonce))
    sdk = TeaSdk(server.endpoint)
    sdk.call("DescribeRegions")
    expect_error(sdk.call, "DescribeRegions", code="SignatureNonceUsed", status=400)


@pytest.mark.parametrize("minutes", [-20, 20])
def test_v3_date_more_than_15_minutes_off_is_invalid_timestamp_expired(server, monkeypatch, minutes):
    import time as _time
    from alibabacloud_tea_openapi.utils import Utils
    stamp = _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(_time.time() + minutes * 60))
    monkeypatch.setattr(Utils, "get_timestamp", staticmethod(lambda: stamp))
    sdk = TeaSdk(server.endpoint)
    expect_error(sdk.call, "DescribeRegions", code="InvalidTimeStamp.Expired", status=400)


def v1_signed_query(params: dict) -> str:
    """A V1 query signed by hand (the SDKs always add Action, which this needs to leave out)."""
    import base64
    import hashlib
    import hmac
    import urllib.parse
    import uuid
    from datetime import datetime, timezone
    from harness import DEFAULT_SK
    full = {"AccessKeyId": DEFAULT_AK, "Format": "JSON", "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex, "SignatureVersion": "1.0",
            "Timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), **params}
    enc = lambda s: urllib.parse.quote(str(s), safe="-_.~")  # noqa: E731
    canonical = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(full.items()))
    to_sign = "GET&%2F&" + enc(canonical)
    digest = hmac.new((DEFAULT_SK + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    full["Signature"] = base64.b64encode(digest).decode()
    return urllib.parse.urlencode(full, quote_via=urllib.parse.quote)


def test_v1_takes_its_action_only_from_signed_parameters(server):
    """The classic SDK also sends x-acs-action, unsigned: it must not stand in for Action."""
    query = v1_signed_query({"Version": "2014-05-26"})
    status, body = raw(server, "GET", "/?" + query, headers={"x-acs-action": "DescribeRegions"})
    parsed = json.loads(body)
    assert (status, parsed.get("Code")) == (400, "MissingParameter"), f"{status}: {body[:300]}"
    status, body = raw(server, "GET", "/?" + v1_signed_query({"Action": "DescribeRegions", "Version": "2014-05-26"}),
                       headers={"x-acs-action": "DeleteInstance"})
    assert status == 200 and "Regions" in json.loads(body), f"{status}: {body[:300]}"


def test_oversized_body_gets_an_ecs_error_envelope(server):
    status, body = raw(server, "POST", "/", b"InstanceName=" + b"x" * (3 * 1024 * 1024),
                       {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 413, f"3 MiB body: expected 413, got {status}: {body[:200]}"
    parsed = json.loads(body)
    assert parsed.get("Code") and UUID_UPPER.match(parsed.get("RequestId", "")), parsed


def test_describe_regions_names_in_english_on_request(sdk):
    regions = sdk.call("DescribeRegions", AcceptLanguage="en-US")["Regions"]["Region"]
    names = {r["RegionId"]: r["LocalName"] for r in regions}
    assert names["cn-hangzhou"] == "China (Hangzhou)", names
    regions = sdk.call("DescribeRegions", AcceptLanguage="zh-CN")["Regions"]["Region"]
    assert {r["RegionId"]: r["LocalName"] for r in regions}["cn-hangzhou"] == "华东1（杭州）"


# A client that stops mid-request (headers or body) is cut off or answered 408 after 30 s:
# crates/ecsd/tests/slow_clients.rs drives the real connection loop on tokio's paused clock, so
# the 30 s pass without being waited for.


# -- Request times with fractions of a second (JavaScript's toISOString(), Go's RFC3339Nano)


@pytest.mark.parametrize("fraction", [".123", ".5", ".123456", ".123456789"])
def test_classic_sdk_timestamp_with_fractional_seconds_is_served(server, monkeypatch, fraction):
    import time as _time
    from aliyunsdkcore.utils import parameter_helper
    stamp = _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime()) + fraction + "Z"
    monkeypatch.setattr(parameter_helper, "get_iso_8061_date", lambda: stamp)
    resp = ClassicSdk(server.endpoint).call("DescribeRegions")
    assert resp["Regions"]["Region"], f"Timestamp {stamp}: {resp}"


@pytest.mark.parametrize("fraction", [".123", ".5", ".123456789"])
def test_tea_sdk_x_acs_date_with_fractional_seconds_is_served(server, monkeypatch, fraction):
    import time as _time
    from alibabacloud_tea_openapi.utils import Utils
    stamp = _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime()) + fraction + "Z"
    monkeypatch.setattr(Utils, "get_timestamp", staticmethod(lambda: stamp))
    resp = TeaSdk(server.endpoint).call("DescribeRegions")
    assert resp["Regions"]["Region"], f"x-acs-date {stamp}: {resp}"


@pytest.mark.parametrize("stamp_of", [
    lambda t: t + ".Z", lambda t: t + ".1234567890Z", lambda t: t + ".123+00:00", lambda t: t + ".12aZ",
])
def test_malformed_fractional_timestamps_are_still_invalid_timestamp_format(server, monkeypatch, stamp_of):
    import time as _time
    from aliyunsdkcore.utils import parameter_helper
    stamp = stamp_of(_time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime()))
    monkeypatch.setattr(parameter_helper, "get_iso_8061_date", lambda: stamp)
    expect_error(ClassicSdk(server.endpoint).call, "DescribeRegions", code="InvalidTimeStamp.Format", status=400)
