import { createCipheriv, createDecipheriv, createHash, createPrivateKey, hkdfSync, randomBytes, randomUUID, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { createLocalJWKSet, exportJWK, generateKeyPair, type JSONWebKeySet, type JWK, type JWTPayload } from 'jose';
import type { Store, StoredSigningKey } from '../store/store.js';

export type SigningAlgorithm = 'ES256' | 'EdDSA' | 'RS256';

export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['ES256', 'EdDSA', 'RS256'];

/** The key that seals signing keys at rest: HKDF of the issuer secret. */
function sealingKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'gavel', 'signing keys at rest', 32));
}

/** AES-256-GCM: `v1.IV.TAG.CIPHERTEXT`, base64url parts. */
export function seal(secret: string, plain: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(secret), iv);
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
}

export function unseal(secret: string, sealed: string): string {
  const [version, iv, tag, body] = sealed.split('.');
  if (version !== 'v1' || body === undefined) throw new Error('not a sealed key');
  const decipher = createDecipheriv('aes-256-gcm', sealingKey(secret), Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
}

interface LoadedKey {
  kid: string;
  alg: SigningAlgorithm;
  /** A node:crypto key: signing with it is synchronous, without WebCrypto's hand-off to a worker thread. */
  privateKey: KeyObject;
  publicJwk: JWK;
  createdAt: number;
  /** When its algorithm stopped being used; `null` while it is. */
  retiredAt: number | null;
}

/**
 * The issuer's signing keys. Generated on first start and kept in the store, the private
 * half sealed with the issuer secret. Two algorithms may be in use: the access tokens' (ES256
 * by default) and the ID tokens' (RS256 by default — OpenID Connect's default, which relying
 * parties that register nothing expect). The newest key of each signs; an older one stays in
 * the JWKS for `overlapSeconds` after a newer one of its algorithm exists — or, for an algorithm
 * no longer in use, after any newer key — so tokens it signed keep verifying.
 */
export class KeyRing {
  private constructor(
    private keys: LoadedKey[],
    private readonly overlapSeconds: number,
    /** The access tokens' algorithm. */
    readonly signingAlg: SigningAlgorithm,
    /** The ID tokens' algorithm. */
    readonly idTokenAlg: SigningAlgorithm,
  ) {}

  static async open(store: Store, secret: string, options: { alg?: SigningAlgorithm; idTokenAlg?: SigningAlgorithm; overlapSeconds?: number } = {}): Promise<KeyRing> {
    let stored = store.signingKeys();
    // Without a configured algorithm, the one the newest active key has (a ring opened to rotate keeps what it had).
    const alg = options.alg ?? (stored.filter((k) => !k.retiredAt).at(-1)?.alg as SigningAlgorithm | undefined) ?? 'ES256';
    const ring = new KeyRing([], options.overlapSeconds ?? 86_400, alg, options.idTokenAlg ?? 'RS256');
    const inUse = new Set<string>(ring.inUse);
    // An algorithm no longer configured is retired now: its last key stays published for the overlap from this moment.
    const now = new Date().toISOString();
    for (const a of new Set(stored.filter((k) => !inUse.has(k.alg) && !k.retiredAt).map((k) => k.alg))) store.retireSigningKeys(a, now);
    // A first key of each algorithm in use on first start, and when the configured ones changed (a retired key never signs again).
    const missing = ring.inUse.filter((a) => !stored.some((k) => k.alg === a && !k.retiredAt));
    if (missing.length > 0) await ring.generate(store, secret, missing);
    stored = store.signingKeys();
    ring.keys = await Promise.all(stored.map((k) => load(secret, k)));
    return ring;
  }

  /**
   * The algorithms this ring signs with: the access tokens', the ID tokens', and RS256 —
   * OpenID Connect Discovery §3 requires it among the ID token algorithms offered, and it is
   * the one a client that registers none may be given (Registration §2).
   */
  get inUse(): SigningAlgorithm[] {
    return [...new Set<SigningAlgorithm>([this.signingAlg, this.idTokenAlg, 'RS256'])];
  }

  /** A new key for each algorithm in use, which signs from now on; the previous ones stay published for the overlap. */
  async rotate(store: Store, secret: string): Promise<string[]> {
    const made = await this.generate(store, secret, this.inUse);
    this.keys.push(...made);
    return made.map((k) => k.kid);
  }

  /** Takes up keys another process (`gavel keys rotate`) added to the store; answers whether any were new. */
  async refresh(store: Store, secret: string): Promise<boolean> {
    const known = new Set(this.keys.map((k) => k.kid));
    const added = store.signingKeys().filter((k) => !known.has(k.kid));
    if (added.length === 0) return false;
    this.keys.push(...(await Promise.all(added.map((k) => load(secret, k)))));
    this.keys.sort((a, b) => a.createdAt - b.createdAt);
    return true;
  }

  /** The kid that signs access tokens now. */
  get signingKid(): string {
    return this.current(this.signingAlg).kid;
  }

  /** Every key that signs now, one per algorithm in use: `kid (ES256), kid (RS256)`. */
  get signingKids(): string {
    return this.inUse.map((alg) => `${this.current(alg).kid} (${alg})`).join(', ');
  }

  /**
   * A new key for each of `algs`, stored together once all are made: a server reading the
   * store between two of them (an RSA key takes a while) would sign ID tokens with the old RSA
   * key and access tokens with the new one, and say so.
   */
  private async generate(store: Store, secret: string, algs: readonly SigningAlgorithm[]): Promise<LoadedKey[]> {
    const made: { stored: StoredSigningKey; loaded: LoadedKey }[] = [];
    for (const alg of algs) {
      const pair = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : alg === 'RS256' ? { modulusLength: 2048 } : {}) });
      const publicJwk = await exportJWK(pair.publicKey);
      const kid = createHash('sha256').update(JSON.stringify(publicJwk)).update(randomUUID()).digest('base64url').slice(0, 16);
      const privateJwk = await exportJWK(pair.privateKey);
      const published = { ...publicJwk, kid, alg, use: 'sig' };
      made.push({
        stored: { kid, alg, publicJwk: JSON.stringify(published), sealed: seal(secret, JSON.stringify(privateJwk)), createdAt: '' },
        loaded: { kid, alg, privateKey: createPrivateKey({ key: privateJwk as JsonWebKey, format: 'jwk' }), publicJwk: published, createdAt: 0, retiredAt: null },
      });
    }
    // One time for all: they are one rotation, newer than every key before it.
    const createdAt = new Date().toISOString();
    store.addSigningKeys(made.map((m) => ({ ...m.stored, createdAt })));
    return made.map((m) => ({ ...m.loaded, createdAt: Date.parse(createdAt) }));
  }

  /** The newest key of `alg`; `open` made one for every algorithm in use. */
  private current(alg: SigningAlgorithm): LoadedKey {
    for (let i = this.keys.length - 1; i >= 0; i--) if (this.keys[i].alg === alg && this.keys[i].retiredAt === null) return this.keys[i];
    // INVARIANT: open() generated a key of each algorithm in use.
    throw new Error(`no ${alg} signing key`);
  }

  /** The key set `jwtVerify` checks this issuer's tokens with; made again only when the published keys change. */
  verificationKeys(): ReturnType<typeof createLocalJWKSet> {
    const jwks = this.jwks();
    const kids = jwks.keys.map((k) => k.kid).join(' ');
    if (this.verifier?.kids !== kids) this.verifier = { kids, set: createLocalJWKSet(jwks) };
    return this.verifier.set;
  }

  private verifier: { kids: string; set: ReturnType<typeof createLocalJWKSet> } | null = null;

  /**
   * The public keys a verifier needs: those that sign and those still inside the overlap — a
   * key is superseded by the next newer key of its algorithm, or, when its algorithm is no
   * longer in use, by that retirement (kept in the store, so a restart does not renew it).
   */
  jwks(now = Date.now()): JSONWebKeySet {
    const overlap = this.overlapSeconds * 1000;
    const published = this.keys.filter((k, i) => {
      const next = this.keys.slice(i + 1).find((j) => j.alg === k.alg && j.retiredAt === null);
      const supersededAt = next?.createdAt ?? k.retiredAt;
      return supersededAt === null || supersededAt + overlap > now;
    });
    return { keys: published.map((k) => k.publicJwk) };
  }

  /** Encoded JWS headers by kid and typ: the same few strings for every token a key signs. */
  readonly #headers = new Map<string, string>();

  private header(k: LoadedKey, typ: string): string {
    const key = `${k.kid}\0${typ}`;
    let encoded = this.#headers.get(key);
    if (encoded === undefined) this.#headers.set(key, (encoded = b64(JSON.stringify({ alg: k.alg, kid: k.kid, typ }))));
    return encoded;
  }

  /**
   * A compact JWS (RFC 7515) of the claims with the newest key of `alg` (default: the access
   * tokens'). ES256 signatures are the raw r‖s pair (RFC 7518 §3.4), not DER; RS256 is
   * RSASSA-PKCS1-v1_5 with SHA-256 (§3.3), node:crypto's default for an RSA key.
   */
  async sign(claims: JWTPayload, typ: string, alg: SigningAlgorithm = this.signingAlg): Promise<string> {
    const k = this.current(alg);
    const input = `${this.header(k, typ)}.${b64(JSON.stringify(claims))}`;
    const data = Buffer.from(input);
    const signature = k.alg === 'ES256' ? sign('sha256', data, { key: k.privateKey, dsaEncoding: 'ieee-p1363' }) : k.alg === 'RS256' ? sign('sha256', data, k.privateKey) : sign(null, data, k.privateKey);
    return `${input}.${signature.toString('base64url')}`;
  }
}

async function load(secret: string, k: StoredSigningKey): Promise<LoadedKey> {
  let jwk: JWK;
  try {
    jwk = JSON.parse(unseal(secret, k.sealed)) as JWK;
  } catch {
    throw new Error(`signing key ${k.kid} cannot be unsealed: the issuer secret is not the one it was sealed with`);
  }
  const retiredAt = k.retiredAt ? Date.parse(k.retiredAt) : null;
  return { kid: k.kid, alg: k.alg as SigningAlgorithm, privateKey: createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' }), publicJwk: JSON.parse(k.publicJwk) as JWK, createdAt: Date.parse(k.createdAt), retiredAt };
}

const b64 = (text: string): string => Buffer.from(text).toString('base64url');
