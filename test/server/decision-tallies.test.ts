import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, test } from 'vitest';
import { DecisionTallies, LATENCY_BUCKETS } from '../../src/server/decision-tallies.js';
import type { Interface } from '../../src/server/metrics.js';

const INTERFACES: Interface[] = ['authzen', 'native', 'forward_auth', 'envoy', 'mint'];

/** What prom-client itself exposes after inc/observe of each decision: the tallies must say the same. */
async function reference(decisions: readonly [Interface, boolean, number][]): Promise<string> {
  const registry = new Registry();
  const count = new Counter({ name: 'gavel_decisions_total', help: 'Decisions answered, by interface and result', labelNames: ['interface', 'decision'], registers: [registry] });
  const time = new Histogram({
    name: 'gavel_decision_duration_seconds',
    help: 'Time to decide one request (one item of a batch), excluding transport',
    labelNames: ['interface'],
    buckets: [...LATENCY_BUCKETS],
    registers: [registry],
  });
  for (const [where, allowed, seconds] of decisions) {
    count.inc({ interface: where, decision: allowed ? 'allow' : 'deny' });
    time.observe({ interface: where }, seconds);
  }
  return registry.metrics();
}

describe('decision metrics', () => {
  test('the exposition equals prom-client counting every decision itself', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom(...INTERFACES), fc.boolean(), fc.oneof(fc.constantFrom(1e-6, 5e-6, 1e-3, 5e-3, 0.1, 1), fc.double({ min: 0, max: 2, noNaN: true }))), { maxLength: 60 }),
        async (decisions) => {
          const registry = new Registry();
          const tallies = new DecisionTallies(registry);
          for (const [where, allowed, seconds] of decisions) tallies.decided(where, allowed, seconds);
          expect(await registry.metrics()).toBe(await reference(decisions));
        },
      ),
      { numRuns: 200 },
    );
  });
});
