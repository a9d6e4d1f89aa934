import { T } from '../types.js';
import { isRecord } from '../eval/value.js';
import type { Builtin } from './builtin.js';

export const collections: Builtin[] = [
  {
    name: 'size',
    params: [T.any],
    returns: T.number,
    doc: 'the number of items in a list, characters in a string or attributes in a record',
    impl: ([v]) => {
      if (typeof v === 'string') return [...v].length;
      if (Array.isArray(v)) return v.length;
      if (isRecord(v)) return Object.keys(v).length;
      return { error: 'expected a list, string or record' };
    },
  },
];
