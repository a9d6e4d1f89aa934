import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { create } from '@bufbuild/protobuf';
import { credentials, makeGenericClientConstructor, type Client, type ChannelCredentials } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { Health as HealthService, HealthCheckRequestSchema, HealthCheckResponse_ServingStatus, type HealthCheckResponse } from '../../src/gen/proto/grpc/health/v1/health_pb.js';
import { serviceDefinition } from '../../src/grpc/service-definition.js';
import { gavel, ROOT, workspace } from './helpers.js';

/*
 * TLS on both listeners with real certificates (made by openssl for each run): HTTPS and gRPC
 * over TLS, client certificates when a client CA is configured, and certificates rotated in
 * place while serving.
 */
const pki = mkdtempSync(join(tmpdir(), 'gavel-tls-'));
const at = (name: string) => join(pki, name);
const read = (name: string): Buffer => readFileSync(at(name));

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: pki, stdio: 'pipe' });
}

/** A key and a certificate for `name`, issued by the test CA. */
function issue(name: string, ext: string): void {
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
  writeFileSync(at(`${name}.ext`), ext);
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
}

beforeAll(() => {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=gavel-test-ca');
  issue('server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  issue('server2', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  issue('gateway', 'extendedKeyUsage=clientAuth\n');
});
afterAll(() => rmSync(pki, { recursive: true, force: true }));

let child: ChildProcess | null = null;
let ws: ReturnType<typeof workspace> | null = null;
afterEach(() => {
  child?.kill('SIGKILL');
  ws?.remove();
});

/** `gavel serve` with a `tls` section; answers its HTTPS URL and gRPC address once it listens. */
function start(tls: Record<string, unknown>): Promise<{ url: string; grpc: string; output: () => string }> {
  ws = workspace();
  writeFileSync(join(ws.dir, 'gavel.json'), JSON.stringify({ tls }));
  const proc = spawn(process.execPath, [join(ROOT, 'bin', 'gavel.js'), 'serve', '--config', 'gavel.json', '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0'], { cwd: ws.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child = proc;
  let out = '';
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /on (https:\/\/127\.0\.0\.1:\d+) and grpc:\/\/(127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve({ url: m[1]!, grpc: m[2]!, output: () => out });
    });
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('exit', (code) => reject(new Error(`gavel serve exited with ${code}: ${out}`)));
  });
}

/** GET over HTTPS trusting the test CA, optionally with the gateway's client certificate: the status and the server certificate's fingerprint. */
function get(url: string, client = false): Promise<{ status: number; peer: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: read('ca.crt'), ...(client ? { cert: read('gateway.crt'), key: read('gateway.key') } : {}), agent: false }, (res) => {
      const peer = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, peer }));
    });
    req.on('error', reject);
    req.end();
  });
}

const fingerprintOf = (name: string): string => new X509Certificate(read(name)).fingerprint256;

/** GET over HTTPS trusting the test CA: the body. */
function body(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request(url, { ca: read('ca.crt') }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve(text));
    }).on('error', reject).end();
  });
}

function healthCheck(address: string, creds: ChannelCredentials): Promise<HealthCheckResponse> {
  const Ctor = makeGenericClientConstructor(serviceDefinition(HealthService), 'Health');
  const client = new Ctor(address, creds) as unknown as Client & { check: (r: unknown, cb: (err: Error | null, res: HealthCheckResponse) => void) => void };
  return new Promise<HealthCheckResponse>((resolve, reject) => client.check(create(HealthCheckRequestSchema, { service: '' }), (err, res) => (err ? reject(err) : resolve(res)))).finally(() => client.close());
}

describe('TLS', () => {
  test('HTTPS and gRPC over TLS with the configured certificate; plain connections are refused', async () => {
    const server = await start({ cert_file: at('server.crt'), key_file: at('server.key') });
    expect(await get(`${server.url}/healthz`)).toEqual({ status: 200, peer: fingerprintOf('server.crt') });
    // The token issuer's URL is https too: what tokens name as their issuer.
    expect(JSON.parse(await body(`${server.url}/.well-known/oauth-authorization-server`)).issuer).toBe(server.url);
    // So are the AuthZEN metadata's endpoints: a PEP following them must not speak plain HTTP to a TLS port.
    expect(JSON.parse(await body(`${server.url}/.well-known/authzen-configuration`))).toMatchObject({ policy_decision_point: server.url, access_evaluation_endpoint: `${server.url}/access/v1/evaluation` });
    // What an "expires soon" alert reads: the served certificate's notAfter, in Unix seconds.
    const notAfter = Date.parse(new X509Certificate(read('server.crt')).validTo) / 1000;
    expect(await body(`${server.url}/metrics`)).toMatch(new RegExp(`^gavel_tls_certificate_expiry_timestamp_seconds ${notAfter}$`, 'm'));
    await expect(fetch(`${server.url.replace('https:', 'http:')}/healthz`)).rejects.toThrow();
    expect((await healthCheck(server.grpc, credentials.createSsl(read('ca.crt')))).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    await expect(healthCheck(server.grpc, credentials.createInsecure())).rejects.toThrow();
  });

  test('with a client CA, callers must present a certificate it issued, on both listeners', async () => {
    const server = await start({ cert_file: at('server.crt'), key_file: at('server.key'), client_ca_file: at('ca.crt') });
    expect(server.output()).toContain('(TLS, client certificates required)');
    await expect(get(`${server.url}/healthz`)).rejects.toThrow();
    expect((await get(`${server.url}/healthz`, true)).status).toBe(200);
    await expect(healthCheck(server.grpc, credentials.createSsl(read('ca.crt')))).rejects.toThrow();
    expect((await healthCheck(server.grpc, credentials.createSsl(read('ca.crt'), read('gateway.key'), read('gateway.crt')))).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  test('certificates replaced in place are served from the next connection; a key that does not match is refused and the previous pair kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gavel-tls-live-'));
    try {
      copyFileSync(at('server.crt'), join(dir, 'tls.crt'));
      copyFileSync(at('server.key'), join(dir, 'tls.key'));
      const server = await start({ cert_file: join(dir, 'tls.crt'), key_file: join(dir, 'tls.key'), reload_seconds: 1 });
      expect((await get(`${server.url}/healthz`)).peer).toBe(fingerprintOf('server.crt'));
      // Half a rotation: the new certificate with the old key.
      copyFileSync(at('server2.crt'), join(dir, 'tls.crt'));
      for (let i = 0; i < 60 && !server.output().includes('the changed files are not used'); i++) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(server.output()).toMatch(/gavel: TLS: the changed files are not used, the previous certificate keeps serving: .*tls\.crt.* with .*tls\.key.*/);
      expect(await get(`${server.url}/healthz`)).toEqual({ status: 200, peer: fingerprintOf('server.crt') });
      // The rotation completed.
      copyFileSync(at('server2.key'), join(dir, 'tls.key'));
      for (let i = 0; i < 60 && (await get(`${server.url}/healthz`)).peer !== fingerprintOf('server2.crt'); i++) await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await get(`${server.url}/healthz`)).peer).toBe(fingerprintOf('server2.crt'));
      expect(server.output()).toContain('gavel: TLS: serving the changed certificate');
      expect((await healthCheck(server.grpc, credentials.createSsl(read('ca.crt')))).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.each([
    { note: 'a missing certificate file', tls: () => ({ cert_file: at('nope.crt'), key_file: at('server.key') }), says: /tls: cannot read `.*nope\.crt`: (it does not exist|no such file)/ },
    { note: 'a key that is not the certificate\'s', tls: () => ({ cert_file: at('server.crt'), key_file: at('server2.key') }), says: /tls: `.*server\.crt` with `.*server2\.key`: .*key values mismatch/ },
    { note: 'a key file given as the certificate', tls: () => ({ cert_file: at('server.key'), key_file: at('server.key') }), says: /tls: `.*server\.key` is not a PEM certificate/ },
    { note: 'no key file', tls: () => ({ cert_file: at('server.crt') }), says: /gavel\.json: tls\.key_file: required/ },
  ])('$note stops the start (exit 2) with what is wrong, and nothing is made', async ({ tls, says }) => {
    ws = workspace();
    writeFileSync(join(ws.dir, 'gavel.json'), JSON.stringify({ tls: tls() }));
    const run = await gavel(['serve', '--config', 'gavel.json', '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0'], { cwd: ws.dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(says);
    const { existsSync } = await import('node:fs');
    expect(existsSync(join(ws.dir, 'data'))).toBe(false);
  });
});
