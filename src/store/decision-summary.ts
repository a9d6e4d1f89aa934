import type { DecisionBatch, DecisionRecord } from './store.js';

/**
 * A batch's summary (migration 11): its decision and request ids, and the distinct keys its records can be
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

/**
 * The keys a batch's records can be filtered by: subject ids, interfaces, decisions and
 * determining policies. Kept as the values themselves, one set per kind, and prefixed only
 * when the batch's summary is written: the request path adds a record's keys without making
 * a string for each.
 */
export class BatchKeys {
  readonly #subjects = new Set<string>();
  readonly #vias = new Set<string>();
  readonly #policies = new Set<string>();
  #allowed = false;
  #denied = false;

  add(r: Pick<DecisionRecord, 'subject' | 'via' | 'decision' | 'determining'>): void {
    this.#subjects.add(r.subject.id);
    this.#vias.add(r.via ?? '');
    if (r.decision) this.#allowed = true;
    else this.#denied = true;
    for (const p of r.determining) this.#policies.add(p);
  }

  /** The summary's `keys` column: each key between newlines. */
  text(): string {
    const keys: string[] = [];
    for (const s of this.#subjects) keys.push(`s:${line(s)}`);
    for (const v of this.#vias) keys.push(`v:${line(v)}`);
    if (this.#allowed) keys.push('d:1');
    if (this.#denied) keys.push('d:0');
    for (const p of this.#policies) keys.push(`p:${line(p)}`);
    // Two values whose newlines became spaces may make one key twice (see `line`).
    return `\n${[...new Set(keys)].join('\n')}\n`;
  }

  clear(): void {
    this.#subjects.clear();
    this.#vias.clear();
    this.#policies.clear();
    this.#allowed = this.#denied = false;
  }
}

export function summarize(records: readonly DecisionRecord[]): BatchSummary {
  const keys = new BatchKeys();
  for (const r of records) keys.add(r);
  return { ids: `\n${records.flatMap((r) => (r.request_id === undefined ? [line(r.id)] : [line(r.id), line(r.request_id)])).join('\n')}\n`, keys: keys.text() };
}

/** A batch's records as JSON text, whichever form the batch carries them in. */
export function batchText(batch: Pick<DecisionBatch, 'json'>): string {
  return typeof batch.json === 'string' ? batch.json : Buffer.from(batch.json.buffer, batch.json.byteOffset, batch.json.byteLength).toString('utf8');
}

/** The memory a waiting batch holds: its whole buffer (a view's bytes may be a small part of it), or its text. */
export function heldBytes(batch: Pick<DecisionBatch, 'json'>): number {
  return typeof batch.json === 'string' ? batch.json.length * 2 : batch.json.buffer.byteLength;
}
