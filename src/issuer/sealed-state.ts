import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/** IV (12 bytes) and GCM tag (16) before the ciphertext. */
const OVERHEAD = 28;

/**
 * State the issuer hands the browser instead of keeping it: a sign-in in progress, a pushed
 * authorization request. Sealed with AES-256-GCM under a key derived from the issuer secret,
 * with its purpose as associated data, so a browser can neither read nor change it, nor pass
 * one kind off as the other — and every process holding the secret (all those serving one
 * store) can take it up, so no process must see the whole flow and none holds any of it:
 * a flood of authorization requests costs the server nothing to remember. What may happen only
 * once (a sign-in finished, a pushed request used) is claimed in the store by the caller.
 */
export class SealedState {
  readonly #key: Buffer;
  readonly #macKey: Buffer;

  constructor(secret: string) {
    this.#key = Buffer.from(hkdfSync('sha256', secret, 'gavel', 'browser state', 32));
    this.#macKey = Buffer.from(hkdfSync('sha256', secret, 'gavel', 'browser state values', 32));
  }

  /**
   * A secret value that follows from `label` (HMAC-SHA256, base64url, 43 characters): every
   * process holding the secret derives the same one, and no one without it can.
   */
  derive(label: string): string {
    return createHmac('sha256', this.#macKey).update(label).digest('base64url');
  }

  /** `value` as JSON, sealed for `purpose`: base64url, no `.`. */
  seal(purpose: string, value: object): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(purpose));
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  /** What `seal(purpose, …)` sealed, or null: not sealed by this secret, for another purpose, or changed. */
  open(purpose: string, text: string): unknown {
    if (!/^[A-Za-z0-9_-]+$/.test(text)) return null;
    const raw = Buffer.from(text, 'base64url');
    if (raw.length <= OVERHEAD) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(purpose));
      decipher.setAuthTag(raw.subarray(12, OVERHEAD));
      return JSON.parse(Buffer.concat([decipher.update(raw.subarray(OVERHEAD)), decipher.final()]).toString('utf8')) as unknown;
    } catch {
      return null;
    }
  }
}
