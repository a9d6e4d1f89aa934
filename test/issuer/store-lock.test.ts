/**
 * Another connection holding the store's write lock — a second `gavel serve` on the same
 * database mid-transaction, `sqlite3` left at a `BEGIN IMMEDIATE`, a backup — must not stop
 * the server: a request that has to write waits for the lock without holding up the rest
 * (decisions, reads), and is answered once the lock is free, or with a 503 when it stays
 * taken past the store's busy timeout.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { ROOT } from '../cli/helpers.js';
import { issuerServer, type IssuerServer } from './issuer-server.js';

const BASIC = `Basic ${Buffer.from('reporting-app:reporting-app-example-secret-0123456789').toString('base64')}`;
let issuer: IssuerServer;
let holder: ChildProcessWithoutNullStreams | null = null;

beforeAll(async () => {
  issuer = await issuerServer('examples');
}, 60_000);

afterEach(() => {
  holder?.kill('SIGKILL');
  holder = null;
});

afterAll(() => issuer?.stop());

/** Another process that takes the database's write lock and keeps it until `release()`. */
async function holdWriteLock(db: string): Promise<{ release: () => Promise<void> }> {
  const script = `
    const Database = require(${JSON.stringify(join(ROOT, 'node_modules/better-sqlite3'))});
    const db = new Database(${JSON.stringify(db)});
    db.exec('BEGIN IMMEDIATE');
    process.stdout.write('held\\n');
    process.stdin.once('data', () => { db.exec('COMMIT'); db.close(); process.exit(0); });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  holder = child;
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the lock holder exited with ${code}: ${err}`)));
  });
  return {
    release: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin.write('go\n');
      }),
  };
}

const form = (path: string, fields: Record<string, string>) =>
  fetch(`${issuer.server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: BASIC }, body: new URLSearchParams(fields) });

async function clientToken(): Promise<string> {
  const r = await form('/oauth2/token', { grant_type: 'client_credentials', scope: 'invoice:read', resource: 'https://api.example.com' });
  expect(r.status).toBe(200);
  return ((await r.json()) as { access_token: string }).access_token;
}

const evaluation = () =>
  fetch(`${issuer.server.url}/access/v1/evaluation`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ subject: { type: 'user', id: 'alice' }, action: { name: 'read' }, resource: { type: 'document', id: 'd1' } }),
  });

describe('while another connection holds the write lock', () => {
  test('a write waits without holding up decisions, and is answered once the lock is free', async () => {
    const token = await clientToken();
    const lock = await holdWriteLock(join(issuer.dir, 'data/gavel.db'));
    let revoked: number | null = null;
    const revoking = form('/oauth2/revoke', { token }).then((r) => (revoked = r.status));
    // Decisions and reads go on while the revocation waits: the lock is still held, so it cannot have been answered.
    expect((await evaluation()).status).toBe(200);
    const introspected = await form('/oauth2/introspect', { token });
    expect(await introspected.json()).toMatchObject({ active: true });
    expect(revoked).toBeNull();
    await lock.release();
    await revoking;
    expect(revoked).toBe(200);
    expect(await (await form('/oauth2/introspect', { token })).json()).toEqual({ active: false });
  }, 30_000);

  test('a lock held past the busy timeout answers the write 503, to try again, and changes nothing', async () => {
    const token = await clientToken();
    const lock = await holdWriteLock(join(issuer.dir, 'data/gavel.db'));
    const r = await form('/oauth2/revoke', { token });
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('5');
    expect(await r.json()).toMatchObject({ error: 'temporarily_unavailable' });
    await lock.release();
    expect(await (await form('/oauth2/introspect', { token })).json()).toMatchObject({ active: true });
  }, 30_000);
});
