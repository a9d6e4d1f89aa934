import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROOT } from '../cli/helpers.js';

/**
 * A real nginx (Debian's nginx-light, installed by .ci/run) in front of a small upstream,
 * asking a real `gavel serve` through `auth_request` — the setup docs/gateways.md shows.
 */
const NGINX = '/usr/sbin/nginx';
const ISSUER = 'https://issuer.test';

let dir = '';
let upstream: Server;
const children: ChildProcess[] = [];
let base = '';
let sign: (claims: Record<string, unknown>) => Promise<string>;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createTcpServer().listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

function startGavel(config: string): Promise<number> {
  const proc = spawn(process.execPath, [join(ROOT, 'bin', 'gavel.js'), 'serve', '--config', config, '--http', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let out = '';
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('exit', (code) => reject(new Error(`gavel serve exited with ${code}: ${out}`)));
  });
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`${url} never answered`);
}

beforeAll(async () => {
  if (spawnSync(NGINX, ['-v']).error) throw new Error(`nginx is not installed at ${NGINX}: apt-get install -y nginx-light (.ci/run does)`);
  dir = mkdtempSync(join(tmpdir(), 'gavel-nginx-'));
  mkdirSync(join(dir, 'policies'));
  mkdirSync(join(dir, 'tmp'));
  writeFileSync(join(dir, 'policies', 'hello.gavel'), '@id("hello.read")\npermit (action == "GET", resource.path like "/hello/**")\nwhen { token.scope contains "hello:read" };\n');

  const keys = await generateKeyPair('ES256');
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES256' }] }));
  sign = (claims) =>
    new SignJWT({ iss: ISSUER, aud: 'https://api.test', sub: 'alice', exp: Math.floor(Date.now() / 1000) + 300, ...claims }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(keys.privateKey);
  writeFileSync(
    join(dir, 'gavel.json'),
    JSON.stringify({ policies: 'policies', watch: false, trusted_issuers: [{ issuer: ISSUER, audiences: ['https://api.test'], algorithms: ['ES256'], jwks_file: 'jwks.json' }] }),
  );

  upstream = createServer((req, res) => res.end(JSON.stringify({ path: req.url, subject: req.headers['x-gavel-subject'] ?? null })));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamPort = (upstream.address() as { port: number }).port;
  const gavelPort = await startGavel(join(dir, 'gavel.json'));
  const nginxPort = await freePort();
  const tmp = join(dir, 'tmp');
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
master_process off;
worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${tmp}; proxy_temp_path ${tmp}; fastcgi_temp_path ${tmp}; uwsgi_temp_path ${tmp}; scgi_temp_path ${tmp};
  server {
    listen 127.0.0.1:${nginxPort};
    location / {
      auth_request     /_gavel;
      auth_request_set $gavel_subject $upstream_http_x_gavel_subject;
      proxy_set_header X-Gavel-Subject $gavel_subject;
      proxy_pass       http://127.0.0.1:${upstreamPort};
    }
    location = /_gavel {
      internal;
      proxy_pass              http://127.0.0.1:${gavelPort}/v1/forward-auth;
      proxy_pass_request_body off;
      proxy_set_header        Content-Length "";
      proxy_set_header        X-Original-Method $request_method;
      proxy_set_header        X-Original-URI    $request_uri;
    }
  }
}
`,
  );
  children.push(spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'ignore' }));
  base = `http://127.0.0.1:${nginxPort}`;
  await waitFor(base);
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await new Promise<void>((resolve) => upstream?.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

describe('nginx auth_request in front of an upstream', () => {
  test('a caller with a valid token and the scope reaches the upstream, which learns the subject', async () => {
    const r = await fetch(`${base}/hello/world?x=1`, { headers: { authorization: `Bearer ${await sign({ scope: 'hello:read' })}` } });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ path: '/hello/world?x=1', subject: 'alice' });
  });

  test('a client cannot spoof the subject header the upstream trusts', async () => {
    const r = await fetch(`${base}/hello/world`, { headers: { authorization: `Bearer ${await sign({ scope: 'hello:read' })}`, 'x-gavel-subject': 'admin' } });
    expect(((await r.json()) as { subject: string }).subject).toBe('alice');
  });

  test('no token: 401 with the Bearer challenge', async () => {
    const r = await fetch(`${base}/hello/world`);
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Bearer');
  });

  test('a forged or expired token: 401 invalid_token', async () => {
    const expired = await sign({ scope: 'hello:read', exp: Math.floor(Date.now() / 1000) - 3600 });
    const r = await fetch(`${base}/hello/world`, { headers: { authorization: `Bearer ${expired}` } });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  test('a valid caller the policies deny: 403, and the upstream is never called', async () => {
    const token = await sign({ scope: 'hello:read' });
    expect((await fetch(`${base}/hello/world`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })).status).toBe(403);
    expect((await fetch(`${base}/elsewhere`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(403);
    expect((await fetch(`${base}/hello/world`, { headers: { authorization: `Bearer ${await sign({ scope: 'other' })}` } })).status).toBe(403);
  });
});
