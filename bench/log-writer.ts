/**
 * The decision log writer's cost per decision: `store.appendBatch` of 500-record batches
 * (what the writer thread runs per batch) into a fresh SQLite file with the writer's
 * durability, timed over 200,000 decisions; median of 5 runs. A micro-benchmark for the
 * write path, run before and after a change to the log's schema:
 * `npm run build && node --import tsx bench/log-writer.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPolicySet } from '../dist/index.js';
import { SqliteStore } from '../dist/store/sqlite/sqlite-store.js';
import type { DecisionBatch } from '../dist/store/store.js';
import { logBatches } from './log-records.js';
import { gavelPolicies } from './workload.js';

const POLICIES = 1_000;
const DECISIONS = 200_000;
const RUNS = 5;

export function writerCostUs(): { median: number; runs: number[] } {
  const set = buildPolicySet([{ file: 'bench.gavel', text: gavelPolicies(POLICIES) }]).set!;
  const batches: DecisionBatch[] = [...logBatches(set, POLICIES, DECISIONS)];
  const runs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const dir = mkdtempSync(join(tmpdir(), 'gavel-writer-'));
    const store = new SqliteStore(join(dir, 'log.db'), { durability: 'normal' });
    const start = process.hrtime.bigint();
    for (const b of batches) store.appendBatch(b);
    runs.push(Number(process.hrtime.bigint() - start) / 1e3 / DECISIONS);
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return { median: [...runs].sort((a, b) => a - b)[Math.floor(RUNS / 2)]!, runs };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { median, runs } = writerCostUs();
  console.log(`writer: ${median.toFixed(2)} µs per decision (median of ${RUNS}; runs ${runs.map((r) => r.toFixed(2)).join(', ')})`);
}
