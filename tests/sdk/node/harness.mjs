// Test harness for ecsd through the official Node.js SDKs: start a real `ecsd serve`, talk to its
// admin API, and call it through @alicloud/pop-core (GET and POST) and @alicloud/ecs20140526 (Tea)
// behind one small interface. Nothing here builds the server: it expects $ECSD_BIN or
// <repo>/target/release/ecsd.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { after, before, beforeEach } from 'node:test';

const require = createRequire(import.meta.url);
const RPCClient = require('@alicloud/pop-core').RPCClient;
const $Ecs = require('@alicloud/ecs20140526');
const EcsClient = $Ecs.default;
const { $OpenApiUtil } = require('@alicloud/openapi-core');

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const REGION = 'cn-hangzhou';
export const IMAGE = 'aliyun_3_x64_20G_alibase_20240819.vhd';
export const DEFAULT_AK = 'LTAI5tEcsdNodeDefaultKey1';
export const DEFAULT_SK = 'ecsdNodeDefaultSecret00000001';
export const ADMIN_TOKEN = 'ecsd-node-admin-token';
export const UUID_UPPER = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/;
const STARTUP_DEADLINE_MS = 60_000; // a deadline for start-up, not a measurement

export function ecsdBin() {
  const p = process.env.ECSD_BIN || path.join('target', 'release', 'ecsd');
  return path.isAbsolute(p) ? p : path.join(REPO_ROOT, p);
}

// ---- time ---------------------------------------------------------------------------------------

const pad = (n) => String(n).padStart(2, '0');
/** Request time `yyyy-MM-ddTHH:mm:ssZ`. */
export function fmtIn(d) {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}Z`;
}
/** Answer time `yyyy-MM-ddTHH:mmZ`. */
export function fmtOut(d) {
  return fmtIn(d).slice(0, 16) + 'Z';
}
export function parseMinute(s) {
  assert.match(s, /^\d{4}-\d\d-\d\dT\d\d:\d\dZ$/, `expected a minute-precision time yyyy-MM-ddTHH:mmZ, got ${JSON.stringify(s)}`);
  return new Date(s.replace('Z', ':00Z'));
}
export function floorMinute(d) {
  return new Date(Math.floor(d.getTime() / 60000) * 60000);
}
export const addSeconds = (d, s) => new Date(d.getTime() + s * 1000);
export const addMinutes = (d, m) => addSeconds(d, m * 60);
export const addHours = (d, h) => addSeconds(d, h * 3600);
export const addDays = (d, n) => addSeconds(d, n * 86400);
export function addMonths(d, months) {
  const y = d.getUTCFullYear(), m = d.getUTCMonth() + months;
  const target = new Date(Date.UTC(y, m, 1, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(d.getUTCDate(), lastDay));
  return target;
}

// ---- server process -----------------------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export function serverEnv({ ak = DEFAULT_AK, sk = DEFAULT_SK, adminToken = ADMIN_TOKEN } = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('ALIBABA_CLOUD_') && !k.startsWith('ECSD_')) env[k] = v;
  }
  if (ak) env.ALIBABA_CLOUD_ACCESS_KEY_ID = ak;
  if (sk) env.ALIBABA_CLOUD_ACCESS_KEY_SECRET = sk;
  if (adminToken) env.ECSD_ADMIN_TOKEN = adminToken;
  return env;
}

/**
 * Start `ecsd serve` on a free loopback port with a fresh data dir; resolves once /health is 200.
 * A port found free can be taken by someone else before ecsd binds it: then ecsd exits saying it
 * cannot bind, and another port is tried (up to 3). `pickPort` (default: ask the OS) is for tests.
 */
export async function startServer({ virtualClock = true, dataDir, pickPort = freePort } = {}) {
  const bin = ecsdBin();
  if (!fs.existsSync(bin)) {
    throw new Error(`ecsd binary not found at ${bin}; build it with \`cargo build --release --bin ecsd\` or set ECSD_BIN`);
  }
  const base = dataDir ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'ecsd-node-'));
  const dir = dataDir || path.join(base, 'data');
  fs.mkdirSync(dir, { recursive: true });
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await pickPort();
    try {
      return await startOn(bin, port, dir, base, virtualClock);
    } catch (e) {
      lastError = e;
      if (!e.bindFailed) break;
    }
  }
  if (base) fs.rmSync(base, { recursive: true, force: true });
  throw lastError;
}

async function startOn(bin, port, dir, base, virtualClock) {
  const args = ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dir];
  if (virtualClock) args.push('--clock', 'virtual');
  const child = spawn(bin, args, { env: serverEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (b) => { log += b; });
  child.stderr.on('data', (b) => { log += b; });
  let exited = null;
  // 'close' comes after the exit and after the output pipes are drained, so the log is whole
  child.on('close', (code, sig) => { exited = { code, sig }; });

  const server = {
    port,
    endpoint: `127.0.0.1:${port}`,
    baseUrl: `http://127.0.0.1:${port}`,
    dataDir: dir,
    log: () => log.split('\n').slice(-60).join('\n'),
    async stop() {
      if (exited || child.exitCode !== null || child.signalCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await done;
      if (base) fs.rmSync(base, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + STARTUP_DEADLINE_MS;
  while (Date.now() < deadline) {
    if (exited) {
      const err = new Error(`ecsd exited during start-up (${JSON.stringify(exited)}):\n${server.log()}`);
      err.bindFailed = /address|bind/i.test(log);
      throw err;
    }
    try {
      // bounded: whatever holds the port if ecsd could not bind it may never answer
      const r = await fetch(`${server.baseUrl}/health`, { signal: AbortSignal.timeout(2000) });
      if (r.status === 200) {
        await r.json();
        return server;
      }
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`ecsd did not answer GET /health within ${STARTUP_DEADLINE_MS} ms:\n${server.log()}`);
}

// ---- admin API ----------------------------------------------------------------------------------

export class Admin {
  constructor(server, token = ADMIN_TOKEN) {
    this.server = server;
    this.token = token;
  }

  async request(method, p, body, { expectOk = true, token } = {}) {
    const headers = {};
    const tok = token === undefined ? this.token : token;
    if (tok) headers.authorization = `Bearer ${tok}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(this.server.baseUrl + p, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    let json;
    try { json = text ? JSON.parse(text) : null; } catch { json = text; }
    if (expectOk && (r.status < 200 || r.status >= 300)) {
      throw new assert.AssertionError({ message: `admin ${method} ${p}: expected 2xx, got ${r.status}: ${text.slice(0, 300)}` });
    }
    return expectOk ? json : { status: r.status, body: json };
  }

  clock() { return this.request('GET', '/admin/clock'); }
  async now() { return new Date((await this.clock()).now); }
  advance(seconds) {
    assert.ok(seconds >= 0, `cannot move the clock backwards (${seconds}s)`);
    return this.request('POST', '/admin/clock/advance', { seconds: Math.trunc(seconds) });
  }
  async advanceTo(when) {
    const delta = (when.getTime() - (await this.now()).getTime()) / 1000;
    assert.ok(delta >= 0, `advanceTo(${when.toISOString()}) is in the past of the server clock`);
    return this.advance(Math.ceil(delta));
  }
  async advanceUntilJustBefore(when) {
    const delta = (when.getTime() - (await this.now()).getTime()) / 1000;
    assert.ok(delta > 1, `${when.toISOString()} is not far enough ahead of the server clock`);
    return this.advance(Math.ceil(delta) - 1);
  }
  setBalance(ak, balance) { return this.request('PUT', `/admin/accounts/${ak}/balance`, { balance: String(balance) }); }
  async balance(ak) { return Number((await this.request('GET', `/admin/accounts/${ak}/balance`)).balance); }
  events(since) { return this.request('GET', '/admin/events' + (since !== undefined ? `?since=${encodeURIComponent(since)}` : '')); }
  reset() { return this.request('POST', '/admin/reset'); }
}

// ---- SDK adapters -------------------------------------------------------------------------------

/** An error answer as the SDK surfaced it. `status` is what the SDK exposes (pop-core only has it
 *  on err.entry.response.statusCode). */
export class ApiFailure extends Error {
  constructor(sdk, action, { code, status, message, requestId, raw }) {
    super(`[${sdk}] ${action} failed: HTTP ${status} ${code}: ${message}`);
    Object.assign(this, { sdk, action, code, status, apiMessage: message, requestId, raw });
  }
}

/** @alicloud/pop-core RPCClient, V1 signature; `method` GET (its default) or POST (form body). */
export class PopSdk {
  constructor(endpoint, { ak = DEFAULT_AK, sk = DEFAULT_SK, method = 'GET' } = {}) {
    this.name = `pop-core-${method}`;
    this.method = method;
    this.client = new RPCClient({
      accessKeyId: ak, accessKeySecret: sk, endpoint: `http://${endpoint}`, apiVersion: '2014-05-26',
    });
  }

  async call(action, params = {}) {
    const p = {};
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) p[k] = v;
    const opts = this.method === 'POST' ? { method: 'POST' } : {};
    try {
      return await this.client.request(action, p, opts);
    } catch (err) {
      if (err && err.code && err.data) {
        throw new ApiFailure(this.name, action, {
          code: err.code, status: err.entry?.response?.statusCode, message: err.data.Message,
          requestId: err.data.RequestId, raw: err,
        });
      }
      throw err;
    }
  }
}

/** @alicloud/ecs20140526 (Tea, openapi-core), V3 ACS3-HMAC-SHA256 signature. */
export class TeaSdk {
  constructor(endpoint, { ak = DEFAULT_AK, sk = DEFAULT_SK, region = REGION } = {}) {
    this.name = 'tea';
    const config = new $OpenApiUtil.Config({
      accessKeyId: ak, accessKeySecret: sk, endpoint, protocol: 'http', regionId: region,
    });
    this.client = new EcsClient(config);
  }

  async call(action, params = {}) {
    const Model = $Ecs[`${action}Request`];
    assert.ok(Model, `@alicloud/ecs20140526 has no ${action}Request`);
    const names = Model.names();
    const byWire = Object.fromEntries(Object.entries(names).map(([js, wire]) => [wire, js]));
    const fields = {};
    for (const [k, v] of Object.entries(params)) {
      if (v === undefined || v === null) continue;
      assert.ok(byWire[k], `${action}Request (Tea) has no field for ${k}`);
      fields[byWire[k]] = v;
    }
    const method = action[0].toLowerCase() + action.slice(1);
    try {
      const resp = await this.client[method](new Model(fields));
      return resp.body.toMap();
    } catch (err) {
      if (err && err.code !== undefined && err.statusCode !== undefined) {
        throw new ApiFailure(this.name, action, {
          code: err.code, status: err.statusCode, message: err.data?.Message ?? err.message,
          requestId: err.requestId, raw: err,
        });
      }
      throw err;
    }
  }
}

export function allSdks(endpoint, opts = {}) {
  return [new PopSdk(endpoint, { ...opts, method: 'GET' }), new PopSdk(endpoint, { ...opts, method: 'POST' }),
    new TeaSdk(endpoint, opts)];
}

/** Await `promise`; require an ApiFailure with this code (and status, when given). */
export async function expectError(promise, { code, status, message }) {
  let got;
  try {
    got = await promise;
  } catch (e) {
    if (!(e instanceof ApiFailure)) throw e;
    const problems = [];
    if (e.code !== code) problems.push(`code: expected ${code}, got ${e.code}`);
    if (status !== undefined && e.status !== status) problems.push(`HTTP status: expected ${status}, got ${e.status}`);
    if (message !== undefined && e.apiMessage !== message) problems.push(`message: expected ${JSON.stringify(message)}, got ${JSON.stringify(e.apiMessage)}`);
    if (problems.length) {
      throw new assert.AssertionError({ message: `[${e.sdk}] ${e.action}: ${problems.join('; ')} (full error: HTTP ${e.status} ${e.code}: ${e.apiMessage})` });
    }
    return e;
  }
  throw new assert.AssertionError({ message: `expected error ${code} (HTTP ${status}), but the call succeeded: ${JSON.stringify(got)}` });
}

// ---- shortcuts ----------------------------------------------------------------------------------

export const instancesOf = (resp) => resp?.Instances?.Instance ?? [];
export const hostsOf = (resp) => resp?.DedicatedHosts?.DedicatedHost ?? [];
export const lockReasons = (inst) => (inst?.OperationLocks?.LockReason ?? []).map((l) => l.LockReason);

export async function runInstances(sdk, { amount = 1, ...params } = {}) {
  const p = { RegionId: REGION, InstanceType: 'ecs.g7.large', ImageId: IMAGE, ...params };
  if (amount !== 1) p.Amount = amount;
  const resp = await sdk.call('RunInstances', p);
  const ids = resp?.InstanceIdSets?.InstanceIdSet ?? [];
  assert.equal(ids.length, amount, `RunInstances Amount=${amount}: expected ${amount} ids, got ${JSON.stringify(resp)}`);
  return ids;
}

export function runPrepaid(sdk, { months = 1, ...params } = {}) {
  return runInstances(sdk, { InstanceChargeType: 'PrePaid', Period: months, PeriodUnit: 'Month', ...params });
}

export async function describe1(sdk, id) {
  const resp = await sdk.call('DescribeInstances', { RegionId: REGION, InstanceIds: JSON.stringify([id]) });
  const found = instancesOf(resp).filter((i) => i.InstanceId === id);
  assert.ok(found.length <= 1, `DescribeInstances listed ${id} twice`);
  return found[0] ?? null;
}

export async function describeHost(sdk, id) {
  const resp = await sdk.call('DescribeDedicatedHosts', { RegionId: REGION, DedicatedHostIds: JSON.stringify([id]) });
  const found = hostsOf(resp).filter((h) => h.DedicatedHostId === id);
  return found[0] ?? null;
}

export async function allocateHosts(sdk, { quantity = 1, ...params } = {}) {
  const p = { RegionId: REGION, DedicatedHostType: 'ddh.g7', ...params };
  if (quantity !== 1) p.Quantity = quantity;
  const resp = await sdk.call('AllocateDedicatedHosts', p);
  const ids = resp?.DedicatedHostIdSets?.DedicatedHostId ?? [];
  assert.equal(ids.length, quantity, `AllocateDedicatedHosts Quantity=${quantity}: got ${JSON.stringify(resp)}`);
  return ids;
}

export async function renewAttr(sdk, id) {
  const resp = await sdk.call('DescribeInstanceAutoRenewAttribute', { RegionId: REGION, InstanceId: id });
  const rows = (resp?.InstanceRenewAttributes?.InstanceRenewAttribute ?? []).filter((r) => r.InstanceId === id);
  assert.equal(rows.length, 1, `DescribeInstanceAutoRenewAttribute ${id}: expected one row, got ${JSON.stringify(resp)}`);
  return rows[0];
}

/**
 * One server for a test file, shared by its tests: started before them, reset before each, and
 * stopped after. Returns the context the hooks fill: `server`, `admin`, and `sdks` by name.
 */
export function sharedServer() {
  const ctx = {};
  before(async () => {
    ctx.server = await startServer();
    ctx.admin = new Admin(ctx.server);
    ctx.sdks = Object.fromEntries(allSdks(ctx.server.endpoint).map((s) => [s.name, s]));
  });
  after(async () => { await ctx.server?.stop(); });
  beforeEach(async () => { await ctx.admin.reset(); });
  return ctx;
}
