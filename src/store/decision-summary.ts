import type { DecisionBatch, DecisionRecord } from './store.js';

/**
 * A batch's summary (migration 11): its ids, and the distinct keys its records can be
 * filtered by, each between newlines so that `instr()` matches whole entries only. The
 * decision log builds it as records are appended, from the objects it already holds, so
 * the writer thread never parses a batch back.
 */
export interface BatchSummary {
  ids: string;
  keys: string;
}

/**
 * A value as one summary line: a caller-chosen id or subject holding a newline must not
 * make a line of its own. Newlines become spaces, so two values may share a line — a
 * query then opens a batch it did not need, and its record filters (exact) drop the rest.
 */
export function line(value: string): string {
  return value.includes('\n') ? value.replaceAll('\n', ' ') : value;
}

/** The keys a record can be filtered by: subject id, interface, decision, determining policies. */
export function addKeys(keys: Set<string>, r: Pick<DecisionRecord, 'subject' | 'via' | 'decision' | 'determining'>): void {
  keys.add(`s:${line(r.subject.id)}`);
  keys.add(`v:${line(r.via ?? '')}`);
  keys.add(r.decision ? 'd:1' : 'd:0');
  for (const p of r.determining) keys.add(`p:${line(p)}`);
}

/** A summary's `keys` column: each key between newlines. */
export function keysText(keys: ReadonlySet<string>): string {
  return `\n${[...keys].join('\n')}\n`;
}

export function summaryOf(ids: readonly string[], keys: ReadonlySet<string>): BatchSummary {
  return { ids: `\n${ids.map(line).join('\n')}\n`, keys: keysText(keys) };
}

export function summarize(records: readonly DecisionRecord[]): BatchSummary {
  const keys = new Set<string>();
  for (const r of records) addKeys(keys, r);
  return summaryOf(
    records.map((r) => r.id),
    keys,
  );
}

/** A batch's records as JSON text, whichever form the batch carries them in. */
export function batchText(batch: Pick<DecisionBatch, 'json'>): string {
  return typeof batch.json === 'string' ? batch.json : Buffer.from(batch.json.buffer, batch.json.byteOffset, batch.json.byteLength).toString('utf8');
}
