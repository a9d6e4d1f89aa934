import { inventory, type InventoryRow } from './inventory.js';
import type { PolicySet } from './policy-set.js';

/*
 * A set does not keep its syntax trees (reading `files` parses every source again: about
 * half a second for 10,000 policies), so the inventory of a set is computed once and kept
 * beside it. Sets are immutable and swapped whole, so a WeakMap keyed by the set is always
 * right and is freed with the set after a reload.
 */
const cache = new WeakMap<PolicySet, readonly InventoryRow[]>();

/** The inventory rows of `set`, computed on first use. */
export function inventoryOf(set: PolicySet): readonly InventoryRow[] {
  let rows = cache.get(set);
  if (rows === undefined) {
    rows = inventory(set.files);
    cache.set(set, rows);
  }
  return rows;
}
