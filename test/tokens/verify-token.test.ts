import { createServer, type Server } from 'node:http';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { CompactSign, exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import { issuerProblems, type TrustedIssuer } from '../../src/tokens/trusted-issuer.js';
import { createTokenVerifier, tokenKey } from '../../src/tokens/verify-token.js';

const ISSUER = 'https://issuer.test';
const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const now = () => NOW;
const seconds = NOW / 1000;

let rsa: Awaited<ReturnType<typeof generateKeyPair>>;
let ec: Awaited<ReturnType<typeof generateKeyPair>>;
let other: Awaited<ReturnType<typeof generateKeyPair>>;
let jwks: { keys: JWK[] };
let issuer: TrustedIssuer;

beforeAll(async () => {
  rsa = await generateKeyPair('RS256');
  ec = await generateKeyPair('ES256');
  other = await generateKeyPair('RS256');
  jwks = { keys: [{ ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256' }, { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256' }] };
  issuer = { issuer: ISSUER, audiences: ['https://api.example.com'], jwks };
});

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

function sign(claims: Record<string, unknown>, options: { key?: PrivateKey; alg?: string; kid?: string; typ?: string } = {}): Promise<string> {
  return new SignJWT({ scope: 'invoice:read', ...claims })
    .setProtectedHeader({ alg: options.alg ?? 'RS256', kid: options.kid ?? 'rsa-1', ...(options.typ === undefined ? {} : { typ: options.typ }) })
    .sign(options.key ?? rsa.privateKey);
}

const good = { iss: ISSUER, aud: 'https://api.example.com', sub: 'alice', exp: seconds + 600, iat: seconds };
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('bearer token verification', () => {
  test('a token signed by a trusted issuer for our audience verifies, with its claims', async () => {
    const verify = createTokenVerifier([issuer], { now });
    expect(await verify(await sign(good))).toEqual({ ok: true, claims: expect.objectContaining({ sub: 'alice', scope: 'invoice:read' }) });
    expect(await verify(await sign(good, { key: ec.privateKey, alg: 'ES256', kid: 'ec-1' }))).toMatchObject({ ok: true });
  });

  test.each([
    { note: 'expired', claims: { exp: seconds - 60 }, reason: 'token expired' },
    { note: 'not yet valid', claims: { nbf: seconds + 600 }, reason: 'claim `nbf` is not valid' },
    { note: 'another issuer', claims: { iss: 'https://evil.test' }, reason: 'issuer `https://evil.test` is not trusted' },
    { note: 'another audience', claims: { aud: 'https://other.example.com' }, reason: 'claim `aud` is not valid' },
    { note: 'no exp', claims: { exp: undefined }, reason: 'claim `exp` is not valid' },
  ])('rejects a token that is $note', async ({ claims, reason }) => {
    const verify = createTokenVerifier([issuer], { now });
    const token = await sign(Object.fromEntries(Object.entries({ ...good, ...claims }).filter(([, v]) => v !== undefined)));
    const result = await verify(token);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toContain(reason);
  });

  test.each([
    { note: 'bound to a client certificate (RFC 8705)', cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' }, reason: 'cannot check (by `x5t#S256`)' },
    { note: 'bound by a key given whole', cnf: { jwk: { kty: 'OKP', crv: 'Ed25519', x: 'abc' } }, reason: 'by `jwk`' },
    { note: 'bound by a DPoP key and a certificate', cnf: { jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs', 'x5t#S256': 'x' }, reason: 'by `x5t#S256`' },
    { note: 'bound by a jkt that is no string', cnf: { jkt: 12345 }, reason: '`cnf.jkt` is not a string' },
    { note: 'bound by a cnf that is no object', cnf: 'x', reason: '`cnf` is not an object' },
  ])('a token $note is refused, not taken as a bearer token', async ({ cnf, reason }) => {
    const verify = createTokenVerifier([issuer], { now });
    const result = await verify(await sign({ ...good, cnf }));
    expect(result).toMatchObject({ ok: false, reason: expect.stringContaining(reason) });
    // A DPoP-bound token verifies; its proof is checked where the request is seen.
    expect(await verify(await sign({ ...good, cnf: { jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' } }))).toMatchObject({ ok: true });
  });

  test('tolerates 30 seconds of clock skew, not more', async () => {
    const verify = createTokenVerifier([issuer], { now });
    expect(await verify(await sign({ ...good, exp: seconds - 20 }))).toMatchObject({ ok: true });
    expect(await verify(await sign({ ...good, exp: seconds - 40 }))).toMatchObject({ ok: false });
  });

  test('rejects `alg: none`', async () => {
    const verify = createTokenVerifier([issuer], { now });
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(good)}.`;
    expect(await verify(unsigned)).toMatchObject({ ok: false });
  });

  test('rejects HS256 signed with the public key (algorithm confusion)', async () => {
    const verify = createTokenVerifier([issuer], { now });
    const pem = await exportSPKI(rsa.publicKey);
    const head = `${b64({ alg: 'HS256', kid: 'rsa-1' })}.${b64(good)}`;
    const forged = `${head}.${createHmac('sha256', pem).update(head).digest('base64url')}`;
    expect(await verify(forged)).toEqual({ ok: false, reason: 'signing algorithm is not allowed' });
  });

  test('rejects a token signed by a key the issuer does not publish, and a tampered payload', async () => {
    const verify = createTokenVerifier([issuer], { now });
    expect(await verify(await sign(good, { key: other.privateKey }))).toEqual({ ok: false, reason: 'signature does not verify' });
    const [h, , s] = (await sign(good)).split('.');
    expect(await verify(`${h}.${b64({ ...good, sub: 'mallory' })}.${s}`)).toEqual({ ok: false, reason: 'signature does not verify' });
  });

  test('an algorithm outside the issuer allow-list is rejected even when the signature is good', async () => {
    const verify = createTokenVerifier([{ ...issuer, algorithms: ['RS256'] }], { now });
    expect(await verify(await sign(good, { key: ec.privateKey, alg: 'ES256', kid: 'ec-1' }))).toEqual({ ok: false, reason: 'signing algorithm is not allowed' });
  });

  test('an issuer that names token types accepts only those: an ID token is not an access token', async () => {
    const verify = createTokenVerifier([{ ...issuer, tokenTypes: ['at+jwt'] }], { now });
    expect(await verify(await sign(good, { typ: 'at+jwt' }))).toMatchObject({ ok: true });
    expect(await verify(await sign({ ...good, jti: 'x' }, { typ: 'application/AT+JWT' }))).toMatchObject({ ok: true });
    expect(await verify(await sign(good, { typ: 'JWT' }))).toEqual({ ok: false, reason: 'token type `JWT` is not accepted; expected at+jwt' });
    expect(await verify(await sign({ ...good, jti: 'y' }))).toEqual({ ok: false, reason: 'token type `(none)` is not accepted; expected at+jwt' });
  });

  test('an issuer whose tokens may live a day at most: a token with longer to live is refused, whatever signed it', async () => {
    const verify = createTokenVerifier([{ ...issuer, maxLifetimeSeconds: 86_400 }], { now });
    expect(await verify(await sign({ ...good, exp: seconds + 86_400 }))).toMatchObject({ ok: true });
    // The clock skew tolerated on `exp` is tolerated here too.
    expect(await verify(await sign({ ...good, exp: seconds + 86_420 }))).toMatchObject({ ok: true });
    expect(await verify(await sign({ ...good, exp: seconds + 10 * 365 * 86_400 }))).toEqual({ ok: false, reason: "token lives 315360000 s more, longer than this issuer's tokens may (86400 s)" });
    // Without the bound, the same token verifies.
    expect(await createTokenVerifier([issuer], { now })(await sign({ ...good, exp: seconds + 10 * 365 * 86_400 }))).toMatchObject({ ok: true });
    expect(issuerProblems([{ ...issuer, maxLifetimeSeconds: 0 }])).toEqual(['trusted issuer 1 (https://issuer.test): the longest token lifetime is a whole number of seconds above 0, for example 86400']);
  });

  test('a trusted issuer\'s claims nested deeper than a request may be are refused, not passed to policies and the log', async () => {
    const verify = createTokenVerifier([issuer], { now });
    let deep: unknown = 1;
    for (let i = 0; i < 64; i++) deep = { a: deep };
    expect(await verify(await sign({ ...good, profile: deep }))).toEqual({ ok: false, reason: 'claims are nested deeper than 64 levels' });
    expect(await verify(await sign({ ...good, profile: (deep as { a: unknown }).a }))).toMatchObject({ ok: true });
  });

  test('claims holding a number JSON cannot (1e999 is Infinity once parsed) are refused: the log would keep null for it', async () => {
    const verify = createTokenVerifier([issuer], { now });
    const payload = new TextEncoder().encode(JSON.stringify({ ...good, scope: 'invoice:read' }).replace(/}$/, ',"limit":1e999}'));
    const token = await new CompactSign(payload).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).sign(rsa.privateKey);
    expect(await verify(token)).toEqual({ ok: false, reason: 'claims.limit: Infinity is not a number JSON can hold (a finite one)' });
  });

  test('a cached token still expires', async () => {
    let clock = NOW;
    const verify = createTokenVerifier([issuer], { now: () => clock });
    const token = await sign({ ...good, exp: seconds + 60 });
    expect(await verify(token)).toMatchObject({ ok: true });
    clock = NOW + 120_000;
    expect(await verify(token)).toEqual({ ok: false, reason: 'token expired' });
  });

  test('a token verified before is answered at once (no promise), as the awaited verifier would; a new one must be awaited', async () => {
    let clock = NOW;
    const verify = createTokenVerifier([issuer], { now: () => clock });
    const token = await sign({ ...good, exp: seconds + 60 });
    expect(verify.now?.(token, tokenKey(token))).toBeUndefined();
    const awaited = await verify(token);
    expect(verify.now?.(token, tokenKey(token))).toEqual(awaited);
    clock = NOW + 120_000;
    expect(verify.now?.(token, tokenKey(token))).toEqual({ ok: false, reason: 'token expired' });
    expect(verify.now?.('', tokenKey(''))).toEqual({ ok: false, reason: 'empty token' });
  });

  test('garbage and oversize input are rejected, never thrown', async () => {
    const verify = createTokenVerifier([issuer], { now, maxTokenLength: 4096 });
    expect(await verify('x'.repeat(5000))).toEqual({ ok: false, reason: 'token longer than 4096 characters' });
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.array(fc.base64String(), { maxLength: 4 }).map((p) => p.join('.'))), async (s) => {
        expect((await verify(s)).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});

describe('keys served over HTTP', () => {
  // The issuer's JWKS endpoint: it serves `served` (else the keys), or fails with a 500 while `down`.
  let served: { keys: JWK[] } | null = null;
  let down = false;
  /** Sent in pieces, without a Content-Length, as a server streaming it would. */
  let streamed = false;
  let fetches = 0;
  let server: Server;
  let url: URL;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      fetches++;
      if (down) return void res.writeHead(500).end('maintenance');
      res.setHeader('content-type', 'application/json');
      const body = JSON.stringify(served ?? jwks);
      if (!streamed) return void res.end(body);
      for (let at = 0; at < body.length; at += 65_536) res.write(body.slice(at, at + 65_536));
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    url = new URL(`http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/jwks.json`);
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('a remote JWKS is fetched when the verifier is made, before any token needs it', async () => {
    const before = fetches;
    const verify = createTokenVerifier([{ ...issuer, jwks: url }], { now });
    for (let i = 0; i < 100 && fetches === before; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(fetches).toBe(before + 1);
    // The first token is verified with the keys already at hand.
    expect(await verify(await sign(good))).toMatchObject({ ok: true });
    expect(fetches).toBe(before + 1);
  });

  test('a remote JWKS is fetched and used', async () => {
    const verify = createTokenVerifier([{ ...issuer, jwks: url }], { now });
    expect(await verify(await sign(good))).toMatchObject({ ok: true });
  });

  test('a rotated key is fetched when a token names a kid the cached set lacks', async () => {
    const rotated = await generateKeyPair('ES256');
    served = { keys: [{ ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256' }] };
    const verify = createTokenVerifier([{ ...issuer, jwks: url, algorithms: ['RS256', 'ES256'] }], { now, jwksCooldownMs: 0 });
    expect(await verify(await sign(good))).toMatchObject({ ok: true });
    const before = fetches;
    // The issuer rotates: its JWKS now has a new key, and tokens name it.
    served = { keys: [...served.keys, { ...(await exportJWK(rotated.publicKey)), kid: 'ec-2', alg: 'ES256' }] };
    expect(await verify(await sign({ ...good, jti: 'r' }, { key: rotated.privateKey, alg: 'ES256', kid: 'ec-2' }))).toMatchObject({ ok: true });
    expect(fetches).toBe(before + 1);
    // A kid the issuer never published still fails, after one more look.
    expect(await verify(await sign({ ...good, jti: 's' }, { key: other.privateKey, kid: 'nope' }))).toEqual({ ok: false, reason: 'no key of the issuer matches the token' });
    served = null;
  });
  test('a verified token is not verified again: it keeps verifying from the cache after its key is gone from the JWKS', async () => {
    const verify = createTokenVerifier([{ ...issuer, jwks: url }], { now, jwksCooldownMs: 0 });
    const cached = await sign({ ...good, jti: 'cached' });
    expect(await verify(cached)).toMatchObject({ ok: true });
    // The issuer drops every key; a token naming an unknown kid makes Gavel fetch that empty set.
    served = { keys: [] };
    expect(await verify(await sign({ ...good, jti: 'probe' }, { kid: 'gone' }))).toEqual({ ok: false, reason: 'no key of the issuer matches the token' });
    // A new token by the dropped key fails; the one verified before is still answered from the cache.
    expect(await verify(await sign({ ...good, jti: 'fresh' }))).toMatchObject({ ok: false });
    expect(await verify(cached)).toMatchObject({ ok: true, claims: { jti: 'cached' } });
    served = null;
  });


  test('tokens keep verifying with the keys last fetched, however stale (a refresh that fails keeps them)', async () => {
    down = false;
    // Keys always stale: every token starts a background refresh (cooldown 0).
    const verify = createTokenVerifier([{ ...issuer, jwks: url }], { now, jwksRefreshMs: 0, jwksCooldownMs: 0 });
    expect(await verify(await sign({ ...good, jti: 'before' }))).toMatchObject({ ok: true });
    down = true;
    const before = fetches;
    for (const jti of ['during-1', 'during-2', 'during-3']) expect(await verify(await sign({ ...good, jti }))).toMatchObject({ ok: true });
    // The refreshes were tried, and failed, without costing a token anything.
    expect(fetches).toBeGreaterThan(before);
    down = false;
  });

  test('a token that cannot be checked at all is "unavailable", not invalid: no keys were ever fetched', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const address = closed.address();
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const nowhere = new URL(`http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/jwks.json`);
    const verify = createTokenVerifier([{ ...issuer, jwks: nowhere }], { now });
    const result = await verify(await sign(good));
    expect(result).toMatchObject({ ok: false, unavailable: true });
    expect(!result.ok && result.reason).toMatch(/could not be fetched from http:\/\/127\.0\.0\.1:\d+\/jwks\.json: fetch failed: ECONNREFUSED/);
  });

  test('a token naming a key the fetched set lacks is "unavailable" while the set cannot be fetched again (rotated or forged: nobody can tell)', async () => {
    down = false;
    const verify = createTokenVerifier([{ ...issuer, jwks: url }], { now, jwksCooldownMs: 0 });
    expect(await verify(await sign({ ...good, jti: 'known' }))).toMatchObject({ ok: true });
    down = true;
    const rotated = await generateKeyPair('ES256');
    const result = await verify(await sign({ ...good, jti: 'new-kid' }, { key: rotated.privateKey, alg: 'ES256', kid: 'ec-9' }));
    expect(result).toMatchObject({ ok: false, unavailable: true });
    expect(!result.ok && result.reason).toContain('HTTP 500');
    // Once the endpoint answers again, the same kind of token is plainly invalid (the key is not published).
    down = false;
    expect(await verify(await sign({ ...good, jti: 'new-kid-2' }, { key: rotated.privateKey, alg: 'ES256', kid: 'ec-9' }))).toEqual({ ok: false, reason: 'no key of the issuer matches the token' });
  });

  test('keys older than the longest staleness allowed are not used while the JWKS cannot be fetched (a withdrawn key would live on)', async () => {
    down = false;
    const verify = createTokenVerifier([{ ...issuer, jwks: url }], { now, jwksCooldownMs: 0, jwksMaxStaleMs: 50 });
    expect(await verify(await sign({ ...good, jti: 'stale-1' }))).toMatchObject({ ok: true });
    down = true;
    await new Promise((resolve) => setTimeout(resolve, 60));
    const result = await verify(await sign({ ...good, jti: 'stale-2' }));
    expect(result).toMatchObject({ ok: false, unavailable: true });
    expect(!result.ok && result.reason).toMatch(/the issuer's keys were fetched \d+ min ago, and .* cannot be fetched: HTTP 500/);
    // Back up: fetched in line, and the token verifies.
    down = false;
    expect(await verify(await sign({ ...good, jti: 'stale-3' }))).toMatchObject({ ok: true });
  });

  test('a key rotated during the cooldown a forged kid started is "unavailable", not invalid; the forged kid, looked for already, is invalid', async () => {
    down = false;
    served = { keys: [{ ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256' }] };
    const verify = createTokenVerifier([{ ...issuer, jwks: url, algorithms: ['RS256', 'ES256'] }], { now, jwksCooldownMs: 400 });
    expect(await verify(await sign({ ...good, jti: 'k1' }))).toMatchObject({ ok: true });
    await new Promise((resolve) => setTimeout(resolve, 450));
    // A forged kid: looked for in a fetch, which starts the cooldown.
    expect(await verify(await sign({ ...good, jti: 'f1' }, { key: other.privateKey, kid: 'forged' }))).toEqual({ ok: false, reason: 'no key of the issuer matches the token' });
    // The issuer rotates meanwhile: its tokens cannot be checked before the next fetch.
    const rotated = await generateKeyPair('ES256');
    served = { keys: [...served.keys, { ...(await exportJWK(rotated.publicKey)), kid: 'ec-new', alg: 'ES256' }] };
    const fresh = await verify(await sign({ ...good, jti: 'n1' }, { key: rotated.privateKey, alg: 'ES256', kid: 'ec-new' }));
    expect(fresh).toMatchObject({ ok: false, unavailable: true, reason: expect.stringContaining('fetched again at most every 0.4 s') });
    expect(await verify(await sign({ ...good, jti: 'f2' }, { key: other.privateKey, kid: 'forged' }))).toEqual({ ok: false, reason: 'no key of the issuer matches the token' });
    // The cooldown over, the new key is fetched and its tokens verify.
    await new Promise((resolve) => setTimeout(resolve, 450));
    expect(await verify(await sign({ ...good, jti: 'n2' }, { key: rotated.privateKey, alg: 'ES256', kid: 'ec-new' }))).toMatchObject({ ok: true });
    served = null;
  });

  test.each([
    { note: 'more than a mebibyte', doc: () => ({ ...jwks, padding: 'x'.repeat(1 << 20) }), reason: 'bytes, more than 1048576 allowed', stream: false },
    { note: 'more than a mebibyte, streamed', doc: () => ({ ...jwks, padding: 'x'.repeat(1 << 21) }), reason: 'the JWKS is more than 1048576 bytes allowed', stream: true },
    { note: 'more than 100 keys', doc: () => ({ keys: Array.from({ length: 101 }, (_, i) => ({ ...jwks.keys[0]!, kid: `k${i}` })) }), reason: 'holds 101 keys, more than 100', stream: false },
  ])('a JWKS of $note is refused: its tokens are "unavailable"', async ({ doc, reason, stream }) => {
    down = false;
    streamed = stream;
    onTestFinished(() => void (streamed = false));
    served = doc() as { keys: JWK[] };
    const verify = createTokenVerifier([{ ...issuer, jwks: url }], { now });
    expect(await verify(await sign({ ...good, jti: reason }))).toMatchObject({ ok: false, unavailable: true, reason: expect.stringContaining(reason) });
    served = null;
  });

  test('while the endpoint is down it is asked once per cooldown, not once per token', async () => {
    down = true;
    const before = fetches;
    const verify = createTokenVerifier([{ ...issuer, jwks: url }], { now });
    const results = await Promise.all(Array.from({ length: 50 }, async (_, i) => verify(await sign({ ...good, jti: `flood-${i}` }))));
    expect(results.every((r) => !r.ok && r.unavailable === true)).toBe(true);
    // The fetch made at start, and nothing more within the 30 s cooldown.
    expect(fetches - before).toBe(1);
    down = false;
  });
});

describe('trusted issuer configuration', () => {
  test('reports every problem', () => {
    expect(
      issuerProblems([
        { issuer: '', audiences: [], jwks: { keys: [] } },
        { issuer: 'https://a', audiences: ['x'], algorithms: ['HS256' as never], jwks: new URL('http://keys.example.com/jwks') },
      ]),
    ).toEqual([
      'trusted issuer 1 (no issuer): `issuer` is empty',
      'trusted issuer 1 (no issuer): needs at least one audience',
      'trusted issuer 2 (https://a): algorithm `HS256` is not allowed; use one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA',
      'trusted issuer 2 (https://a): the JWKS URL must be https (plain http only on loopback)',
    ]);
  });
});
