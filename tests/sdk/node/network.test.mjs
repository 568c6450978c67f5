// Filters, addresses and RunInstances settings through each Node SDK: pop-core GET, pop-core
// POST (form body), Tea (V3). The Tea answers are the SDK's own models (`toMap()` of the typed
// body), so a field the model reads is checked as the SDK sees it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { sharedServer, REGION, describe1, expectError, instancesOf, runInstances } from './harness.mjs';

const ctx = sharedServer();

const listed = async (sdk, filters = {}) => {
  const resp = await sdk.call('DescribeInstances', { RegionId: REGION, PageSize: 100, ...filters });
  const ids = instancesOf(resp).map((i) => i.InstanceId).sort();
  assert.equal(Number(resp.TotalCount), ids.length, `TotalCount for ${JSON.stringify(filters)}`);
  return ids;
};

for (const name of ['pop-core-GET', 'pop-core-POST', 'tea']) {
  describe(`${name}`, () => {
    const sdk = () => ctx.sdks[name];

    test('every address container is present; the first private address is reachable', async () => {
      const [withBw] = await runInstances(sdk(), { InternetMaxBandwidthOut: 10, ZoneId: `${REGION}-i` });
      const [without] = await runInstances(sdk(), { ZoneId: `${REGION}-j` });
      const a = await describe1(sdk(), withBw);
      const b = await describe1(sdk(), without);
      for (const inst of [a, b]) {
        assert.match(inst.VpcAttributes.PrivateIpAddress.IpAddress[0], /^172\.\d+\.\d+\.\d+$/);
        assert.match(inst.VpcAttributes.VpcId, /^vpc-/);
        assert.ok(Array.isArray(inst.PublicIpAddress.IpAddress));
        assert.ok(Array.isArray(inst.InnerIpAddress.IpAddress));
        assert.equal(inst.EipAddress.IpAddress, '');
        assert.equal(inst.NetworkInterfaces.NetworkInterface[0].PrimaryIpAddress,
          inst.VpcAttributes.PrivateIpAddress.IpAddress[0]);
      }
      assert.equal(a.PublicIpAddress.IpAddress.length, 1, 'a public address with bandwidth');
      assert.deepEqual(b.PublicIpAddress.IpAddress, [], 'none without');
    });

    test('filters narrow exactly; a VPC that is not the instances\' lists none', async () => {
      const [a] = await runInstances(sdk(), { InstanceType: 'ecs.g7.large', KeyPairName: 'kp-a', ZoneId: `${REGION}-i` });
      const [b] = await runInstances(sdk(), { InstanceType: 'ecs.c7.xlarge', ZoneId: `${REGION}-j` });
      const ia = await describe1(sdk(), a);
      assert.deepEqual(await listed(sdk(), { VpcId: ia.VpcAttributes.VpcId }), [a, b].sort());
      assert.deepEqual(await listed(sdk(), { VpcId: 'vpc-someone-else' }), []);
      assert.deepEqual(await listed(sdk(), { VSwitchId: ia.VpcAttributes.VSwitchId }), [a]);
      assert.deepEqual(await listed(sdk(), { InstanceType: 'ecs.c7.xlarge' }), [b]);
      assert.deepEqual(await listed(sdk(), { InstanceTypeFamily: 'ecs.g7' }), [a]);
      assert.deepEqual(await listed(sdk(), { KeyPairName: 'kp-a' }), [a]);
      assert.deepEqual(await listed(sdk(), { SecurityGroupId: 'sg-other' }), []);
      assert.deepEqual(await listed(sdk(), {
        PrivateIpAddresses: JSON.stringify(ia.VpcAttributes.PrivateIpAddress.IpAddress) }), [a]);
      assert.deepEqual(await listed(sdk(), { InstanceNetworkType: 'classic' }), []);
      await expectError(sdk().call('DescribeInstances', { RegionId: REGION, InternetChargeType: 'Free' }),
        { code: 'InvalidParameter', status: 400 });
    });

    test('RunInstances: name placeholders, and ECS\'s checks of its settings', async () => {
      const ids = await runInstances(sdk(), { amount: 3, InstanceName: 'web-[1,4]' });
      const names = [];
      for (const id of ids) names.push((await describe1(sdk(), id)).InstanceName);
      assert.deepEqual(names.sort(), ['web-0001', 'web-0002', 'web-0003']);
      await expectError(runInstances(sdk(), { PrivateIpAddress: '999.1.1.1' }),
        { code: 'InvalidPrivateIpAddress.Malformed', status: 400 });
      await expectError(runInstances(sdk(), { InternetMaxBandwidthOut: 99999 }),
        { code: 'InvalidParameter', status: 400 });
      await expectError(runInstances(sdk(), { Password: 'weak' }),
        { code: 'InvalidPassword.Malformed', status: 400 });
      assert.deepEqual(await listed(sdk()), [...ids].sort(), 'refused calls created nothing');
    });
  });
}
