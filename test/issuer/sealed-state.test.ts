import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { SealedState } from '../../src/issuer/sealed-state.js';

/**
 * What the browser carries for the issuer (a sign-in in progress, a pushed request) opens
 * only as sealed: by the same secret, for the same purpose, unchanged.
 */
const SECRET = 'a-secret-of-at-least-thirty-two-characters';
const sealed = new SealedState(SECRET);
const values = fc.dictionary(fc.string({ maxLength: 12 }), fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 4 })), { maxKeys: 8 });

describe('sealed browser state', () => {
  test('opens to what was sealed, and is base64url without a dot (so `ID.SEALED` splits at the first dot)', () => {
    fc.assert(
      fc.property(values, (v) => {
        const text = sealed.seal('sign-in', v);
        expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(sealed.open('sign-in', text)).toEqual(v);
      }),
    );
  });

  test('one character changed anywhere, another purpose or another secret: nothing opens', () => {
    const other = new SealedState('another-secret-of-at-least-thirty-two-chars');
    fc.assert(
      fc.property(values, fc.nat(), (v, at) => {
        const text = sealed.seal('sign-in', v);
        // Not the last character: its low bits may be base64's padding, which decodes to the same bytes.
        const i = at % (text.length - 1);
        const changed = `${text.slice(0, i)}${text[i] === 'A' ? 'B' : 'A'}${text.slice(i + 1)}`;
        expect(sealed.open('sign-in', changed)).toBeNull();
        expect(sealed.open('pushed authorization request', text)).toBeNull();
        expect(other.open('sign-in', text)).toBeNull();
      }),
    );
  });

  test('what is not sealed text at all is null, never an exception', () => {
    for (const text of ['', '.', 'not base64!', 'AAAA', 'A'.repeat(28), 'A'.repeat(4000)]) expect(sealed.open('sign-in', text)).toBeNull();
  });

  test('a derived value is the same for every holder of the secret, differs by label and by secret, and says nothing of either', () => {
    const again = new SealedState(SECRET);
    expect(sealed.derive('code/abc/alice')).toBe(again.derive('code/abc/alice'));
    expect(sealed.derive('code/abc/alice')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(sealed.derive('code/abc/bob')).not.toBe(sealed.derive('code/abc/alice'));
    expect(new SealedState('another-secret-of-at-least-thirty-two-chars').derive('code/abc/alice')).not.toBe(sealed.derive('code/abc/alice'));
  });
});
