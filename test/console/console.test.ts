import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROOT, serveProcess, workspace, type Served } from '../cli/helpers.js';

/*
 * The console as an administrator uses it: a real `gavel serve` over the example policies,
 * Debian's chromium signing in with the admin key and reading each page. Screenshots go to
 * test-artifacts/console/ for people to look at; the assertions are on content.
 */
const KEY = 'console-browser-test-key-0123456789';
const SHOTS = join(ROOT, 'test-artifacts', 'console');

let ws: ReturnType<typeof workspace>;
let server: Served;
let browser: Browser;
let context: BrowserContext;
let page: Page;

/** A request the example policies deny: a clinician outside the US without a transfer agreement. */
const ABROAD = {
  subject: { type: 'user', id: 'dr-bo', properties: { department: 'cardiology', roles: ['clinician'], country: 'DE' } },
  action: { name: 'read' },
  resource: { type: 'patient_record', id: 'p-1', properties: { care_team: ['dr-ana', 'dr-bo'] } },
};

/** A request the example policies allow: an on-call physician in an emergency (break glass). */
const BREAK_GLASS = {
  subject: { type: 'user', id: 'dr-dee', properties: { roles: ['on-call'], country: 'US' } },
  action: { name: 'read' },
  resource: { type: 'patient_record', id: 'p-1', properties: { care_team: ['dr-ana'] } },
  context: { emergency: true },
};

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  ws = workspace();
  // With an IP list the risk policies have their signal (the caller, 127.0.0.1, is on none).
  server = await serveProcess(ws.dir, ['--no-watch', '--ip-list', `firehol=${join(ROOT, 'examples/lists/firehol-level1.netset')}`], { ...process.env, GAVEL_ADMIN_KEY: KEY });
  const decide = async (id: string, body: object): Promise<boolean> => {
    const r = await fetch(`${server.url}/v1/decide`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': id }, body: JSON.stringify(body) });
    return ((await r.json()) as { decision: boolean }).decision;
  };
  expect(await decide('abroad-1', ABROAD)).toBe(false);
  expect(await decide('glass-1', BREAK_GLASS)).toBe(true);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  page = await context.newPage();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  server?.stop();
  ws?.remove();
});

const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

async function signIn(key: string): Promise<void> {
  await page.goto(`${server.url}/console`);
  await page.fill('#key', key);
  await page.click('button[type=submit]');
}

describe('the console in a real browser', () => {
  test('a wrong key is refused', async () => {
    await signIn('this-is-not-the-admin-key');
    await expect(page.locator('[role=alert]').textContent()).resolves.toContain('that is not the admin key');
    expect(page.url()).toBe(`${server.url}/console/login`);
    await shot('login-refused');
  }, 30_000);

  test('signing in with the admin key opens the policies page', async () => {
    await signIn(KEY);
    expect(page.url()).toBe(`${server.url}/console/policies`);
    await expect(page.locator('#count').textContent()).resolves.toMatch(/^(\d+) of \1 policies/);
    await shot('policies');
  }, 30_000);

  test('the policies filter lists the expected rows', async () => {
    await page.selectOption('select[name=tag]', 'sox');
    await page.click('form.filters button[type=submit]');
    const ids = await page.locator('#policies tbody tr td:first-child code').allTextContents();
    expect(ids).toEqual(['invoices.read', 'invoices.auditors', 'invoices.no-delete-issued']);
    await page.goto(`${server.url}/console/policies`);
    await page.fill('input[name=q]', 'patient records');
    await page.selectOption('select[name=effect]', 'forbid');
    await page.click('form.filters button[type=submit]');
    expect(await page.locator('#policies tbody tr td:first-child code').allTextContents()).toEqual(['patients.outside-us', 'patients.retention']);
    await shot('policies-filtered');
  }, 30_000);

  test('an affects query answers the expected rows and residuals', async () => {
    await page.click('nav a:text("Affects")');
    const paths = page.locator('input[name=path]');
    const values = page.locator('input[name=value]');
    await paths.nth(0).fill('resource.type');
    await values.nth(0).fill('patient_record');
    await paths.nth(1).fill('subject.country');
    await page.locator('select[name=op]').nth(1).selectOption('!=');
    await values.nth(1).fill('US');
    await page.fill('textarea[name=facts]', 'action == "GET"');
    await page.fill('input[name=tag]', 'hipaa');
    await page.click('form.stack button[type=submit]');
    const rows = await page.locator('#affects tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent?.trim() ?? '')));
    expect(rows.map((r) => [r[0], r[2], r[6]])).toEqual([
      ['may apply', 'patients.break-glass', 'when subject.roles contains "on-call" && context has emergency && context.emergency == true'],
      ['may apply', 'patients.clinician-read', 'when subject.roles contains "clinician" && token.scope contains "phi:read" && resource.care_team contains subject.id'],
      ['may apply', 'patients.outside-us', 'when !(subject.roles contains "transfer-agreement") (or on an error: fails closed)'],
    ]);
    await shot('affects');
    // The export is the same question as CSV.
    const csv = await page.locator('a:text("export as CSV")').getAttribute('href');
    const r = await page.request.get(`${server.url}${csv}`);
    expect(r.headers()['content-type']).toBe('text/csv; charset=utf-8');
    expect((await r.text()).split('\r\n').filter((l) => l !== '')).toHaveLength(4);
  }, 30_000);

  test('a bad fact is shown with where it is wrong', async () => {
    await page.goto(`${server.url}/console/affects`);
    await page.fill('textarea[name=facts]', 'subject.country = "US"');
    await page.click('form.stack button[type=submit]');
    await expect(page.locator('[role=alert]').textContent()).resolves.toContain('where#1:1:17: error: unexpected character "="');
  }, 30_000);

  test('a denied decision\'s page explains why it was denied', async () => {
    // The log is written every 100 ms by a worker thread: wait until the decision is there.
    for (let i = 0; i < 50; i++) {
      await page.goto(`${server.url}/console/decisions?decision=deny&subject=dr-bo`);
      if ((await page.locator('#decisions').count()) > 0) break;
      await page.waitForTimeout(200);
    }
    await shot('decisions');
    await page.click('#decisions tbody tr:first-child td:first-child a');
    expect(page.url()).toMatch(new RegExp(`^${server.url}/console/decisions/[0-9a-f-]{36}$`));
    await expect(page.locator('dl.record').textContent()).resolves.toContain('abroad-1');
    await expect(page.locator('#decision').textContent()).resolves.toBe('deny');
    await expect(page.locator('h2').first().textContent()).resolves.toBe('Why was this denied?');
    const forbids = await page.locator('#forbids').textContent();
    expect(forbids).toContain('patients.outside-us');
    expect(forbids).toContain('patient records stay in the US without a transfer agreement');
    await expect(page.locator('#explanation').textContent()).resolves.toContain('would allow when');
    await expect(page.locator('#request').textContent()).resolves.toContain('"country": "DE"');
    // The revision that made it is kept in the store: the explanation is that revision's.
    await expect(page.locator('main').textContent()).resolves.toContain('the one that made this decision');
    await shot('decision');
  }, 30_000);

  test('the what-if page replays the log against a candidate folder and shows what would change', async () => {
    // The candidate drops break glass: the emergency read logged as allowed would be denied.
    const candidate = join(ws.dir, 'candidate');
    cpSync(join(ws.dir, 'policies'), candidate, { recursive: true });
    const file = join(candidate, 'patients.gavel');
    const text = readFileSync(file, 'utf8');
    const start = text.indexOf('@id("patients.break-glass")');
    writeFileSync(file, text.slice(0, start) + text.slice(text.indexOf('};', start) + 2));
    await page.goto(`${server.url}/console/whatif`);
    await page.fill('input[name=candidate]', candidate);
    await page.click('form.filters button[type=submit]');
    await expect(page.locator('#summary').textContent()).resolves.toMatch(/^1 of 2 replayed decisions would change:\s+1 allow → deny, 0 deny → allow\./);
    await expect(page.locator('#whatif-policies').textContent()).resolves.toContain('patients.break-glass');
    expect(await page.locator('#whatif-examples tbody tr td:first-child a').getAttribute('href')).toMatch(/^\/console\/decisions\/[0-9a-f-]{36}$/);
    await shot('whatif');
    // A folder that is not there says so, and changes nothing.
    await page.fill('input[name=candidate]', join(ws.dir, 'nope'));
    await page.click('form.filters button[type=submit]');
    await expect(page.locator('#whatif-problem').textContent()).resolves.toContain('does not exist');
  }, 30_000);

  test('a POST without the CSRF token is refused', async () => {
    const r = await page.request.post(`${server.url}/console/logout`, { form: { nothing: 'here' }, maxRedirects: 0 });
    expect(r.status()).toBe(403);
    // Still signed in: the refused form changed nothing.
    await page.goto(`${server.url}/console/decisions`);
    expect(page.url()).toBe(`${server.url}/console/decisions`);
  }, 30_000);

  test('signing out ends the session', async () => {
    await page.click('nav form.logout button');
    expect(page.url()).toBe(`${server.url}/console/login`);
    await page.goto(`${server.url}/console/policies`);
    expect(page.url()).toBe(`${server.url}/console/login`);
  }, 30_000);
});
