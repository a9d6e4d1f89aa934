import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort, startStack, waitFor, withSilentServer, type Stack } from './stack.js';
import { ROOT } from '../cli/helpers.js';

/** A real nginx (Debian's nginx-light, installed by .ci/run) asking `gavel serve` through `auth_request`, as docs/gateways.md shows. */
const NGINX = '/usr/sbin/nginx';

let stack: Stack;
let base = '';

/** The configuration docs/gateways.md shows, on this test's addresses: nginx on `port`, Gavel on `gavelPort`. */
function nginxConf(dir: string, port: number, gavelPort: number, upstreamPort: number): string {
  const tmp = join(dir, `tmp-${port}`);
  mkdirSync(tmp);
  return `daemon off;
master_process off;
worker_processes 1;
error_log ${dir}/error-${port}.log warn;
pid ${dir}/nginx-${port}.pid;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${tmp}; proxy_temp_path ${tmp}; fastcgi_temp_path ${tmp}; uwsgi_temp_path ${tmp}; scgi_temp_path ${tmp};
  server {
    listen 127.0.0.1:${port};
    location / {
      auth_request     /_gavel;
      auth_request_set $gavel_subject $upstream_http_x_gavel_subject;
      proxy_set_header X-Gavel-Subject $gavel_subject;
      auth_request_set $gavel_reason $upstream_http_x_gavel_reason;
      add_header       X-Gavel-Reason $gavel_reason always;
      proxy_pass       http://127.0.0.1:${upstreamPort};
    }
    location = /_gavel {
      internal;
      proxy_pass              http://127.0.0.1:${gavelPort}/v1/forward-auth;
      proxy_pass_request_body off;
      proxy_set_header        Content-Length "";
      proxy_set_header        X-Original-Method $request_method;
      proxy_set_header        X-Original-URI    $request_uri;
      proxy_set_header        X-Original-Host   $host;
      proxy_set_header        X-Forwarded-Proto $scheme;
      proxy_set_header        X-Forwarded-For   $remote_addr;
      proxy_set_header        X-Forwarded-Uri    "";
      proxy_set_header        X-Forwarded-Method "";
      proxy_set_header        X-Forwarded-Host   "";
      proxy_connect_timeout   2s;
      proxy_read_timeout      2s;
    }
  }
}
`;
}

/** Starts nginx on `conf` (in the stack's folder); answers its base URL once it listens. */
async function startNginx(conf: string, port: number): Promise<string> {
  const file = join(stack.dir, `nginx-${port}.conf`);
  writeFileSync(file, conf);
  stack.spawn(NGINX, ['-p', stack.dir, '-c', file]);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(url);
  return url;
}

beforeAll(async () => {
  if (spawnSync(NGINX, ['-v']).error) throw new Error(`nginx is not installed at ${NGINX}: apt-get install -y nginx-light (.ci/run does)`);
  stack = await startStack('nginx');
  const port = await freePort();
  base = await startNginx(nginxConf(stack.dir, port, stack.gavelPort, stack.upstreamPort), port);
});

afterAll(() => stack?.stop());

/** The status of a GET through nginx, with raw headers (Host too) and from a chosen local address. */
function get(path: string, headers: Record<string, string>, localAddress = '127.0.0.1'): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const r = request(`${base}${path}`, { headers, localAddress }, (res) => (res.resume(), resolve(res.statusCode ?? 0)));
    r.on('error', reject).end();
  });
}

describe('nginx auth_request in front of an upstream', () => {
  test('a token Gavel\'s own issuer minted passes nginx with no issuer configured; once revoked, it does not', async () => {
    const secret = 'hello-service-example-secret-0123456789';
    writeFileSync(
      join(stack.dir, 'registry.json'),
      JSON.stringify({
        apis: [{ identifier: 'https://hello.example.com', scopes: ['hello:read'] }],
        clients: [{ id: 'hello-service', secret, grant_types: ['client_credentials'], scopes: ['hello:read'] }],
      }),
    );
    const applied = spawnSync(process.execPath, [join(ROOT, 'bin', 'gavel.js'), 'apply', join(stack.dir, 'registry.json'), '--db', join(stack.dir, 'data', 'gavel.db')], { encoding: 'utf8' });
    expect(applied.status, applied.stderr).toBe(0);
    const basic = `Basic ${Buffer.from(`hello-service:${secret}`).toString('base64')}`;
    const gavel = `http://127.0.0.1:${stack.gavelPort}`;
    let token = '';
    // The server picks the registry up within a second.
    await waitFor(gavel, async () => {
      const r = await fetch(`${gavel}/oauth2/token`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
      if (r.status !== 200) return false;
      token = ((await r.json()) as { access_token: string }).access_token;
      return true;
    });
    const through = await fetch(`${base}/hello/minted`, { headers: { authorization: `Bearer ${token}` } });
    expect(through.status).toBe(200);
    expect(await through.json()).toEqual({ path: '/hello/minted', subject: 'hello-service' });
    await fetch(`${gavel}/oauth2/revoke`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }) });
    const revoked = await fetch(`${base}/hello/minted`, { headers: { authorization: `Bearer ${token}` } });
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get('www-authenticate')).toContain('invalid_token');
  });

  test('a caller with a valid token and the scope reaches the upstream, which learns the subject', async () => {
    const r = await fetch(`${base}/hello/world?x=1`, { headers: { authorization: `Bearer ${await stack.sign({ scope: 'hello:read' })}` } });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ path: '/hello/world?x=1', subject: 'alice' });
  });

  test('a client cannot spoof the subject header the upstream trusts', async () => {
    const r = await fetch(`${base}/hello/world`, { headers: { authorization: `Bearer ${await stack.sign({ scope: 'hello:read' })}`, 'x-gavel-subject': 'admin' } });
    expect(((await r.json()) as { subject: string }).subject).toBe('alice');
  });

  test('no token: 401 with the Bearer challenge', async () => {
    const r = await fetch(`${base}/hello/world`);
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Bearer realm="gavel"');
  });

  test('an expired token: 401 invalid_token', async () => {
    const expired = await stack.sign({ scope: 'hello:read', exp: Math.floor(Date.now() / 1000) - 3600 });
    const r = await fetch(`${base}/hello/world`, { headers: { authorization: `Bearer ${expired}` } });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  test('a valid caller the policies deny: 403, and the upstream is never called', async () => {
    const token = await stack.sign({ scope: 'hello:read' });
    expect((await fetch(`${base}/hello/world`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })).status).toBe(403);
    expect((await fetch(`${base}/elsewhere`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(403);
    expect((await fetch(`${base}/hello/world`, { headers: { authorization: `Bearer ${await stack.sign({ scope: 'other' })}` } })).status).toBe(403);
  });

  test('policies see the host the client asked for; a client-sent X-Original-Host is replaced by nginx', async () => {
    expect(await get('/hosted/page', { host: 'app.test' })).toBe(200);
    expect(await get('/hosted/page', { host: 'other.test', 'x-original-host': 'app.test' })).toBe(401);
  });

  test('policies see the client\'s address (nginx is the trusted proxy); a client-sent X-Forwarded-For is replaced', async () => {
    expect(await get('/address', {}, '127.0.0.2')).toBe(200);
    expect(await get('/address', {}, '127.0.0.1')).toBe(401);
    expect(await get('/address', { 'x-forwarded-for': '127.0.0.2' }, '127.0.0.1')).toBe(401);
  });

  test('a path with dot segments is decided as the upstream resolves it, not as written; an ambiguous one never reaches the upstream', async () => {
    const token = await stack.sign({ scope: 'hello:read' });
    // nginx passes $request_uri as the client wrote it; a permit for /hello/** must not cover /elsewhere.
    expect(await get('/hello/../elsewhere', { authorization: `Bearer ${token}` })).toBe(403);
    expect(await get('/hello/%2e%2e/elsewhere', { authorization: `Bearer ${token}` })).toBe(403);
    expect(await get('/elsewhere/../hello/world', { authorization: `Bearer ${token}` })).toBe(200);
    // Gavel's 400 for a path servers resolve differently is, to nginx's auth_request, an error: 500.
    expect(await get('/hello/..;/elsewhere', { authorization: `Bearer ${token}` })).toBe(500);
  });

  test('a 403 tells the client the policy\'s reason', async () => {
    const r = await fetch(`${base}/hello/closed`, { headers: { authorization: `Bearer ${await stack.sign({ scope: 'hello:read' })}` } });
    expect(r.status).toBe(403);
    expect(r.headers.get('x-gavel-reason')).toBe('closed for maintenance');
  });

  test('a client sending the other gateways\' X-Forwarded-Uri is decided on its real request, not answered 500', async () => {
    const token = await stack.sign({ scope: 'hello:read' });
    expect(await get('/elsewhere', { authorization: `Bearer ${token}`, 'x-forwarded-uri': '/hello/world', 'x-forwarded-method': 'GET' })).toBe(403);
    expect(await get('/hello/world', { authorization: `Bearer ${token}`, 'x-forwarded-uri': '/elsewhere' })).toBe(200);
  });
});

describe('nginx when Gavel does not answer', () => {
  test('with the documented timeouts, a request fails closed (500) after seconds, not the minute nginx waits by default; the upstream is not called', async () => {
    await withSilentServer(async (silent) => {
      const port = await freePort();
      const at = await startNginx(nginxConf(stack.dir, port, silent, stack.upstreamPort), port);
      const r = await fetch(`${at}/hello/world`, { signal: AbortSignal.timeout(20_000) });
      expect(r.status).toBe(500);
      expect(await r.text()).not.toContain('"path"');
    });
  }, 30_000);
});
