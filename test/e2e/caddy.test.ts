import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort, startStack, waitFor, withSilentServer, type Stack } from './stack.js';

/** A real Caddy (Debian's caddy 2.6, installed by .ci/run) asking `gavel serve` through `forward_auth`. */
const CADDY = '/usr/bin/caddy';

let stack: Stack;
let base = '';

/** The Caddyfile docs/gateways.md shows, on this test's addresses (loopback only: `bind`). */
function caddyfile(port: number, gavelPort: number, upstreamPort: number): string {
  return `{
	admin off
	auto_https off
}
:${port} {
	bind 127.0.0.1
	forward_auth 127.0.0.1:${gavelPort} {
		uri /v1/forward-auth
		copy_headers X-Gavel-Subject
		header_up -X-Original-URI
		header_up -X-Original-Method
		header_up -X-Original-Host
		transport http {
			dial_timeout 2s
			response_header_timeout 2s
		}
	}
	reverse_proxy 127.0.0.1:${upstreamPort}
}
`;
}

/** Starts Caddy on `config` (in the stack's folder); answers its base URL once it listens. */
async function startCaddy(config: string, port: number): Promise<string> {
  const file = join(stack.dir, `Caddyfile-${port}`);
  writeFileSync(file, config);
  // Caddy keeps state under $HOME / XDG folders: point them into the test's folder.
  const home = { HOME: stack.dir, XDG_DATA_HOME: join(stack.dir, 'data'), XDG_CONFIG_HOME: join(stack.dir, 'config') };
  stack.spawn(CADDY, ['run', '--config', file, '--adapter', 'caddyfile'], home);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(url);
  return url;
}

beforeAll(async () => {
  if (spawnSync(CADDY, ['version']).error) throw new Error(`caddy is not installed at ${CADDY}: apt-get install -y caddy (.ci/run does)`);
  stack = await startStack('caddy');
  const port = await freePort();
  base = await startCaddy(caddyfile(port, stack.gavelPort, stack.upstreamPort), port);
});

afterAll(() => stack?.stop());

describe('Caddy forward_auth in front of an upstream', () => {
  test('allow: the upstream answers and learns the subject, whatever the client claimed', async () => {
    const r = await fetch(`${base}/hello/caddy?q=1`, { headers: { authorization: `Bearer ${await stack.sign({ scope: 'hello:read' })}`, 'x-gavel-subject': 'admin' } });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ path: '/hello/caddy?q=1', subject: 'alice' });
  });

  test('no token: 401 with the Bearer challenge, passed through as Gavel sent it', async () => {
    const r = await fetch(`${base}/hello/caddy`);
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Bearer realm="gavel"');
  });

  test('deny: 403 with the reason header', async () => {
    const r = await fetch(`${base}/hello/caddy`, { method: 'POST', headers: { authorization: `Bearer ${await stack.sign({ scope: 'hello:read' })}` } });
    expect(r.status).toBe(403);
    expect(r.headers.get('x-gavel-reason')).toBe('denied by policy');
  });

  test('a path with dot segments is decided as the upstream resolves it; an ambiguous one is refused with 400', async () => {
    const token = await stack.sign({ scope: 'hello:read' });
    expect(await get('/hello/../elsewhere', { authorization: `Bearer ${token}` })).toBe(403);
    expect(await get('/hello/..;/elsewhere', { authorization: `Bearer ${token}` })).toBe(400);
  });

  test('policies see the client\'s address; a client-sent X-Forwarded-For is not believed', async () => {
    expect(await get('/address', {}, '127.0.0.2')).toBe(200);
    expect(await get('/address', {}, '127.0.0.1')).toBe(401);
    expect(await get('/address', { 'x-forwarded-for': '127.0.0.2' }, '127.0.0.1')).toBe(401);
  });

  test('a client sending nginx\'s X-Original-URI is decided on its real request', async () => {
    const token = await stack.sign({ scope: 'hello:read' });
    expect(await get('/elsewhere', { authorization: `Bearer ${token}`, 'x-original-uri': '/hello/world', 'x-original-method': 'GET' })).toBe(403);
    expect(await get('/hello/world', { authorization: `Bearer ${token}`, 'x-original-uri': '/elsewhere' })).toBe(200);
  });
});

/** The status of a GET through Caddy, from a chosen local address. */
function get(path: string, headers: Record<string, string>, localAddress = '127.0.0.1'): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const r = request(`${base}${path}`, { headers, localAddress }, (res) => (res.resume(), resolve(res.statusCode ?? 0)));
    r.on('error', reject).end();
  });
}

describe('Caddy when Gavel does not answer', () => {
  test('with the documented timeouts, a request fails closed (a 5xx) after seconds, not when Gavel comes back; the upstream is not called', async () => {
    await withSilentServer(async (silent) => {
      const port = await freePort();
      const at = await startCaddy(caddyfile(port, silent, stack.upstreamPort), port);
      const r = await fetch(`${at}/hello/world`, { signal: AbortSignal.timeout(20_000) });
      expect(r.status).toBeGreaterThanOrEqual(500);
      expect(await r.text()).not.toContain('"path"');
    });
  }, 30_000);
});
