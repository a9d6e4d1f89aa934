import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { headerValue } from '../../src/engine/gateway.js';

describe('header values for gateways', () => {
  test('printable ASCII passes unchanged; spaces at either end, which a parser would trim, are encoded', () => {
    expect(headerValue('denied by policy: tenant is blocked')).toBe('denied by policy: tenant is blocked');
    expect(headerValue(' admin ')).toBe('%20admin%20');
  });

  test('always a valid header value, and decodeURIComponent gives the text back (lone surrogates become U+FFFD)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const value = headerValue(text);
        expect(value).toMatch(/^[\x20-\x7e]*$/);
        expect(value).not.toMatch(/^ | $/);
        expect(decodeURIComponent(value)).toBe(Buffer.from(text, 'utf8').toString('utf8'));
      }),
    );
  });
});
