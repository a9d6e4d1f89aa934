import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ConfigError, loadConfig, unknownVariables } from '../src/config.js';

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

  test('problems of a trusted issuer and of IP list names say where they are, all at once, issuers counted from 0 as in the file', () => {
    write('gavel.json', {
      trusted_issuers: [{ issuer: 'https://x', audiences: ['a'], algorithms: ['HS256'], jwks_file: 'missing.json' }],
      ip_lists: { Bad: 'lists/a.txt' },
    });
    let message = '';
    try {
      loadConfig({ cwd: dir, flags: { config: 'gavel.json', ipLists: ['also_Bad=lists/b.txt'] }, env: {} });
    } catch (err: unknown) {
      message = (err as Error).message;
    }
    expect(message.split('\n')).toEqual([
      expect.stringMatching(/^gavel\.json: trusted_issuers\[0\]\.jwks_file: cannot read `missing\.json`/),
      'gavel.json: trusted_issuers[0] (https://x): algorithm `HS256` is not allowed; use one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA',
      'gavel.json: ip_lists.Bad: `Bad` is not a list name: a name is lower-case letters, digits, `.`, `_` and `-`, starting with a letter or digit',
      '--ip-list also_Bad: `also_Bad` is not a list name: a name is lower-case letters, digits, `.`, `_` and `-`, starting with a letter or digit',
    ]);
  });

  test('an unknown key, broken JSON or a missing file is an error, not ignored', () => {
    write('a.json', { polices: 'x', htpp: 'y' });
    write('b.json', '{');
    expect(() => loadConfig({ cwd: dir, flags: { config: 'a.json' }, env: {} })).toThrow(/a\.json: unknown key `polices`.*\n.*a\.json: unknown key `htpp`/);
    expect(() => loadConfig({ cwd: dir, flags: { config: 'b.json' }, env: {} })).toThrow(/b\.json:\d+:\d+: not valid JSON/);
    // YAML, as Kubernetes habits write it, is told so.
    write('gavel.yaml', 'policies: ./policies\n');
    expect(() => loadConfig({ cwd: dir, flags: { config: 'gavel.yaml' }, env: {} })).toThrow(/^gavel\.yaml:1:1: not valid JSON: .* \(config files are JSON; YAML is not read\)$/);
    expect(() => loadConfig({ cwd: dir, flags: { config: 'c.json' }, env: {} })).toThrow('cannot read config file `c.json`: it does not exist');
    // A folder named as the file is said in words, not as the system's EISDIR.
    mkdirSync(join(dir, 'etc'), { recursive: true });
    expect(() => loadConfig({ cwd: dir, flags: { config: 'etc' }, env: {} })).toThrow(/^cannot read config file `etc`: it is a folder$/);
    // An unknown key is reported with the file's other problems, not alone before them.
    write('d.json', { htp: '127.0.0.1:1', watch: 'yes', admin_key: 'short' });
    expect(() => loadConfig({ cwd: dir, flags: { config: 'd.json' }, env: {} })).toThrow(/d\.json: unknown key `htp`[\s\S]*watch[\s\S]*admin_key/);
  });

  test('a byte order mark before the JSON is accepted', () => {
    write('bom.json', `\uFEFF${JSON.stringify({ http: '127.0.0.1:18181' })}`);
    expect(loadConfig({ cwd: dir, flags: { config: 'bom.json' }, env: {} }).http).toEqual({ host: '127.0.0.1', port: 18181 });
  });

  test('a misspelt key inside a section is an error too: a trusted issuer\'s `token_type` would drop the ID-token guard', () => {
    write('jwks.json', { keys: [] });
    write('gavel.json', {
      watch: 'no',
      trusted_issuers: [{ $comment: 'a note is fine', issuer: 'https://i', audiences: ['a'], jwks_file: 'jwks.json', token_type: ['at+jwt'] }],
      forward_auth: { header: ['x-tenant'] },
      ip_lists: { bad: { path: 'bad.txt', fmt: 'plain' } },
    });
    expect(() => loadConfig({ cwd: dir, flags: { config: 'gavel.json' }, env: {} })).toThrow(ConfigError);
    const message = (() => {
      try {
        loadConfig({ cwd: dir, flags: { config: 'gavel.json' }, env: {} });
        return '';
      } catch (err: unknown) {
        return (err as Error).message;
      }
    })();
    expect(message.split('\n')).toEqual([
      'gavel.json: watch: expected true or false',
      'gavel.json: trusted_issuers[0]: unknown key `token_type`; keys are issuer, audiences, algorithms, jwks_uri, jwks_file, token_types, subject_type, client_subject_type, max_lifetime_seconds',
      'gavel.json: forward_auth: unknown key `header`; keys are headers, response_headers',
      'gavel.json: ip_lists.bad: unknown key `fmt`; keys are path, format',
    ]);
  });

  test('the file\'s values are checked even where a flag or a variable overrides them', () => {
    write('gavel.json', { http: 8181 });
    expect(() => loadConfig({ cwd: dir, flags: { config: 'gavel.json', http: '127.0.0.1:1' }, env: {} })).toThrow('gavel.json: http: expected a string');
    expect(() => loadConfig({ cwd: dir, flags: { config: 'gavel.json' }, env: { GAVEL_HTTP: '127.0.0.1:1' } })).toThrow('gavel.json: http: expected a string');
    write('stop.json', { stop_timeout_seconds: 4 });
    expect(() => loadConfig({ cwd: dir, flags: { config: 'stop.json' }, env: {} })).toThrow('stop.json: stop_timeout_seconds: expected a whole number of seconds from 5 to 3600');
    write('stop.json', { stop_timeout_seconds: 60 });
    expect(loadConfig({ cwd: dir, flags: { config: 'stop.json' }, env: {} }).stopTimeoutSeconds).toBe(60);
    expect(loadConfig({ cwd: dir, flags: {}, env: {} }).stopTimeoutSeconds).toBe(25);
    for (const bad of [8, 1.5, '100']) {
      write('conns.json', { max_connections: bad });
      expect(() => loadConfig({ cwd: dir, flags: { config: 'conns.json' }, env: {} })).toThrow('conns.json: max_connections: expected a whole number from 16 to 1000000');
    }
    write('conns.json', { max_connections: 500 });
    expect(loadConfig({ cwd: dir, flags: { config: 'conns.json' }, env: {} }).maxConnections).toBe(500);
    expect(loadConfig({ cwd: dir, flags: {}, env: {} }).maxConnections).toBeNull();
    // Addresses too: a bad one would surface only once the flag went.
    write('addresses.json', { http: '127.0.0.1:99999', grpc: 'nonsense' });
    const message = (() => {
      try {
        loadConfig({ cwd: dir, flags: { config: 'addresses.json', http: '127.0.0.1:1', grpc: '127.0.0.1:2' }, env: {} });
        return '';
      } catch (err: unknown) {
        return (err as Error).message;
      }
    })();
    expect(message).toMatch(/addresses\.json: http: .*99999/);
    expect(message).toMatch(/addresses\.json: grpc: /);
  });

  test('client keys come from the file or GAVEL_CLIENT_KEYS, which wins; weak or shared keys are refused', () => {
    write('gavel.json', { client_keys: { nginx: 'k'.repeat(16), 'billing-app': 'b'.repeat(20) } });
    expect(loadConfig({ cwd: dir, flags: { config: 'gavel.json' }, env: {} }).clientKeys).toEqual({ nginx: 'k'.repeat(16), 'billing-app': 'b'.repeat(20) });
    expect(loadConfig({ cwd: dir, flags: { config: 'gavel.json' }, env: { GAVEL_CLIENT_KEYS: `envoy=${'e'.repeat(16)}, app=${'a'.repeat(16)}` } }).clientKeys).toEqual({ envoy: 'e'.repeat(16), app: 'a'.repeat(16) });
    expect(loadConfig({ cwd: dir, flags: {}, env: {} }).clientKeys).toEqual({});
    write('weak.json', { client_keys: { nginx: 'short', 'bad name': 'x'.repeat(16), a: 'same-key-0123456789', b: 'same-key-0123456789' } });
    expect(() => loadConfig({ cwd: dir, flags: { config: 'weak.json' }, env: {} })).toThrow(
      ['weak.json: client_keys.nginx: use a random string of at least 16 characters, without spaces', 'weak.json: client_keys: client name `bad name` may hold only letters, digits, `.`, `_` and `-`', 'weak.json: client_keys: clients `a` and `b` share a key; give each its own'].join('\n'),
    );
    expect(() => loadConfig({ cwd: dir, flags: {}, env: { GAVEL_CLIENT_KEYS: 'just-a-key-without-a-name' } })).toThrow('GAVEL_CLIENT_KEYS: expected NAME=KEY pairs separated by commas');
    // A secret store that handed over nothing must not turn the file's keys off (anyone could then call).
    for (const nothing of ['', ' ']) expect(() => loadConfig({ cwd: dir, flags: { config: 'gavel.json' }, env: { GAVEL_CLIENT_KEYS: nothing } })).toThrow('GAVEL_CLIENT_KEYS is set but empty: unset it, or give it a value');
    expect(() => loadConfig({ cwd: dir, flags: { config: 'gavel.json' }, env: { GAVEL_CLIENT_KEYS: ',' } })).toThrow('GAVEL_CLIENT_KEYS: holds no NAME=KEY pair');
    expect(() => loadConfig({ cwd: dir, flags: {}, env: { GAVEL_CLIENT_KEYS: `a=${'1'.repeat(16)},a=${'2'.repeat(16)}` } })).toThrow('GAVEL_CLIENT_KEYS: client `a` is named twice');
  });

  test('any GAVEL_* variable set but empty is an error naming it, never taken as unset', () => {
    expect(() => loadConfig({ cwd: dir, flags: {}, env: { GAVEL_POLICIES: '', GAVEL_DB: ' ', GAVEL_ADMIN_KEY: '' } })).toThrow(
      ['GAVEL_POLICIES is set but empty: unset it, or give it a value', 'GAVEL_DB is set but empty: unset it, or give it a value', 'GAVEL_ADMIN_KEY is set but empty: unset it, or give it a value'].join('\n'),
    );
  });

  test('the decision log can be switched off, its retention set and its requests left out; bad values are refused', () => {
    expect(loadConfig({ cwd: dir, flags: {}, env: {} }).decisionLog).toEqual({ enabled: true, retentionDays: 30, maxRows: 1_000_000, maxMegabytes: 8_192, keepRequests: true, tokenClaims: 'read' });
    write('gavel.json', { decision_log: { enabled: false, retention_days: 7, max_rows: 5000, max_megabytes: 512, keep_requests: false } });
    expect(loadConfig({ cwd: dir, flags: { config: 'gavel.json' }, env: {} }).decisionLog).toEqual({ enabled: false, retentionDays: 7, maxRows: 5000, maxMegabytes: 512, keepRequests: false, tokenClaims: 'read' });
    write('bad.json', { decision_log: { retention_days: 0, max_rows: 1.5, max_megabytes: -1, keep: true, keep_requests: 'no' } });
    expect(() => loadConfig({ cwd: dir, flags: { config: 'bad.json' }, env: {} })).toThrow(
      [
        'bad.json: decision_log: unknown key `keep`; keys are enabled, retention_days, max_rows, max_megabytes, keep_requests, token_claims',
        'bad.json: decision_log.keep_requests: expected true or false',
        'bad.json: decision_log.retention_days: expected a whole number from 1 to 36500',
        'bad.json: decision_log.max_rows: expected a whole number from 1 to 1000000000',
        'bad.json: decision_log.max_megabytes: expected a whole number from 1 to 1048576',
      ].join('\n'),
    );
  });

  test('pushed authorization requests may be required; anything but a boolean is refused', () => {
    expect(loadConfig({ cwd: dir, flags: {}, env: {} }).issuer.requirePushedAuthorizationRequests).toBe(false);
    write('gavel.json', { issuer: { require_pushed_authorization_requests: true } });
    expect(loadConfig({ cwd: dir, flags: { config: 'gavel.json' }, env: {} }).issuer.requirePushedAuthorizationRequests).toBe(true);
    write('bad.json', { issuer: { require_pushed_authorization_requests: 'yes' } });
    expect(() => loadConfig({ cwd: dir, flags: { config: 'bad.json' }, env: {} })).toThrow('bad.json: issuer.require_pushed_authorization_requests: expected true or false');
  });

  test("Envoy's trusted proxies are their own list, none by default: trusting Gavel's ingress does not trust Envoy's callers", () => {
    write('gavel.json', { trusted_proxies: ['10.0.0.0/8'] });
    expect(loadConfig({ cwd: dir, flags: { config: 'gavel.json' }, env: {} })).toMatchObject({ trustedProxies: ['10.0.0.0/8'], envoyTrustedProxies: [] });
    write('gavel.json', { envoy_trusted_proxies: ['192.0.2.0/24'] });
    expect(loadConfig({ cwd: dir, flags: { config: 'gavel.json' }, env: {} })).toMatchObject({ trustedProxies: [], envoyTrustedProxies: ['192.0.2.0/24'] });
    write('bad.json', { envoy_trusted_proxies: ['10.0.0.0/33'] });
    expect(() => loadConfig({ cwd: dir, flags: { config: 'bad.json' }, env: {} })).toThrow(/bad\.json: envoy_trusted_proxies\[0\]/);
  });

  test('a trusted issuer may require token types', () => {
    write('jwks.json', { keys: [] });
    write('gavel.json', { trusted_issuers: [{ issuer: 'https://i', audiences: ['a'], jwks_file: 'jwks.json', token_types: ['at+jwt'] }] });
    expect(loadConfig({ cwd: dir, flags: { config: 'gavel.json' }, env: {} }).trustedIssuers[0].tokenTypes).toEqual(['at+jwt']);
    write('bad.json', { trusted_issuers: [{ issuer: 'https://i', audiences: ['a'], jwks_file: 'jwks.json', token_types: [] }] });
    expect(() => loadConfig({ cwd: dir, flags: { config: 'bad.json' }, env: {} })).toThrow('bad.json: trusted_issuers[0].token_types: expected a non-empty list of strings');
  });

  test('a trusted issuer may bound how long its tokens live', () => {
    write('jwks.json', { keys: [] });
    write('gavel.json', { trusted_issuers: [{ issuer: 'https://i', audiences: ['a'], jwks_file: 'jwks.json', max_lifetime_seconds: 3600 }] });
    expect(loadConfig({ cwd: dir, flags: { config: 'gavel.json' }, env: {} }).trustedIssuers[0].maxLifetimeSeconds).toBe(3600);
    for (const bad of [0, -5, 1.5, '3600']) {
      write('bad.json', { trusted_issuers: [{ issuer: 'https://i', audiences: ['a'], jwks_file: 'jwks.json', max_lifetime_seconds: bad }] });
      expect(() => loadConfig({ cwd: dir, flags: { config: 'bad.json' }, env: {} })).toThrow('bad.json: trusted_issuers[0].max_lifetime_seconds: expected a whole number of seconds above 0');
    }
  });

  test('signing algorithms: ES256 access tokens and RS256 ID tokens unless set; an unknown one is named', () => {
    write('gavel.json', {});
    expect(loadConfig({ cwd: dir, flags: { config: 'gavel.json' }, env: {} }).issuer).toMatchObject({ signingAlg: 'ES256', idTokenSigningAlg: 'RS256' });
    write('set.json', { issuer: { signing_alg: 'RS256', id_token_signing_alg: 'ES256' } });
    expect(loadConfig({ cwd: dir, flags: { config: 'set.json' }, env: {} }).issuer).toMatchObject({ signingAlg: 'RS256', idTokenSigningAlg: 'ES256' });
    write('bad.json', { issuer: { id_token_signing_alg: 'HS256' } });
    expect(() => loadConfig({ cwd: dir, flags: { config: 'bad.json' }, env: {} })).toThrow('bad.json: issuer.id_token_signing_alg: expected "ES256", "EdDSA", "RS256"');
  });

  test('dynamic registrations per address default to 20 an hour; the file may set another whole number', () => {
    write('gavel.json', {});
    expect(loadConfig({ cwd: dir, flags: { config: 'gavel.json' }, env: {} }).issuer.registrationsPerHour).toBe(20);
    write('more.json', { issuer: { registrations_per_hour: 500 } });
    expect(loadConfig({ cwd: dir, flags: { config: 'more.json' }, env: {} }).issuer.registrationsPerHour).toBe(500);
    write('bad.json', { issuer: { registrations_per_hour: 0.5 } });
    expect(() => loadConfig({ cwd: dir, flags: { config: 'bad.json' }, env: {} })).toThrow('bad.json: issuer.registrations_per_hour: expected a whole number from 1 to 100000');
  });

  test('decision_log.token_claims: "read" by default, "all" on request, nothing else', () => {
    write('gavel.json', {});
    expect(loadConfig({ cwd: dir, flags: { config: 'gavel.json' }, env: {} }).decisionLog.tokenClaims).toBe('read');
    write('all.json', { decision_log: { token_claims: 'all' } });
    expect(loadConfig({ cwd: dir, flags: { config: 'all.json' }, env: {} }).decisionLog.tokenClaims).toBe('all');
    write('bad.json', { decision_log: { token_claims: 'some' } });
    expect(() => loadConfig({ cwd: dir, flags: { config: 'bad.json' }, env: {} })).toThrow('bad.json: decision_log.token_claims: expected "read" or "all"');
  });

  test('forward_auth.headers may not copy credentials into the request (they would be logged)', () => {
    write('bad.json', { forward_auth: { headers: ['X-Tenant', 'Authorization', 'Cookie'] } });
    expect(() => loadConfig({ cwd: dir, flags: { config: 'bad.json' }, env: {} })).toThrow(
      'bad.json: forward_auth.headers: `authorization`, `cookie` carry credentials, which would be stored in the decision log; the verified token\'s claims are the `token` root',
    );
    // The JWTs identity-aware proxies pass on, and any header whose name says it holds a secret.
    write('proxies.json', { forward_auth: { headers: ['Cf-Access-Jwt-Assertion', 'X-Goog-IAP-JWT-Assertion', 'X-Amzn-Oidc-Data', 'X-Amzn-Oidc-Accesstoken', 'X-Session-Id', 'X-Api-Key', 'X-Forwarded-Authorization', 'X-Auth-Key'] } });
    expect(() => loadConfig({ cwd: dir, flags: { config: 'proxies.json' }, env: {} })).toThrow('`cf-access-jwt-assertion`, `x-goog-iap-jwt-assertion`, `x-amzn-oidc-data`, `x-amzn-oidc-accesstoken`, `x-session-id`, `x-api-key`, `x-forwarded-authorization`, `x-auth-key` carry credentials');
    write('ok.json', { forward_auth: { headers: ['X-Tenant', 'X-Amzn-Oidc-Identity', 'User-Agent'] } });
    expect(loadConfig({ cwd: dir, flags: { config: 'ok.json' }, env: {} }).forwardAuth.headers).toEqual(['x-tenant', 'x-amzn-oidc-identity', 'user-agent']);
  });

  test('refresh tokens: a 10 s grace window and 30 days by default; the file may set others, within bounds', () => {
    write('gavel.json', {});
    expect(loadConfig({ cwd: dir, flags: { config: 'gavel.json' }, env: {} }).issuer).toMatchObject({ refreshGraceSeconds: 10, refreshTtlSeconds: 2_592_000 });
    write('set.json', { issuer: { refresh_grace_seconds: 0, refresh_token_ttl_seconds: 86_400 } });
    expect(loadConfig({ cwd: dir, flags: { config: 'set.json' }, env: {} }).issuer).toMatchObject({ refreshGraceSeconds: 0, refreshTtlSeconds: 86_400 });
    write('bad.json', { issuer: { refresh_grace_seconds: 3_600 } });
    expect(() => loadConfig({ cwd: dir, flags: { config: 'bad.json' }, env: {} })).toThrow('bad.json: issuer.refresh_grace_seconds: expected a whole number of seconds from 0 to 300');
  });
});

describe('GAVEL_* variables Gavel does not read', () => {
  test('are said with a suggestion when one is near, and those Kubernetes sets for a Service named gavel are not', () => {
    expect(unknownVariables({ GAVEL_HTPP: '127.0.0.1:1', GAVEL_TRUSTED_PROXIES: '127.0.0.1/32', GAVEL_SERVICE_HOST: '10.0.0.1', GAVEL_PORT: 'tcp://10.0.0.1:8181', GAVEL_PORT_8181_TCP: 'tcp://10.0.0.1:8181', GAVEL_GRPC_SERVICE_HOST: '10.0.0.2', GAVEL_GRPC_SERVICE_PORT_GRPC: '9191', GAVEL_HTTP_PORT: 'tcp://10.0.0.3:8181', GAVEL_HTTP_PORT_8181_TCP_ADDR: '10.0.0.3', GAVEL_HTTP: '127.0.0.1:8181', PATH: '/bin' })).toEqual([
      'GAVEL_HTPP is not a variable Gavel reads; it is ignored: did you mean GAVEL_HTTP?',
      expect.stringMatching(/^GAVEL_TRUSTED_PROXIES is not a variable Gavel reads; it is ignored \(Gavel reads GAVEL_CONFIG, GAVEL_POLICIES, /),
    ]);
  });
});

describe('settings an operator reported starting fine and never working', () => {
  const problems = (config: unknown, env: Record<string, string> = {}): string => {
    write('ops.json', config);
    try {
      loadConfig({ cwd: dir, flags: { config: 'ops.json' }, env });
      return '';
    } catch (err: unknown) {
      return (err as Error).message;
    }
  };

  test('a response header name that is no HTTP header name is refused at start (every allow was a 500)', () => {
    expect(problems({ forward_auth: { response_headers: { 'X-Gavel-Subject': 'sub', 'bad header': 'sub' } } })).toContain('forward_auth.response_headers: "bad header" is not an HTTP header name');
  });

  test('an admin key with a line break or space is refused: no request could present it', () => {
    expect(problems({}, { GAVEL_ADMIN_KEY: 'adminadminadminadmin1234\n' })).toContain('GAVEL_ADMIN_KEY: use a random string of at least 16 characters, without spaces or line breaks (this one ends in whitespace');
  });

  test("a file's value the environment overrides is still checked: it is served once the environment stops supplying one", () => {
    const good = { GAVEL_ADMIN_KEY: 'a-good-admin-key-0123456789', GAVEL_CLIENT_KEYS: 'b=bbbbbbbbbbbbbbbbbbbbbb', GAVEL_ISSUER_URL: 'https://issuer.example', GAVEL_ISSUER_SECRET: 's'.repeat(40) };
    const said = problems({ admin_key: 'short', client_keys: { a: 'short' }, issuer: { url: 'ftp://x/', secret: 'short' } }, good);
    for (const where of ['admin_key', 'client_keys.a', 'issuer.url', 'issuer.secret']) expect(said).toContain(`ops.json: ${where}`);
  });

  test('a jwks_uri with credentials is refused: it cannot be fetched, and would be shown in /metrics', () => {
    expect(problems({ trusted_issuers: [{ issuer: 'https://i', audiences: ['a'], jwks_uri: 'http://svc:S3CRET@127.0.0.1:1/jwks' }] })).toContain('jwks_uri: a URL with a user name or password cannot be fetched');
  });

  test('a $comment is taken in velocity, as at any level', () => {
    expect(problems({ velocity: { max_keys: 10, $comment: 'per process' } })).toBe('');
  });
});
