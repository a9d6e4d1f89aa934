import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { applyDocument, userEntities } from '../../src/issuer/apply-document.js';
import { roleScopes } from '../../src/issuer/registry.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const SECRET = 'reporting-app-example-secret-0123456789';
const PASSWORD = 'alice-example-password';
const doc = {
  apis: [{ identifier: 'https://api.example.com', scopes: ['invoice:read', 'payments:write'] }],
  clients: [{ id: 'reporting-app', secret: SECRET, scopes: ['invoice:read'] }],
  roles: [{ name: 'clerk', scopes: ['invoice:read'] }],
  groups: [{ name: 'finance', roles: ['clerk'] }],
  users: [{ id: 'alice', password: PASSWORD, attributes: { department: 'finance' }, groups: ['finance'] }],
};

let dir = '';
let store: SqliteStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gavel-registry-'));
  store = new SqliteStore(join(dir, 'g.db'));
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the registry through gavel apply', () => {
  test('applying the same document twice changes nothing; a dry run changes nothing at all', async () => {
    expect(await applyDocument(store, doc, true)).toEqual({ changes: { added: ['apis:https://api.example.com', 'clients:reporting-app', 'roles:clerk', 'groups:finance', 'users:alice'], changed: [], removed: [] } });
    expect(store.registry().clients).toEqual([]);
    await applyDocument(store, doc, false);
    expect(await applyDocument(store, doc, false)).toEqual({ changes: { added: [], changed: [], removed: [] } });
    const changed = await applyDocument(store, { ...doc, users: [{ ...doc.users[0], password: 'a-new-password' }], roles: [...doc.roles, { name: 'auditor', scopes: [] }] }, false);
    expect(changed).toEqual({ changes: { added: ['roles:auditor'], changed: ['users:alice'], removed: [] } });
  });

  test('secrets and passwords are stored hashed, never in the clear', async () => {
    await applyDocument(store, doc, false);
    store.close();
    const bytes = [readFileSync(join(dir, 'g.db')), ...['g.db-wal'].map((f) => { try { return readFileSync(join(dir, f)); } catch { return Buffer.alloc(0); } })];
    for (const b of bytes) {
      expect(b.includes(SECRET)).toBe(false);
      expect(b.includes(PASSWORD)).toBe(false);
    }
    store = new SqliteStore(join(dir, 'g.db'));
    const [client] = store.registry().clients;
    expect(client.secretHash).toMatch(/^sha256\$/);
    expect(store.registry().users[0].passwordHash).toMatch(/^scrypt\$32768\$8\$1\$/);
  });

  test('attributes given with their members in another order are not a change (each change reloads every server)', async () => {
    const first = { ...doc, entities: [{ type: 'doc', id: '1', attributes: { a: 1, b: { c: 2, d: 3 } } }], users: [{ ...doc.users[0]!, attributes: { department: 'finance', level: 2 } }] };
    await applyDocument(store, first, false);
    const reordered = { ...first, entities: [{ type: 'doc', id: '1', attributes: { b: { d: 3, c: 2 }, a: 1 } }], users: [{ ...doc.users[0]!, attributes: { level: 2, department: 'finance' } }] };
    expect(await applyDocument(store, reordered, false)).toMatchObject({ changes: { added: [], changed: [], removed: [] } });
    expect(await applyDocument(store, { ...reordered, entities: [{ type: 'doc', id: '1', attributes: { a: 2, b: { c: 2, d: 3 } } }] }, false)).toMatchObject({ changes: { changed: ['doc::"1"'] } });
  });

  test('a user the document gives without `password` keeps the stored one (passwords need not live in git); `null` removes it', async () => {
    await applyDocument(store, doc, false);
    const hashed = store.registry().users[0]!.passwordHash;
    const { password: _left, ...withoutPassword } = doc.users[0]!;
    expect(await applyDocument(store, { ...doc, users: [withoutPassword] }, false)).toMatchObject({ changes: { added: [], changed: [], removed: [] } });
    expect(store.registry().users[0]!.passwordHash).toBe(hashed);
    expect(await applyDocument(store, { ...doc, users: [{ ...withoutPassword, password: null }] }, false)).toMatchObject({ changes: { changed: ['users:alice'] } });
    expect(store.registry().users[0]!.passwordHash).toBeNull();
  });

  test('users are directory entities with their roles (their groups\' too) and groups', async () => {
    await applyDocument(store, doc, false);
    expect(userEntities(store.registry())).toEqual([{ type: 'user', id: 'alice', attributes: { department: 'finance', roles: ['clerk'], groups: ['finance'] } }]);
  });

  test('roles are organization-level, or application-level: their scopes count only in grants to the applications they name', async () => {
    const roles = {
      ...doc,
      clients: [...doc.clients, { id: 'billing-web', secret: `${SECRET}-b`, scopes: ['invoice:read', 'payments:write'] }],
      roles: [...doc.roles, { name: 'payer', scopes: ['payments:write'], applications: ['billing-web'] }],
      users: [{ ...doc.users[0], roles: ['payer'] }],
    };
    await applyDocument(store, roles, false);
    const registry = store.registry();
    const alice = registry.users[0]!;
    expect([...roleScopes(registry, alice, 'billing-web')].sort()).toEqual(['invoice:read', 'payments:write']);
    expect([...roleScopes(registry, alice, 'reporting-app')]).toEqual(['invoice:read']);
    // An application that is no client is refused, with nothing applied.
    expect(await applyDocument(store, { ...roles, roles: [...roles.roles, { name: 'ghost', scopes: [], applications: ['nobody'] }] }, false)).toEqual({ problems: ['role `ghost`: application `nobody` is no client'] });
    expect(store.registry().roles.map((r) => r.name)).not.toContain('ghost');
    // An empty list would be a role that counts nowhere; openid is the issuer's scope, not an API's.
    expect(await applyDocument(store, { ...roles, roles: [...roles.roles, { name: 'none', scopes: [], applications: [] }] }, false)).toEqual({ problems: ['roles[2].applications: name at least one client, or leave it out for an organization-level role'] });
    expect(await applyDocument(store, { ...roles, apis: [{ identifier: 'https://api.example.com', scopes: ['invoice:read', 'payments:write', 'openid'] }] }, false)).toEqual({ problems: ["api `https://api.example.com`: `openid` is the issuer's own scope (OpenID Connect), not an API's"] });
  });

  test('every problem is reported and nothing is applied', async () => {
    const bad = {
      apis: [{ identifier: 'not a uri', scopes: ['ok', 'has space'], resource_servers: 'gateway' }],
      clients: [{ id: 'c', secret: 'short', scopes: ['nowhere:read'], grant_types: ['password'] }],
      users: [{ id: 'bob', groups: ['nope'] }],
      entities: [],
      extra: 1,
    };
    const result = await applyDocument(store, bad, false);
    expect(result).toEqual({
      problems: [
        'extra: unknown section; sections are entities, apis, clients, roles, groups, users',
        'apis[0].identifier: an API identifier is an absolute URI (RFC 8707), like https://api.example.com',
        'apis[0].scopes: `has space` is not a scope (printable ASCII without spaces, quotes or backslashes)',
        'apis[0].resource_servers: expected a list of strings',
        'clients[0].secret: use a random string of at least 32 characters',
        'clients[0].grant_types: `password` is not one of client_credentials, authorization_code, refresh_token, urn:ietf:params:oauth:grant-type:token-exchange',
        // And, in the same round, the references as far as the document could be read.
        'user `bob`: no group `nope`',
        'client `c`: scope `nowhere:read` belongs to no API',
      ],
    });
    const apis = (doc.apis as { identifier: string }[]).map((a) => ({ ...a, resource_servers: ['gateway'] }));
    const crossed = await applyDocument(store, { apis, clients: [{ id: 'c', secret: SECRET, scopes: ['nowhere:read'] }], users: [{ id: 'bob', groups: ['nope'] }] }, false);
    expect(crossed).toEqual({
      problems: ['user `bob`: no group `nope`', 'client `c`: scope `nowhere:read` belongs to no API', ...apis.map((a) => `api \`${a.identifier}\`: resource server \`gateway\` is no client`)],
    });
    expect(store.registry()).toEqual({ apis: [], clients: [], roles: [], groups: [], users: [] });
  });

  test('a section with an item that is not an object says so, and no later item is named by a shifted index', async () => {
    const result = await applyDocument(store, { users: [42, { id: 'u1', password: 'short' }, { id: 'u1' }] }, false);
    expect(result).toEqual({ problems: ['users[0]: expected an object'] });
  });

  test('redirect URIs are taken only as requests must match them: no spaces, user info, wildcards, scheme without `//` or missing host; a code client needs one; keys are public and asymmetric', async () => {
    const web = (redirect_uris: string[]) => ({ id: 'web', secret: SECRET, grant_types: ['authorization_code'], redirect_uris, scopes: ['invoice:read'] });
    const bad = [' https://app.example.com/cb', 'https://app.example.com/cb\t', 'https:app.example.com/cb', 'https://user:pw@app.example.com/cb', 'https://*.example.com/cb', 'http://app.example.com/cb'];
    const result = await applyDocument(store, { apis: doc.apis, clients: [web(bad), web([]), { id: 'jwt', jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }, token_endpoint_auth_method: 'private_key_jwt', scopes: ['invoice:read'] }] }, false);
    const problems = 'problems' in result ? result.problems : [];
    for (const u of bad) expect(problems).toContain(`clients[0].redirect_uris: \`${u}\` must be an https URI (http only on loopback) with a host, without a fragment, user info, wildcards or spaces`);
    expect(problems).toContain('clients[1].redirect_uris: an authorization_code client needs at least one (its codes are sent there)');
    expect(problems).toContainEqual(expect.stringMatching(/^clients\[2\]\.jwks: expected a JWKS of one or more public keys/));
    expect(store.registry().clients).toEqual([]);
    // What is right is taken as written.
    expect(await applyDocument(store, { apis: doc.apis, clients: [web(['https://app.example.com/cb', 'http://127.0.0.1:8080/cb'])] }, false)).not.toHaveProperty('problems');
  });

  test('a name with a lone UTF-16 surrogate is refused: it cannot be stored as written', async () => {
    expect(await applyDocument(store, { users: [{ id: 'bob\ud800' }] }, false)).toEqual({ problems: ['users[0].id: holds a lone UTF-16 surrogate (an escape like \\ud800 without its pair), which cannot be stored'] });
  });

  test('a document cannot mark a client `dynamic` (registered through /oauth2/register): apply keeps such clients, so it could never be removed', async () => {
    const result = await applyDocument(store, { ...doc, clients: [{ ...doc.clients[0], attributes: { dynamic: true } }] }, false);
    expect(result).toEqual({ problems: ['clients[0].attributes.dynamic: reserved: it marks clients registered through /oauth2/register, which apply keeps'] });
    expect(store.registry().clients).toEqual([]);
  });

  test('a reference broken by what a partial document leaves out is explained: the note names the stored entries its sections remove', async () => {
    const api = { identifier: 'https://api.example.com', scopes: ['a:read'], resource_servers: ['billing'] };
    expect(await applyDocument(store, { apis: [api], clients: [{ id: 'billing', secret: SECRET, scopes: ['a:read'] }, { id: 'web', secret: SECRET, scopes: [] }] }, false)).toHaveProperty('changes');
    // Only `clients`, without `billing`: the stored API still names it.
    const partial = await applyDocument(store, { clients: [{ id: 'web', secret: SECRET, scopes: [] }] }, true);
    expect(partial).toEqual({
      problems: ['api `https://api.example.com`: resource server `billing` is no client', 'note: `clients` replaces every stored entry of its kind, so this document removes `billing`; list it to keep it'],
    });
    expect(store.registry().clients.map((c) => c.id)).toEqual(['billing', 'web']);
  });

  test('two applies at once: a reference checked against a store the other changed meanwhile is checked again', async () => {
    await applyDocument(store, { roles: [{ name: 'clerk', scopes: [] }], groups: [{ name: 'finance', roles: ['clerk'] }] }, false);
    // The first waits for its password's hash (scrypt) after checking that `finance` exists…
    const adding = applyDocument(store, { users: [{ id: 'alice', password: PASSWORD, groups: ['finance'] }] }, false);
    // …while the second, with nothing to hash, removes `finance` (no stored user is in it yet).
    expect(await applyDocument(store, { groups: [] }, false)).toEqual({ changes: { added: [], changed: [], removed: ['groups:finance'] } });
    expect(await adding).toEqual({ problems: ['user `alice`: no group `finance`'] });
    expect(store.registry()).toMatchObject({ groups: [], users: [] });
  });

  test('when other applies keep changing the store, nothing is applied and the answer is "busy", apart from a document\'s problems', async () => {
    // A store whose every write finds it changed since it was read (as under a stream of other applies).
    const changing = new SqliteStore(join(dir, 'changing.db'));
    changing.applyDocument = (() => null) as unknown as SqliteStore['applyDocument'];
    try {
      expect(await applyDocument(changing, { roles: [{ name: 'clerk', scopes: [] }] }, false)).toEqual({ busy: expect.stringMatching(/kept changing while this document was checked .* apply it again$/) });
      expect(changing.registry().roles).toEqual([]);
    } finally {
      changing.close();
    }
  });

  test('a client may name its ID tokens\' algorithm, one of those Gavel signs with', async () => {
    const client = { id: 'web', secret: SECRET, grant_types: ['authorization_code'], redirect_uris: ['https://app.example.com/cb'], scopes: ['openid'] };
    expect(await applyDocument(store, { clients: [{ ...client, id_token_signed_response_alg: 'HS256' }] }, false)).toEqual({ problems: ['clients[0].id_token_signed_response_alg: expected one of ES256, EdDSA, RS256'] });
    expect(await applyDocument(store, { clients: [{ ...client, id_token_signed_response_alg: 'ES256' }] }, false)).toHaveProperty('changes');
    expect(store.registry().clients[0]).toMatchObject({ id: 'web', idTokenAlg: 'ES256' });
  });

  test('a document with a malformed entry and a broken reference reports both at once; an entry without a name is not a name', async () => {
    const result = await applyDocument(store, { groups: [{ roles: [] }, { name: 'finance', roles: ['clerk'] }], users: [{ id: 'bob', groups: ['finance', 'sales'] }] }, false);
    expect(result).toEqual({ problems: [expect.stringMatching(/^groups\[0\]\.name: /), 'group `finance`: no role `clerk`', 'user `bob`: no group `sales`'] });
    expect(store.registry()).toMatchObject({ groups: [], users: [] });
  });

  test('a user and a client cannot share an id: a token\'s sub would name either', async () => {
    const result = await applyDocument(store, { clients: [{ id: 'bob', secret: SECRET, scopes: [] }], users: [{ id: 'bob' }] }, false);
    expect(result).toEqual({ problems: ["user `bob`: also a client's id; a token's subject would not tell which it names"] });
    expect(store.registry().users).toEqual([]);
  });

  test("a public client cannot be an API's resource server: anyone can claim its id", async () => {
    const apis = (doc.apis as { identifier: string }[]).map((a) => ({ ...a, resource_servers: ['spa'] }));
    const result = await applyDocument(store, { apis, clients: [{ id: 'spa', token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], redirect_uris: ['https://app.example.com/cb'], scopes: [] }] }, false);
    expect(result).toEqual({ problems: apis.map((a) => `api \`${a.identifier}\`: resource server \`spa\` is a public client (token_endpoint_auth_method none)`) });
  });
});
