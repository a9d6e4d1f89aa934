import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { ROOT } from '../cli/helpers.js';

/**
 * What every gateway test puts behind its gateway: a real `gavel serve` (policies: GET
 * under /hello/ with scope hello:read), a token issuer's keys, and an upstream that
 * answers with the path and the subject header it was given.
 */
export interface Stack {
  dir: string;
  gavelPort: number;
  upstreamPort: number;
  sign: (claims: Record<string, unknown>) => Promise<string>;
  /** Starts another process that the stack stops with the rest. */
  spawn: (command: string, args: string[], env?: NodeJS.ProcessEnv) => ChildProcess;
  stop: () => Promise<void>;
}

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'https://api.test';

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createTcpServer().listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/**
 * An auth server that accepts connections and never answers — Gavel stopped (SIGSTOP) or
 * stuck — for the gateways' timeouts. `use` gets its port; the server is closed after.
 */
export async function withSilentServer<T>(use: (port: number) => Promise<T>): Promise<T> {
  const silent = createServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  try {
    return await use((silent.address() as { port: number }).port);
  } finally {
    silent.closeAllConnections();
    silent.close();
  }
}

/** Waits until `url` answers at all — or, with `ready`, until `ready` says so (errors count as not yet). */
export async function waitFor(url: string, ready?: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if (ready === undefined) await fetch(url);
      if (ready === undefined || (await ready())) return;
    } catch {
      // not yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} never answered`);
}

export interface StackOptions {
  /** The config's `client_keys`: the gateway must then send X-Gavel-Client-Key. */
  clientKeys?: Record<string, string>;
}

export async function startStack(name: string, options: StackOptions = {}): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), `gavel-${name}-`));
  const children: ChildProcess[] = [];
  mkdirSync(join(dir, 'policies'));
  writeFileSync(
    join(dir, 'policies', 'hello.gavel'),
    '@id("hello.read")\npermit (action == "GET", resource.path like "/hello/**")\nwhen { token.scope contains "hello:read" };\n\n@id("hello.mint")\npermit (action == "mint", resource == scope::"hello:read");\n\n@id("hosted")\npermit (action == "GET", resource.path like "/hosted/**")\nwhen { resource.host == "app.test" };\n' +
      '\n@id("from-127.0.0.2")\npermit (action == "GET", resource.path == "/address")\nwhen { context.ip == "127.0.0.2" };\n' +
      '\n@id("closed")\nforbid (action == "GET", resource.path == "/hello/closed")\nreason "closed for maintenance";\n' +
      '\n@id("plain-http")\npermit (action == "GET", resource.path == "/scheme/http")\nwhen { resource.scheme == "http" };\n' +
      '\n@id("tenant")\npermit (action == "GET", resource.path == "/tenant")\nwhen { context.headers has "x-tenant" && context.headers["x-tenant"] == "acme" };\n',
  );
  const keys = await generateKeyPair('ES256');
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES256' }] }));
  writeFileSync(
    join(dir, 'gavel.json'),
    // The gateway on loopback is the trusted proxy whose X-Forwarded-For names the client.
    JSON.stringify({
      policies: 'policies',
      watch: false,
      trusted_proxies: ['127.0.0.1/32'],
      trusted_issuers: [{ issuer: ISSUER, audiences: [AUDIENCE], algorithms: ['ES256'], jwks_file: 'jwks.json' }],
      forward_auth: { headers: ['x-tenant'] },
      ...(options.clientKeys === undefined ? {} : { client_keys: options.clientKeys }),
    }),
  );
  const sign = (claims: Record<string, unknown>) =>
    new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'alice', exp: Math.floor(Date.now() / 1000) + 300, ...claims }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(keys.privateKey);

  const upstream: Server = createServer((req, res) => res.end(JSON.stringify({ path: req.url, subject: req.headers['x-gavel-subject'] ?? null })));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamPort = (upstream.address() as { port: number }).port;

  const gavel = spawn(process.execPath, [join(ROOT, 'bin', 'gavel.js'), 'serve', '--config', join(dir, 'gavel.json'), '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(gavel);
  const gavelPort = await new Promise<number>((resolve, reject) => {
    let out = '';
    gavel.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    gavel.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    gavel.on('exit', (code) => reject(new Error(`gavel serve exited with ${code}: ${out}`)));
  });

  return {
    dir,
    gavelPort,
    upstreamPort,
    sign,
    spawn: (command, args, env) => {
      const child = spawn(command, args, { stdio: 'ignore', env: { ...process.env, ...env } });
      children.push(child);
      return child;
    },
    stop: async () => {
      for (const c of children) c.kill('SIGKILL');
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
