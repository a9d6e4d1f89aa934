import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { visible, visibleJson } from '../../src/formats/visible.js';

describe('hidden characters in audit views', () => {
  test('controls, bidi overrides, zero-width and separator characters are written as escapes; other text is as it was', () => {
    expect(visible('\u202Eecila')).toBe('\\u202Eecila');
    expect(visible('al\u200Bice')).toBe('al\\u200Bice');
    expect(visible('mallory\n2026-11-24 ALLOW')).toBe('mallory\\u000A2026-11-24 ALLOW');
    expect(visible('a\u2028b\u0085c\uFEFF')).toBe('a\\u2028b\\u0085c\\uFEFF');
    // Default-ignorable code points that are not format characters: each renders as nothing.
    expect(['al\u034Fice', 'alice\uFE0F', 'alice\u{E0100}', 'alice\u3164', 'a\u115Flice', 'alice\uFFA0'].map(visible)).toEqual(['al\\u034Fice', 'alice\\uFE0F', 'alice\\uDB40\\uDD00', 'alice\\u3164', 'a\\u115Flice', 'alice\\uFFA0']);
    expect(visible('Zoë 用户 /invoices/1?x=1')).toBe('Zoë 用户 /invoices/1?x=1');
  });

  test('what is shown has no hidden character left, and differs from the text only where one was', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const shown = visible(text);
        expect(/[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\u2028\u2029]/u.test(shown)).toBe(false);
        if (!/[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\u2028\u2029]/u.test(text)) expect(shown).toBe(text);
      }),
    );
  });

  test('JSON keeps its own newlines and still parses to the same value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ unit: 'binary' }), (value, id) => {
        const json = JSON.stringify({ id, value }, null, 2);
        const shown = visibleJson(json);
        expect(JSON.parse(shown)).toEqual(JSON.parse(json));
        expect(/[\p{Cf}\p{Default_Ignorable_Code_Point}\u2028\u2029]/u.test(shown)).toBe(false);
        expect(shown.split('\n')).toHaveLength(json.split('\n').length);
      }),
    );
  });
});
