// Error surfacing in the Node SDKs: the seed error rows (code and the HTTP status where the SDK
// exposes it: Tea err.statusCode, pop-core err.entry.response.statusCode), signature failures.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  sharedServer, REGION, addDays, addMinutes, allocateHosts, expectError, fmtIn, PopSdk,
  runInstances, runPrepaid, TeaSdk,
} from './harness.mjs';

const ctx = sharedServer();

for (const name of ['pop-core-GET', 'pop-core-POST', 'tea']) {
  describe(`${name} error rows`, () => {
    const sdk = () => ctx.sdks[name];
    const soon = async () => fmtIn(addDays(await ctx.admin.now(), 1));

    test('ModifyInstanceAutoReleaseTime rows (seed 000)', async () => {
      await expectError(sdk().call('ModifyInstanceAutoReleaseTime', { RegionId: REGION, AutoReleaseTime: await soon() }),
        { code: 'MissingParameter', status: 400, message: 'InstanceId should not be null.' });
      await expectError(sdk().call('ModifyInstanceAutoReleaseTime', { RegionId: REGION, InstanceId: 'i-doesnotexist0000', AutoReleaseTime: await soon() }),
        { code: 'NoSuchResource', status: 404, message: 'The specified resource is not found.' });
      const [pre] = await runPrepaid(sdk());
      await expectError(sdk().call('ModifyInstanceAutoReleaseTime', { RegionId: REGION, InstanceId: pre, AutoReleaseTime: await soon() }),
        { code: 'ChargeTypeViolation', status: 403, message: 'The operation is not permitted due to charge type of the instance.' });
      const [post] = await runInstances(sdk());
      const now = await ctx.admin.now();
      for (const bad of [fmtIn(addMinutes(now, 29)), fmtIn(addDays(now, 365 * 3 + 5)), '2031-01-01T00:00:00', 'soon']) {
        await expectError(sdk().call('ModifyInstanceAutoReleaseTime', { RegionId: REGION, InstanceId: post, AutoReleaseTime: bad }),
          { code: 'InvalidAutoReleaseTime.Malformed', status: 400 });
      }
    });

    test('ModifyDedicatedHostAutoReleaseTime rows (seeds 001, 003)', async () => {
      await expectError(sdk().call('ModifyDedicatedHostAutoReleaseTime', { RegionId: REGION, AutoReleaseTime: await soon() }),
        { code: 'MissingParameter', status: 400, message: 'DedicatedHostId should not be null.' });
      await expectError(sdk().call('ModifyDedicatedHostAutoReleaseTime', { RegionId: REGION, DedicatedHostId: 'dh-doesnotexist00', AutoReleaseTime: await soon() }),
        { code: 'NoSuchResource', status: 404 });
      const [pre] = await allocateHosts(sdk(), { ChargeType: 'PrePaid', Period: 1, PeriodUnit: 'Month' });
      await expectError(sdk().call('ModifyDedicatedHostAutoReleaseTime', { RegionId: REGION, DedicatedHostId: pre, AutoReleaseTime: await soon() }),
        { code: 'ChargeTypeViolation', status: 403 });
      const [host] = await allocateHosts(sdk());
      await expectError(sdk().call('ModifyDedicatedHostAutoReleaseTime', { RegionId: REGION, DedicatedHostId: host, AutoReleaseTime: '2031-01-01T00:00Z' }),
        { code: 'InvalidAutoReleaseTime.Malformed', status: 400 });
    });

    test('ModifyInstanceAutoRenewAttribute rows (seed 002), all 403', async () => {
      const call = (p) => sdk().call('ModifyInstanceAutoRenewAttribute', { RegionId: REGION, ...p });
      const [pre] = await runPrepaid(sdk());
      const [post] = await runInstances(sdk());
      await expectError(call({ AutoRenew: true, Duration: 1 }),
        { code: 'MissingParameter.InstanceId', status: 403, message: 'InstanceId should not be null.' });
      const many = Array.from({ length: 101 }, (_, i) => `i-bogus${String(i).padStart(6, '0')}`).join(',');
      await expectError(call({ InstanceId: many, AutoRenew: true, Duration: 1 }),
        { code: 'InvalidParameter.ToManyInstanceIds', status: 403, message: 'InstanceId should be less than 100.' });
      await expectError(call({ InstanceId: 'i-doesnotexist0000', AutoRenew: true, Duration: 1 }),
        { code: 'InvalidParameter.InvalidInstanceId', status: 403 });
      await expectError(call({ InstanceId: post, AutoRenew: true, Duration: 1 }),
        { code: 'ChargeTypeViolation', status: 403, message: 'Pay-As-You-Go instances do not support this operation.' });
      for (const [unit, d] of [['Month', 4], ['Month', 24], ['Year', 4], ['Year', 5]]) {
        await expectError(call({ InstanceId: pre, AutoRenew: true, Duration: d, PeriodUnit: unit }),
          { code: 'InvalidParameter.Duration', status: 403 });
      }
      await expectError(call({ InstanceId: pre, RenewalStatus: 'Sometimes' }),
        { code: 'InvalidParameter.RenewalStatus', status: 403 });
      await expectError(call({ InstanceId: pre, AutoRenew: true, Duration: 1, PeriodUnit: 'Week' }),
        { code: 'InvalidPeriodUnit.ValueNotSupported', status: 403, message: 'The specified parameter PeriodUnit is not valid.' });
    });

    test('DeleteInstance on a subscription is ChargeTypeViolation; DescribeInstances bad Status is InvalidStatus.NotFound', async () => {
      const [pre] = await runPrepaid(sdk());
      await expectError(sdk().call('DeleteInstance', { InstanceId: pre, Force: true }), { code: 'ChargeTypeViolation', status: 403 });
      await expectError(sdk().call('DescribeInstances', { RegionId: REGION, Status: 'Sleeping' }), { code: 'InvalidStatus.NotFound', status: 404 });
      await expectError(sdk().call('DescribeInstances', { RegionId: 'xx-nowhere-9' }), { code: 'InvalidRegionId.NotFound', status: 404 });
    });
  });
}

describe('signatures', () => {
  for (const method of ['GET', 'POST']) {
    test(`pop-core ${method}: wrong secret is SignatureDoesNotMatch (400) with the string to sign`, async () => {
      const sdk = new PopSdk(ctx.server.endpoint, { method, sk: 'not-the-secret' });
      const e = await expectError(sdk.call('DescribeRegions'), { code: 'SignatureDoesNotMatch', status: 400 });
      assert.equal(e.raw.name, 'SignatureDoesNotMatchError', 'pop-core names the error <Code>Error');
      assert.match(e.apiMessage, /string to sign is:.*&%2F&/, `message must echo the V1 string to sign, got ${e.apiMessage}`);
      assert.ok(e.apiMessage.includes(`${method}&%2F&`), `V1 string to sign must start with ${method}&%2F&: ${e.apiMessage}`);
    });
    test(`pop-core ${method}: unknown key is InvalidAccessKeyId.NotFound (404)`, async () => {
      const sdk = new PopSdk(ctx.server.endpoint, { method, ak: 'LTAI-no-such-key-000', sk: 'x' });
      await expectError(sdk.call('DescribeRegions'), { code: 'InvalidAccessKeyId.NotFound', status: 404 });
    });
  }

  test('Tea: wrong secret is a ClientError SignatureDoesNotMatch with statusCode 400', async () => {
    const sdk = new TeaSdk(ctx.server.endpoint, { sk: 'not-the-secret' });
    const e = await expectError(sdk.call('DescribeRegions'), { code: 'SignatureDoesNotMatch', status: 400 });
    assert.equal(e.raw.name, 'ClientError');
    assert.equal(e.raw.statusCode, 400);
    assert.match(e.raw.requestId ?? '', /^[0-9A-F-]{36}$/, 'Tea error carries the RequestId');
  });

  test('Tea: unknown key is InvalidAccessKeyId.NotFound with statusCode 404', async () => {
    const sdk = new TeaSdk(ctx.server.endpoint, { ak: 'LTAI-no-such-key-000', sk: 'x' });
    await expectError(sdk.call('DescribeRegions'), { code: 'InvalidAccessKeyId.NotFound', status: 404 });
  });

  test('a failed signature changes nothing', async () => {
    const good = ctx.sdks.tea;
    const [id] = await runInstances(good);
    const bad = new PopSdk(ctx.server.endpoint, { method: 'POST', sk: 'not-the-secret' });
    await expectError(bad.call('DeleteInstance', { InstanceId: id, Force: true }), { code: 'SignatureDoesNotMatch', status: 400 });
    const r = await good.call('DescribeInstances', { RegionId: REGION, InstanceIds: JSON.stringify([id]) });
    assert.equal(Number(r.TotalCount), 1, 'a badly signed DeleteInstance released the instance');
  });

});
