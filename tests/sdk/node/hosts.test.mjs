// A dedicated host's shape and capacity through each Node SDK (pop-core GET, pop-core POST,
// Tea): what DescribeDedicatedHosts shows before and after instances are placed on it, and
// RunInstances refusing what the host cannot take, creating nothing. The Tea answers are the
// SDK's own models, so a field is checked as the Tea SDK reads it.
//
// ddh.g7 (built in): 2 sockets of 64 vCPUs and 256 GiB each; an instance sits on one socket.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { sharedServer, REGION, allocateHosts, expectError, hostsOf, instancesOf, runInstances } from './harness.mjs';

const ctx = sharedServer();

const host = async (sdk, id, asked = {}) => {
  const resp = await sdk.call('DescribeDedicatedHosts',
    { RegionId: REGION, DedicatedHostIds: JSON.stringify([id]), ...asked });
  const found = hostsOf(resp).filter((h) => h.DedicatedHostId === id);
  assert.equal(found.length, 1, `DescribeDedicatedHosts ${id}: ${JSON.stringify(resp)}`);
  return found[0];
};

const instanceCount = async (sdk) =>
  Number((await sdk.call('DescribeInstances', { RegionId: REGION, PageSize: 100 })).TotalCount);

for (const name of ['pop-core-GET', 'pop-core-POST', 'tea']) {
  describe(`${name}`, () => {
    const sdk = () => ctx.sdks[name];

    test('a host shows its shape, and its capacity less what its instances use', async () => {
      const [hid] = await allocateHosts(sdk(), { DedicatedHostType: 'ddh.g7' });
      const fresh = await host(sdk(), hid);
      assert.equal(Number(fresh.Sockets), 2);
      assert.equal(Number(fresh.Cores), 64);
      assert.equal(Number(fresh.Capacity.TotalVcpus), 128);
      assert.equal(Number(fresh.Capacity.AvailableVcpus), 128);
      assert.equal(Number(fresh.Capacity.TotalMemory), 512);
      assert.deepEqual(fresh.SupportedInstanceTypeFamilies.SupportedInstanceTypeFamily, ['ecs.g7']);

      // 16 vCPUs and 64 GiB each.
      const placed = await runInstances(sdk(), { amount: 2, DedicatedHostId: hid, InstanceType: 'ecs.g7.4xlarge' });
      const used = await host(sdk(), hid, { SocketDetails: true, QueryInventory: true });
      assert.equal(Number(used.Capacity.AvailableVcpus), 128 - 32);
      assert.equal(Number(used.Capacity.AvailableMemory), 512 - 128);
      assert.deepEqual(used.Instances.Instance.map((i) => i.InstanceId).sort(), [...placed].sort());
      const sockets = used.Capacity.SocketCapacities.SocketCapacity;
      assert.equal(sockets.length, 2);
      assert.equal(sockets.reduce((sum, s) => sum + Number(s.AvailableVcpu), 0), 128 - 32);
      const fits = Object.fromEntries(used.Capacity.AvailableInstanceTypes.AvailableInstanceType
        .map((t) => [t.InstanceType, Number(t.AvailableInstanceCapacity)]));
      // Socket 0 has 32 vCPUs left and socket 1 all 64: one more 16xlarge (64 vCPUs) fits.
      assert.equal(fits['ecs.g7.16xlarge'], 1, JSON.stringify(fits));

      // An instance released gives its room back.
      await sdk().call('DeleteInstance', { InstanceId: placed[0], Force: true });
      const after = await host(sdk(), hid);
      assert.equal(Number(after.Capacity.AvailableVcpus), 128 - 16);
    });

    test('RunInstances refuses a full host and an unmatched family, creating nothing', async () => {
      const [hid] = await allocateHosts(sdk(), { DedicatedHostType: 'ddh.g7' });
      await runInstances(sdk(), { amount: 2, DedicatedHostId: hid, InstanceType: 'ecs.g7.16xlarge' });
      const before = await instanceCount(sdk());
      await expectError(sdk().call('RunInstances', {
        RegionId: REGION, ImageId: 'aliyun_3_x64_20G_alibase_20240819.vhd', InstanceType: 'ecs.g7.large',
        DedicatedHostId: hid,
      }), { code: 'LackResource', status: 400 });
      await expectError(sdk().call('RunInstances', {
        RegionId: REGION, ImageId: 'aliyun_3_x64_20G_alibase_20240819.vhd', InstanceType: 'ecs.c7.large',
        DedicatedHostId: (await allocateHosts(sdk(), { DedicatedHostType: 'ddh.g7' }))[0],
      }), { code: 'DedicatedHostType.Unmatched', status: 400 });
      assert.equal(await instanceCount(sdk()), before, 'a refused RunInstances creates nothing');
      const full = await host(sdk(), hid);
      assert.equal(Number(full.Capacity.AvailableVcpus), 0);
      assert.equal(instancesOf({ Instances: full.Instances }).length, 2);
    });
  });
}
