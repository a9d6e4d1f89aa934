/**
 * Decision records as `gavel serve` logs them, made from the engine benchmark's workload
 * (bench/workload.ts): each request of the mix decided against the N-policy set, with an
 * id, a time and the fields the Decider fills. Shared by the what-if, query and log-writer
 * benchmarks, which write them with `store.appendBatch` directly (no server in between).
 */
import { decide, type PolicySet } from '../dist/index.js';
import type { DecisionBatch, DecisionRecord } from '../dist/store/store.js';
import { summarize } from '../dist/store/decision-summary.js';
import { requestMix, type BenchRequest } from './workload.js';

export const BATCH = 500;
const VIAS = ['authzen', 'native', 'forward_auth', 'grpc', 'mint'] as const;

/** `count` records in batches of 500, oldest first, one millisecond apart from `start`. */
export function* logBatches(set: PolicySet, policies: number, count: number, start = Date.parse('2026-01-01T00:00:00Z')): Generator<DecisionBatch> {
  const mix = requestMix(policies);
  const decided = mix.map((r) => ({ r, d: decide(set, r as unknown as Parameters<typeof decide>[1]) }));
  for (let first = 0; first < count; first += BATCH) {
    const records: DecisionRecord[] = [];
    const n = Math.min(BATCH, count - first);
    for (let i = first; i < first + n; i++) {
      const { r, d } = decided[i % decided.length]!;
      records.push(record(i, start + i, r, d));
    }
    // With its summary, as the decision log hands batches to the writer (it has the records at hand).
    yield { firstAt: new Date(start + first).toISOString(), lastAt: new Date(start + first + n - 1).toISOString(), count: n, json: JSON.stringify(records), summary: summarize(records) };
  }
}

function record(i: number, at: number, r: BenchRequest, d: ReturnType<typeof decide>): DecisionRecord {
  return {
    id: `req-${i.toString(36).padStart(6, '0')}`,
    at: new Date(at).toISOString(),
    via: VIAS[i % VIAS.length]!,
    decision: d.decision,
    revision: d.revision,
    determining: d.determining,
    reasons: d.reasons,
    errors: d.errors.map((e) => e.policy),
    subject: { type: r.subject.type, id: r.subject.id },
    action: r.action.name,
    resource: { type: r.resource.type, id: r.resource.id },
    latencyUs: 3.1,
    request: r,
  };
}
