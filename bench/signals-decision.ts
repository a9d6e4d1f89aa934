/**
 * What signals cost a decision: the same N = 1,000 workload decided through the server's
 * Decider (directory, metrics and signals as `gavel serve` has them; no decision log)
 *   A. without signals at all,
 *   B. with signals configured, over policies that read no `risk` member,
 *   C. with signals, plus one forbid reading `risk.ip` (an IP lookup per request, 100k prefixes),
 *   D. the control for C: the same extra forbid reading `context` instead — what the policy
 *      itself costs, so that C − D is what computing the signal costs.
 * B against A is the claim "a decision whose policies read no risk.* path pays nothing".
 * Runs alternate A, B, C in one process, several rounds; medians of ns per decision.
 *
 *   npm run build && node --import tsx bench/signals-decision.ts
 */
import { buildPolicySet } from '../dist/index.js';
import { Decider } from '../dist/server/decider.js';
import { Metrics } from '../dist/server/metrics.js';
import { LivePolicySet } from '../dist/engine/live-set.js';
import { Signals } from '../dist/signals/signals.js';
import { ipSignal } from '../dist/signals/ip-signal.js';
import { Velocity } from '../dist/signals/velocity.js';
import { IpReputation } from '../dist/signals/ip/ip-reputation.js';
import { parseIpList } from '../dist/signals/ip/list-format.js';
import type { PolicySet } from '../dist/engine/policy-set.js';
import { gavelPolicies, prng, requestMix } from './workload.js';
import { execSync } from 'node:child_process';
import os from 'node:os';
import { writeSection } from './results-file.js';

const N = 1_000;
const ROUNDS = 7;
const PER_ROUND = 200_000;

function set(text: string): PolicySet {
  const { set: s } = buildPolicySet([{ file: 'bench.gavel', text }]);
  if (s === null) throw new Error('the workload does not compile');
  return s;
}

function prefixes(count: number): string {
  const next = prng(0x519);
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const bits = 16 + Math.floor(next() * 17);
    const address = Math.floor(next() * 2 ** 32) & (bits === 32 ? 0xffffffff : ~(2 ** (32 - bits) - 1));
    lines.push(`${address >>> 24}.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}/${bits}`);
  }
  return lines.join('\n');
}

const plain = set(gavelPolicies(N));
const withRisk = set(`${gavelPolicies(N)}\n@id("bench.risky") forbid (action) when { risk.ip.lists contains "bench" };`);
const withControl = set(`${gavelPolicies(N)}\n@id("bench.control") forbid (action) when { context has lists && context.lists contains "bench" };`);
const parsed = parseIpList(prefixes(100_000), 'bench.netset', 'plain');
if (parsed.content === null) throw new Error(parsed.diagnostics.map((d) => d.message).join('\n'));
const table = IpReputation.build([{ name: 'bench', path: 'bench.netset', ...parsed.content }]);
const live = new LivePolicySet(plain);
const metrics = new Metrics(live);
const signals = new Signals([ipSignal(() => table)], new Velocity());
const deciders = { A: new Decider(metrics, null, null, null), B: new Decider(metrics, null, null, signals), C: new Decider(metrics, null, null, signals), D: new Decider(metrics, null, null, signals) };
const sets = { A: plain, B: plain, C: withRisk, D: withControl };
type Variant = keyof typeof sets;
const VARIANTS: Variant[] = ['A', 'B', 'C', 'D'];
const mix = requestMix(N).map((r) => ({ subject: r.subject, action: r.action, resource: r.resource, context: r.context, token: r.token }));
const addresses = mix.map((_, i) => ({ address: `198.51.${(i >> 8) & 255}.${i & 255}` }));

function round(which: Variant): number {
  const d = deciders[which];
  const s = sets[which];
  let allowed = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < PER_ROUND; i++) {
    const k = i % mix.length;
    if (d.decide('native', 'b', s, mix[k], {}, addresses[k]).decision) allowed++;
  }
  const ns = Number(process.hrtime.bigint() - start) / PER_ROUND;
  if (allowed === 0) throw new Error('nothing allowed: the workload is wrong');
  return ns;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results: Record<Variant, number[]> = { A: [], B: [], C: [], D: [] };
for (const w of VARIANTS) round(w);
for (let r = 0; r < ROUNDS; r++) for (const w of VARIANTS) results[w].push(round(w));
const [a, b, c, d] = VARIANTS.map((w) => median(results[w]));
console.log(`Signals in a decision (N = ${N} policies, ${ROUNDS} rounds of ${PER_ROUND.toLocaleString('en')} decisions, medians, ns per decision through the Decider):`);
console.log(`  A  no signals configured                      ${a.toFixed(0)} ns`);
console.log(`  B  signals configured, no policy reads risk   ${b.toFixed(0)} ns  (B/A ${(b / a).toFixed(3)})`);
console.log(`  C  one forbid reads risk.ip (100k prefixes)   ${c.toFixed(0)} ns  (C/A ${(c / a).toFixed(3)})`);
console.log(`  D  control: the same forbid reads context     ${d.toFixed(0)} ns  (C − D = ${(c - d).toFixed(0)} ns for the risk root and the IP lookup)`);
console.log('Reproduce: npm run build && node --import tsx bench/signals-decision.ts');

const commit = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
writeSection(
  'signals-decision',
  `## Signals in a decision

Reproduce with:

\`\`\`sh
npm run build && node --import tsx bench/signals-decision.ts
\`\`\`

- Date: ${new Date().toISOString().slice(0, 10)}; commit ${commit}; ${os.cpus()[0]?.model ?? 'CPU'} (${os.cpus().length} logical CPUs), Node ${process.version}; load average (1 min) ${os.loadavg()[0].toFixed(2)} at the end.
- The N = ${N} workload of bench/workload.ts decided through the server's \`Decider\` (metrics on, no decision log), ${ROUNDS} rounds of ${PER_ROUND.toLocaleString('en')} decisions alternating the variants in one process; medians of ns per decision.

| variant | ns per decision | vs A |
|---|--:|--:|
| A — no signals configured | ${a.toFixed(0)} | 1.000 |
| B — signals configured, no policy reads \`risk\` | ${b.toFixed(0)} | ${(b / a).toFixed(3)} |
| C — one forbid reads \`risk.ip\` (100k prefixes) | ${c.toFixed(0)} | ${(c / a).toFixed(3)} |
| D — control for C: the same forbid reads \`context\` | ${d.toFixed(0)} | ${(d / a).toFixed(3)} |

B against A is the claim that a decision whose policies read no \`risk\` member pays nothing for signals (no \`risk\` root is even made); C − D (${(c - d).toFixed(0)} ns) is what the lazy root and one IP lookup cost when a policy does read it.`,
);
