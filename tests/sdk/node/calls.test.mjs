// RebootInstance, DescribeInstanceStatus and DescribeInstanceAttribute through each Node SDK.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  sharedServer, DEFAULT_AK, REGION, describe1, expectError, parseMinute, runInstances, runPrepaid,
} from './harness.mjs';

const ctx = sharedServer();

for (const name of ['pop-core-GET', 'pop-core-POST', 'tea']) {
  describe(`${name} power and reads`, () => {
    const sdk = () => ctx.sdks[name];

    test('RebootInstance restarts a running instance and refuses a stopped one', async () => {
      const [id] = await runInstances(sdk());
      await sdk().call('RebootInstance', { InstanceId: id, ForceStop: true });
      assert.equal((await describe1(sdk(), id)).Status, 'Running');
      await sdk().call('StopInstance', { InstanceId: id });
      await expectError(sdk().call('RebootInstance', { InstanceId: id }),
        { code: 'IncorrectInstanceStatus', status: 403 });
      await expectError(sdk().call('RebootInstance', { InstanceId: 'i-doesnotexist0000' }),
        { code: 'InvalidInstanceId.NotFound', status: 404, message: 'The specified InstanceId does not exist.' });
    });

    test('DescribeInstanceStatus and DescribeInstanceAttribute', async () => {
      const ids = await runInstances(sdk(), { amount: 2, InstanceName: 'node-web' });
      await sdk().call('StopInstance', { InstanceId: ids[1] });
      const ask = name === 'tea' ? { InstanceId: [ids[1]] } : { 'InstanceId.1': ids[1] };
      const got = await sdk().call('DescribeInstanceStatus', { RegionId: REGION, ...ask });
      assert.deepEqual(got.InstanceStatuses.InstanceStatus.map((s) => [s.InstanceId, s.Status]), [[ids[1], 'Stopped']]);
      const all = await sdk().call('DescribeInstanceStatus', { RegionId: REGION });
      assert.equal(all.TotalCount, 2);
      const attr = await sdk().call('DescribeInstanceAttribute', { InstanceId: ids[0] });
      assert.deepEqual([attr.InstanceId, attr.InstanceName, attr.Status], [ids[0], 'node-web', 'Running']);
      await expectError(sdk().call('DescribeInstanceAttribute', { InstanceId: 'i-doesnotexist0000' }),
        { code: 'InvalidInstanceId.NotFound', status: 404 });
    });

    test('CreateInstance, DescribeUserData and spot settings', async () => {
      const userData = Buffer.from('#!/bin/sh\necho hi\n').toString('base64');
      const created = await sdk().call('CreateInstance', {
        RegionId: REGION, ImageId: 'aliyun_3_x64_20G_alibase_20240819.vhd', InstanceType: 'ecs.g7.large',
        UserData: userData, SpotStrategy: 'SpotAsPriceGo',
      });
      const id = created.InstanceId;
      const inst = await describe1(sdk(), id);
      assert.deepEqual([inst.Status, inst.SpotStrategy, inst.SpotDuration], ['Stopped', 'SpotAsPriceGo', 1]);
      await sdk().call('StartInstance', { InstanceId: id });
      assert.equal((await describe1(sdk(), id)).Status, 'Running');
      const got = await sdk().call('DescribeUserData', { RegionId: REGION, InstanceId: id });
      assert.equal(got.UserData, userData);
      await expectError(sdk().call('CreateInstance', {
        RegionId: REGION, ImageId: 'aliyun_3_x64_20G_alibase_20240819.vhd', InstanceType: 'ecs.g7.large',
        SpotStrategy: 'SpotWithPriceLimit',
      }), { code: 'InvalidSpotPriceLimit', status: 400 });
      await sdk().call('DeleteInstance', { InstanceId: id, Force: true });
      assert.equal(await describe1(sdk(), id), null);
    });

    test('RenewInstance and ModifyInstanceChargeType (seed 004)', async () => {
      await ctx.admin.setBalance(DEFAULT_AK, '100');
      const [pre] = await runPrepaid(sdk());
      const before = parseMinute((await describe1(sdk(), pre)).ExpiredTime);
      const renewed = await sdk().call('RenewInstance', { InstanceId: pre, Period: 1 });
      assert.ok(renewed.OrderId);
      assert.ok(parseMinute((await describe1(sdk(), pre)).ExpiredTime) > before);
      assert.equal(await ctx.admin.balance(DEFAULT_AK), 76);
      await expectError(sdk().call('RenewInstance', { InstanceId: pre, Period: 10 }), { code: 'InvalidPeriod', status: 400 });
      // Converted to pay-as-you-go, the subscription is released by hand before it expires.
      const converted = await sdk().call('ModifyInstanceChargeType',
        { RegionId: REGION, InstanceIds: JSON.stringify([pre]), InstanceChargeType: 'PostPaid' });
      assert.deepEqual(converted.FeeOfInstances.FeeOfInstance.map((f) => f.InstanceId), [pre]);
      assert.equal((await describe1(sdk(), pre)).InstanceChargeType, 'PostPaid');
      await sdk().call('DeleteInstance', { InstanceId: pre, Force: true });
      assert.equal(await describe1(sdk(), pre), null);
      await ctx.admin.setBalance(DEFAULT_AK, '0');
      const [post] = await runInstances(sdk());
      await expectError(sdk().call('ModifyInstanceChargeType', { RegionId: REGION, InstanceIds: JSON.stringify([post]), Period: 1 }),
        { code: 'InvalidAccountStatus.NotEnoughBalance', status: 403 });
    });
  });
}

test('an interrupted spot instance is locked recycling and released after five minutes', async () => {
  const sdk = ctx.sdks.tea;
  const [id] = await runInstances(sdk, { SpotStrategy: 'SpotWithPriceLimit', SpotPriceLimit: 0.5 });
  const got = await ctx.admin.request('POST', `/admin/accounts/${DEFAULT_AK}/instances/${id}/interrupt`);
  assert.equal(got.lock_reason, 'recycling');
  const inst = await describe1(sdk, id);
  assert.deepEqual(inst.OperationLocks.LockReason.map((l) => l.LockReason), ['recycling']);
  await ctx.admin.advance(4 * 60);
  assert.notEqual(await describe1(sdk, id), null);
  await ctx.admin.advance(60);
  assert.equal(await describe1(sdk, id), null);
});

for (const name of ['pop-core-GET', 'pop-core-POST', 'tea']) {
  test(`${name}: disks are listed and a kept data disk outlives its instance`, async () => {
    const sdk = ctx.sdks[name];
    const Ecs = (await import('node:module')).createRequire(import.meta.url)('@alicloud/ecs20140526');
    const data = name === 'tea'
      ? { DataDisk: [new Ecs.RunInstancesRequestDataDisk({ size: 100, deleteWithInstance: false })] }
      : { 'DataDisk.1.Size': 100, 'DataDisk.1.DeleteWithInstance': false };
    const [id] = await runInstances(sdk, data);
    const list = async (p = {}) => (await sdk.call('DescribeDisks', { RegionId: REGION, ...p })).Disks.Disk;
    const mine = await list({ InstanceId: id });
    assert.deepEqual(mine.map((d) => [d.Type, d.Size, d.Status]), [['system', 40, 'In_use'], ['data', 100, 'In_use']]);
    await sdk.call('DeleteInstance', { InstanceId: id, Force: true });
    const left = await list();
    assert.deepEqual(left.map((d) => [d.DiskId, d.Status, d.InstanceId]), [[mine[1].DiskId, 'Available', '']]);
  });
}
