// The web console in headless Chromium against a real `ecsd serve --clock virtual`: seed 004's
// release settings (one instance and a selection; release now and scheduled release on and
// off), the emulator panel, sign-in and sign-out, CSRF, dedicated hosts, JavaScript off, a
// phone-sized screen. Every page visited is saved as a screenshot in target/console-screenshots.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  ADMIN_TOKEN, Admin, Api, REGION, createAccount, localInput, localText, openBrowser,
  screenshot, startServer, utcText,
} from './harness.mjs';

const TZ = 'Asia/Shanghai';
const floorMinute = (d) => new Date(Math.floor(d.getTime() / 60000) * 60000);
const addMinutes = (d, m) => new Date(d.getTime() + m * 60000);
const apiMinute = (d) => d.toISOString().slice(0, 16) + 'Z';
const apiSecond = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

let server, admin, teamA, teamB, api, apiB, browser, page;
const ids = {};
const scriptErrors = [];

before(async () => {
  server = await startServer();
  admin = new Admin(server);
  teamA = createAccount(server, 'team-a');
  teamB = createAccount(server, 'team-b');
  api = new Api(server, teamA);
  apiB = new Api(server, teamB);
  const now = await admin.now();
  ids.web = await api.run({ Amount: 4, InstanceName: 'web' });
  [ids.db] = await api.run({ InstanceChargeType: 'PrePaid', Period: 1, PeriodUnit: 'Month', InstanceName: 'db' });
  [ids.guarded] = await api.run({ DeletionProtection: true, InstanceName: 'guarded' });
  [ids.keep] = await api.run({ InstanceName: 'keep', AutoReleaseTime: apiSecond(addMinutes(now, 10 * 24 * 60)) });
  [ids.other] = await apiB.run({ InstanceName: 'not-yours' });
  browser = await openBrowser({ timezoneId: TZ });
  page = browser.page;
  page.on('pageerror', (e) => scriptErrors.push(`${page.url()}: ${e.message}`));
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const url = (p) => server.baseUrl + p;
const row = (id) => page.locator(`tr[data-id="${id}"]`);

async function signIn(p, key) {
  await p.fill('#access_key_id', key.id);
  await p.fill('#access_key_secret', key.secret);
  await p.click('form[action="/console/sign-in"] button[type=submit]');
}

/** Every visible form control has a label (or an aria-label); every image an alt. */
async function assertLabelled(p) {
  const unlabelled = await p.evaluate(() => Array.from(document.querySelectorAll('input, select, textarea'))
    .filter((el) => el.type !== 'hidden' && !el.hidden)
    .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
    .map((el) => el.outerHTML));
  assert.deepEqual(unlabelled, [], `controls without a label on ${p.url()}`);
  const noAlt = await p.evaluate(() => Array.from(document.querySelectorAll('img:not([alt])')).map((i) => i.outerHTML));
  assert.deepEqual(noAlt, []);
}

async function chooseScheduled(at) {
  await page.check('input[name="mode"][value="scheduled"]');
  await page.check('#auto');
  await page.fill('#at', at);
}

describe('seed 004 in the console', () => {
  let at; // the scheduled release time chosen for the three

  test('sign-in is asked for, then the account sees its own instances only', async () => {
    await page.goto(url('/console/'));
    assert.match(page.url(), /\/console\/sign-in\?next=/);
    await assertLabelled(page);
    await screenshot(page, '01-sign-in');
    await page.fill('#access_key_id', teamA.id);
    await page.fill('#access_key_secret', 'not-the-secret');
    await page.click('form[action="/console/sign-in"] button[type=submit]');
    await assert.doesNotReject(page.locator('.error[role=alert]').waitFor());
    assert.match(await page.locator('.error').innerText(), /do not match/);
    await screenshot(page, '02-sign-in-refused');
    await signIn(page, teamA);
    assert.match(page.url(), /\/console\/instances$/);
    const cookie = (await browser.context.cookies()).find((c) => c.name === 'ecsd_console');
    assert.ok(cookie, 'a session cookie');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.path, '/console');
    for (const id of [...ids.web, ids.db, ids.guarded, ids.keep]) assert.equal(await row(id).count(), 1, id);
    assert.equal(await row(ids.other).count(), 0, "another account's instance is not listed");
    assert.match(await page.locator('#list-count').innerText(), /^7 instances/);
    await assertLabelled(page);
    await screenshot(page, '03-instances');
  });

  test('filter by billing method: pay-as-you-go', async () => {
    await page.selectOption('#f-charge', 'PostPaid');
    await page.click('form.filters button[type=submit]');
    assert.match(page.url(), /charge=PostPaid/);
    assert.equal(await row(ids.db).count(), 0, 'the subscription is filtered out');
    const charges = await page.locator('tbody td.charge').allInnerTexts();
    assert.equal(charges.length, 6);
    assert.ok(charges.every((c) => c === 'Pay-as-you-go'), charges.join());
    await screenshot(page, '04-instances-pay-as-you-go');
  });

  test('a release time under 30 minutes or over 3 years ahead is refused in the form', async () => {
    for (const id of ids.web.slice(0, 3)) await page.check(`#sel-${id}`);
    assert.equal(await page.locator('#selected-count').innerText(), '3 selected');
    await page.click('.bulk button:has-text("Release settings")');
    assert.match(page.url(), /\/console\/instances\/release\?/);
    assert.match(await page.locator('.lead').innerText(), /3 instances selected/);
    await assertLabelled(page);
    await screenshot(page, '05-release-settings');
    const now = await admin.now();
    await chooseScheduled(localInput(addMinutes(now, 20), TZ));
    await page.click('button:has-text("Next")');
    const error = page.locator('.error[role=alert]');
    assert.match(await error.innerText(), /at least 30 minutes after the cloud's current time/);
    assert.equal(await page.getAttribute('#at', 'aria-invalid'), 'true');
    await screenshot(page, '06-release-settings-too-early');
    await chooseScheduled(localInput(addMinutes(now, 3 * 366 * 24 * 60), TZ));
    await page.click('button:has-text("Next")');
    assert.match(await error.innerText(), /at most 3 years after/);
    for (const id of ids.web.slice(0, 3)) {
      assert.equal((await api.instance(id)).AutoReleaseTime, '', 'a refused form changed nothing');
    }
  });

  test('schedule release two hours ahead for three instances: Next, then Confirm', async () => {
    const now = await admin.now();
    at = floorMinute(addMinutes(now, 120));
    await chooseScheduled(localInput(at, TZ));
    await page.click('button:has-text("Next")');
    assert.match(page.url(), /\/console\/instances\/release$/);
    assert.match(await page.locator('#preview-summary').innerText(), /^3 of 3 instances can be set/);
    for (const id of ids.web.slice(0, 3)) {
      const what = await row(id).locator('td.what').innerText();
      assert.match(what, /Will be released automatically at/);
      assert.ok(what.includes(localText(at, TZ)), `${what} shows ${localText(at, TZ)}`);
      assert.equal(await row(id).locator('time').getAttribute('title'), utcText(at), 'UTC on hover');
    }
    await screenshot(page, '07-release-preview');
    await page.click('button:has-text("Confirm")');
    assert.match(page.url(), /\/console\/result/);
    assert.match(await page.locator('#result-summary').innerText(), /^3 done\./);
    await screenshot(page, '08-release-result');
    for (const id of ids.web.slice(0, 3)) {
      assert.equal((await api.instance(id)).AutoReleaseTime, apiMinute(at), 'the API sees the setting');
    }
  });

  test('the three release times are in the list, in the browser time zone', async () => {
    await page.click('a:has-text("Back to the list")');
    await page.goto(url(`/console/instances?region=${REGION}&charge=PostPaid`));
    for (const id of ids.web.slice(0, 3)) {
      const cell = row(id).locator('td.release');
      const text = await cell.innerText();
      assert.ok(text.startsWith(localText(at, TZ)), `${id}: ${text}`);
      assert.match(text, /in 2 h 0 min|in 1 h 59 min/, 'a countdown to the release');
      assert.equal(await cell.locator('time').getAttribute('title'), utcText(at));
    }
    assert.match(await row(ids.web[3]).locator('td.release').innerText(), /—/);
    await screenshot(page, '09-instances-scheduled');
  });

  test('advance the virtual clock in the panel: the three are released, with events', async () => {
    await page.click('nav.sections a:has-text("Emulator")');
    await page.waitForSelector('#admin_token');
    await assertLabelled(page);
    await screenshot(page, '10-emulator-locked');
    await page.fill('#admin_token', 'wrong');
    await page.click('button:has-text("Unlock")');
    assert.match(await page.locator('.error').innerText(), /not the admin token/);
    await page.fill('#admin_token', ADMIN_TOKEN);
    await page.click('button:has-text("Unlock")');
    await page.fill('#adv-amount', '2');
    await page.selectOption('#adv-unit', 'hours');
    await page.click('button:has-text("Advance"):not(:has-text("instant"))');
    const last = page.locator('#last-advance');
    assert.match(await last.innerText(), /3 actions/);
    for (const id of ids.web.slice(0, 3)) {
      assert.match(await last.innerText(), new RegExp(`${id}\\s+AutoRelease\\s+released`));
      const event = page.locator(`#events tr[data-resource="${id}"]`);
      assert.equal(await event.count(), 1, `an event for ${id}`);
      assert.match(await event.innerText(), /AutoRelease\s+released/);
    }
    await assertLabelled(page);
    await screenshot(page, '11-emulator-advanced');
    const events = (await admin.events()).events.filter((e) => e.action === 'AutoRelease');
    assert.deepEqual(events.map((e) => e.resource_id).sort(), ids.web.slice(0, 3).sort());
  });

  test('the three are gone from the list', async () => {
    await page.goto(url(`/console/instances?region=${REGION}`));
    for (const id of ids.web.slice(0, 3)) assert.equal(await row(id).count(), 0, `${id} is gone`);
    assert.equal(await row(ids.web[3]).count(), 1);
    assert.match(await page.locator('#list-count').innerText(), /^4 instances/);
  });

  test('release now: a subscription and a protected instance are refused, the pay-as-you-go one released', async () => {
    const chosen = [ids.db, ids.guarded, ids.web[3]];
    for (const id of chosen) await page.check(`#sel-${id}`);
    await page.click('.bulk button:has-text("Release settings")');
    await page.check('input[name="mode"][value="now"]');
    assert.equal(await page.isDisabled('#at'), true, 'the time applies to scheduled release only');
    await page.click('button:has-text("Next")');
    assert.match(await page.locator('#preview-summary').innerText(), /^1 of 3 instances can be set this way; 2 cannot/);
    const sub = row(ids.db);
    assert.match(await sub.locator('td.what').innerText(), /Cannot: A subscription instance cannot be released now before it expires/);
    assert.equal(await sub.locator('td.code code').innerText(), 'ChargeTypeViolation');
    const prot = row(ids.guarded);
    assert.match(await prot.locator('td.what').innerText(), /Cannot: Release protection is on/);
    assert.equal(await prot.locator('td.code code').innerText(), 'InvalidOperation.DeletionProtection');
    assert.match(await row(ids.web[3]).locator('td.what').innerText(), /Will be stopped and released now/);
    // Seed 004: the confirm step names the attached resources that go with the instance.
    assert.match(await row(ids.web[3]).locator('td.what').innerText(), /Disks released with it: d-\S+ \(system, /);
    await screenshot(page, '12-release-now-preview');
    await page.click('button:has-text("Confirm")');
    assert.match(await page.locator('#result-summary').innerText(), /^1 done, 2 refused\./);
    assert.equal(await row(ids.db).locator('td.code code').innerText(), 'ChargeTypeViolation');
    assert.equal(await row(ids.guarded).locator('td.code code').innerText(), 'InvalidOperation.DeletionProtection');
    assert.match(await row(ids.web[3]).locator('td.what').innerText(), /Released/);
    await screenshot(page, '13-release-now-result');
    assert.equal(await api.instance(ids.web[3]), null, 'released');
    assert.ok(await api.instance(ids.db), 'the subscription stays');
    assert.ok(await api.instance(ids.guarded), 'the protected one stays');
  });

  test('scheduled release off for one instance, from its row: More → Instance status → Release settings', async () => {
    await page.goto(url(`/console/instances?region=${REGION}`));
    const r = row(ids.keep);
    assert.doesNotMatch(await r.locator('td.release').innerText(), /—/, 'keep has a release time');
    await r.locator('details.menu > summary').click();
    await r.locator('summary:has-text("Instance status")').click();
    await screenshot(page, '14-row-menu');
    await r.locator('a:has-text("Release settings")').click();
    assert.match(await page.locator('.lead').innerText(), /1 instance selected/);
    await page.check('input[name="mode"][value="scheduled"]');
    await page.uncheck('#auto');
    assert.equal(await page.isDisabled('#at'), true);
    await page.click('button:has-text("Next")');
    assert.match(await row(ids.keep).locator('td.what').innerText(), /Scheduled release will be turned off/);
    await screenshot(page, '15-release-off-preview');
    await page.click('button:has-text("Confirm")');
    assert.match(await row(ids.keep).locator('td.what').innerText(), /Scheduled release is off/);
    await page.click('a:has-text("Back to the list")');
    assert.match(await row(ids.keep).locator('td.release').innerText(), /—/, 'cleared in the list');
    assert.equal((await api.instance(ids.keep)).AutoReleaseTime, '', 'cleared for the API');
  });

  test('release protection and renewal settings', async () => {
    await page.check(`#sel-${ids.guarded}`);
    await page.click('.bulk button:has-text("Release protection")');
    await assertLabelled(page);
    await screenshot(page, '16-protection');
    await page.check('input[name="protection"][value="off"]');
    await page.click('button:has-text("Confirm")');
    assert.match(await row(ids.guarded).locator('td.what').innerText(), /Release protection is off/);
    assert.equal((await api.instance(ids.guarded)).DeletionProtection, false);

    await page.goto(url(`/console/instances/renewal?region=${REGION}&id=${ids.db}&id=${ids.guarded}`));
    await assertLabelled(page);
    await screenshot(page, '17-renewal');
    await page.check('input[name="renewal"][value="AutoRenewal"]');
    await page.selectOption('#duration', '3-Month');
    await page.click('button:has-text("Confirm")');
    assert.match(await page.locator('#result-summary').innerText(), /^1 done, 1 refused/);
    assert.match(await row(ids.db).locator('td.what').innerText(), /Auto-renew is on, 3 month/);
    assert.equal(await row(ids.guarded).locator('td.code code').innerText(), 'ChargeTypeViolation');
    await screenshot(page, '18-renewal-result');
    const renew = await api.call('DescribeInstanceAutoRenewAttribute', { InstanceId: ids.db });
    const attr = renew.InstanceRenewAttributes.InstanceRenewAttribute[0];
    assert.equal(attr.RenewalStatus, 'AutoRenewal');
    assert.equal(attr.Duration, 3);
  });

  test('a forged form post without the CSRF token is refused and changes nothing', async () => {
    const before = await api.instance(ids.guarded);
    // With the browser's session cookie (the context's request API sends it): only the token
    // is missing or wrong. (Script on a console page could not even try: the pages' content
    // security policy allows no fetch.)
    const post = async (body) => {
      const r = await browser.context.request.post(url('/console/instances/release/confirm'), {
        headers: { 'content-type': 'application/x-www-form-urlencoded' }, data: body, maxRedirects: 0,
      });
      return { status: r.status(), text: await r.text() };
    };
    const answers = [
      await post(`region=${REGION}&id=${ids.guarded}&mode=now`),
      await post(`region=${REGION}&id=${ids.guarded}&mode=now&csrf=forged`),
    ];
    for (const a of answers) {
      assert.equal(a.status, 403);
      assert.match(a.text, /security token is missing or wrong/);
    }
    assert.deepEqual(await api.instance(ids.guarded), before, 'nothing changed');
    // And from outside the browser, with no cookie at all.
    const r = await fetch(url('/console/instances/release/confirm'), {
      method: 'POST', body: `region=${REGION}&id=${ids.guarded}&mode=now`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual',
    });
    assert.equal(r.status, 403);
    assert.ok(await api.instance(ids.guarded));
  });

  test('sign out, and be refused the page', async () => {
    const session = (await browser.context.cookies()).find((c) => c.name === 'ecsd_console');
    await page.click('header button:has-text("Sign out")');
    assert.match(page.url(), /\/console\/sign-in\?signed_out=1/);
    assert.match(await page.locator('.notice').innerText(), /signed out/);
    await screenshot(page, '19-signed-out');
    await page.goto(url(`/console/instances?region=${REGION}`));
    assert.match(page.url(), /\/console\/sign-in\?next=/, 'the list asks for sign-in again');
    assert.equal(await page.locator('tr[data-id]').count(), 0);
    // The old cookie, sent again, opens nothing.
    const r = await fetch(url('/console/instances'), { headers: { cookie: `ecsd_console=${session.value}` }, redirect: 'manual' });
    assert.equal(r.status, 303);
    assert.match(r.headers.get('location'), /^\/console\/sign-in/);
  });
});

test('the console script raised no error on any page', () => {
  assert.deepEqual(scriptErrors, []);
});

describe('dedicated hosts', () => {
  let hostApi, host, empty, p;
  before(async () => {
    const key = createAccount(server, 'team-hosts');
    hostApi = new Api(server, key);
    [host] = (await hostApi.call('AllocateDedicatedHosts', { DedicatedHostType: 'ddh.g7' })).DedicatedHostIdSets.DedicatedHostId;
    [empty] = (await hostApi.call('AllocateDedicatedHosts', { DedicatedHostType: 'ddh.g7' })).DedicatedHostIdSets.DedicatedHostId;
    await hostApi.run({ DedicatedHostId: host, InstanceName: 'on-host' });
    p = await browser.context.newPage();
    await p.goto(url('/console/hosts'));
    await signIn(p, key);
  });
  after(async () => { await p?.close(); });

  test('release now is refused while instances are on a host; scheduled release on and off', async () => {
    assert.match(p.url(), /\/console\/hosts$/);
    assert.match(await p.locator(`tr[data-id="${host}"]`).innerText(), /i-/);
    await assertLabelled(p);
    await screenshot(p, '20-hosts');
    await p.check(`tr[data-id="${host}"] input[name=id]`);
    await p.check(`tr[data-id="${empty}"] input[name=id]`);
    await p.click('.bulk button:has-text("Release settings")');
    await p.check('input[name="mode"][value="now"]');
    await p.click('button:has-text("Next")');
    assert.match(await p.locator(`tr[data-id="${host}"] td.what`).innerText(), /Instances are placed on this host/);
    assert.equal(await p.locator(`tr[data-id="${host}"] td.code code`).innerText(), 'InstanceExist');
    assert.match(await p.locator(`tr[data-id="${empty}"] td.what`).innerText(), /Will be released now/);
    await screenshot(p, '21-host-release-preview');
    await p.click('button:has-text("Confirm")');
    assert.match(await p.locator('#result-summary').innerText(), /^1 done, 1 refused/);
    const left = (await hostApi.call('DescribeDedicatedHosts', {})).DedicatedHosts.DedicatedHost.map((h) => h.DedicatedHostId);
    assert.deepEqual(left, [host]);

    await p.goto(url(`/console/hosts/release?region=${REGION}&id=${host}`));
    const now = await admin.now();
    const at = floorMinute(addMinutes(now, 24 * 60));
    await p.check('input[name="mode"][value="scheduled"]');
    await p.check('#auto');
    await p.fill('#at', localInput(at, TZ));
    await p.click('button:has-text("Next")');
    await p.click('button:has-text("Confirm")');
    assert.match(await p.locator(`tr[data-id="${host}"] td.what`).innerText(), /it will be released at/);
    let h = (await hostApi.call('DescribeDedicatedHosts', {})).DedicatedHosts.DedicatedHost[0];
    assert.equal(h.AutoReleaseTime, apiMinute(at));
    await p.goto(url(`/console/hosts/release?region=${REGION}&id=${host}`));
    await p.check('input[name="mode"][value="scheduled"]');
    await p.uncheck('#auto');
    await p.click('button:has-text("Next")');
    await p.click('button:has-text("Confirm")');
    h = (await hostApi.call('DescribeDedicatedHosts', {})).DedicatedHosts.DedicatedHost[0];
    assert.equal(h.AutoReleaseTime, '');
  });
});

describe('without JavaScript, and on a phone', () => {
  test('the release settings work with JavaScript off (form post, redirect; times in UTC)', async () => {
    const key = createAccount(server, 'team-nojs');
    const nojsApi = new Api(server, key);
    const [id] = await nojsApi.run({ InstanceName: 'plain' });
    const b = await openBrowser({ timezoneId: TZ, javaScriptEnabled: false, viewport: { width: 1280, height: 800 } });
    try {
      const q = b.page;
      await q.goto(url('/console/instances'));
      await signIn(q, key);
      await q.check(`#sel-${id}`);
      await q.click('.bulk button:has-text("Release settings")');
      const now = await admin.now();
      const at = floorMinute(addMinutes(now, 90));
      // Without the script the form's time is UTC, as its label says.
      assert.match(await q.locator('label[for="at"]').innerText(), /UTC/);
      await q.check('input[name="mode"][value="scheduled"]');
      await q.check('#auto');
      await q.fill('#at', at.toISOString().slice(0, 16));
      await q.click('button:has-text("Next")');
      assert.ok((await q.locator('td.what').innerText()).includes(utcText(at)));
      await screenshot(q, '22-no-javascript-preview');
      await q.click('button:has-text("Confirm")');
      assert.match(q.url(), /\/console\/result/);
      assert.equal((await nojsApi.instance(id)).AutoReleaseTime, apiMinute(at));
    } finally {
      await b.close();
    }
  });

  test('readable on a phone: the list becomes one card per instance', async () => {
    const b = await openBrowser({ timezoneId: TZ, viewport: { width: 390, height: 844 } });
    try {
      const q = b.page;
      await q.goto(url('/console/instances'));
      await signIn(q, teamA);
      const [overflow, wide] = await q.evaluate(() => [
        document.documentElement.scrollWidth - window.innerWidth,
        Array.from(document.querySelectorAll('body *'))
          .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
          .map((el) => `${el.tagName}.${el.className}`).slice(0, 10),
      ]);
      assert.ok(overflow <= 1, `no sideways scrolling (${overflow}px too wide: ${wide.join(', ')})`);
      await screenshot(q, '23-phone-instances');
      // Keyboard: the first Tab reaches the skip link, which moves focus to the content.
      await q.keyboard.press('Tab');
      assert.equal(await q.evaluate(() => document.activeElement.className), 'skip');
      await q.keyboard.press('Enter');
      assert.equal(await q.evaluate(() => document.activeElement.id), 'main');
    } finally {
      await b.close();
    }
  });
});
