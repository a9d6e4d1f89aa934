/**
 * The compliance benchmark: `npm run bench:affects`.
 *
 * `affects()` over the engine benchmark's 10,000-policy workload (bench/workload.ts), with
 * two sets of facts:
 * - "keyed": the facts fix `action` and `resource.type`, as compliance questions usually
 *   do, so the index keys rule out almost every policy without its syntax tree;
 * - "unkeyed": the facts fix only condition attributes, so every policy is partially
 *   evaluated, its syntax tree parsed again from the source (the set does not keep trees).
 * Each is timed cold (the first call on a fresh set: trees parsed) and then over several
 * runs; the median is reported. Rewrites the "affects" section of bench/RESULTS.md.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { affects, buildPolicySet, parseFacts, type Knowledge, type PolicySet } from '../dist/index.js';
import { writeSection } from './results-file.js';
import { gavelPolicies } from './workload.js';

const POLICIES = 10_000;
const RUNS = 7;
const TARGET_MS = 500;
const COMMAND = 'npm run bench:affects';

const SCENARIOS = {
  keyed: ['resource.type == "t7"', 'action == "read"', 'subject.role != "admin"'],
  unkeyed: ['subject.role == "editor"', 'context.risk_score < 50'],
} as const;

function build(): PolicySet {
  const { set, diagnostics } = buildPolicySet([{ file: 'bench.gavel', text: gavelPolicies(POLICIES) }]);
  if (set === null) throw new Error(`workload does not build: ${diagnostics[0]?.message}`);
  return set;
}

function knowledge(facts: readonly string[]): Knowledge {
  const parsed = parseFacts(facts.map((text, i) => ({ file: `--where#${i + 1}`, text })));
  if ('diagnostics' in parsed) throw new Error(parsed.diagnostics[0]?.message);
  return parsed.knowledge;
}

function time(f: () => unknown): number {
  const start = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Row {
  scenario: string;
  facts: readonly string[];
  rows: number;
  coldMs: number;
  medianMs: number;
}

function measure(name: keyof typeof SCENARIOS): Row {
  const facts = SCENARIOS[name];
  const k = knowledge(facts);
  const set = build();
  let rows = 0;
  const coldMs = time(() => (rows = affects(set, k, { all: true }).length));
  const runs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    runs.push(time(() => affects(set, k, { all: true })));
  }
  return { scenario: name, facts, rows, coldMs, medianMs: median(runs) };
}

function commit(): string {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  return head.stdout.trim() || 'unknown';
}

const results = (Object.keys(SCENARIOS) as (keyof typeof SCENARIOS)[]).map(measure);
const table = [
  '| facts | policies | rows (`--all`) | first call (trees parsed) | median of ' + RUNS + ' runs | target |',
  '| --- | --- | --- | --- | --- | --- |',
  ...results.map((r) => `| ${r.scenario}: \`${r.facts.join('` `')}\` | ${POLICIES.toLocaleString('en')} | ${r.rows} | ${r.coldMs.toFixed(0)} ms | ${r.medianMs.toFixed(0)} ms | ≤ ${TARGET_MS} ms ${r.medianMs <= TARGET_MS ? 'met' : 'MISSED'} |`),
];
for (const line of table) console.log(line);
console.log(`\nreproduce: ${COMMAND}`);
writeSection(
  'affects',
  [
    '## Affects',
    '',
    `\`affects()\` (src/engine/affects.ts) classifying every policy of the engine benchmark's ${POLICIES.toLocaleString('en')}-policy workload, in process, on commit ${commit()}, ${new Date().toISOString().slice(0, 10)}, load average ${os.loadavg()[0]!.toFixed(2)}. Reproduce: \`${COMMAND}\`.`,
    '',
    ...table,
    '',
    'The "keyed" facts fix `action` and `resource.type`: the index keys rule out all but a handful of policies without their syntax trees. The "unkeyed" facts fix only attributes of conditions, so every policy is partially evaluated; the policy set does not keep syntax trees in memory, and the first call parses all 10,000 again. Later calls reuse the trees while they are still referenced (here: the runs follow each other synchronously, so they are); `gavel serve` with its admin APIs on keeps them (src/server/tree-keeper.ts: parsed in slices after each load), so its calls cost the median figure — see the console section, which measures it so.',
  ].join('\n'),
);
