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
  /** Ids of each type, sorted: what a search enumerates, in the order its pages follow. */
  private readonly idsByType: ReadonlyMap<string, readonly string[]>;

  constructor(entities: readonly Entity[]) {
    this.byKey = new Map(entities.map((e) => [`${e.type}\u0000${e.id}`, e.attributes]));
    const ids = new Map<string, string[]>();
    for (const e of entities) {
      const list = ids.get(e.type);
      if (list === undefined) ids.set(e.type, [e.id]);
      else list.push(e.id);
    }
    // Code-unit order (the default sort): the same on every run and every platform.
    // A later entity with the same key replaces an earlier one in `byKey`: list it once too.
    for (const [type, list] of ids) ids.set(type, list.sort().filter((id, i) => i === 0 || id !== list[i - 1]));
    this.idsByType = ids;
  }

  /** The ids of the entities of `type`, sorted; empty for a type the directory does not hold. */
  idsOf(type: string): readonly string[] {
    return this.idsByType.get(type) ?? [];
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
