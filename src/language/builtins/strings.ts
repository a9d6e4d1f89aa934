import { T } from '../types.js';
import { failure, type Builtin } from './builtin.js';

function stringTest(name: string, doc: string, test: (s: string, arg: string) => boolean): Builtin {
  return {
    name,
    params: [T.string, T.string],
    returns: T.boolean,
    doc,
    impl: ([s, arg]) => (typeof s === 'string' && typeof arg === 'string' ? test(s, arg) : failure('expected two strings')),
  };
}

function stringMap(name: string, doc: string, map: (s: string) => string): Builtin {
  return {
    name,
    params: [T.string],
    returns: T.string,
    doc,
    impl: ([s]) => (typeof s === 'string' ? map(s) : failure('expected a string')),
  };
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 1;

export const strings: Builtin[] = [
  stringMap('lower', 'the string in lower case: `lower(subject.email)`', (s) => s.toLowerCase()),
  stringMap('upper', 'the string in upper case', (s) => s.toUpperCase()),
  stringTest('starts_with', 'whether the first string starts with the second', (s, p) => s.startsWith(p)),
  stringTest('ends_with', 'whether the first string ends with the second: `ends_with(subject.email, "@example.com")`', (s, p) => s.endsWith(p)),
  stringTest('includes', 'whether the first string contains the second as a substring', (s, p) => s.includes(p)),
  {
    // Ties a path's part to another value — the org in /v1/orgs/{org}/… to the token's — which
    // `like` cannot (its patterns are fixed) and `includes` gets wrong (`ac` is in `acme`).
    name: 'segment',
    params: [T.string, T.number],
    returns: T.string,
    doc: 'the n-th segment of a `/`-separated path, counted from 1: `segment("/v1/orgs/acme/orders", 3)` is `"acme"`; an error when it has fewer',
    literal: (i, n) => (i === 1 && !isCount(n) ? 'the segment is counted from 1, a whole number' : null),
    impl: ([path, n]) => {
      if (typeof path !== 'string') return failure('expected a string');
      if (!isCount(n)) return failure('the segment is counted from 1, a whole number');
      // Empty segments (the leading `/`, a doubled `//`) are not counted.
      let at = 0;
      for (const part of path.split('/')) if (part !== '' && ++at === n) return part;
      return failure(`the path has ${at} segment${at === 1 ? '' : 's'}, not ${n}`);
    },
  },
];
