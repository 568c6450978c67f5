// Every operation through each Node SDK: pop-core GET, pop-core POST (form body), Tea (V3).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

import {
  sharedServer, DEFAULT_AK, DEFAULT_SK, REGION, UUID_UPPER, addDays, addHours, addMonths, allocateHosts, describe1,
  describeHost, expectError, floorMinute, fmtIn, fmtOut, hostsOf, instancesOf, lockReasons, parseMinute,
  renewAttr, runInstances, runPrepaid, } from './harness.mjs';

const ctx = sharedServer();

const listed = async (sdk, filters = {}) =>
  instancesOf(await sdk.call('DescribeInstances', { RegionId: REGION, PageSize: 100, ...filters })).map((i) => i.InstanceId);

for (const name of ['pop-core-GET', 'pop-core-POST', 'tea']) {
  describe(`${name}`, () => {
    const sdk = () => ctx.sdks[name];

    test('DescribeRegions lists the built-in regions with a fresh upper-case RequestId', async () => {
      const a = await sdk().call('DescribeRegions');
      const b = await sdk().call('DescribeRegions');
      const ids = new Set(a.Regions.Region.map((r) => r.RegionId));
      for (const r of ['cn-hangzhou', 'cn-shanghai', 'cn-beijing', 'ap-southeast-1', 'us-west-1']) {
        assert.ok(ids.has(r), `DescribeRegions: ${r} missing from ${[...ids]}`);
      }
      assert.match(a.RequestId, UUID_UPPER);
      assert.notEqual(a.RequestId, b.RequestId, 'RequestId must be fresh per answer');
    });

    test('RunInstances (Amount) creates Running pay-as-you-go instances that DescribeInstances lists', async () => {
      const ids = await runInstances(sdk(), { amount: 2, InstanceType: 'ecs.c7.xlarge' });
      assert.equal(new Set(ids).size, 2);
      const resp = await sdk().call('DescribeInstances', { RegionId: REGION, InstanceIds: JSON.stringify(ids) });
      assert.equal(Number(resp.TotalCount), 2);
      for (const inst of instancesOf(resp)) {
        assert.deepEqual(
          { Status: inst.Status, InstanceChargeType: inst.InstanceChargeType, InstanceType: inst.InstanceType,
            AutoReleaseTime: inst.AutoReleaseTime, DeletionProtection: inst.DeletionProtection, locks: lockReasons(inst) },
          { Status: 'Running', InstanceChargeType: 'PostPaid', InstanceType: 'ecs.c7.xlarge',
            AutoReleaseTime: '', DeletionProtection: false, locks: [] },
        );
        parseMinute(inst.CreationTime);
      }
    });

    test('RunInstances with AutoReleaseTime and DeletionProtection', async () => {
      const when = new Date(floorMinute(addDays(await ctx.admin.now(), 1)).getTime() + 17_000);
      const [id] = await runInstances(sdk(), { AutoReleaseTime: fmtIn(when), DeletionProtection: true });
      const inst = await describe1(sdk(), id);
      assert.equal(inst.AutoReleaseTime, fmtOut(when), 'AutoReleaseTime shown to the minute');
      assert.equal(inst.DeletionProtection, true);
    });

    test('RunInstances ClientToken is idempotent; DryRun creates nothing', async () => {
      const token = `tok-${name}-${Date.now()}`;
      const a = await runInstances(sdk(), { ClientToken: token });
      const b = await runInstances(sdk(), { ClientToken: token });
      assert.deepEqual(b, a, 'same ClientToken must answer the same instance');
      await expectError(runInstances(sdk(), { DryRun: true }), { code: 'DryRunOperation', status: 400 });
      assert.deepEqual(await listed(sdk()), a);
    });

    test('RunInstances PrePaid with Period sets ExpiredTime; auto-renew attribute round-trips', async () => {
      const start = await ctx.admin.now();
      const [id] = await runPrepaid(sdk(), { months: 1, AutoRenew: true, AutoRenewPeriod: 1 });
      const inst = await describe1(sdk(), id);
      assert.equal(inst.InstanceChargeType, 'PrePaid');
      const exp = parseMinute(inst.ExpiredTime);
      const low = floorMinute(addMonths(start, 1));
      assert.ok(exp >= low && exp <= addDays(low, 1), `ExpiredTime ${inst.ExpiredTime}: expected about ${fmtOut(low)}`);
      let row = await renewAttr(sdk(), id);
      assert.deepEqual([row.RenewalStatus, row.AutoRenewEnabled, Number(row.Duration)], ['AutoRenewal', true, 1]);

      await sdk().call('ModifyInstanceAutoRenewAttribute', { RegionId: REGION, InstanceId: id, AutoRenew: true, Duration: 2, PeriodUnit: 'Year' });
      row = await renewAttr(sdk(), id);
      assert.deepEqual([row.RenewalStatus, row.AutoRenewEnabled, Number(row.Duration), row.PeriodUnit], ['AutoRenewal', true, 2, 'Year']);

      await sdk().call('ModifyInstanceAutoRenewAttribute', { RegionId: REGION, InstanceId: id, RenewalStatus: 'NotRenewal' });
      row = await renewAttr(sdk(), id);
      assert.deepEqual([row.RenewalStatus, row.AutoRenewEnabled], ['NotRenewal', false]);
    });

    test('ModifyInstanceAutoReleaseTime sets (to the minute), replaces and cancels', async () => {
      const [id] = await runInstances(sdk());
      const now = await ctx.admin.now();
      const t1 = new Date(floorMinute(addHours(now, 3)).getTime() + 59_000);
      await sdk().call('ModifyInstanceAutoReleaseTime', { RegionId: REGION, InstanceId: id, AutoReleaseTime: fmtIn(t1) });
      assert.equal((await describe1(sdk(), id)).AutoReleaseTime, fmtOut(t1));
      const t2 = addDays(now, 2);
      await sdk().call('ModifyInstanceAutoReleaseTime', { RegionId: REGION, InstanceId: id, AutoReleaseTime: fmtIn(t2) });
      assert.equal((await describe1(sdk(), id)).AutoReleaseTime, fmtOut(t2), 'latest setting wins');
      await sdk().call('ModifyInstanceAutoReleaseTime', { RegionId: REGION, InstanceId: id });
      assert.equal((await describe1(sdk(), id)).AutoReleaseTime, '', 'omitted AutoReleaseTime cancels');
    });

    test('StopInstance / StartInstance change Status', async () => {
      const [id] = await runInstances(sdk());
      await sdk().call('StopInstance', { InstanceId: id });
      assert.equal((await describe1(sdk(), id)).Status, 'Stopped');
      await expectError(sdk().call('StopInstance', { InstanceId: id }), { code: 'IncorrectInstanceStatus', status: 403 });
      await sdk().call('StartInstance', { InstanceId: id });
      assert.equal((await describe1(sdk(), id)).Status, 'Running');
    });

    test('ModifyInstanceAttribute DeletionProtection guards DeleteInstance', async () => {
      const [id] = await runInstances(sdk());
      await sdk().call('ModifyInstanceAttribute', { InstanceId: id, DeletionProtection: true });
      assert.equal((await describe1(sdk(), id)).DeletionProtection, true);
      await expectError(sdk().call('DeleteInstance', { InstanceId: id, Force: true }),
        { code: 'InvalidOperation.DeletionProtection', status: 403 });
      assert.ok(await describe1(sdk(), id), 'protected instance was released');
      await sdk().call('ModifyInstanceAttribute', { InstanceId: id, DeletionProtection: false });
      await sdk().call('DeleteInstance', { InstanceId: id, Force: true });
      assert.equal(await describe1(sdk(), id), null);
    });

    test('DeleteInstance: Running needs Force; unknown id is InvalidInstanceId.NotFound', async () => {
      const [id] = await runInstances(sdk());
      await expectError(sdk().call('DeleteInstance', { InstanceId: id }), { code: 'IncorrectInstanceStatus', status: 403 });
      await sdk().call('DeleteInstance', { InstanceId: id, Force: true });
      assert.equal(await describe1(sdk(), id), null);
      await expectError(sdk().call('DeleteInstance', { InstanceId: id, Force: true }), { code: 'InvalidInstanceId.NotFound', status: 404 });
    });

    test('DeleteInstances releases a batch (InstanceId.N); DryRun releases nothing', async () => {
      const ids = await runInstances(sdk(), { amount: 3 });
      // DeleteInstances' SDK model names DRYRUN.SUCCESS (DeleteInstance's dry run is DryRunOperation)
      await expectError(sdk().call('DeleteInstances', { RegionId: REGION, InstanceId: ids, Force: true, DryRun: true }),
        { code: 'DRYRUN.SUCCESS', status: 400 });
      assert.equal((await listed(sdk())).length, 3, 'DryRun released instances');
      await sdk().call('DeleteInstances', { RegionId: REGION, InstanceId: ids.slice(0, 2), Force: true });
      assert.deepEqual(await listed(sdk()), [ids[2]]);
    });

    test('DescribeInstances filters (charge type, status) and pages (PageNumber/PageSize, NextToken/MaxResults)', async () => {
      const post = await runInstances(sdk(), { amount: 5 });
      const [pre] = await runPrepaid(sdk());
      await sdk().call('StopInstance', { InstanceId: post[0] });
      assert.deepEqual(await listed(sdk(), { InstanceChargeType: 'PrePaid' }), [pre]);
      assert.deepEqual(await listed(sdk(), { Status: 'Stopped' }), [post[0]]);
      assert.deepEqual(await listed(sdk(), { InstanceIds: '[]' }), []);

      const pages = [];
      for (const n of [1, 2, 3]) {
        const r = await sdk().call('DescribeInstances', { RegionId: REGION, PageNumber: n, PageSize: 2 });
        assert.equal(Number(r.TotalCount), 6);
        pages.push(...instancesOf(r).map((i) => i.InstanceId));
      }
      assert.deepEqual([...pages].sort(), [...post, pre].sort(), 'PageNumber/PageSize pages must cover each instance once');

      const seen = [];
      let token;
      for (let calls = 0; ; calls++) {
        assert.ok(calls < 10, 'NextToken paging does not end');
        const r = await sdk().call('DescribeInstances', { RegionId: REGION, MaxResults: 4, NextToken: token });
        seen.push(...instancesOf(r).map((i) => i.InstanceId));
        token = r.NextToken || undefined;
        if (!token) break;
      }
      assert.deepEqual([...seen].sort(), [...post, pre].sort(), 'NextToken pages must cover each instance once');
    });

    test('AllocateDedicatedHosts / DescribeDedicatedHosts / ModifyDedicatedHostAutoReleaseTime / ReleaseDedicatedHost', async () => {
      const ids = await allocateHosts(sdk(), { quantity: 2, DedicatedHostType: 'ddh.c7' });
      const host = await describeHost(sdk(), ids[0]);
      assert.deepEqual(
        { t: host.DedicatedHostType, c: host.ChargeType, s: host.Status, a: host.AutoReleaseTime },
        { t: 'ddh.c7', c: 'PostPaid', s: 'Available', a: '' });
      const when = addDays(await ctx.admin.now(), 1);
      await sdk().call('ModifyDedicatedHostAutoReleaseTime', { RegionId: REGION, DedicatedHostId: ids[0], AutoReleaseTime: fmtIn(when) });
      assert.equal((await describeHost(sdk(), ids[0])).AutoReleaseTime, fmtOut(when));
      await sdk().call('ModifyDedicatedHostAutoReleaseTime', { RegionId: REGION, DedicatedHostId: ids[0] });
      assert.equal((await describeHost(sdk(), ids[0])).AutoReleaseTime, '');
      await sdk().call('ReleaseDedicatedHost', { RegionId: REGION, DedicatedHostId: ids[0] });
      const left = hostsOf(await sdk().call('DescribeDedicatedHosts', { RegionId: REGION })).map((h) => h.DedicatedHostId);
      assert.deepEqual(left, [ids[1]]);
      await expectError(sdk().call('ReleaseDedicatedHost', { RegionId: REGION, DedicatedHostId: ids[0] }),
        { code: 'InvalidDedicatedHostId.NotFound', status: 404 });
    });
  });
}

test('pop-core sees the HTTP status of a success answer as 200 (verbose mode)', async () => {
  const { RPCClient } = createRequire(import.meta.url)('@alicloud/pop-core');
  const client = new RPCClient({ accessKeyId: DEFAULT_AK, accessKeySecret: DEFAULT_SK,
    endpoint: ctx.server.baseUrl, apiVersion: '2014-05-26' }, true);
  const [json, entry] = await client.request('DescribeRegions', {});
  assert.equal(entry.response.statusCode, 200);
  assert.ok(!('Code' in json), 'a success answer must not carry Code (pop-core would throw)');
});
