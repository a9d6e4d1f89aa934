import { clip } from '../../formats/clip.js';
import { T } from '../types.js';
import { isRecord, own, type Value } from '../eval/value.js';
import { BuiltinFailure, failure, type Builtin } from './builtin.js';

/** A key as an error message shows it: a caller's, so quoted and short. */
const shown = (key: string): string => clip(JSON.stringify(key), 80);

/** `record`'s own attribute `key` (`undefined` when it has none), or why the arguments are wrong. */
function lookup(record: Value, key: Value): Value | undefined | BuiltinFailure {
  if (!isRecord(record)) return failure('expected a record');
  if (typeof key !== 'string') return failure('expected a string key');
  return own(record, key);
}

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
      return failure('expected a list, string or record');
    },
  },
  {
    // A key known only at run time — a tenant's roles by the resource's tenant — which `a.b`
    // and `a["b"]` cannot name (Cedar's entity tags, `getTag`, answer the same need).
    name: 'get',
    params: [T.openRecord, T.string],
    returns: T.any,
    doc: 'the attribute of a record named by a string: `get(subject.roles_by_tenant, resource.tenant)`; an error when it has none, as a missing attribute is',
    impl: ([record, key]) => {
      const value = lookup(record, key);
      return value instanceof BuiltinFailure || value !== undefined ? value : failure(`no attribute ${shown(key as string)}`);
    },
  },
  {
    name: 'has_key',
    params: [T.openRecord, T.string],
    returns: T.boolean,
    doc: 'whether a record has the attribute named by a string: `has_key(subject.roles_by_tenant, resource.tenant)`',
    impl: ([record, key]) => {
      const value = lookup(record, key);
      return value instanceof BuiltinFailure ? value : value !== undefined;
    },
  },
];
