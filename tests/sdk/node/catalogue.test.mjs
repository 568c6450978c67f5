// The catalogue through each Node SDK: DescribeZones, DescribeInstanceTypes, DescribeImages, and
// RunInstances' ImageId checked against it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { sharedServer, IMAGE, REGION, expectError, runInstances } from './harness.mjs';

const ctx = sharedServer();
const WINDOWS = 'win2022_21H2_x64_dtc_en-us_40G_alibase_20240816.vhd';

for (const name of ['pop-core-GET', 'pop-core-POST', 'tea']) {
  describe(`${name} catalogue`, () => {
    const sdk = () => ctx.sdks[name];
    // pop-core takes repeat lists flattened; Tea takes an array.
    const list = (wire, items) => (name === 'tea'
      ? { [wire]: items }
      : Object.fromEntries(items.map((v, i) => [`${wire}.${i + 1}`, v])));

    test('DescribeZones lists the zones of the region', async () => {
      const zones = (await sdk().call('DescribeZones', { RegionId: REGION })).Zones.Zone;
      assert.deepEqual(zones.map((z) => z.ZoneId), ['cn-hangzhou-h', 'cn-hangzhou-i', 'cn-hangzhou-j', 'cn-hangzhou-k']);
      assert.ok(zones[0].AvailableInstanceTypes.InstanceTypes.includes('ecs.g7.large'));
      await expectError(sdk().call('DescribeZones', { RegionId: 'xx-nowhere-1' }),
        { code: 'InvalidRegionId.NotFound', status: 404 });
    });

    test('DescribeInstanceTypes by id', async () => {
      const got = await sdk().call('DescribeInstanceTypes', list('InstanceTypes', ['ecs.g7.large', 'ecs.c7.xlarge']));
      const types = got.InstanceTypes.InstanceType.map((t) => [t.InstanceTypeId, t.CpuCoreCount, t.MemorySize]);
      assert.deepEqual(types, [['ecs.g7.large', 2, 8], ['ecs.c7.xlarge', 4, 8]]);
      await expectError(sdk().call('DescribeInstanceTypes', { MaxResults: 0 }), { code: 'InvalidParameter', status: 400 });
    });

    test('DescribeImages and the ImageId check of RunInstances', async () => {
      const one = (await sdk().call('DescribeImages', { RegionId: REGION, ImageId: WINDOWS })).Images.Image;
      assert.deepEqual(one.map((i) => [i.ImageId, i.OSType, i.Size]), [[WINDOWS, 'windows', 40]]);
      const all = await sdk().call('DescribeImages', { RegionId: REGION, PageSize: 50 });
      assert.ok(all.Images.Image.some((i) => i.ImageId === IMAGE));
      await expectError(sdk().call('DescribeImages', { RegionId: REGION, OSType: 'beos' }),
        { code: 'InvalidOSType.ValueNotSupported', status: 400 });
      await expectError(runInstances(sdk(), { ImageId: 'm-doesnotexist' }),
        { code: 'InvalidImageId.NotFound', status: 404, message: 'The specified ImageId does not exist.' });
      assert.equal((await runInstances(sdk(), { ImageId: WINDOWS })).length, 1);
    });
  });
}
