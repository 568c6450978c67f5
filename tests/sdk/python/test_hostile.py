"""Regression tests for the security and reliability fixes, end to end against a real `ecsd serve`:
hostile or broken clients and the edges of the clock.

1. V3 signatures must cover `host` and every `x-acs-*` header sent (IncompleteSignature).
2. The nonce of a *refused* write is remembered across kill -9 and restart.
3. The virtual clock cannot be moved past what answers can show (year 9979 at most).
4. One server per data dir (ecsd.lock).
5. HTTP requests hyper refuses still get ECS error envelopes.
6. Strict parsing of times, list indices, tags and integers.
7. One request-log line per call, never a secret or a signature in the log.

Requests no SDK would send are signed here by hand: V1 (HMAC-SHA1) and V3 (ACS3-HMAC-SHA256),
following the spec's §2 and §3 (the signer is self-contained; nothing is read from outside the
repository at run time).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import harness
import json
import math
import re
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from harness import (
    IMAGE, DEFAULT_AK, DEFAULT_SK, REGION, UUID_UPPER, Admin, ApiFailure, ClassicSdk, TeaSdk, allocate_hosts,
    describe, describe_host, ecsd_bin, fmt_in, hosts_of, instances_of, run_instances, start_server, tmpdir,
)

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@pytest.fixture
def base(request):
    d = tmpdir("ecsd-hostile-")
    request.addfinalizer(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


def utc_stamp(dt: datetime | None = None) -> str:
    return (dt or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pct(s) -> str:
    """§2.2: keep A-Z a-z 0-9 - _ . ~, everything else %XX upper-case."""
    return urllib.parse.quote(str(s), safe="-_.~")


# ------------------------------------------------------------------------------------------------
# hand-made V1 requests


def v1_query(method: str, params: dict, *, ak: str = DEFAULT_AK, sk: str = DEFAULT_SK,
             nonce: str | None = None, timestamp: str | None = None) -> tuple[str, str]:
    """A V1-signed query string (§2.1) and the Signature it carries."""
    full = {"AccessKeyId": ak, "Format": "JSON", "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce or uuid.uuid4().hex, "SignatureVersion": "1.0",
            "Timestamp": timestamp or utc_stamp(), "Version": "2014-05-26", **params}
    canonical = "&".join(f"{pct(k)}={pct(v)}" for k, v in sorted(full.items()))
    to_sign = f"{method}&%2F&{pct(canonical)}"
    signature = base64.b64encode(
        hmac.new((sk + "&").encode(), to_sign.encode(), hashlib.sha1).digest()).decode()
    full["Signature"] = signature
    return "&".join(f"{pct(k)}={pct(v)}" for k, v in full.items()), signature


def http_call(server, method: str, path: str, headers: dict | None = None,
              body: bytes = b"") -> tuple[int, dict]:
    """One HTTP exchange on a fresh connection; the answer must be a JSON body."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        hdrs = {"host": server.endpoint, **(headers or {})}
        if method == "POST" or body:
            hdrs.setdefault("content-length", str(len(body)))
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders(body or None)
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise AssertionError(f"{method} {path[:80]}: expected a JSON body, got {resp.status} {raw[:300]!r}")
    return resp.status, parsed


def v1_call(server, action: str, params: dict, method: str = "POST", **sign) -> tuple[int, dict]:
    query, _ = v1_query(method, {"Action": action, **params}, **sign)
    return http_call(server, method, "/?" + query)


def expect_envelope(got: tuple[int, dict], status: int, code: str, what: str = "") -> dict:
    st, body = got
    assert (st, body.get("Code")) == (status, code), (
        f"{what}: expected {status} {code}, got {st} {body.get('Code')}: {body}")
    assert body.get("Message") and UUID_UPPER.match(body.get("RequestId") or ""), (
        f"{what}: error envelope without Message/RequestId: {body}")
    return body


# ------------------------------------------------------------------------------------------------
# hand-made V3 requests (§3.2)


def v3_request(server, action: str, query: dict, *, omit: tuple = (), sk: str = DEFAULT_SK,
               ak: str = DEFAULT_AK, send_action: str | None = None, nonce: str | None = None):
    """Sign a V3 POST with every header listed in SignedHeaders except `omit`; then (after
    signing) optionally replace the x-acs-action header with `send_action`. Returns (path, headers)."""
    headers = {
        "host": server.endpoint,
        "x-acs-action": action,
        "x-acs-version": "2014-05-26",
        "x-acs-date": utc_stamp(),
        "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
        "x-acs-content-sha256": EMPTY_SHA256,
    }
    signed = sorted(h for h in headers if h not in omit)
    canonical_query = "&".join(f"{pct(k)}={pct(v)}" for k, v in sorted(query.items()))
    canonical_headers = "".join(f"{h}:{headers[h].strip()}\n" for h in signed)
    canonical_request = "\n".join(["POST", "/", canonical_query, canonical_headers,
                                   ";".join(signed), EMPTY_SHA256])
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical_request.encode()).hexdigest()
    signature = hmac.new(sk.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (f"ACS3-HMAC-SHA256 Credential={ak},SignedHeaders={';'.join(signed)},"
                                f"Signature={signature}")
    if send_action is not None:
        headers["x-acs-action"] = send_action
    path = "/?" + "&".join(f"{pct(k)}={pct(v)}" for k, v in query.items())
    return path, headers, signature


def v3_call(server, action: str, query: dict, **kw) -> tuple[int, dict]:
    path, headers, _ = v3_request(server, action, query, **kw)
    return http_call(server, "POST", path, headers)


# ================================================================================================
# 1. V3 SignedHeaders must cover host and every x-acs-* header


def test_v3_hand_signer_is_accepted_when_every_header_is_signed(server, classic):
    """Control: the hand-made V3 signer is right, so the refusals below are about coverage."""
    iid = run_instances(classic)[0]
    st, body = v3_call(server, "ModifyInstanceAttribute",
                       {"RegionId": REGION, "InstanceId": iid, "InstanceName": "v3-by-hand"})
    assert st == 200 and UUID_UPPER.match(body.get("RequestId", "")), f"{st} {body}"
    assert describe(classic, iid)["InstanceName"] == "v3-by-hand"


def test_v3_unsigned_action_header_cannot_turn_a_modify_into_a_delete(server, classic):
    """A correctly signed ModifyInstanceAutoReleaseTime with x-acs-action left out of
    SignedHeaders, its x-acs-action then rewritten to DeleteInstance: refused, nothing released.
    (Without the coverage check the Stopped instance would be deleted with a 200.)"""
    iid = run_instances(classic)[0]
    classic.call("StopInstance", InstanceId=iid)
    query = {"RegionId": REGION, "InstanceId": iid}
    got = v3_call(server, "ModifyInstanceAutoReleaseTime", query,
                  omit=("x-acs-action",), send_action="DeleteInstance")
    expect_envelope(got, 400, "IncompleteSignature", "x-acs-action unsigned and rewritten")
    assert describe(classic, iid) is not None, "the tampered request released the instance"
    # Signed, the same rewrite is caught by the signature itself.
    got = v3_call(server, "ModifyInstanceAutoReleaseTime", query, send_action="DeleteInstance")
    expect_envelope(got, 400, "SignatureDoesNotMatch", "x-acs-action signed and rewritten")
    assert describe(classic, iid) is not None, "the tampered request released the instance"


@pytest.mark.parametrize("left_out", ["x-acs-action", "x-acs-signature-nonce", "x-acs-date",
                                      "x-acs-version", "x-acs-content-sha256", "host"])
def test_v3_signed_headers_must_cover_host_and_every_x_acs_header(server, classic, left_out):
    iid = run_instances(classic)[0]
    got = v3_call(server, "ModifyInstanceAttribute",
                  {"RegionId": REGION, "InstanceId": iid, "InstanceName": "must-not-change"},
                  omit=(left_out,))
    expect_envelope(got, 400, "IncompleteSignature", f"{left_out} not in SignedHeaders")
    assert describe(classic, iid)["InstanceName"] != "must-not-change", "the refused call was carried out"


def test_v3_unsigned_nonce_cannot_be_swapped_to_replay(server, classic):
    """The reason the nonce must be signed: with it unsigned, a replay could pick a fresh one."""
    iid = run_instances(classic)[0]
    path, headers, _ = v3_request(server, "ModifyInstanceAttribute",
                                  {"RegionId": REGION, "InstanceId": iid, "InstanceName": "x1"},
                                  omit=("x-acs-signature-nonce",))
    expect_envelope(http_call(server, "POST", path, headers), 400, "IncompleteSignature", "first")
    headers["x-acs-signature-nonce"] = uuid.uuid4().hex
    expect_envelope(http_call(server, "POST", path, headers), 400, "IncompleteSignature", "swapped nonce")


def test_tea_sdk_still_works_with_v3(server, tea):
    now = Admin(server).now()
    iid = run_instances(tea)[0]
    at = (now + timedelta(hours=2)).replace(second=0, microsecond=0)
    tea.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid, AutoReleaseTime=fmt_in(at))
    inst = describe(tea, iid)
    assert inst["AutoReleaseTime"] == at.strftime("%Y-%m-%dT%H:%MZ"), inst
    tea.call("DeleteInstance", InstanceId=iid, Force=True)
    assert describe(tea, iid) is None


# ================================================================================================
# 2. a refused write's nonce is remembered, across kill -9 too


def signed_delete(server, iid: str) -> str:
    """A raw V1 DeleteInstance (no Force) with a fixed nonce and timestamp: the path to replay."""
    query, _ = v1_query("POST", {"Action": "DeleteInstance", "RegionId": REGION, "InstanceId": iid},
                        nonce="hostile-" + uuid.uuid4().hex, timestamp=utc_stamp())
    return "/?" + query


def test_refused_write_replayed_without_restart_is_signature_nonce_used(server, classic):
    iid = run_instances(classic)[0]
    path = signed_delete(server, iid)
    expect_envelope(http_call(server, "POST", path), 403, "IncorrectInstanceStatus", "Running, no Force")
    classic.call("StopInstance", InstanceId=iid)
    # Now the same DeleteInstance would succeed if its nonce had been forgotten.
    expect_envelope(http_call(server, "POST", path), 400, "SignatureNonceUsed", "replay")
    assert describe(classic, iid) is not None, "the replayed DeleteInstance released the instance"


def test_refused_write_nonce_survives_kill_9_and_restart(base):
    data = base / "data"
    srv = start_server(data)
    try:
        sdk = ClassicSdk(srv.endpoint)
        iid = run_instances(sdk)[0]
        path = signed_delete(srv, iid)
        expect_envelope(http_call(srv, "POST", path), 403, "IncorrectInstanceStatus", "Running, no Force")
        sdk.call("StopInstance", InstanceId=iid)
        srv.kill9()
        srv = start_server(data)
        sdk = ClassicSdk(srv.endpoint)
        assert describe(sdk, iid)["Status"] == "Stopped"
        expect_envelope(http_call(srv, "POST", path), 400, "SignatureNonceUsed", "replay after kill -9")
        assert describe(sdk, iid) is not None, "the replay after a restart released the instance"
    finally:
        srv.kill9()


# ================================================================================================
# 3. the clock stops where answers can still show four-digit years

LATEST = datetime(9979, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
MINUTE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z$")


def sdk_outcome(fn, *args, **kwargs) -> tuple[int, str]:
    """(200, 'OK') or the ECS error's (status, Code); anything else (a dropped connection, a
    non-ECS body) raises."""
    try:
        fn(*args, **kwargs)
    except ApiFailure as e:
        return e.status, e.code
    return 200, "OK"


def test_clock_cannot_pass_the_latest_time(base):
    data = base / "data"
    srv = start_server(data)
    try:
        admin = Admin(srv)
        sdk = ClassicSdk(srv.endpoint)
        iid = run_instances(sdk)[0]
        hid = allocate_hosts(sdk)[0]

        before = admin.clock()
        status, body = admin.request("POST", "/admin/clock/advance", {"seconds": 8208470779336},
                                     expect_ok=False)
        assert status == 400 and isinstance(body, dict) and body.get("error"), (
            f"advance 8208470779336 s: expected 400 {{\"error\": ...}}, got {status} {body!r}")
        assert admin.clock() == before, f"a refused advance moved the clock: {before} -> {admin.clock()}"

        # To within a day of the limit: allowed.
        target = LATEST - timedelta(hours=23)
        admin.advance(math.ceil((target - admin.now()).total_seconds()))
        now = admin.now()
        assert LATEST - timedelta(days=1) <= now <= LATEST, f"clock after the advance: {now}"

        # Two more days would pass the limit: refused, clock unchanged.
        before = admin.clock()
        status, body = admin.request("POST", "/admin/clock/advance", {"seconds": 2 * 86400},
                                     expect_ok=False)
        assert status == 400 and isinstance(body, dict) and body.get("error"), (status, body)
        assert admin.clock() == before

        ok_time = fmt_in((now + timedelta(hours=2)).replace(second=0))
        too_far = "9999-12-31T23:59:59Z"  # 20 years ahead: more than 3
        checks = {
            "ModifyInstanceAutoReleaseTime ok": (
                lambda: sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid,
                                 AutoReleaseTime=ok_time), (200, "OK")),
            "ModifyInstanceAutoReleaseTime too far": (
                lambda: sdk.call("ModifyInstanceAutoReleaseTime", RegionId=REGION, InstanceId=iid,
                                 AutoReleaseTime=too_far), (400, "InvalidAutoReleaseTime.Malformed")),
            "ModifyDedicatedHostAutoReleaseTime ok": (
                lambda: sdk.call("ModifyDedicatedHostAutoReleaseTime", RegionId=REGION,
                                 DedicatedHostId=hid, AutoReleaseTime=ok_time), (200, "OK")),
            "ModifyDedicatedHostAutoReleaseTime too far": (
                lambda: sdk.call("ModifyDedicatedHostAutoReleaseTime", RegionId=REGION,
                                 DedicatedHostId=hid, AutoReleaseTime=too_far),
                (400, "InvalidAutoReleaseTime.Malformed")),
            "RunInstances ok": (
                lambda: run_instances(sdk, AutoReleaseTime=ok_time), (200, "OK")),
            "RunInstances too far": (
                lambda: run_instances(sdk, AutoReleaseTime=too_far), (400, "InvalidAutoReleaseTime.Malformed")),
            "AllocateDedicatedHosts ok": (
                lambda: allocate_hosts(sdk, AutoReleaseTime=ok_time), (200, "OK")),
            "AllocateDedicatedHosts too far": (
                lambda: allocate_hosts(sdk, AutoReleaseTime=too_far), (400, "InvalidAutoReleaseTime.Malformed")),
        }
        wrong = {}
        for name, (fn, want) in checks.items():
            got = sdk_outcome(fn)
            if got != want:
                wrong[name] = (want, got)
        assert not wrong, f"near the clock's limit (now {now}), expected vs got: {wrong}"

        # Describe* still answer, every time a four-digit-year minute.
        instances = instances_of(sdk.call("DescribeInstances", RegionId=REGION, PageSize=100))
        hosts = hosts_of(sdk.call("DescribeDedicatedHosts", RegionId=REGION, PageSize=100))
        assert len(instances) == 2 and len(hosts) == 2, (instances, hosts)
        for item in instances + hosts:
            for field in ("CreationTime", "ExpiredTime", "AutoReleaseTime", "StartTime"):
                value = item.get(field)
                if value in (None, ""):
                    continue
                assert MINUTE_RE.match(value), f"{field} {value!r} is not yyyy-MM-ddTHH:mmZ: {item}"
        assert describe(sdk, iid)["AutoReleaseTime"] == ok_time[:-4] + "Z"
        assert describe_host(sdk, hid)["AutoReleaseTime"] == ok_time[:-4] + "Z"
        assert srv.proc.poll() is None, "ecsd died"
    finally:
        srv.kill9()


# ================================================================================================
# 4. one server per data dir


@pytest.mark.skipif(harness.on_postgres(), reason="the data-dir lock is SQLite's: on a shared "
                    "PostgreSQL database any number of servers may run (README)")
def test_second_server_on_a_data_dir_in_use_exits_promptly(base):
    data = base / "data"
    srv = start_server(data)
    try:
        sdk = ClassicSdk(srv.endpoint)
        iid = run_instances(sdk)[0]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port2 = s.getsockname()[1]
        started = time.monotonic()
        p = subprocess.run([str(ecsd_bin()), "serve", "--listen", f"127.0.0.1:{port2}",
                            "--data-dir", str(data), "--clock", "virtual"],
                           capture_output=True, text=True, env=srv.env, stdin=subprocess.DEVNULL,
                           timeout=15)
        took = time.monotonic() - started
        out = p.stdout + p.stderr
        assert p.returncode != 0, f"a second server on the same data dir started (exit 0):\n{out}"
        assert took < 10, f"the second server took {took:.1f}s to give up"
        assert re.search(r"lock|another ecsd|already running", out, re.I), (
            f"the second server's message does not mention the lock / other server:\n{out}")
        # The first one keeps serving.
        with urllib.request.urlopen(f"{srv.base_url}/health", timeout=5) as r:
            assert r.status == 200
        assert describe(sdk, iid) is not None
        run_instances(sdk)
        assert srv.proc.poll() is None
    finally:
        srv.stop()


# ================================================================================================
# 5. HTTP edges answered with ECS envelopes (raw sockets)


def raw_exchange(server, payload: bytes, read_timeout: float = 5.0) -> tuple[int, dict, dict]:
    """Send bytes, read one answer (status, headers, JSON body) within `read_timeout` s."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=read_timeout) as s:
        try:
            s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before it read everything we sent
        data = b""
        deadline = time.monotonic() + read_timeout
        while time.monotonic() < deadline:
            if b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                if m and len(body) >= int(m.group(1)):
                    break
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines and lines[0].startswith("HTTP/1.1 "), f"no HTTP answer within {read_timeout}s: {data[:300]!r}"
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    m = re.search(r"\d+", headers.get("content-length", ""))
    if m:
        body = body[:int(m.group(0))]
    try:
        parsed = json.loads(body)
    except ValueError:
        raise AssertionError(f"answer {status} without a JSON body: {data[:400]!r}")
    return status, headers, parsed


def assert_raw_envelope(got, status: int, code: str, what: str):
    st, _headers, body = got
    assert (st, body.get("Code")) == (status, code), f"{what}: expected {status} {code}, got {st} {body}"
    for k in ("Code", "Message", "RequestId"):
        assert body.get(k), f"{what}: envelope without {k}: {body}"
    assert UUID_UPPER.match(body["RequestId"]), body


def test_url_with_10000_parameters_is_414_envelope(server):
    query = "&".join(f"Param{i}=value{i}" for i in range(10000))
    payload = f"GET /?{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    assert len(payload) > 65536
    assert_raw_envelope(raw_exchange(server, payload), 414, "InvalidParameter", "10,000 parameters")


def test_1000_headers_is_431_envelope(server):
    headers = "".join(f"X-Filler-{i}: v\r\n" for i in range(1000))
    payload = f"GET /?Action=DescribeRegions HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode()
    assert_raw_envelope(raw_exchange(server, payload), 431, "InvalidParameter", "1,000 headers")


def test_garbage_request_line_is_400_envelope(server):
    assert_raw_envelope(raw_exchange(server, b"\x01GARBAGE \xff\xfe nonsense\r\n\r\n"), 400,
                        "InvalidParameter", "garbage request line")


def test_huge_content_length_is_413_at_once(server):
    payload = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
               b"Content-Length: 99999999999\r\n\r\nAction=DescribeRegions")
    started = time.monotonic()
    got = raw_exchange(server, payload, read_timeout=4)
    assert time.monotonic() - started < 4, "the 413 did not come at once"
    assert_raw_envelope(got, 413, "InvalidParameter", "Content-Length 99999999999")


def test_post_health_is_invalid_action_not_found(server):
    got = raw_exchange(server, b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert_raw_envelope(got, 404, "InvalidAction.NotFound", "POST /health")


# ================================================================================================
# 6. strict parsing


def test_auto_release_time_second_60_is_malformed(server, admin, classic):
    iid = run_instances(classic)[0]
    at = (admin.now() + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:60Z")
    got = v1_call(server, "ModifyInstanceAutoReleaseTime",
                  {"RegionId": REGION, "InstanceId": iid, "AutoReleaseTime": at})
    expect_envelope(got, 400, "InvalidAutoReleaseTime.Malformed", f"AutoReleaseTime {at}")
    assert describe(classic, iid)["AutoReleaseTime"] == "", "the refused time was set"


@pytest.mark.parametrize("name", ["InstanceId.0", "InstanceId.01", "InstanceId.99999999999"])
def test_delete_instances_malformed_index_is_invalid_parameter(server, classic, name):
    iid = run_instances(classic)[0]
    got = v1_call(server, "DeleteInstances", {"RegionId": REGION, name: iid, "Force": "True"})
    body = expect_envelope(got, 400, "InvalidParameter", name)
    assert name in body["Message"], f"{name}: message does not name the parameter: {body['Message']!r}"
    assert describe(classic, iid) is not None, f"{name}: the instance was released"


def test_run_instances_negative_tag_index_is_invalid_parameter(server):
    got = v1_call(server, "RunInstances", {"RegionId": REGION, "InstanceType": "ecs.g7.large",
                                           "ImageId": IMAGE, "Tag.-1.Key": "k", "Tag.-1.Value": "v"})
    expect_envelope(got, 400, "InvalidParameter", "Tag.-1.Key")
    total = ClassicSdk(server.endpoint).call("DescribeInstances", RegionId=REGION)["TotalCount"]
    assert total == 0, "an instance was created"


def test_run_instances_21_tags_is_invalid_tag_count(server):
    tags = {}
    for n in range(1, 22):
        tags[f"Tag.{n}.Key"] = f"k{n}"
        tags[f"Tag.{n}.Value"] = f"v{n}"
    got = v1_call(server, "RunInstances", {"RegionId": REGION, "InstanceType": "ecs.g7.large",
                                           "ImageId": IMAGE, **tags})
    expect_envelope(got, 400, "InvalidTagCount", "21 tags")
    # 20 is fine.
    del tags["Tag.21.Key"], tags["Tag.21.Value"]
    st, body = v1_call(server, "RunInstances", {"RegionId": REGION, "InstanceType": "ecs.g7.large",
                                                "ImageId": IMAGE, **tags})
    assert st == 200, f"20 tags: {st} {body}"


def test_describe_instances_empty_page_size_is_invalid_parameter(server):
    got = v1_call(server, "DescribeInstances", {"RegionId": REGION, "PageSize": ""})
    expect_envelope(got, 400, "InvalidParameter", "PageSize=")


# ================================================================================================
# 7. the request log

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_request_log_has_one_line_per_call_and_no_secrets(base):
    srv = start_server(base / "data")  # stdout+stderr go to srv.log_path
    try:
        calls = []  # (request_id, action, access key, code, status)
        signatures = []

        def v1(action, params, ak=DEFAULT_AK, sk=DEFAULT_SK):
            query, sig = v1_query("POST", {"Action": action, **params}, ak=ak, sk=sk)
            signatures.append(sig)
            st, body = http_call(srv, "POST", "/?" + query)
            calls.append((body["RequestId"], action, ak, body.get("Code", "OK"), st))
            return st, body

        def v3(action, query, sk=DEFAULT_SK):
            path, headers, sig = v3_request(srv, action, query, sk=sk)
            signatures.append(sig)
            st, body = http_call(srv, "POST", path, headers)
            calls.append((body["RequestId"], action, DEFAULT_AK, body.get("Code", "OK"), st))
            return st, body

        assert v1("DescribeRegions", {})[0] == 200
        st, body = v1("RunInstances", {"RegionId": REGION, "InstanceType": "ecs.g7.large", "ImageId": IMAGE})
        assert st == 200, body
        assert v1("DeleteInstance", {"InstanceId": "i-doesnotexist0000"})[0] == 404
        assert v1("DescribeRegions", {}, sk="not-the-secret")[0] == 400  # SignatureDoesNotMatch
        assert v3("DescribeInstances", {"RegionId": REGION})[0] == 200
        assert v3("ModifyInstanceAutoReleaseTime", {"InstanceId": "i-doesnotexist0000"})[0] == 404
        # and one through an official SDK
        tea = TeaSdk(srv.endpoint)
        rid = tea.call("DescribeRegions")["RequestId"]
        calls.append((rid, "DescribeRegions", DEFAULT_AK, "OK", 200))

        deadline = time.monotonic() + 5
        while True:
            log = ANSI.sub("", srv.log_path.read_text(errors="replace"))
            if all(c[0] in log for c in calls) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        lines = log.splitlines()
        for request_id, action, ak, code, status in calls:
            mine = [l for l in lines if request_id in l]
            assert len(mine) == 1, f"RequestId {request_id} ({action}): expected 1 log line, got {mine}\n{log}"
            line = mine[0]
            for needle in (action, ak, code, str(status)):
                assert re.search(rf"(?<![\w.-]){re.escape(needle)}(?![\w.-])", line), (
                    f"{action}: {needle!r} missing from the log line {line!r}")
        assert DEFAULT_SK not in log, "the secret is in the log"
        assert "not-the-secret" not in log, "a (wrong) secret is in the log"
        for sig in signatures:
            assert sig not in log and pct(sig) not in log, f"a Signature value is in the log: {sig}"
    finally:
        srv.stop()



# Calls refused while the request is read (before any operation runs). The request log's own
# documentation (crates/ecsd/src/server/access_log.rs) says the Action and AccessKeyId logged are
# the ones the request claims, "so a refused call ... still shows who tried what".
#
# That holds for calls refused while the request is parsed (an IncompleteSignature) and for
# those refused once it is verified (malformed list or tag names, more than 20 tags, an empty
# PageSize).
PARSE_REFUSALS = [
    pytest.param("v1", "DeleteInstances", {"RegionId": REGION, "InstanceId.01": "i-x"},
                 "InvalidParameter", id="malformed-list-index"),
    pytest.param("v1", "RunInstances", {"RegionId": REGION, "InstanceType": "ecs.g7.large",
                                        "ImageId": IMAGE, "Tag.-1.Key": "k"},
                 "InvalidParameter", id="negative-tag-index"),
    pytest.param("v1", "RunInstances", {"RegionId": REGION, "InstanceType": "ecs.g7.large",
                                        "ImageId": IMAGE,
                                        **{f"Tag.{n}.Key": f"k{n}" for n in range(1, 22)}},
                 "InvalidTagCount", id="21-tags"),
    pytest.param("v3-omit-date", "DescribeRegions", {}, "IncompleteSignature",
                 id="v3-incomplete-signature"),
    pytest.param("v1", "DescribeInstances", {"RegionId": REGION, "PageSize": ""},
                 "InvalidParameter", id="empty-page-size"),
]


@pytest.mark.parametrize("how,action,params,code", PARSE_REFUSALS)
def test_request_log_names_the_caller_of_a_refused_call(server, how, action, params, code):
    if how == "v1":
        st, body = v1_call(server, action, params)
    else:
        st, body = v3_call(server, action, params, omit=("x-acs-date",))
    assert (st, body.get("Code")) == (400, code), (st, body)
    rid = body["RequestId"]
    deadline = time.monotonic() + 5
    while True:
        mine = [l for l in ANSI.sub("", server.log_path.read_text(errors="replace")).splitlines()
                if rid in l]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(mine) == 1, f"RequestId {rid}: expected 1 log line, got {mine}"
    for needle in (f"action={action}", f"access_key_id={DEFAULT_AK}", f"code={code}", "status=400"):
        assert needle in mine[0], f"{needle!r} missing from the log line {mine[0]!r}"
