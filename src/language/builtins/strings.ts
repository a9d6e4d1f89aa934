import { T } from '../types.js';
import type { Builtin } from './builtin.js';

function stringTest(name: string, doc: string, test: (s: string, arg: string) => boolean): Builtin {
  return {
    name,
    params: [T.string, T.string],
    returns: T.boolean,
    doc,
    impl: ([s, arg]) => (typeof s === 'string' && typeof arg === 'string' ? test(s, arg) : { error: 'expected two strings' }),
  };
}

function stringMap(name: string, doc: string, map: (s: string) => string): Builtin {
  return {
    name,
    params: [T.string],
    returns: T.string,
    doc,
    impl: ([s]) => (typeof s === 'string' ? map(s) : { error: 'expected a string' }),
  };
}

export const strings: Builtin[] = [
  stringMap('lower', 'the string in lower case: `lower(subject.email)`', (s) => s.toLowerCase()),
  stringMap('upper', 'the string in upper case', (s) => s.toUpperCase()),
  stringTest('starts_with', 'whether the first string starts with the second', (s, p) => s.startsWith(p)),
  stringTest('ends_with', 'whether the first string ends with the second: `ends_with(subject.email, "@example.com")`', (s, p) => s.endsWith(p)),
  stringTest('includes', 'whether the first string contains the second as a substring', (s, p) => s.includes(p)),
];
