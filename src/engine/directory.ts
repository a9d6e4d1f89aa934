import type { Request } from '../language/eval/activation.js';
import type { Entity } from '../store/store.js';
import { withRoots } from './request-roots.js';

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

  /** Of these entities, or of those a builder was given a page at a time. */
  constructor(from: readonly Entity[] | DirectoryBuilder) {
    let builder: DirectoryBuilder;
    if (from instanceof DirectoryBuilder) builder = from;
    else (builder = new DirectoryBuilder()).add(from);
    const { byKey, idsByType } = builder.parts();
    this.byKey = byKey;
    this.idsByType = idsByType;
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
    return withRoots(request, { subject, resource });
  }

  private entity(value: unknown): unknown {
    if (!isObject(value) || typeof value.type !== 'string' || typeof value.id !== 'string') return value;
    const attributes = this.byKey.get(entityKey(value.type, value.id));
    if (attributes === undefined) return value;
    const sent = isObject(value.properties) ? value.properties : {};
    // Top-level members the caller sent beside `properties` are dropped when they name a
    // directory attribute, so the flat form cannot override it either.
    const rest = Object.fromEntries(Object.entries(value).filter(([k]) => !Object.hasOwn(attributes, k) || k === 'type' || k === 'id'));
    return { ...rest, properties: { ...sent, ...attributes } };
  }
}

/**
 * Entities added a page at a time, then made a `Directory`: a server reading a large
 * directory again after `gavel apply` adds a page per turn of its event loop, answering
 * requests from the directory before in between.
 */
export class DirectoryBuilder {
  readonly #byKey = new Map<string, Json>();
  readonly #ids = new Map<string, string[]>();

  add(entities: readonly Entity[]): void {
    for (const e of entities) {
      this.#byKey.set(entityKey(e.type, e.id), e.attributes);
      const list = this.#ids.get(e.type);
      if (list === undefined) this.#ids.set(e.type, [e.id]);
      else list.push(e.id);
    }
  }

  /** The maps a directory is made of; each type's ids sorted and listed once. */
  parts(): { byKey: ReadonlyMap<string, Json>; idsByType: ReadonlyMap<string, readonly string[]> } {
    // Code-unit order (the default sort): the same on every run and every platform. Ids read in
    // order (a store's pages) are runs the sort merges in linear time.
    // A later entity with the same key replaces an earlier one in `byKey`: list it once too.
    for (const [type, list] of this.#ids) this.#ids.set(type, list.sort().filter((id, i) => i === 0 || id !== list[i - 1]));
    return { byKey: this.#byKey, idsByType: this.#ids };
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

/**
 * One text per (type, id): the type's length first, so no type and id can run into another
 * pair's (with a separator, `user\u0000x` + `admin` met `user` + `x\u0000admin`).
 */
function entityKey(type: string, id: string): string {
  return `${type.length}:${type}${id}`;
}
