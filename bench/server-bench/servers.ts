/**
 * The servers under test, each started in its own process pinned to SERVER_CPU:
 * `gavel serve` as users run it (bin/gavel.js over dist/), the fastify hello-world ceiling,
 * the Cerbos server binary from @cerbos/cerbos-linux-x64, and node-oidc-provider (the issuer
 * benchmark's peer). Every one listens on 127.0.0.1 only; Gavel, fastify and oidc-provider
 * bind port 0 and print the port, Cerbos gets probed free ports.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVER_CPU, freePort, spawnPinned, type Child } from './processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));
export const CERBOS_BINARY = join(ROOT, 'node_modules/@cerbos/cerbos-linux-x64/cerbos-linux-x64');

export interface Server {
  name: string;
  child: Child;
  /** Base URL of the HTTP listener. */
  http: string;
  /** host:port of the gRPC listener, when there is one. */
  grpc: string | null;
}

function writeFiles(dir: string, files: ReadonlyMap<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of files) writeFileSync(join(dir, name), text);
}

export interface GavelOptions {
  /** A folder of its own: policies/, gavel.json, the database. */
  dir: string;
  policies: ReadonlyMap<string, string>;
  /** Entries of the config file's `trusted_issuers`, with their JWKS written beside it. */
  trustedIssuers?: { entry: object; jwksFile: string; jwks: object }[];
  /** The config file's `decision_log.enabled`: `false` logs no decision at all (default on). */
  decisionLog?: boolean;
  /** The config file's `decision_log.keep_requests` (default true: records keep the request as decided). */
  keepRequests?: boolean;
  /** Node options before bin/gavel.js, such as `--cpu-prof` (default none). */
  nodeArgs?: readonly string[];
}

export async function startGavel(name: string, options: GavelOptions): Promise<Server> {
  const policiesDir = join(options.dir, 'policies');
  writeFiles(policiesDir, options.policies);
  for (const t of options.trustedIssuers ?? []) writeFileSync(join(options.dir, t.jwksFile), JSON.stringify(t.jwks));
  const config = {
    $comment: 'written by the benchmark',
    policies: 'policies',
    db: 'gavel.db',
    trusted_issuers: (options.trustedIssuers ?? []).map((t) => t.entry),
    // The load generator calls Envoy Check as Envoy would, from loopback: its `source` is believed only from a trusted proxy.
    trusted_proxies: ['127.0.0.1/32'],
    decision_log: { enabled: options.decisionLog ?? true, keep_requests: options.keepRequests ?? true },
  };
  const configFile = join(options.dir, 'gavel.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const child = spawnPinned(name, process.execPath, [...(options.nodeArgs ?? []), join(ROOT, 'bin/gavel.js'), 'serve', '--config', configFile, '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0'], {
    cpu: SERVER_CPU,
    cwd: options.dir,
  });
  const m = await child.waitFor(/serving \d+ policies \(revision [0-9a-f]+\) on (http:\/\/127\.0\.0\.1:\d+) and grpc:\/\/(127\.0\.0\.1:\d+)/, 60_000);
  return { name, child, http: m[1] ?? '', grpc: m[2] ?? null };
}

export async function startHello(): Promise<Server> {
  const child = spawnPinned('fastify-hello', process.execPath, [here('./hello-server.mjs')], { cpu: SERVER_CPU, cwd: ROOT });
  const m = await child.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
  return { name: 'fastify-hello', child, http: m[1] ?? '', grpc: null };
}

/** `watch`: Cerbos' `watchForChanges`, for the reload benchmark (off elsewhere, as a static deployment runs). */
export async function startCerbos(dir: string, policies: ReadonlyMap<string, string>, watch = false): Promise<Server> {
  const policiesDir = join(dir, 'policies');
  writeFiles(policiesDir, policies);
  const [httpPort, grpcPort] = [await freePort(), await freePort()];
  // The audit log is off (Cerbos' default) and so, unless asked for, is the reload watcher; warn-level logging
  // keeps a per-request line out of the measurement, as Gavel prints nothing per request.
  const config = `server:
  httpListenAddr: "127.0.0.1:${httpPort}"
  grpcListenAddr: "127.0.0.1:${grpcPort}"
storage:
  driver: disk
  disk:
    directory: ${JSON.stringify(policiesDir)}
    watchForChanges: ${watch}
audit:
  enabled: false
telemetry:
  disabled: true
`;
  const configFile = join(dir, 'cerbos.yaml');
  writeFileSync(configFile, config);
  const child = spawnPinned('cerbos', CERBOS_BINARY, ['server', `--config=${configFile}`, '--log-level=warn'], {
    cpu: SERVER_CPU,
    cwd: dir,
    env: { ...process.env, CERBOS_NO_TELEMETRY: '1' },
  });
  const http = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`${http}/_cerbos/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (child.proc.exitCode !== null || Date.now() > deadline) throw new Error(`cerbos did not become healthy:\n${child.output().slice(-4000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { name: 'cerbos', child, http, grpc: `127.0.0.1:${grpcPort}` };
}

/** What the oidc-provider peer is configured with (oidc-provider-server.mjs reads it from a file). */
export interface OidcProviderSetup {
  clientId: string;
  clientSecret: string;
  /** The one resource indicator (API) it issues JWT access tokens for. */
  resource: string;
  scopes: readonly string[];
  /** The EC P-256 private JWK it signs with (ES256). */
  jwk: object;
}

export async function startOidcProvider(dir: string, setup: OidcProviderSetup): Promise<Server> {
  mkdirSync(dir, { recursive: true });
  const setupFile = join(dir, 'setup.json');
  writeFileSync(setupFile, JSON.stringify(setup));
  const child = spawnPinned('oidc-provider', process.execPath, [here('./oidc-provider-server.mjs'), setupFile], { cpu: SERVER_CPU, cwd: ROOT });
  const m = await child.waitFor(/oidc-provider: listening on (http:\/\/127\.0\.0\.1:\d+)/);
  return { name: 'oidc-provider', child, http: m[1] ?? '', grpc: null };
}
