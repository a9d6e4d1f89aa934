/**
 * How deep caller-supplied JSON may nest (objects and arrays; the outermost value is level 1).
 * Policies compare values to this depth, and the decision log stores records as JSON that
 * SQLite's JSON functions read only to a depth of 1,000: a request nested 998 levels deep,
 * once logged, made its whole batch of the log unreadable.
 */
export const MAX_JSON_DEPTH = 64;

/** What keeps a caller's value from being decided on and logged as it is; `path` leads from the value to the place (`.a[2]`). */
export type JsonProblem = { kind: 'deep' } | { kind: 'number'; path: string; value: number } | { kind: 'proto'; path: string };

/** Where a problem found in `problem`'s value sits, seen from the value that holds it under `step`. */
function under(step: string, problem: JsonProblem): JsonProblem {
  return problem.kind === 'deep' ? problem : { ...problem, path: `${step}${problem.path}` };
}

const memberStep = (key: string): string => (/^[A-Za-z_][\w-]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`);

/**
 * Whether `value` nests objects or arrays more than `levels` deep, or holds a number JSON
 * cannot (`1e999` parses as Infinity; a gRPC Struct may carry NaN): policies would decide on
 * it, and the log would keep `null` in its place — the logged request no longer the one
 * decided. Recursion stops at the limit, so a hostile value costs at most `levels` stack frames.
 *
 * A member named `__proto__` is refused too, as the HTTP body parser refuses it: a gRPC Struct
 * decodes it as an ordinary key, and code that copies members by assignment would set the
 * copy's prototype with it instead — a `context` copied so lost every member a forbid read.
 */
export function jsonProblem(value: unknown, levels: number): JsonProblem | null {
  if (typeof value === 'number') return Number.isFinite(value) ? null : { kind: 'number', path: '', value };
  if (typeof value !== 'object' || value === null) return null;
  if (levels === 0) return { kind: 'deep' };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = jsonProblem(value[i], levels - 1);
      if (problem !== null) return under(`[${i}]`, problem);
    }
    return null;
  }
  for (const key in value) {
    if (key === '__proto__') return { kind: 'proto', path: '' };
    const problem = jsonProblem((value as Record<string, unknown>)[key], levels - 1);
    if (problem !== null) return under(memberStep(key), problem);
  }
  return null;
}

/** A problem jsonProblem found, said about `root` (`context`; `''` for the value itself), as validators report them. */
export function describeJsonProblem(root: string, problem: JsonProblem, levels: string): string {
  if (problem.kind === 'deep') return `${root}: nested deeper than ${levels}`;
  const where = root === '' ? problem.path.replace(/^\./, '') : `${root}${problem.path}`;
  if (problem.kind === 'proto') return `${where === '' ? 'the value' : where}: has a member named \`__proto__\`, which is not accepted`;
  return `${where}: ${problem.value} is not a number JSON can hold (a finite one)`;
}
