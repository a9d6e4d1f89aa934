import type { Request } from '../language/eval/activation.js';
import type { Entity } from '../store/store.js';

type Json = { [k: string]: unknown };
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * An in-memory snapshot of the directory: the attributes of users, groups, documents…
 * A request's subject — and its resource, when it names an entity — gets the entity's
 * attributes, and they **win** over what the caller sent: a caller cannot grant itself a
 * role by sending `"roles": ["admin"]`. Snapshots are immutable; a new one is swapped in.
 */
export class Directory {
  private readonly byKey: ReadonlyMap<string, Json>;

  constructor(entities: readonly Entity[]) {
    this.byKey = new Map(entities.map((e) => [`${e.type}\u0000${e.id}`, e.attributes]));
  }

  get size(): number {
    return this.byKey.size;
  }

  enrich(request: Request): Request {
    if (this.byKey.size === 0) return request;
    const subject = this.entity(request.subject);
    const resource = this.entity(request.resource);
    if (subject === request.subject && resource === request.resource) return request;
    return { ...request, subject, resource };
  }

  private entity(value: unknown): unknown {
    if (!isObject(value) || typeof value.type !== 'string' || typeof value.id !== 'string') return value;
    const attributes = this.byKey.get(`${value.type}\u0000${value.id}`);
    if (attributes === undefined) return value;
    const sent = isObject(value.properties) ? value.properties : {};
    // Top-level members the caller sent beside `properties` are dropped when they name a
    // directory attribute, so the flat form cannot override it either.
    const rest = Object.fromEntries(Object.entries(value).filter(([k]) => !Object.hasOwn(attributes, k) || k === 'type' || k === 'id'));
    return { ...rest, properties: { ...sent, ...attributes } };
  }
}

/** The directory snapshot a server uses, swapped whole after `gavel apply`. */
export class LiveDirectory {
  #current: Directory;
  constructor(initial: Directory) {
    this.#current = initial;
  }
  get current(): Directory {
    return this.#current;
  }
  swap(next: Directory): void {
    this.#current = next;
  }
}
