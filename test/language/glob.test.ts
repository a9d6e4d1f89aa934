import { describe, expect, test } from 'vitest';
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
