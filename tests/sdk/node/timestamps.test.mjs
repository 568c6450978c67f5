// Request times with fractions of a second, as JavaScript clients format them with
// `Date.prototype.toISOString()` (`2026-12-01T03:57:51.123Z`): the gateway accepts them in V1
// `Timestamp` and V3 `x-acs-date`, and so must ecsd.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

import { sharedServer, DEFAULT_AK, DEFAULT_SK, REGION, expectError, PopSdk } from './harness.mjs';

const require = createRequire(import.meta.url);
const $Ecs = require('@alicloud/ecs20140526');
const { $OpenApiUtil } = require('@alicloud/openapi-core');
const Utils = require('@alicloud/openapi-core/dist/utils').default;

const ctx = sharedServer();

const MILLIS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

test('pop-core (V1, GET and POST) with a millisecond Timestamp is served', async () => {
  for (const method of ['GET', 'POST']) {
    const sdk = new PopSdk(ctx.server.endpoint, { method });
    const stamp = new Date().toISOString();
    assert.match(stamp, MILLIS);
    const resp = await sdk.call('DescribeRegions', { RegionId: REGION, Timestamp: stamp });
    assert.ok(resp.Regions.Region.length > 0, `${method}: ${JSON.stringify(resp)}`);
  }
  // Still refused: a malformed time, and one 20 minutes off with milliseconds.
  const sdk = new PopSdk(ctx.server.endpoint);
  await expectError(sdk.call('DescribeRegions', { Timestamp: new Date().toISOString().replace('Z', '+00:00') }),
    { code: 'InvalidTimeStamp.Format', status: 400 });
  await expectError(sdk.call('DescribeRegions', { Timestamp: new Date(Date.now() - 20 * 60_000).toISOString() }),
    { code: 'InvalidTimeStamp.Expired', status: 400 });
});

test('Tea (V3 x-acs-date and V1 Timestamp) with millisecond times is served', async (t) => {
  const original = Utils.getTimestamp;
  const sent = [];
  Utils.getTimestamp = () => { const s = new Date().toISOString(); sent.push(s); return s; };
  t.after(() => { Utils.getTimestamp = original; });
  for (const signatureAlgorithm of [undefined, 'v2']) {
    const client = new $Ecs.default(new $OpenApiUtil.Config({
      accessKeyId: DEFAULT_AK, accessKeySecret: DEFAULT_SK, endpoint: ctx.server.endpoint, protocol: 'http',
      regionId: REGION, ...(signatureAlgorithm ? { signatureAlgorithm } : {}),
    }));
    const resp = await client.describeRegions(new $Ecs.DescribeRegionsRequest({}));
    assert.ok(resp.body.regions.region.length > 0, `${signatureAlgorithm ?? 'v3'}`);
  }
  assert.ok(sent.length >= 2 && sent.every((s) => MILLIS.test(s)), `sent: ${sent}`);
});
