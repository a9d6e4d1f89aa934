import type { Activation } from '../language/eval/activation.js';
import type { CompiledPolicy } from '../language/compile/compile-policy.js';

/** Policies that share an index key, forbids apart from permits so forbids can be tried first. */
export interface Bucket {
  forbids: CompiledPolicy[];
  permits: CompiledPolicy[];
}

function bucket(): Bucket {
  return { forbids: [], permits: [] };
}

function uniqueEntities(list: readonly { type: string; id: string }[]): { type: string; id: string }[] {
  const seen = new Set<string>();
  return list.filter(({ type, id }) => {
    const key = `${type}\u0000${id}`;
    return !seen.has(key) && (seen.add(key), true);
  });
}

function add(map: Map<string, Bucket>, key: string, policy: CompiledPolicy): void {
  let b = map.get(key);
  if (b === undefined) map.set(key, (b = bucket()));
  (policy.effect === 'forbid' ? b.forbids : b.permits).push(policy);
}

/**
 * Selects the policies that can match a request by what their targets decide by lookup.
 * Each policy sits under one dimension — the most selective its target offers: resource
 * entity, then resource type, then path prefix, then action — or among the unindexed.
 * A request looks up each dimension once, so a decision costs what its candidates cost,
 * not what the whole set costs.
 */
export class PolicyIndex {
  private readonly unindexed = bucket();
  private readonly byResource = new Map<string, Map<string, Bucket>>();
  private readonly byType = new Map<string, Bucket>();
  private readonly byPath = new Map<string, Bucket>();
  private readonly byAction = new Map<string, Bucket>();

  constructor(policies: readonly CompiledPolicy[]) {
    for (const p of policies) this.insert(p);
    // Arrays grown by push keep spare room (17 slots for one policy); an index is built once and kept.
    for (const b of this.buckets()) {
      b.forbids = b.forbids.slice();
      b.permits = b.permits.slice();
    }
  }

  private *buckets(): Iterable<Bucket> {
    yield this.unindexed;
    for (const ids of this.byResource.values()) yield* ids.values();
    yield* this.byType.values();
    yield* this.byPath.values();
    yield* this.byAction.values();
  }

  private insert(p: CompiledPolicy): void {
    const k = p.keys;
    switch (k.dimension) {
      case 'resource':
        // `resource in [doc::"a", doc::"a"]` files the policy once, as for types and actions.
        for (const { type, id } of uniqueEntities(k.resources!)) {
          let ids = this.byResource.get(type);
          if (ids === undefined) this.byResource.set(type, (ids = new Map()));
          add(ids, id, p);
        }
        return;
      case 'type':
        for (const t of new Set(k.resourceTypes)) add(this.byType, t, p);
        return;
      case 'path':
        return add(this.byPath, k.pathPrefix!, p);
      case 'action':
        for (const name of new Set(k.actions)) add(this.byAction, name, p);
        return;
      case null:
        (p.effect === 'forbid' ? this.unindexed.forbids : this.unindexed.permits).push(p);
    }
  }

  /** The buckets a request must look at. A policy appears in at most one of them. */
  lookup(a: Activation): Bucket[] {
    const out: Bucket[] = [this.unindexed];
    const type = a.attr('resource', 'type');
    if (typeof type === 'string') {
      const byType = this.byType.get(type);
      if (byType !== undefined) out.push(byType);
      const id = a.attr('resource', 'id');
      if (typeof id === 'string' && this.byResource.size > 0) {
        const byId = this.byResource.get(type)?.get(id);
        if (byId !== undefined) out.push(byId);
      }
    }
    if (this.byPath.size > 0) this.lookupPath(a, out);
    const action = a.attr('action', 'name');
    if (typeof action === 'string') {
      const byAction = this.byAction.get(action);
      if (byAction !== undefined) out.push(byAction);
    }
    return out;
  }

  private lookupPath(a: Activation, out: Bucket[]): void {
    const path = a.attr('resource', 'path');
    if (typeof path !== 'string') return;
    const exact = this.byPath.get(path);
    if (exact !== undefined) out.push(exact);
    for (let at = path.indexOf('/'); at >= 0 && at < path.length - 1; at = path.indexOf('/', at + 1)) {
      const b = this.byPath.get(path.slice(0, at + 1));
      if (b !== undefined) out.push(b);
    }
  }

  /** How many policies a request's lookup selects. */
  static count(buckets: readonly Bucket[]): number {
    return buckets.reduce((n, b) => n + b.forbids.length + b.permits.length, 0);
  }
}
