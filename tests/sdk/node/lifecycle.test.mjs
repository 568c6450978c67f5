// Lifecycle through the Node SDKs with the virtual clock: nothing sleeps, the clock is advanced.
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  Admin, DEFAULT_AK, REGION, addDays, addHours, addMinutes, addMonths, allocateHosts, describe1, describeHost,
  expectError, floorMinute, fmtIn, fmtOut, lockReasons, parseMinute, PopSdk, runInstances, runPrepaid,
  startServer, TeaSdk,
} from './harness.mjs';

const ctx = {};
before(async () => {
  ctx.server = await startServer();
  ctx.admin = new Admin(ctx.server);
  ctx.tea = new TeaSdk(ctx.server.endpoint);
  ctx.pop = new PopSdk(ctx.server.endpoint, { method: 'POST' });
});
after(async () => { await ctx.server?.stop(); });
beforeEach(async () => { await ctx.admin.reset(); });

/** 08:00 UTC+8 on the UTC+8 day nine days before the expiry day (= 00:00 UTC that day). */
function renewalTime(expired) {
  const beijing = new Date(expired.getTime() + 8 * 3600_000);
  return new Date(Date.UTC(beijing.getUTCFullYear(), beijing.getUTCMonth(), beijing.getUTCDate() - 9));
}

async function gotoNextUtcHour(hour) {
  const now = await ctx.admin.now();
  let t = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), hour));
  if (t <= now) t = addDays(t, 1);
  await ctx.admin.advanceTo(t);
}

for (const which of ['tea', 'pop']) {
  test(`${which}: instance is released at its AutoReleaseTime minute, not a second before`, async () => {
    const sdk = ctx[which];
    const [id, keep] = await runInstances(sdk, { amount: 2 });
    const minute = floorMinute(addHours(await ctx.admin.now(), 2));
    await sdk.call('ModifyInstanceAutoReleaseTime', { RegionId: REGION, InstanceId: id, AutoReleaseTime: fmtIn(new Date(minute.getTime() + 30_000)) });
    await ctx.admin.advanceUntilJustBefore(minute);
    assert.ok(await describe1(sdk, id), `released before ${fmtOut(minute)}`);
    const resp = await ctx.admin.advance(1);
    assert.ok(new Date(resp.now) >= minute);
    assert.equal(await describe1(sdk, id), null, `still listed at ${fmtOut(minute)}`);
    assert.ok(await describe1(sdk, keep), 'the instance without auto-release was released');
    assert.ok(Array.isArray(resp.actions) && resp.actions.some((a) => JSON.stringify(a).includes(id)),
      `advance answer must list the release of ${id}: ${JSON.stringify(resp)}`);
  });
}

test('cancelled auto-release does not happen; DeletionProtection does not block auto-release', async () => {
  const sdk = ctx.pop;
  const [cancelled, guarded] = await runInstances(sdk, { amount: 2 });
  await sdk.call('ModifyInstanceAttribute', { InstanceId: guarded, DeletionProtection: true });
  const when = floorMinute(addHours(await ctx.admin.now(), 1));
  for (const id of [cancelled, guarded]) {
    await sdk.call('ModifyInstanceAutoReleaseTime', { RegionId: REGION, InstanceId: id, AutoReleaseTime: fmtIn(when) });
  }
  await sdk.call('ModifyInstanceAutoReleaseTime', { RegionId: REGION, InstanceId: cancelled });
  await ctx.admin.advanceTo(addHours(when, 1));
  assert.ok(await describe1(sdk, cancelled), 'cancelled auto-release still released');
  assert.equal(await describe1(sdk, guarded), null, 'DeletionProtection blocked auto-release');
});

test('dedicated host is released at its AutoReleaseTime', async () => {
  const sdk = ctx.tea;
  const [host] = await allocateHosts(sdk);
  const minute = floorMinute(addHours(await ctx.admin.now(), 5));
  await sdk.call('ModifyDedicatedHostAutoReleaseTime', { RegionId: REGION, DedicatedHostId: host, AutoReleaseTime: fmtIn(minute) });
  await ctx.admin.advanceUntilJustBefore(minute);
  assert.ok(await describeHost(sdk, host), 'host released early');
  await ctx.admin.advance(1);
  assert.equal(await describeHost(sdk, host), null, 'host not released at its time');
});

test('auto-renewal charges the balance and extends ExpiredTime by Duration months', async () => {
  const sdk = ctx.tea;
  await gotoNextUtcHour(20);
  await ctx.admin.setBalance(DEFAULT_AK, '1000000');
  const [id] = await runPrepaid(sdk, { months: 1, AutoRenew: true, AutoRenewPeriod: 1 });
  await sdk.call('ModifyInstanceAutoRenewAttribute', { RegionId: REGION, InstanceId: id, AutoRenew: true, Duration: 3, PeriodUnit: 'Month' });
  const expired = parseMinute((await describe1(sdk, id)).ExpiredTime);
  const due = renewalTime(expired);
  const b0 = await ctx.admin.balance(DEFAULT_AK);
  await ctx.admin.advanceTo(addMinutes(due, -1));
  assert.equal(await ctx.admin.balance(DEFAULT_AK), b0, 'charged before 08:00 UTC+8 nine days before expiry');
  await ctx.admin.advanceTo(due);
  assert.ok(await ctx.admin.balance(DEFAULT_AK) < b0, 'not charged at the renewal time');
  const inst = await describe1(sdk, id);
  assert.deepEqual([inst.Status, inst.ExpiredTime, lockReasons(inst)], ['Running', fmtOut(addMonths(expired, 3)), []]);
});

test('unpaid subscription stops with a financial lock at expiry and is released after 15 days', async () => {
  const sdk = ctx.pop;
  await gotoNextUtcHour(20);
  await ctx.admin.setBalance(DEFAULT_AK, '0');
  const [id] = await runPrepaid(sdk, { months: 1, AutoRenew: true, AutoRenewPeriod: 1 });
  const expired = parseMinute((await describe1(sdk, id)).ExpiredTime);
  await ctx.admin.advanceTo(addMinutes(expired, -1));
  let inst = await describe1(sdk, id);
  assert.deepEqual([inst.Status, lockReasons(inst)], ['Running', []], 'changed before expiry');
  await ctx.admin.advanceTo(expired);
  inst = await describe1(sdk, id);
  assert.ok(inst, 'released at expiry instead of after the grace period');
  assert.equal(inst.Status, 'Stopped');
  assert.ok(lockReasons(inst).includes('financial'), `expected a financial lock, got ${JSON.stringify(inst.OperationLocks)}`);
  await expectError(sdk.call('StartInstance', { InstanceId: id }), { code: 'InstanceExpired', status: 403 });
  await ctx.admin.advanceTo(addMinutes(addDays(expired, 15), -1));
  assert.ok(await describe1(sdk, id), 'released before the grace period ended');
  await ctx.admin.advanceTo(addDays(expired, 15));
  assert.equal(await describe1(sdk, id), null, 'not released when the grace period ended');
});
