import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { buildPolicySet } from '../../src/index.js';
import { LivePolicySet } from '../../src/engine/live-set.js';
import { DecisionLog } from '../../src/engine/decision-log.js';
import { buildApp } from '../../src/http/app.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { TrustedProxies } from '../../src/signals/client-address.js';

/*
 * The console's security behaviour through inject; test/console/console.test.ts drives the
 * pages in a real browser.
 */
const KEY = 'console-test-key-0123456789';
const EVIL = '<script>alert(1)</script>';
const live = new LivePolicySet(
  buildPolicySet([{ file: 'a.gavel', text: `@id("p") @description("${EVIL}") permit (action == "read");\n@id("f") forbid (action == "delete") reason "no \\"<b>deletes</b>\\"";` }]).set!,
);

function setup(key: string | null = KEY, keepRequests = true) {
  const store = new SqliteStore(':memory:');
  const log = new DecisionLog(store, { flushMs: 60_000, keepRequests });
  const app = buildApp({ policies: live, store, log, admin: { key, store, reload: null }, console: { key, store } });
  return { app, log };
}

const setCookies = (h: string | string[] | undefined): string[] => (h === undefined ? [] : Array.isArray(h) ? h : [h]);
const pair = (c: string): string => c.split(';')[0]!;

/** The session's CSRF token in the form that posts to `action`. */
function formCsrf(body: string, action: string): string {
  const m = new RegExp(`action="${action}"[^]*?name="csrf" value="([^"]+)"`).exec(body);
  if (m === null) throw new Error(`no form posting to ${action} with a CSRF token`);
  return m[1]!;
}

async function signIn(app: ReturnType<typeof setup>['app'], key = KEY) {
  const login = await app.inject({ method: 'GET', url: '/console/login' });
  const csrf = /name="csrf" value="([^"]+)"/.exec(login.body)![1]!;
  const loginCookie = pair(setCookies(login.headers['set-cookie'])[0]!);
  const r = await app.inject({ method: 'POST', url: '/console/login', headers: { cookie: loginCookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ csrf, key }).toString() });
  return { r, cookie: setCookies(r.headers['set-cookie']).map(pair).find((c) => c.startsWith('gavel_console='))! };
}

describe('the console', () => {
  test('signs in with the admin key: an HttpOnly, SameSite=Strict session cookie with an expiry', async () => {
    const { app } = setup();
    const { r } = await signIn(app);
    expect(r.statusCode).toBe(303);
    expect(r.headers.location).toBe('/console/policies');
    const session = setCookies(r.headers['set-cookie']).find((c) => c.startsWith('gavel_console='))!;
    expect(session).toMatch(/; Path=\/console; Max-Age=28800; HttpOnly; SameSite=Strict$/);
  });

  test.each([
    { note: 'a trusted proxy says https: Secure', proxies: ['127.0.0.1/32'], headers: { 'x-forwarded-proto': 'https' }, secure: true },
    { note: 'a trusted proxy says HTTPS: Secure', proxies: ['127.0.0.1/32'], headers: { 'x-forwarded-proto': 'HTTPS' }, secure: true },
    { note: 'a trusted proxy appending to what the client sent (https, http): not Secure, the left value may be the client\'s', proxies: ['127.0.0.1/32'], headers: { 'x-forwarded-proto': 'https, http' }, secure: false },
    { note: 'every hop says https (https, HTTPS): Secure', proxies: ['127.0.0.1/32'], headers: { 'x-forwarded-proto': 'https, HTTPS' }, secure: true },
    { note: 'a trusted proxy says it in RFC 7239 Forwarded: Secure', proxies: ['127.0.0.1/32'], headers: { forwarded: 'for=198.51.100.7;proto=https;host=gavel.example' }, secure: true },
    { note: 'a trusted proxy says http: not Secure', proxies: ['127.0.0.1/32'], headers: { 'x-forwarded-proto': 'http' }, secure: false },
    { note: 'an untrusted peer says https: not Secure', proxies: [], headers: { 'x-forwarded-proto': 'https' }, secure: false },
  ])('$note', async ({ proxies, headers, secure }) => {
    const app = buildApp({ policies: live, proxies: new TrustedProxies(proxies), console: { key: KEY, store: null } });
    const r = await app.inject({ method: 'GET', url: '/console/login', headers });
    expect(setCookies(r.headers['set-cookie'])[0]!.endsWith('; Secure')).toBe(secure);
  });

  test('a link to a page, opened without a session, signs in and returns to that page; a return path off the console is never followed', async () => {
    const { app } = setup();
    const asked = await app.inject({ method: 'GET', url: '/console/decisions?subject=alice&decision=deny' });
    expect([asked.statusCode, asked.headers.location]).toEqual([303, '/console/login?next=%2Fconsole%2Fdecisions%3Fsubject%3Dalice%26decision%3Ddeny']);
    const login = await app.inject({ method: 'GET', url: asked.headers.location as string });
    expect(login.body).toContain('name="next" value="/console/decisions?subject=alice&amp;decision=deny"');
    const csrf = /name="csrf" value="([^"]+)"/.exec(login.body)![1]!;
    const loginCookie = pair(setCookies(login.headers['set-cookie'])[0]!);
    const signIn = (next: string) => app.inject({ method: 'POST', url: '/console/login', headers: { cookie: loginCookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ csrf, key: KEY, next }).toString() });
    expect((await signIn('/console/decisions?subject=alice&decision=deny')).headers.location).toBe('/console/decisions?subject=alice&decision=deny');
    for (const next of ['https://evil.example/', '//evil.example/console/', '/console/..//evil.example', '/console/\\evil.example', '/consolex', '/console/login', '/console/../../metrics', '/console/%2e%2e/v1/decisions', '/console/x/%2E./%2e%2E/metrics']) {
      expect([next, (await signIn(next)).headers.location]).toEqual([next, '/console/policies']);
    }
  });

  test('a wrong key is refused with 401 and no session', async () => {
    const { app } = setup();
    const { r, cookie } = await signIn(app, 'not-the-key-at-all-0000');
    expect(r.statusCode).toBe(401);
    expect(r.body).toContain('that is not the admin key');
    expect(cookie).toBeUndefined();
  });

  test('a sign-in without the login CSRF token is refused', async () => {
    const { app } = setup();
    const r = await app.inject({ method: 'POST', url: '/console/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `key=${KEY}&csrf=x` });
    expect(r.statusCode).toBe(403);
  });

  test('after ten wrong keys from an address the sign-in answers 429 and compares no key', async () => {
    const { app } = setup();
    for (let i = 0; i < 10; i++) expect((await signIn(app, `not-the-key-${i}-0123456789`)).r.statusCode).toBe(401);
    const { r, cookie } = await signIn(app);
    expect(r.statusCode).toBe(429);
    expect(r.headers['retry-after']).toMatch(/^\d+$/);
    expect(r.body).toContain('too many wrong keys from this address');
    expect(cookie).toBeUndefined();
  });

  test("a form over the console's 8 KiB is 413, and the message names that limit, not the API's 1 MiB", async () => {
    const { app } = setup();
    const r = await app.inject({ method: 'POST', url: '/console/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `key=${'a'.repeat(10_000)}` });
    expect([r.statusCode, r.json()]).toEqual([413, { error: 'payload_too_large', message: 'the request body is larger than this route takes (8 KiB)' }]);
  });

  test('an empty login CSRF token, in the form and the cookie alike, is no token', async () => {
    const { app } = setup();
    const r = await app.inject({ method: 'POST', url: '/console/login', headers: { cookie: 'gavel_console_login=', 'content-type': 'application/x-www-form-urlencoded' }, payload: `key=${KEY}&csrf=` });
    expect(r.statusCode).toBe(403);
  });

  test('a what-if replay is a POST with the session\'s CSRF token: a link cannot start one', async () => {
    const { app } = setup();
    const { cookie } = await signIn(app);
    // A GET shows the empty form, whatever its query says.
    const viaLink = await app.inject({ method: 'GET', url: '/console/whatif?candidate=/etc&limit=200000', headers: { cookie } });
    expect(viaLink.statusCode).toBe(200);
    expect(viaLink.body).not.toContain('whatif-problem');
    expect(viaLink.body).not.toContain('whatif-report');
    const form = { cookie, 'content-type': 'application/x-www-form-urlencoded' };
    const noToken = await app.inject({ method: 'POST', url: '/console/whatif', headers: form, payload: 'candidate=/etc' });
    expect(noToken.statusCode).toBe(403);
    const csrf = formCsrf(viaLink.body, '/console/whatif');
    const missing = await app.inject({ method: 'POST', url: '/console/whatif', headers: form, payload: `csrf=${csrf}&candidate=${encodeURIComponent('/nonexistent-folder')}` });
    expect(missing.statusCode).toBe(400);
    expect(missing.body).toContain('does not exist');
  });

  test('the what-if form says what is wrong with its number of decisions instead of reading `2.5` as 2 or `0` as the default', async () => {
    const { app } = setup();
    const { cookie } = await signIn(app);
    const csrf = formCsrf((await app.inject({ method: 'GET', url: '/console/whatif', headers: { cookie } })).body, '/console/whatif');
    const form = { cookie, 'content-type': 'application/x-www-form-urlencoded' };
    for (const limit of ['2.5', '0', '-3', '200001', 'ten']) {
      const r = await app.inject({ method: 'POST', url: '/console/whatif', headers: form, payload: `csrf=${csrf}&candidate=${encodeURIComponent('/nonexistent-folder')}&limit=${limit}` });
      expect([limit, r.statusCode]).toEqual([limit, 400]);
      expect(r.body).toContain(`newest decisions: <code>${limit}</code> is not a whole number from 1 to 200,000`.replace('<code>', '`').replace('</code>', '`'));
    }
    // 1e5 is a whole number: read as 100,000 (parseInt read it as 1), and the folder is what is wrong.
    const e5 = await app.inject({ method: 'POST', url: '/console/whatif', headers: form, payload: `csrf=${csrf}&candidate=${encodeURIComponent('/nonexistent-folder')}&limit=1e5` });
    expect(e5.body).toContain('does not exist');
    expect(e5.body).toContain('value="100000"');
  });

  test('one what-if replay at a time on a server, whether asked through the admin API or the console', async () => {
    const { app, log } = setup();
    const read = { subject: { type: 'user', id: 'alice' }, action: { name: 'read' }, resource: { type: 'doc', id: '1' } };
    for (let i = 0; i < 1500; i++) {
      await app.inject({ method: 'POST', url: '/v1/decide', payload: read });
      if (i % 500 === 499) log.flush();
    }
    const { cookie } = await signIn(app);
    const csrf = formCsrf((await app.inject({ method: 'GET', url: '/console/whatif', headers: { cookie } })).body, '/console/whatif');
    const candidate = mkdtempSync(join(tmpdir(), 'gavel-whatif-'));
    writeFileSync(join(candidate, 'a.gavel'), '@id("p") permit (action == "read");');
    try {
      const [api, console] = await Promise.all([
        app.inject({ method: 'POST', url: '/v1/whatif', headers: { authorization: `Bearer ${KEY}` }, payload: { candidate: { files: { 'a.gavel': 'forbid (action);' } } } }),
        app.inject({ method: 'POST', url: '/console/whatif', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: `csrf=${csrf}&candidate=${encodeURIComponent(candidate)}` }),
      ]);
      // Whichever took the slot first replays; the other is told to come back.
      expect([api.statusCode, console.statusCode].sort()).toEqual([200, 429]);
      const refused = api.statusCode === 429 ? api.json().message : console.body;
      expect(refused).toContain('another what-if replay is running on this server');
      // Once it is done the slot is free again.
      const after = await app.inject({ method: 'POST', url: '/console/whatif', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: `csrf=${csrf}&candidate=${encodeURIComponent(candidate)}` });
      expect(after.statusCode).toBe(200);
    } finally {
      rmSync(candidate, { recursive: true, force: true });
    }
  });

  test.each([
    { note: 'no cookie', cookie: undefined },
    { note: 'a forged cookie', cookie: 'gavel_console=v1.9999999999.AAAAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
  ])('pages send a browser with $note to sign in', async ({ cookie }) => {
    const { app } = setup();
    const r = await app.inject({ method: 'GET', url: '/console/policies', headers: cookie === undefined ? {} : { cookie } });
    expect(r.statusCode).toBe(303);
    expect(r.headers.location).toBe('/console/login');
  });

  test('every page: no script, no framing, nothing cached; attacker-influenced text is escaped', async () => {
    const { app } = setup();
    const { cookie } = await signIn(app);
    for (const url of ['/console/login', '/console/policies?q=%3Cscript%3E', '/console/affects?path=action&op=%3D%3D&value=delete&all=on', '/console/decisions?subject=%3Cscript%3E']) {
      const r = await app.inject({ method: 'GET', url, headers: { cookie } });
      expect(r.headers['content-security-policy']).toContain("default-src 'none'");
      expect(r.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(r.headers['x-frame-options']).toBe('DENY');
      expect(r.headers['cache-control']).toBe('no-store');
      expect(r.body).not.toContain('<script');
    }
    const policies = await app.inject({ method: 'GET', url: '/console/policies', headers: { cookie } });
    expect(policies.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    const affects = await app.inject({ method: 'GET', url: '/console/affects?path=action&op=%3D%3D&value=delete', headers: { cookie } });
    expect(affects.body).toContain('no &quot;&lt;b&gt;deletes&lt;/b&gt;&quot;');
  });

  test('refusals under /console carry its pages\' headers too (a 404, a 405, an undecodable path, a 413), and a form sent as another type is told the form type', async () => {
    const { app } = setup();
    const { cookie } = await signIn(app);
    const asked = [
      await app.inject({ method: 'GET', url: '/console/nope', headers: { cookie } }),
      await app.inject({ method: 'DELETE', url: '/console/policies', headers: { cookie } }),
      await app.inject({ method: 'GET', url: '/console/decisions/%FF', headers: { cookie } }),
      await app.inject({ method: 'POST', url: '/console/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `key=${'k'.repeat(9_000)}` }),
    ];
    expect(asked.map((r) => r.statusCode)).toEqual([404, 405, 400, 413]);
    for (const r of asked) {
      expect([r.statusCode, r.headers['content-security-policy']]).toEqual([r.statusCode, expect.stringContaining("default-src 'none'")]);
      expect([r.headers['x-frame-options'], r.headers['x-content-type-options'], r.headers['referrer-policy'], r.headers['cache-control']]).toEqual(['DENY', 'nosniff', 'no-referrer', 'no-store']);
    }
    const typed = await app.inject({ method: 'POST', url: '/console/whatif', headers: { cookie, 'content-type': 'text/plain' }, payload: 'x' });
    expect(typed.json()).toEqual({ error: 'invalid_request', message: 'Content-Type must be application/x-www-form-urlencoded' });
  });

  test('a page past the end of the policies shows the last page, its count and links agreeing', async () => {
    const { app } = setup();
    const { cookie } = await signIn(app);
    const r = await app.inject({ method: 'GET', url: '/console/policies?page=3', headers: { cookie } });
    expect(r.body).toContain('2 of 2 policies');
    expect(r.body).not.toContain('No policy matches');
    expect(r.body).not.toContain('previous');
  });

  test("a caller's huge ids are shown clipped in the list (its length said), and whole on the decision's page", async () => {
    const { app, log } = setup();
    const { cookie } = await signIn(app);
    const huge = '&'.repeat(300_000);
    for (let i = 0; i < 20; i++) await app.inject({ method: 'POST', url: '/access/v1/evaluation', payload: { subject: { type: 'user', id: huge }, action: { name: huge }, resource: { type: 'doc', id: huge } } });
    log.flush();
    const list = await app.inject({ method: 'GET', url: '/console/decisions', headers: { cookie } });
    expect(list.statusCode).toBe(200);
    // Twenty rows of three 300,000-character values, escaped five times over, were 90 MB.
    expect(list.body.length).toBeLessThan(200_000);
    expect(list.body).toContain(`${'&amp;'.repeat(160)}… (300,000 characters)`);
    const id = /href="\/console\/decisions\/([^"]+)"/.exec(list.body)![1]!;
    const one = await app.inject({ method: 'GET', url: `/console/decisions/${id}`, headers: { cookie } });
    expect(one.body).toContain('&amp;'.repeat(300_000));
  });

  test("ids that would read as others (a bidi override, a zero-width space) are shown with those characters as escapes, in the list and on the decision's page", async () => {
    const { app, log } = setup();
    const { cookie } = await signIn(app);
    await app.inject({ method: 'POST', url: '/access/v1/evaluation', payload: { subject: { type: 'user', id: '\u202Eecila' }, action: { name: 'read' }, resource: { type: 'doc', id: 'al\u200Bice' } } });
    log.flush();
    const list = await app.inject({ method: 'GET', url: '/console/decisions', headers: { cookie } });
    expect(list.body).toContain('\\u202Eecila');
    expect(list.body).toContain('al\\u200Bice');
    expect(list.body).not.toMatch(/[\u202E\u200B]/);
    const id = /href="\/console\/decisions\/([^"]+)"/.exec(list.body)![1]!;
    const one = await app.inject({ method: 'GET', url: `/console/decisions/${id}`, headers: { cookie } });
    expect(one.body).toContain('user/\\u202Eecila');
    expect(one.body).not.toMatch(/[\u202E\u200B]/);
  });

  test('sign-out needs the session\'s CSRF token, and ends the session', async () => {
    const { app } = setup();
    const { cookie } = await signIn(app);
    const page = await app.inject({ method: 'GET', url: '/console/policies', headers: { cookie } });
    const csrf = formCsrf(page.body, '/console/logout');
    const form = { cookie, 'content-type': 'application/x-www-form-urlencoded' };
    expect((await app.inject({ method: 'POST', url: '/console/logout', headers: form, payload: '' })).statusCode).toBe(403);
    expect((await app.inject({ method: 'POST', url: '/console/logout', headers: form, payload: 'csrf=wrong' })).statusCode).toBe(403);
    expect((await app.inject({ method: 'POST', url: '/console/logout', headers: form, payload: `csrf=${csrf}` })).statusCode).toBe(303);
    expect((await app.inject({ method: 'GET', url: '/console/policies', headers: { cookie } })).statusCode).toBe(303);
  });

  test('a decision from the log, with why it was denied', async () => {
    const { app, log } = setup();
    await app.inject({ method: 'POST', url: '/v1/decide', headers: { 'x-request-id': 'del-1' }, payload: { subject: { type: 'user', id: '<img>' }, action: { name: 'delete' }, resource: { type: 'doc', id: '1' } } });
    log.flush();
    const { cookie } = await signIn(app);
    const list = await app.inject({ method: 'GET', url: '/console/decisions?decision=deny', headers: { cookie } });
    expect(list.body).toContain('&lt;img&gt;');
    const href = /href="(\/console\/decisions\/[0-9a-f-]{36})"/.exec(list.body)![1]!;
    const one = await app.inject({ method: 'GET', url: href, headers: { cookie } });
    expect(one.statusCode).toBe(200);
    expect(one.body).toContain('<dt>Request id</dt><dd><code>del-1</code>');
    // The caller's request id finds it too, while only one decision was logged under it.
    expect((await app.inject({ method: 'GET', url: '/console/decisions/del-1', headers: { cookie } })).body).toContain('Why was this denied?');
    expect(one.body).toContain('Why was this denied?');
    expect(one.body).toContain('<ul id="forbids"><li><code>f</code>');
  });

  test("an old decision's page explains it with the revision that made it, and says what the live policies answer now", async () => {
    const v1 = '@id("p") permit (action == "read");';
    const v2 = '@id("p") permit (action == "read") when { subject.id == "nobody" };';
    const first = buildPolicySet([{ file: 'a.gavel', text: v1 }]).set!;
    const policies = new LivePolicySet(first);
    const store = new SqliteStore(':memory:');
    store.savePolicyRevision({ id: first.revision, savedAt: new Date().toISOString(), files: { 'a.gavel': v1 } });
    const log = new DecisionLog(store, { flushMs: 60_000 });
    const app = buildApp({ policies, store, log, admin: { key: KEY, store, reload: null }, console: { key: KEY, store } });
    const read = { subject: { type: 'user', id: 'alice' }, action: { name: 'read' }, resource: { type: 'doc', id: '1' } };
    expect((await app.inject({ method: 'POST', url: '/v1/decide', headers: { 'x-request-id': 'old-1' }, payload: read })).json()).toMatchObject({ decision: true });
    log.flush();
    const second = buildPolicySet([{ file: 'a.gavel', text: v2 }]).set!;
    policies.swap(second);
    const { cookie } = await signIn(app);
    const one = await app.inject({ method: 'GET', url: '/console/decisions/old-1', headers: { cookie } });
    // The header shows the revision serving now, as on every page; the explanation the one that decided.
    expect(one.body).toContain(`<span class="revision">revision <code>${second.revision}</code></span>`);
    expect(one.body).toContain(`Evaluated against revision <code>${first.revision}</code>, the one that made this decision`);
    expect(one.body).toContain(`Revision <code>${first.revision}</code> allows this request`);
    expect(one.body).toContain(`The live policies (revision <code>${second.revision}</code>) now <strong>deny</strong> this request.`);
    expect(one.body).not.toContain('The live policies allow');
  });

  test('the decisions filter takes "since" as a time or an age, and says what is wrong with anything else', async () => {
    const { app, log } = setup();
    await app.inject({ method: 'POST', url: '/v1/decide', headers: { 'x-request-id': 'recent-1' }, payload: { subject: { type: 'user', id: 'ann' }, action: { name: 'delete' }, resource: { type: 'doc', id: '1' } } });
    log.flush();
    const { cookie } = await signIn(app);
    const list = async (since: string) => (await app.inject({ method: 'GET', url: `/console/decisions?since=${encodeURIComponent(since)}`, headers: { cookie } })).body;
    expect(await list('1h')).toContain('<strong>ann</strong>');
    expect(await list('2999-01-01')).not.toContain('<strong>ann</strong>');
    const wrong = await list('yesterday');
    expect(wrong).toContain('`yesterday` is neither an ISO 8601 time (2026-11-22, 2026-11-22T10:00:00Z) nor an age like 15m, 2h or 7d');
    expect(wrong).not.toContain('recent-1');
  });

  test('a decision filter that is neither allow nor deny, or a damaged link to older decisions, is said — not answered with the whole log', async () => {
    const { app, log } = setup();
    await app.inject({ method: 'POST', url: '/v1/decide', payload: { subject: { type: 'user', id: 'ann' }, action: { name: 'delete' }, resource: { type: 'doc', id: '1' } } });
    log.flush();
    const { cookie } = await signIn(app);
    for (const [query, message] of [
      ['decision=Deny', 'decision `Deny` is neither allow nor deny'],
      ['decision=bogus', 'decision `bogus` is neither allow nor deny'],
      ['older=zzz', 'the link to older decisions is damaged'],
    ] as const) {
      const r = await app.inject({ method: 'GET', url: `/console/decisions?${query}`, headers: { cookie } });
      expect(r.statusCode, query).toBe(400);
      expect(r.body, query).toContain(message);
      expect(r.body, query).not.toContain('<strong>ann</strong>');
    }
  });

  test('a decision logged without its request shows the record and says why it is not explained', async () => {
    const { app, log } = setup(KEY, false);
    await app.inject({ method: 'POST', url: '/v1/decide', headers: { 'x-request-id': 'del-2' }, payload: { subject: { type: 'user', id: 'ann' }, action: { name: 'delete' }, resource: { type: 'doc', id: '1' } } });
    log.flush();
    const { cookie } = await signIn(app);
    const one = await app.inject({ method: 'GET', url: '/console/decisions/del-2', headers: { cookie } });
    expect(one.statusCode).toBe(200);
    expect(one.body).toContain('<dd class="deny" id="decision">deny</dd>');
    expect(one.body).toContain('<p class="notice" id="not-kept">This decision was logged without its request');
    expect(one.body).not.toContain('Why was this denied?');
  });

  test('the CSV export answers the same question', async () => {
    const { app } = setup();
    const { cookie } = await signIn(app);
    const r = await app.inject({ method: 'GET', url: '/console/affects.csv?path=action&op=%3D%3D&value=delete', headers: { cookie } });
    expect(r.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(r.body.split('\r\n')[1]).toBe('applies,forbid,f,,,a.gavel:2:1,,,,false,"no ""<b>deletes</b>"""');
  });

  test('a CSV cell a spreadsheet would run as a formula is written as text', async () => {
    const set = buildPolicySet([{ file: 'f.gavel', text: '@id("f") forbid (action == "delete") reason "=HYPERLINK(1)";' }]).set!;
    const app = buildApp({ policies: new LivePolicySet(set), console: { key: KEY, store: null } });
    const { cookie } = await signIn(app);
    const r = await app.inject({ method: 'GET', url: '/console/affects.csv?path=action&op=%3D%3D&value=delete', headers: { cookie } });
    expect(r.body.split('\r\n')[1]).toBe("applies,forbid,f,,,f.gavel:1:1,,,,false,'=HYPERLINK(1)");
  });

  test('without an admin key the console says how to enable it, and shows nothing', async () => {
    const { app } = setup(null);
    for (const url of ['/console', '/console/login', '/console/policies']) {
      const r = await app.inject({ method: 'GET', url });
      expect(r.statusCode).toBe(403);
      expect(r.body).toContain('GAVEL_ADMIN_KEY');
    }
  });
});
