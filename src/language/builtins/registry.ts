import type { Builtin } from './builtin.js';
import { collections } from './collections.js';
import { network } from './network.js';
import { strings } from './strings.js';
import { time } from './time.js';

export type { Builtin } from './builtin.js';

/** The fixed registry: policies can call these and nothing else. */
export const BUILTINS: ReadonlyMap<string, Builtin> = new Map([...network, ...strings, ...collections, ...time].map((b) => [b.name, b]));
