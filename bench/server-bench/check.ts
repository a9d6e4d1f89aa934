/**
 * The decision check run before any measurement: every request of the mix goes to every
 * server, and each answer must equal the plain-JS reference of workload.ts. A difference
 * stops the benchmark — figures for servers that decide differently would compare nothing.
 */
import { item } from '../workload.js';

export interface Checked {
  name: string;
  compared: number;
}

export class DecisionMismatch extends Error {}

/** Runs `tasks` with at most `width` in flight. */
export async function pool<T>(count: number, width: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      out[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, worker));
  return out;
}

export async function postJson(url: string, body: string): Promise<unknown> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await r.text();
  if (!r.ok) throw new Error(`POST ${url}: HTTP ${r.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as unknown;
}

/**
 * Asks `decide(i)` for every index and compares with `expected`; throws a DecisionMismatch
 * listing the first differences.
 */
export async function checkAll(name: string, expected: readonly boolean[], decide: (i: number) => Promise<boolean>, describe: (i: number) => string): Promise<Checked> {
  const got = await pool(expected.length, 8, decide);
  const differ = got.flatMap((d, i) => (d === item(expected, i) ? [] : [i]));
  if (differ.length > 0) {
    const shown = differ.slice(0, 5).map((i) => `  #${i}: ${name} says ${got[i] === true ? 'allow' : 'deny'}, the reference ${item(expected, i) ? 'allow' : 'deny'}: ${describe(i)}`);
    throw new DecisionMismatch(`${name} differs from the reference on ${differ.length} of ${expected.length} requests:\n${shown.join('\n')}`);
  }
  return { name, compared: expected.length };
}
