import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { globToRegExp } from '../reference/evaluate.js';
import { compileGlob, parseGlob } from '../../src/language/eval/glob.js';

function like(pattern: string, s: string): boolean {
  const pieces = parseGlob(pattern);
  if ('error' in pieces) throw new Error(pieces.error);
  return compileGlob(pieces)(s);
}

describe('like patterns', () => {
  test.each([
    { pattern: '/a/*/c', s: '/a/b/c', want: true },
    { pattern: '/a/*/c', s: '/a/b/x/c', want: false },
    { pattern: '/a/**/c', s: '/a/b/x/c', want: true },
    { pattern: '/a/**', s: '/a/', want: true },
    { pattern: '/a/**', s: '/a', want: false },
    { pattern: '*', s: '', want: true },
    { pattern: '*', s: '/', want: false },
    { pattern: '**', s: '', want: true },
    { pattern: 'a*b*c', s: 'abbbc', want: true },
    { pattern: 'a\\*b', s: 'a*b', want: true },
    { pattern: 'a\\*b', s: 'axb', want: false },
    { pattern: 'a\\\\b', s: 'a\\b', want: true },
    { note: 'a star matches a whole emoji, not half of it', pattern: '/a/*/😀', s: '/a/b/😀', want: true },
    { pattern: '*😀*', s: 'x😀y', want: true },
    { pattern: '/*', s: '/😀', want: true },
    { pattern: '/?', s: '/x', want: false },
  ])('`$pattern` on `$s`: $want', ({ pattern, s, want }) => {
    expect(like(pattern, s)).toBe(want);
  });

  test.each([
    { pattern: 'a***', error: '`***` is ambiguous' },
    { pattern: 'a\\b', error: 'a backslash in a pattern must escape' },
  ])('`$pattern` is rejected', ({ pattern, error }) => {
    const pieces = parseGlob(pattern);
    expect('error' in pieces && pieces.error).toContain(error);
  });
});

describe('like patterns against the reference (a regular expression per pattern)', () => {
  // Few distinct characters, so that patterns and inputs meet; `/` and an emoji for the star rules.
  const char = fc.constantFrom('a', 'b', '/', '😀', 'é');
  const piece = fc.oneof({ weight: 4, arbitrary: char }, { weight: 1, arbitrary: fc.constant('*') }, { weight: 1, arbitrary: fc.constant('**') }, { weight: 1, arbitrary: fc.constant('\\*') });
  /** Pieces joined, without the `***` parseGlob refuses. */
  const pattern = (maxLength: number, minLength = 0) => fc.array(piece, { minLength, maxLength }).map((ps) => ps.join('')).filter((p) => !p.includes('***') && !('error' in parseGlob(p)));
  const input = fc.array(fc.oneof(char, fc.constant('*')), { maxLength: 40 }).map((cs) => cs.join(''));

  test.each([
    { note: 'short patterns (one machine word of states)', maxLength: 12, minLength: 0 },
    { note: 'long patterns (states over several words)', maxLength: 60, minLength: 30 },
  ])('$note: the same answer as the reference', ({ maxLength, minLength }) => {
    fc.assert(
      fc.property(pattern(maxLength, minLength), input, (p, s) => {
        expect(like(p, s)).toBe(globToRegExp(p).test(s));
      }),
      { numRuns: 3000 },
    );
  });

  test('inputs built to match long patterns, with a character changed or not', () => {
    fc.assert(
      fc.property(pattern(80, 28), fc.array(fc.constantFrom('', 'a', 'b/', '😀'), { minLength: 1, maxLength: 80 }), fc.nat(), fc.boolean(), (p, fills, at, change) => {
        // Each star is given a fill (a globstar may take a slash), so many inputs match.
        let k = 0;
        let s = p.replace(/\\\*|\*\*|\*/g, (m) => (m === '\\*' ? '*' : m === '**' ? (fills[k++ % fills.length] ?? '') : (fills[k++ % fills.length] ?? '').replace('/', '')));
        if (change && s.length > 0) s = s.slice(0, at % s.length) + 'b' + s.slice((at % s.length) + 1);
        expect(like(p, s)).toBe(globToRegExp(p).test(s));
      }),
      { numRuns: 3000 },
    );
  });
});
