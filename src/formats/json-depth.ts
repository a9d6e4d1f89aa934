/**
 * How deep caller-supplied JSON may nest (objects and arrays; the outermost value is level 1).
 * Policies compare values to this depth, and the decision log stores records as JSON that
 * SQLite's JSON functions read only to a depth of 1,000: a request nested 998 levels deep,
 * once logged, made its whole batch of the log unreadable.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Whether `value` nests objects or arrays more than `levels` deep. Recursion stops at the
 * limit, so a hostile value costs at most `levels` stack frames.
 */
export function nestedDeeperThan(value: unknown, levels: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (levels === 0) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (nestedDeeperThan(item, levels - 1)) return true;
    return false;
  }
  for (const key in value) if (nestedDeeperThan((value as Record<string, unknown>)[key], levels - 1)) return true;
  return false;
}
