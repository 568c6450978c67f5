"""Test harness for ecsd: start a real `ecsd serve`, talk to its admin API, and call it through
the two official Python SDKs behind one small interface.

Nothing here builds the server: it expects the binary at $ECSD_BIN or <repo>/target/release/ecsd
(scripts/test.sh builds it first).
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import socket
import hashlib
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
REGION = "cn-hangzhou"
IMAGE = "aliyun_3_x64_20G_alibase_20240819.vhd"

# The default account's key: handed to `ecsd serve` in ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET.
DEFAULT_AK = "LTAI5tEcsdTestDefaultKey01"
DEFAULT_SK = "ecsdTestDefaultSecret0000000001"
ADMIN_TOKEN = "ecsd-test-admin-token"

# Start-up can include SQLite migrations on a fresh data dir; this is a deadline, not a measurement.
STARTUP_DEADLINE_S = 60

UUID_UPPER = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")
MINUTE_FMT = "%Y-%m-%dT%H:%MZ"
SECOND_FMT = "%Y-%m-%dT%H:%M:%SZ"


def ecsd_bin() -> Path:
    path = Path(os.environ.get("ECSD_BIN", REPO_ROOT / "target" / "release" / "ecsd"))
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


# ------------------------------------------------------------------------------------------------
# time helpers


def parse_rfc3339(s: str) -> datetime:
    """Parse the admin API's RFC 3339 UTC time (`...Z`, optional fraction)."""
    s = s.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    # Python 3.11 fromisoformat accepts any number of fraction digits.
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        raise AssertionError(f"admin clock time {s!r} has no offset; RFC 3339 UTC expected")
    return dt.astimezone(timezone.utc)


def parse_minute(s: str) -> datetime:
    """Parse an answer time `yyyy-MM-ddTHH:mmZ`."""
    return datetime.strptime(s, MINUTE_FMT).replace(tzinfo=timezone.utc)


def fmt_in(dt: datetime) -> str:
    """A request time: `yyyy-MM-ddTHH:mm:ssZ`."""
    return dt.astimezone(timezone.utc).strftime(SECOND_FMT)


def fmt_out(dt: datetime) -> str:
    """An answer time: `yyyy-MM-ddTHH:mmZ`."""
    return dt.astimezone(timezone.utc).strftime(MINUTE_FMT)


def floor_minute(dt: datetime) -> datetime:
    return dt.replace(second=0, microsecond=0)


def add_months(dt: datetime, months: int) -> datetime:
    """Calendar month arithmetic, clamping the day to the target month's length."""
    y, m = divmod(dt.month - 1 + months, 12)
    year, month = dt.year + y, m + 1
    nxt = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=dt.tzinfo)
    last_day = (nxt - timedelta(days=1)).day
    return dt.replace(year=year, month=month, day=min(dt.day, last_day))


# ------------------------------------------------------------------------------------------------
# the server process


@dataclass
class EcsdServer:
    """One running `ecsd serve` process."""

    data_dir: Path
    port: int
    proc: subprocess.Popen
    log_path: Path
    env: dict
    args: list = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, n: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill9(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(ak: str | None = DEFAULT_AK, sk: str | None = DEFAULT_SK,
               admin_token: str | None = ADMIN_TOKEN) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ALIBABA_CLOUD_", "ECSD_"))}
    if ak is not None:
        env["ALIBABA_CLOUD_ACCESS_KEY_ID"] = ak
    if sk is not None:
        env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = sk
    if admin_token is not None:
        env["ECSD_ADMIN_TOKEN"] = admin_token
    env.setdefault("RUST_BACKTRACE", "1")
    # One log line per call (the request log is at debug), so a failing test's server log shows
    # every call it answered.
    env["ECSD_LOG"] = "info,ecsd::access=debug"
    return env


# With ECSD_SDK_DATABASE_URL (a PostgreSQL server's URL, e.g. from scripts/pg-test-cluster.sh),
# every data dir gets a database of its own on that server, created on first use, and each
# `ecsd serve` and offline command on that data dir is given `--database-url` for it: a restart
# on the same data dir finds the same database, two data dirs never share one.
SDK_DATABASE_URL = os.environ.get("ECSD_SDK_DATABASE_URL", "")
_databases: dict[str, str] = {}


def on_postgres() -> bool:
    return bool(SDK_DATABASE_URL)


def database_args(data_dir: Path) -> list[str]:
    """`--database-url URL` for this data dir's own database, or nothing on SQLite."""
    if not SDK_DATABASE_URL:
        return []
    key = str(data_dir.resolve())
    if key not in _databases:
        name = "sdk_" + hashlib.sha256(f"{os.getpid()}:{key}:{time.time_ns()}".encode()).hexdigest()[:24]
        p = subprocess.run(["psql", SDK_DATABASE_URL, "-qc", f"CREATE DATABASE {name}"],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
        if p.returncode != 0:
            raise RuntimeError(f"cannot create database {name}: {p.stderr}")
        base = SDK_DATABASE_URL.rsplit("/", 1)[0]
        _databases[key] = f"{base}/{name}"
    return ["--database-url", _databases[key]]


def start_server(data_dir: Path, *, virtual_clock: bool = True, env: dict | None = None,
                 port: int | None = None) -> EcsdServer:
    """Start `ecsd serve` on a free loopback port and wait until GET /health answers 200."""
    binary = ecsd_bin()
    if not binary.exists():
        raise RuntimeError(
            f"ecsd binary not found at {binary}; build it with `cargo build --release --bin ecsd` "
            "or point ECSD_BIN at it")
    data_dir.mkdir(parents=True, exist_ok=True)
    env = server_env() if env is None else env
    last_error = ""
    for _attempt in range(3):  # a port picked free can be taken before ecsd binds it
        p = port or free_port()
        args = [str(binary), "serve", "--listen", f"127.0.0.1:{p}", "--data-dir", str(data_dir)]
        args += database_args(data_dir)
        if virtual_clock:
            args += ["--clock", "virtual"]
        log_path = data_dir.parent / f"{data_dir.name}-ecsd-{p}.log"
        log = open(log_path, "ab")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=str(data_dir.parent))
        log.close()
        server = EcsdServer(data_dir=data_dir, port=p, proc=proc, log_path=log_path, env=env,
                            args=args)
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                last_error = (f"ecsd exited with {proc.returncode} during start-up:\n"
                              f"{server.log_tail()}")
                break
            try:
                with urllib.request.urlopen(f"{server.base_url}/health", timeout=2) as r:
                    if r.status == 200:
                        json.loads(r.read() or b"{}")
                        return server
            except (urllib.error.URLError, ConnectionError, OSError, ValueError):
                pass
            time.sleep(0.05)
        else:
            server.kill9()
            raise RuntimeError(f"ecsd did not answer GET /health with 200 within "
                               f"{STARTUP_DEADLINE_S}s:\n{server.log_tail()}")
        if port is not None or "address" not in last_error.lower():
            break
    raise RuntimeError(last_error)


def run_cli(args: list[str], data_dir: Path, env: dict | None = None) -> str:
    """Run an offline `ecsd` subcommand against a data dir; return its stdout (+stderr)."""
    env = dict(server_env() if env is None else env)
    env["ECSD_DATA_DIR"] = str(data_dir)
    cmd = [str(ecsd_bin())] + args + ["--data-dir", str(data_dir)] + database_args(data_dir)
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
                       timeout=60)
    out = p.stdout + p.stderr
    if p.returncode != 0:
        raise AssertionError(f"`{' '.join(cmd)}` exited {p.returncode}:\n{out}")
    return out


def parse_key_output(out: str) -> tuple[str, str]:
    """Read `AccessKeyId: ...` / `AccessKeySecret: ...` from CLI output."""
    ak = re.search(r"AccessKeyId\s*[:=]\s*(\S+)", out)
    sk = re.search(r"AccessKeySecret\s*[:=]\s*(\S+)", out)
    if not (ak and sk):
        raise AssertionError(f"expected `AccessKeyId: ...` and `AccessKeySecret: ...` lines, got:\n{out}")
    return ak.group(1), sk.group(1)


# ------------------------------------------------------------------------------------------------
# admin API


class AdminError(AssertionError):
    pass


class Admin:
    def __init__(self, server: EcsdServer, token: str = ADMIN_TOKEN):
        self.server = server
        self.token = token

    def request(self, method: str, path: str, body=None, token: str | None = None,
                expect_ok: bool = True):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.server.base_url + path, data=data, method=method)
        tok = self.token if token is None else token
        if tok:
            req.add_header("Authorization", f"Bearer {tok}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        if expect_ok and not 200 <= status < 300:
            raise AdminError(f"admin {method} {path} {body!r}: expected 2xx, got {status}: "
                             f"{raw[:500]!r}")
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return (status, parsed) if not expect_ok else parsed

    # clock
    def clock(self) -> dict:
        return self.request("GET", "/admin/clock")

    def now(self) -> datetime:
        return parse_rfc3339(self.clock()["now"])

    def advance(self, seconds: int) -> dict:
        assert seconds >= 0, f"cannot move the clock backwards ({seconds}s)"
        return self.request("POST", "/admin/clock/advance", {"seconds": int(seconds)})

    def advance_to(self, when: datetime) -> dict:
        """Move the virtual clock to the first whole second at or after `when`."""
        delta = (when - self.now()).total_seconds()
        assert delta >= 0, f"advance_to({when.isoformat()}) is in the past of the server clock"
        return self.advance(math.ceil(delta))

    def advance_until_just_before(self, when: datetime) -> dict:
        """Move the clock to within the last second before `when` (strictly before it)."""
        delta = (when - self.now()).total_seconds()
        assert delta > 1, f"{when.isoformat()} is not far enough ahead of the server clock"
        return self.advance(math.ceil(delta) - 1)

    def align_to_minute(self) -> datetime:
        """Advance to the next whole minute (no-op if already on one); returns the new now."""
        now = self.now()
        if now.second == 0 and now.microsecond == 0:
            return now
        self.advance_to(floor_minute(now) + timedelta(minutes=1))
        return self.now()

    # accounts
    def set_balance(self, access_key_id: str, balance) -> dict:
        return self.request("PUT", f"/admin/accounts/{access_key_id}/balance",
                            {"balance": str(balance)})

    def balance(self, access_key_id: str) -> Decimal:
        body = self.request("GET", f"/admin/accounts/{access_key_id}/balance")
        return Decimal(str(body["balance"]))

    # events / reset
    def events(self, since: str | None = None):
        path = "/admin/events" + (f"?since={since}" if since is not None else "")
        return self.request("GET", path)

    def all_events(self) -> list:
        body = self.events()
        if isinstance(body, list):
            return body
        for key in ("events", "Events", "items"):
            if isinstance(body, dict) and isinstance(body.get(key), list):
                return body[key]
        raise AdminError(f"GET /admin/events: expected a list of events, got {body!r}")

    def reset(self) -> dict:
        return self.request("POST", "/admin/reset")


def mentions(obj, needle: str) -> bool:
    return needle in json.dumps(obj)


# ------------------------------------------------------------------------------------------------
# SDK adapters: one interface over both Python SDKs


class ApiFailure(AssertionError):
    """An error answer as the SDK surfaced it."""

    def __init__(self, sdk: str, action: str, code, status, message, request_id, raw):
        self.sdk, self.action = sdk, action
        self.code, self.status, self.message = code, status, message
        self.request_id, self.raw = request_id, raw
        super().__init__(f"[{sdk}] {action} failed: HTTP {status} {code}: {message} "
                         f"(RequestId {request_id})")


def to_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class ClassicSdk:
    """aliyun-python-sdk-core AcsClient + aliyunsdkecs per-operation request classes (V1, POST)."""

    name = "py-core"

    def __init__(self, endpoint: str, ak: str = DEFAULT_AK, sk: str = DEFAULT_SK,
                 region: str = REGION):
        from aliyunsdkcore.client import AcsClient
        self.endpoint = endpoint
        self.client = AcsClient(ak, sk, region)

    def build(self, action: str, params: dict):
        import importlib
        mod = importlib.import_module(f"aliyunsdkecs.request.v20140526.{action}Request")
        req = getattr(mod, f"{action}Request")()
        req.set_endpoint(self.endpoint)
        req.set_protocol_type("http")
        for key, value in params.items():
            if value is None:
                continue
            setter = getattr(req, f"set_{key}", None)
            if isinstance(value, (list, tuple)) and hasattr(req, f"set_{key}s"):
                setter = getattr(req, f"set_{key}s")  # repeat lists: set_InstanceIds([...]) -> InstanceId.N
            if setter is None and key == "RegionId":
                # per-op classes have no set_RegionId; the core sends the client's region unless the
                # request carries its own, which is how users target another region
                setter = lambda v: req.add_query_param("RegionId", v)  # noqa: E731
            if setter is None:
                raise AssertionError(f"{action}Request has no setter for {key}")
            setter(value)
        return req

    def call(self, action: str, **params) -> dict:
        from aliyunsdkcore.acs_exception.exceptions import ServerException
        req = self.build(action, params)
        try:
            raw = self.client.do_action_with_exception(req)
        except ServerException as e:
            raise ApiFailure(self.name, action, e.get_error_code(), e.get_http_status(),
                             e.get_error_msg(), e.get_request_id(), e) from None
        return json.loads(raw)


class TeaSdk:
    """alibabacloud_ecs20140526 Client (Tea/Darabonba, V3 ACS3-HMAC-SHA256, POST)."""

    name = "py-tea"

    def __init__(self, endpoint: str, ak: str = DEFAULT_AK, sk: str = DEFAULT_SK,
                 region: str = REGION):
        from alibabacloud_ecs20140526.client import Client
        from alibabacloud_tea_openapi import models as open_api_models
        config = open_api_models.Config(access_key_id=ak, access_key_secret=sk,
                                        endpoint=endpoint, protocol="http", region_id=region)
        self.client = Client(config)

    def call(self, action: str, **params) -> dict:
        from alibabacloud_ecs20140526 import models as ecs_models
        from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
        req = getattr(ecs_models, f"{action}Request")()
        for key, value in params.items():
            if value is None:
                continue
            attr = to_snake(key)
            if not hasattr(req, attr) and hasattr(req, key.lower()):
                attr = key.lower()  # acronyms: OSType is `ostype` in the Tea models
            if not hasattr(req, attr):
                raise AssertionError(f"{action}Request (Tea) has no field {attr} for {key}")
            setattr(req, attr, value)
        method = getattr(self.client, to_snake(action))
        try:
            resp = method(req)
        except AlibabaCloudException as e:
            data = getattr(e, "data", None) or {}
            message = data.get("Message", e.message) if isinstance(data, dict) else e.message
            raise ApiFailure(self.name, action, e.code, getattr(e, "status_code", None),
                             message, getattr(e, "request_id", None), e) from None
        return resp.body.to_map()


def make_sdk(name: str, endpoint: str, ak: str = DEFAULT_AK, sk: str = DEFAULT_SK,
             region: str = REGION):
    return {"py-core": ClassicSdk, "py-tea": TeaSdk}[name](endpoint, ak, sk, region)


def expect_error(fn, *args, code: str, status: int | None, message: str | None = None, **kwargs):
    """Call `fn`, require an ApiFailure with this code (and HTTP status / message)."""
    try:
        got = fn(*args, **kwargs)
    except ApiFailure as e:
        problems = []
        if e.code != code:
            problems.append(f"code: expected {code!r}, got {e.code!r}")
        if status is not None and e.status != status:
            problems.append(f"HTTP status: expected {status}, got {e.status}")
        if message is not None and e.message != message:
            problems.append(f"message: expected {message!r}, got {e.message!r}")
        if problems:
            raise AssertionError(f"[{e.sdk}] {e.action}: " + "; ".join(problems)
                                 + f" (full error: HTTP {e.status} {e.code}: {e.message})") from None
        return e
    shown = repr(got)
    shown = shown if len(shown) <= 600 else shown[:600] + "...(truncated)"
    raise AssertionError(f"expected error {code} (HTTP {status}), but the call succeeded: {shown}")


# ------------------------------------------------------------------------------------------------
# shortcuts on top of an adapter


def instances_of(resp: dict) -> list[dict]:
    return (resp.get("Instances") or {}).get("Instance") or []


def hosts_of(resp: dict) -> list[dict]:
    return (resp.get("DedicatedHosts") or {}).get("DedicatedHost") or []


def run_instances(sdk, amount: int = 1, **params) -> list[str]:
    params.setdefault("RegionId", REGION)
    params.setdefault("InstanceType", "ecs.g7.large")
    params.setdefault("ImageId", IMAGE)
    if amount != 1:
        params["Amount"] = amount
    resp = sdk.call("RunInstances", **params)
    ids = ((resp.get("InstanceIdSets") or {}).get("InstanceIdSet")) or []
    assert len(ids) == amount, f"RunInstances Amount={amount}: expected {amount} ids, got {resp!r}"
    return ids


def run_prepaid(sdk, months: int = 1, amount: int = 1, **params) -> list[str]:
    params.setdefault("InstanceChargeType", "PrePaid")
    params.setdefault("Period", months)
    params.setdefault("PeriodUnit", "Month")
    return run_instances(sdk, amount=amount, **params)


def describe(sdk, instance_id: str) -> dict | None:
    """The instance as DescribeInstances shows it, or None if it is not listed."""
    resp = sdk.call("DescribeInstances", RegionId=REGION, InstanceIds=json.dumps([instance_id]))
    found = [i for i in instances_of(resp) if i.get("InstanceId") == instance_id]
    assert len(found) <= 1, f"DescribeInstances listed {instance_id} twice: {resp!r}"
    return found[0] if found else None


def describe_host(sdk, host_id: str) -> dict | None:
    resp = sdk.call("DescribeDedicatedHosts", RegionId=REGION, DedicatedHostIds=json.dumps([host_id]))
    found = [h for h in hosts_of(resp) if h.get("DedicatedHostId") == host_id]
    assert len(found) <= 1, f"DescribeDedicatedHosts listed {host_id} twice: {resp!r}"
    return found[0] if found else None


def allocate_hosts(sdk, quantity: int = 1, **params) -> list[str]:
    params.setdefault("RegionId", REGION)
    params.setdefault("DedicatedHostType", "ddh.g7")
    if quantity != 1:
        params["Quantity"] = quantity
    resp = sdk.call("AllocateDedicatedHosts", **params)
    ids = ((resp.get("DedicatedHostIdSets") or {}).get("DedicatedHostId")) or []
    assert len(ids) == quantity, f"AllocateDedicatedHosts Quantity={quantity}: expected {quantity} ids, got {resp!r}"
    return ids


def lock_reasons(instance: dict) -> list[str]:
    locks = (instance.get("OperationLocks") or {}).get("LockReason") or []
    return [l.get("LockReason") for l in locks]


def renew_attr(sdk, instance_id: str) -> dict:
    resp = sdk.call("DescribeInstanceAutoRenewAttribute", RegionId=REGION, InstanceId=instance_id)
    rows = (resp.get("InstanceRenewAttributes") or {}).get("InstanceRenewAttribute") or []
    found = [r for r in rows if r.get("InstanceId") == instance_id]
    assert len(found) == 1, f"DescribeInstanceAutoRenewAttribute {instance_id}: expected one row, got {resp!r}"
    return found[0]


def tmpdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
