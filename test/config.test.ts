import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gavel-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, value: unknown) => writeFileSync(join(dir, name), typeof value === 'string' ? value : JSON.stringify(value));

describe('configuration', () => {
  test('defaults', () => {
    expect(loadConfig({ cwd: dir, flags: {}, env: {} })).toMatchObject({ policies: join(dir, 'policies'), http: { host: '127.0.0.1', port: 8181 }, watch: true, trustedIssuers: [] });
  });

  test('flags win over the environment, which wins over the file; file paths are relative to the file', () => {
    write('gavel.json', { policies: 'pol', http: '127.0.0.1:1000', watch: false });
    expect(loadConfig({ cwd: '/', flags: { config: join(dir, 'gavel.json') }, env: {} })).toMatchObject({ policies: join(dir, 'pol'), http: { port: 1000 }, watch: false });
    expect(loadConfig({ cwd: '/', flags: { config: join(dir, 'gavel.json') }, env: { GAVEL_HTTP: '127.0.0.1:2000' } }).http.port).toBe(2000);
    expect(loadConfig({ cwd: '/', flags: { config: join(dir, 'gavel.json'), http: '[::1]:3000' }, env: { GAVEL_HTTP: '127.0.0.1:2000' } }).http).toEqual({ host: '::1', port: 3000 });
  });

  test('trusted issuers read their keys from a JWKS file', () => {
    write('jwks.json', { keys: [] });
    write('gavel.json', { trusted_issuers: [{ issuer: 'https://i', audiences: ['a'], jwks_file: 'jwks.json' }] });
    expect(loadConfig({ cwd: dir, flags: { config: 'gavel.json' }, env: {} }).trustedIssuers).toEqual([{ issuer: 'https://i', audiences: ['a'], jwks: { keys: [] } }]);
  });

  test('every problem is reported with where it is, and nothing loads', () => {
    write('gavel.json', {
      http: 'nowhere',
      trusted_issuers: [{ issuer: 'https://i', audiences: 'a', jwks_uri: 'http://keys.example.com/' }, { issuer: 'https://j', audiences: ['a'] }],
      forward_auth: { headers: 'x' },
    });
    expect(() => loadConfig({ cwd: dir, flags: { config: 'gavel.json' }, env: {} })).toThrow(ConfigError);
    try {
      loadConfig({ cwd: dir, flags: { config: 'gavel.json' }, env: {} });
    } catch (err: unknown) {
      expect((err as Error).message.split('\n')).toEqual([
        'gavel.json: trusted_issuers[0].audiences: expected a list of strings',
        'gavel.json: trusted_issuers[1]: give exactly one of jwks_uri and jwks_file',
        'gavel.json: forward_auth.headers: expected a list of header names',
        'gavel.json: http: `nowhere` is not HOST:PORT (for example 127.0.0.1:8181)',
      ]);
    }
  });

  test('an unknown key, broken JSON or a missing file is an error, not ignored', () => {
    write('a.json', { polices: 'x' });
    write('b.json', '{');
    expect(() => loadConfig({ cwd: dir, flags: { config: 'a.json' }, env: {} })).toThrow('a.json: unknown key `polices`');
    expect(() => loadConfig({ cwd: dir, flags: { config: 'b.json' }, env: {} })).toThrow('b.json: not valid JSON');
    expect(() => loadConfig({ cwd: dir, flags: { config: 'c.json' }, env: {} })).toThrow('cannot read config file `c.json`: it does not exist');
  });
});
