import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort, startStack, waitFor, withSilentServer, type Stack } from './stack.js';
import { ROOT } from '../cli/helpers.js';

/**
 * A real HAProxy (Debian's haproxy 2.6, installed by .ci/run) asking `gavel serve` through
 * the Lua action in examples/haproxy/ — the shipped configuration and script, only their
 * addresses and the script's path replaced.
 */
const HAPROXY = '/usr/sbin/haproxy';

let stack: Stack;
let base = '';

/** examples/haproxy/haproxy.cfg with this test's addresses and paths, and `extra` lines before the Lua action. */
function config(listen: number, gavel: number, upstream: number, script: string, extra: string[] = []): string {
  const shipped = readFileSync(join(ROOT, 'examples', 'haproxy', 'haproxy.cfg'), 'utf8');
  const replaced = shipped
    .replace('/etc/haproxy/gavel-forward-auth.lua', script)
    .replace('bind 127.0.0.1:8090', `bind 127.0.0.1:${listen}`)
    .replace('    http-request lua.gavel-auth 127.0.0.1 8181', [...extra.map((line) => `    ${line}`), `    http-request lua.gavel-auth 127.0.0.1 ${gavel}`].join('\n'))
    .replace('server app 127.0.0.1:3000', `server app 127.0.0.1:${upstream}`);
  const settings = replaced.split('\n').filter((line) => !line.trim().startsWith('#')).join('\n');
  for (const kept of ['8090', '8181', '3000', '/etc/haproxy']) if (settings.includes(kept)) throw new Error(`examples/haproxy/haproxy.cfg changed: ${kept} is left in the test's copy`);
  return replaced;
}

beforeAll(async () => {
  if (spawnSync(HAPROXY, ['-v']).error) throw new Error(`haproxy is not installed at ${HAPROXY}: apt-get install -y haproxy (.ci/run does)`);
  stack = await startStack('haproxy');
  const port = await freePort();
  base = await startHaproxy(stack, 'haproxy.cfg', config(port, stack.gavelPort, stack.upstreamPort, SCRIPT, ['http-request set-var(txn.gavel_headers) str("x-tenant")']), port);
});

const SCRIPT = join(ROOT, 'examples', 'haproxy', 'gavel-forward-auth.lua');

/** Checks and starts HAProxy on `cfg` (in the stack's folder), with `env`; answers its base URL once it listens. */
async function startHaproxy(on: Stack, file: string, cfg: string, port: number, env: NodeJS.ProcessEnv = {}): Promise<string> {
  writeFileSync(join(on.dir, file), cfg);
  const checked = spawnSync(HAPROXY, ['-c', '-q', '-f', join(on.dir, file)], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (checked.status !== 0) throw new Error(`haproxy -c: ${checked.stderr}`);
  on.spawn(HAPROXY, ['-db', '-f', join(on.dir, file)], env);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(url);
  return url;
}

afterAll(() => stack?.stop());

/** The status and headers of a request through HAProxy, with raw headers (Host too) and from a chosen local address. */
function send(path: string, headers: Record<string, string>, options: { localAddress?: string; method?: string; body?: string; at?: string } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const r = request(`${options.at ?? base}${path}`, { headers, localAddress: options.localAddress ?? '127.0.0.1', method: options.method ?? 'GET' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    r.on('error', reject);
    if (options.body !== undefined) r.write(options.body);
    r.end();
  });
}

describe('HAProxy with the Lua forward-auth action in front of an upstream', () => {
  test('allow: the upstream answers and learns the subject, whatever the client claimed', async () => {
    const r = await send('/hello/haproxy?q=1', { authorization: `Bearer ${await stack.sign({ scope: 'hello:read' })}`, 'x-gavel-subject': 'admin' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ path: '/hello/haproxy?q=1', subject: 'alice' });
  });

  test('an allow without a subject (no token needed) does not pass the client\'s subject header on', async () => {
    const r = await send('/hosted/page', { host: 'app.test', 'x-gavel-subject': 'admin' });
    expect(r.status).toBe(200);
    // Gavel sends its response headers empty when the claim is absent (docs/configuration.md).
    expect(JSON.parse(r.body)).toEqual({ path: '/hosted/page', subject: '' });
  });

  test('no token: 401 with the Bearer challenge; an expired one: invalid_token', async () => {
    const none = await send('/hello/haproxy', {});
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="gavel"');
    const expired = await send('/hello/haproxy', { authorization: `Bearer ${await stack.sign({ scope: 'hello:read', exp: Math.floor(Date.now() / 1000) - 3600 })}` });
    expect(expired.status).toBe(401);
    expect(expired.headers['www-authenticate']).toContain('error="invalid_token"');
  });

  test('deny: 403 with the policy\'s reason, and the method and path are the client\'s', async () => {
    const token = await stack.sign({ scope: 'hello:read' });
    const closed = await send('/hello/closed', { authorization: `Bearer ${token}` });
    expect(closed.status).toBe(403);
    expect(closed.headers['x-gavel-reason']).toBe('closed for maintenance');
    expect((await send('/hello/world', { authorization: `Bearer ${token}` }, { method: 'DELETE' })).status).toBe(403);
    expect((await send('/elsewhere', { authorization: `Bearer ${token}` })).status).toBe(403);
    // Decided as the upstream resolves the path, not as written.
    expect((await send('/hello/../elsewhere', { authorization: `Bearer ${token}` })).status).toBe(403);
  });

  test('two Authorization headers are refused without asking Gavel: the upstream might act on the other one', async () => {
    const good = `Bearer ${await stack.sign({ scope: 'hello:read' })}`;
    const r = await send('/hello/world', { authorization: [good, 'Bearer other'] as unknown as string });
    expect(r.status).toBe(503);
  });

  test('a request with a body is decided on its method and path (the body is not sent to Gavel)', async () => {
    const token = await stack.sign({ scope: 'hello:read' });
    expect((await send('/hello/world', { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, { method: 'POST', body: '{"x":1}' })).status).toBe(403);
  });

  test('policies see the host and the client\'s address; client-sent forwarding headers of either family change nothing', async () => {
    expect((await send('/hosted/page', { host: 'app.test' })).status).toBe(200);
    expect((await send('/hosted/page', { host: 'other.test', 'x-forwarded-host': 'app.test', 'x-original-host': 'app.test' })).status).toBe(401);
    expect((await send('/address', {}, { localAddress: '127.0.0.2' })).status).toBe(200);
    expect((await send('/address', { 'x-forwarded-for': '127.0.0.2' })).status).toBe(401);
    const token = await stack.sign({ scope: 'hello:read' });
    expect((await send('/elsewhere', { authorization: `Bearer ${token}`, 'x-forwarded-uri': '/hello/world', 'x-original-uri': '/hello/world' })).status).toBe(403);
  });
});

describe('what the Lua action tells Gavel besides the request line', () => {
  test('the scheme the client used: plain HTTP is http (the action once said https for every request)', async () => {
    expect((await send('/scheme/http', {})).status).toBe(200);
  });

  test('the headers txn.gavel_headers names, for the policies that read them; a request id, for the log', async () => {
    expect((await send('/tenant', { 'x-tenant': 'acme' })).status).toBe(200);
    expect((await send('/tenant', { 'x-tenant': 'other' })).status).toBe(401);
    expect((await send('/tenant', {})).status).toBe(401);
    const r = await send('/tenant', { 'x-tenant': 'acme', 'x-request-id': 'haproxy-trace-1' });
    expect(r.status).toBe(200);
    // The log is written in batches, every 100 ms.
    const loggedIds = (): string[] => {
      const logged = spawnSync(process.execPath, [join(ROOT, 'bin', 'gavel.js'), 'log', '--db', join(stack.dir, 'data', 'gavel.db'), '--json', '--limit', '5'], { encoding: 'utf8' });
      expect(logged.status, logged.stderr).toBe(0);
      return (JSON.parse(logged.stdout) as { request_id: string }[]).map((d) => d.request_id);
    };
    await waitFor('', async () => loggedIds().includes('haproxy-trace-1'));
  });

  test('with client keys, the key txn.gavel_client_key holds (from the environment); without it every request is denied', async () => {
    const keyed = await startStack('haproxy-keys', { clientKeys: { haproxy: 'haproxy-client-key-0123456789abcdef' } });
    try {
      const withKey = await freePort();
      const cfg = config(withKey, keyed.gavelPort, keyed.upstreamPort, SCRIPT, ['http-request set-var(txn.gavel_client_key) str("${GAVEL_CLIENT_KEY}")']);
      const at = await startHaproxy(keyed, 'keyed.cfg', cfg, withKey, { GAVEL_CLIENT_KEY: 'haproxy-client-key-0123456789abcdef' });
      const token = await keyed.sign({ scope: 'hello:read' });
      expect((await send('/hello/world', { authorization: `Bearer ${token}` }, { at })).status).toBe(200);
      const without = await freePort();
      const bare = await startHaproxy(keyed, 'bare.cfg', config(without, keyed.gavelPort, keyed.upstreamPort, SCRIPT), without);
      // Gavel refuses a caller without the key (403): HAProxy's configuration denies.
      expect((await send('/hello/world', { authorization: `Bearer ${token}` }, { at: bare })).status).toBe(403);
    } finally {
      await keyed.stop();
    }
  });
});

test('docs/gateways.md shows the shipped configuration whole (a copy without `mode http` let every request through)', () => {
  const docs = readFileSync(join(ROOT, 'docs', 'gateways.md'), 'utf8');
  const snippet = /```haproxy\n([\s\S]*?)```/.exec(docs)?.[1] ?? '';
  expect(snippet).toBe(readFileSync(join(ROOT, 'examples', 'haproxy', 'haproxy.cfg'), 'utf8'));
});

describe('HAProxy when Gavel cannot be asked', () => {
  test('fails closed: 503, and the upstream is not called', async () => {
    const port = await freePort();
    const nobody = await freePort();
    const down = await startHaproxy(stack, 'haproxy-down.cfg', config(port, nobody, stack.upstreamPort, SCRIPT), port);
    const r = await fetch(`${down}/hello/world`, { headers: { authorization: `Bearer ${await stack.sign({ scope: 'hello:read' })}` } });
    expect(r.status).toBe(503);
    expect(await r.text()).not.toContain('"path"');
  });
});

describe('HAProxy when Gavel does not answer', () => {
  test("fails closed after the script's 2 s: 503, and the upstream is not called", async () => {
    await withSilentServer(async (silent) => {
      const port = await freePort();
      const at = await startHaproxy(stack, 'haproxy-silent.cfg', config(port, silent, stack.upstreamPort, SCRIPT), port);
      const r = await fetch(`${at}/hello/world`, { signal: AbortSignal.timeout(20_000) });
      expect(r.status).toBe(503);
      expect(await r.text()).not.toContain('"path"');
    });
  }, 30_000);
});
