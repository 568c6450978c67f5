// Harness for the console's browser tests: a real `ecsd serve --clock virtual` on a fresh data
// dir, accounts and keys made with the ecsd CLI, a small API client (V1 signatures, written
// here so these tests need nothing but playwright-core), and headless Chromium from Debian's
// `chromium` package driven by playwright-core.

import { spawn, spawnSync, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REGION = 'cn-hangzhou';
export const ADMIN_TOKEN = 'ecsd-console-admin-token';
export const SCREENSHOTS = process.env.ECSD_CONSOLE_SCREENSHOTS
  || path.join(REPO_ROOT, 'target', 'console-screenshots');
const STARTUP_DEADLINE_MS = 60_000;

export function ecsdBin() {
  const p = process.env.ECSD_BIN || path.join('target', 'release', 'ecsd');
  return path.isAbsolute(p) ? p : path.join(REPO_ROOT, p);
}

/** Debian's chromium, or null when it is not installed. */
export function chromiumPath() {
  if (process.env.CHROMIUM_BIN) return process.env.CHROMIUM_BIN;
  const found = spawnSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' });
  const p = found.stdout.trim().split('\n')[0];
  return p || null;
}

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

function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('ALIBABA_CLOUD_') && !k.startsWith('ECSD_')) env[k] = v;
  }
  return { ...env, ...extra };
}

/** Starts `ecsd serve --clock virtual` with a fresh data dir; resolves once /health answers. */
export async function startServer({ adminToken = ADMIN_TOKEN } = {}) {
  const bin = ecsdBin();
  if (!fs.existsSync(bin)) {
    throw new Error(`ecsd binary not found at ${bin}; build it with \`cargo build --release --bin ecsd\` or set ECSD_BIN`);
  }
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ecsd-console-'));
  const dataDir = path.join(base, 'data');
  fs.mkdirSync(dataDir);
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const env = cleanEnv(adminToken ? { ECSD_ADMIN_TOKEN: adminToken } : {});
    const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--clock', 'virtual'],
      { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (b) => { log += b; });
    child.stderr.on('data', (b) => { log += b; });
    let exited = null;
    child.on('close', (code, sig) => { exited = { code, sig }; });
    const server = {
      port, dataDir, baseUrl: `http://127.0.0.1:${port}`,
      log: () => log.split('\n').slice(-60).join('\n'),
      async stop() {
        if (!exited && child.exitCode === null && child.signalCode === null) {
          const done = new Promise((r) => child.once('close', r));
          child.kill('SIGTERM');
          // A graceful stop that takes too long is ended, so the test file can exit.
          const timer = setTimeout(() => child.kill('SIGKILL'), CLOSE_DEADLINE_MS);
          await done;
          clearTimeout(timer);
        }
        fs.rmSync(base, { recursive: true, force: true });
      },
    };
    const deadline = Date.now() + STARTUP_DEADLINE_MS;
    let up = false;
    while (Date.now() < deadline && !exited) {
      try {
        const r = await fetch(`${server.baseUrl}/health`, { signal: AbortSignal.timeout(2000) });
        if (r.status === 200) { up = true; break; }
      } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (up) return server;
    if (!exited) child.kill('SIGKILL');
    lastError = new Error(`ecsd did not start:\n${server.log()}`);
    if (!/address|bind/i.test(log)) break;
  }
  fs.rmSync(base, { recursive: true, force: true });
  throw lastError;
}

/** An account with one access key, made with the ecsd CLI against the server's data dir. */
export function createAccount(server, name) {
  const run = (args) => execFileSync(ecsdBin(), [...args, '--data-dir', server.dataDir],
    { env: cleanEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  run(['account', 'create', name]);
  const out = run(['access-key', 'create', '--account', name]);
  const id = /AccessKeyId\s*[:=]\s*(\S+)/.exec(out)?.[1];
  const secret = /AccessKeySecret\s*[:=]\s*(\S+)/.exec(out)?.[1];
  assert.ok(id && secret, `access-key create printed no key:\n${out}`);
  return { name, id, secret };
}

// ---- the API, signed with V1 (HMAC-SHA1) ---------------------------------------------------

const rfc3986 = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

export class Api {
  constructor(server, key) {
    this.server = server;
    this.key = key;
  }

  async call(action, params = {}) {
    const p = {
      Format: 'JSON', Version: '2014-05-26', AccessKeyId: this.key.id, SignatureMethod: 'HMAC-SHA1',
      Timestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'), SignatureVersion: '1.0',
      SignatureNonce: crypto.randomUUID(), Action: action, RegionId: REGION,
    };
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) p[k] = String(v);
    const canonical = Object.keys(p).sort().map((k) => `${rfc3986(k)}=${rfc3986(p[k])}`).join('&');
    const toSign = `GET&${rfc3986('/')}&${rfc3986(canonical)}`;
    const signature = crypto.createHmac('sha1', `${this.key.secret}&`).update(toSign).digest('base64');
    const r = await fetch(`${this.server.baseUrl}/?${canonical}&Signature=${rfc3986(signature)}`);
    const body = await r.json();
    if (r.status !== 200) {
      const e = new Error(`${action}: HTTP ${r.status} ${body.Code}: ${body.Message}`);
      Object.assign(e, { status: r.status, code: body.Code });
      throw e;
    }
    return body;
  }

  async run(params) {
    const resp = await this.call('RunInstances', {
      InstanceType: 'ecs.g7.large', ImageId: 'aliyun_3_x64_20G_alibase_20240819.vhd', ...params,
    });
    return resp.InstanceIdSets.InstanceIdSet;
  }

  async instances() {
    const resp = await this.call('DescribeInstances', { PageSize: 100 });
    return resp.Instances.Instance;
  }

  async instance(id) {
    const resp = await this.call('DescribeInstances', { InstanceIds: JSON.stringify([id]) });
    return resp.Instances.Instance[0] ?? null;
  }
}

export class Admin {
  constructor(server, token = ADMIN_TOKEN) {
    this.server = server;
    this.token = token;
  }

  async request(method, p, body) {
    const r = await fetch(this.server.baseUrl + p, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await r.json();
    assert.ok(r.ok, `admin ${method} ${p}: ${r.status} ${JSON.stringify(json)}`);
    return json;
  }

  async now() { return new Date((await this.request('GET', '/admin/clock')).now); }
  events() { return this.request('GET', '/admin/events'); }
}

// ---- the browser ----------------------------------------------------------------------------

/**
 * Headless Chromium (Debian's), with a fresh profile, in a fixed time zone that is not UTC so
 * that the console's local times are tested as such. Returns { browser, context, page, close }.
 */
/** How long closing a browser may take before its processes are killed. */
const CLOSE_DEADLINE_MS = 15000;

export async function openBrowser({ timezoneId = 'Asia/Shanghai', viewport = { width: 1440, height: 900 }, javaScriptEnabled = true } = {}) {
  const { chromium } = await import('playwright-core');
  const executablePath = chromiumPath();
  assert.ok(executablePath, 'chromium is not installed (apt-get install chromium)');
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecsd-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'],
    timezoneId,
    locale: 'en-US',
    viewport,
    javaScriptEnabled,
  });
  const page = context.pages()[0] ?? await context.newPage();
  return {
    context, page,
    async close() {
      // Closing Chromium has been seen to hang on a loaded machine (every test done, the file's
      // process never exiting). Give it a while, then end whatever still runs on this profile.
      const closed = await Promise.race([
        context.close().then(() => true, () => false),
        new Promise((r) => { setTimeout(() => r(false), CLOSE_DEADLINE_MS).unref(); }),
      ]);
      if (!closed) {
        spawnSync('pkill', ['-KILL', '-f', `--user-data-dir=${userDataDir}`]);
      }
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot as target/console-screenshots/NAME.png. */
export async function screenshot(page, name) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

const pad = (n) => String(n).padStart(2, '0');
/** `YYYY-MM-DDTHH:MM` of `d` in `timeZone`, as a datetime-local input takes it. */
export function localInput(d, timeZone) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
    timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).formatToParts(d).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

/** How the console shows `d` in `timeZone`: `YYYY-MM-DD HH:MM` (a zone name follows). */
export function localText(d, timeZone) {
  return localInput(d, timeZone).replace('T', ' ');
}

export const utcText = (d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
