import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { gavel, ROOT } from './helpers.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gavel-scopes-'));
  mkdirSync(join(dir, 'policies'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const write = (file: string, text: string) => writeFileSync(join(dir, file), text);
const registry = (scopes: string[]) => JSON.stringify({ apis: [{ identifier: 'https://api.example.com', scopes }] });

describe('gavel scopes: do the mint policies and the request policies agree with the registry', () => {
  test('each scope: who may mint it, which policies check it, and what is wrong', async () => {
    write('registry.json', registry(['orders:read', 'orders:admin', 'orders:export']));
    write(
      'policies/mint.gavel',
      [
        '@id("mint.read") permit (action == "mint", resource in [scope::"orders:read", scope::"orders:export"]) when { risk.ip.reputation >= 20 };',
        // The admin scope has a restriction, but no permit: no token will ever carry it.
        '@id("mint.admin-mfa") forbid (action == "mint", resource == scope::"orders:admin") unless { context has mfa && context.mfa };',
      ].join('\n'),
    );
    write(
      'policies/orders.gavel',
      [
        '@id("orders.read") permit (action == "GET") when { token.scope contains "orders:read" };',
        '@id("orders.admin") permit (action == "DELETE") when { token.scope contains_any ["orders:admin", "orders:root"] };',
      ].join('\n'),
    );
    const r = await gavel(['scopes', '--registry', 'registry.json', '--json'], { cwd: dir });
    expect(r.stderr).toBe('');
    // A scope the registry offers that no policy lets anyone have fails the command, for CI.
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual([
      { scope: 'orders:admin', apis: ['https://api.example.com'], minted_by: [], checked_by: ['orders.admin'], problem: 'never-minted' },
      { scope: 'orders:export', apis: ['https://api.example.com'], minted_by: ['mint.read'], checked_by: [], problem: 'never-checked' },
      { scope: 'orders:read', apis: ['https://api.example.com'], minted_by: ['mint.read'], checked_by: ['orders.read'], problem: null },
      { scope: 'orders:root', apis: [], minted_by: [], checked_by: ['orders.admin'], problem: 'not-offered' },
    ]);
  });

  test('a forbid that refuses a scope to every request leaves it never minted; with a permit for it and no such forbid, exit 0', async () => {
    write('registry.json', registry(['orders:read']));
    write('policies/mint.gavel', '@id("mint.read") permit (action == "mint", resource == scope::"orders:read");\n@id("mint.freeze") forbid (action == "mint", resource);');
    write('policies/orders.gavel', '@id("orders.read") permit when { "orders:read" in token.scope };');
    const frozen = await gavel(['scopes', '--registry', 'registry.json', '--json'], { cwd: dir });
    expect(frozen.code).toBe(1);
    expect(JSON.parse(frozen.stdout)).toMatchObject([{ scope: 'orders:read', minted_by: [], checked_by: ['orders.read'], problem: 'never-minted' }]);
    write('policies/mint.gavel', '@id("mint.read") permit (action == "mint", resource == scope::"orders:read");');
    const ok = await gavel(['scopes', '--registry', 'registry.json'], { cwd: dir });
    expect(ok.code).toBe(0);
    expect(ok.stdout.split('\n').at(-2)).toBe('1 scopes: 0 never minted, 0 not offered, 0 never checked');
  });

  test("the repository's example registry and policies: customers:admin is offered, restricted, and never granted", async () => {
    const r = await gavel(['scopes', '--registry', 'examples/registry.json'], { cwd: ROOT });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^customers:admin +https:\/\/api\.example\.com +- +customers\.admin +never minted$/m);
    expect(r.stdout).toMatch(/^payments:write +https:\/\/api\.example\.com +mint\.payments-write +payments\.create,payments\.execute *$/m);
  });

  test('what a mint request lacks counts: the issuer sends no token and no context but ip, grant_type, client_id, audience and time', async () => {
    write('registry.json', registry(['orders:admin']));
    write(
      'policies/mint.gavel',
      [
        '@id("mint.admin") permit (action == "mint", resource == scope::"orders:admin") when { subject.id == "ops" };',
        // context.mfa is never given to a mint decision: this forbid refuses every mint of the scope.
        '@id("mint.admin-mfa") forbid (action == "mint", resource == scope::"orders:admin") unless { context has mfa && context.mfa };',
        '@id("orders.admin") permit (action == "DELETE") when { token has scope && token.scope contains "orders:admin" };',
      ].join('\n'),
    );
    const r = await gavel(['scopes', '--registry', 'registry.json', '--json'], { cwd: dir });
    expect(JSON.parse(r.stdout)).toMatchObject([{ scope: 'orders:admin', minted_by: [], problem: 'never-minted' }]);
  });

  test('a registry that is missing, not JSON or not a registry is a usage error naming the file; nothing is printed on stdout', async () => {
    write('bad.json', '{"apis": [');
    write('wrong.json', '{"apis": [{"identifier": 5}]}');
    for (const [args, message] of [
      [['scopes'], 'give the registry'],
      [['scopes', '--registry', 'none.json'], 'cannot read `none.json`'],
      [['scopes', '--registry', 'bad.json'], 'bad.json:1:'],
      [['scopes', '--registry', 'wrong.json'], 'wrong.json: invalid document'],
    ] as const) {
      const r = await gavel([...args], { cwd: dir });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(message);
    }
  });
});
