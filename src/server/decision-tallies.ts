import { Counter, Histogram, type Registry } from 'prom-client';
import type { Interface } from './metrics.js';

// Microseconds for the usual decision, up to a second for the outliers a p99 alert must resolve (a large
// explain, a cold directory): past the last bucket only +Inf would say anything.
export const LATENCY_BUCKETS = [1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 2.5e-2, 1e-1, 1] as const;
const LATENCY = 'gavel_decision_duration_seconds';
const LATENCY_HELP = 'Time to decide one request (one item of a batch), excluding transport';

/** One interface's latency histogram: counts per bucket (not cumulative; the last is +Inf). */
interface Times {
  buckets: Float64Array;
  sum: number;
  count: number;
}

type LatencyValue = { labels: { le?: number | string; interface: Interface }; value: number; metricName: string };

/**
 * The decisions counter and latency histogram, tallied in plain numbers on the request
 * path and handed to prom-client only when /metrics is scraped. prom-client's own inc and
 * observe hash a labels object on every call (a labelled child too), which on the decision
 * path cost more than counting itself; the exposition is the same text.
 */
export class DecisionTallies {
  readonly #counts = new Map<string, { where: Interface; decision: 'allow' | 'deny'; n: number }>();
  readonly #times = new Map<Interface, Times>();

  constructor(registry: Registry) {
    const counts = this.#counts;
    new Counter({
      name: 'gavel_decisions_total',
      help: 'Decisions answered, by interface and result',
      labelNames: ['interface', 'decision'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const c of counts.values()) this.inc({ interface: c.where, decision: c.decision }, c.n);
      },
    });
    registry.registerMetric(new LatencyHistogram(this.#times));
  }

  /** Counts one decision that took `seconds`. */
  decided(where: Interface, allowed: boolean, seconds: number): void {
    // prom-client refuses a non-finite observation; one would make `_sum` NaN for good.
    if (!Number.isFinite(seconds)) seconds = 0;
    const key = allowed ? where : `${where}!`;
    const count = this.#counts.get(key);
    if (count === undefined) this.#counts.set(key, { where, decision: allowed ? 'allow' : 'deny', n: 1 });
    else count.n++;
    let times = this.#times.get(where);
    if (times === undefined) this.#times.set(where, (times = { buckets: new Float64Array(LATENCY_BUCKETS.length + 1), sum: 0, count: 0 }));
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    times.buckets[i]!++;
    times.sum += seconds;
    times.count++;
  }
}

/** prom-client's Histogram, exporting the tallies instead of what its observe() would have kept. */
class LatencyHistogram extends Histogram<'interface'> {
  constructor(private readonly times: ReadonlyMap<Interface, Times>) {
    super({ name: LATENCY, help: LATENCY_HELP, labelNames: ['interface'], buckets: [...LATENCY_BUCKETS], registers: [] });
  }

  override async get(): ReturnType<Histogram<'interface'>['get']> {
    const values: LatencyValue[] = [];
    for (const [where, t] of this.times) {
      let cumulative = 0;
      for (const [i, le] of LATENCY_BUCKETS.entries()) {
        cumulative += t.buckets[i]!;
        values.push({ labels: { le, interface: where }, value: cumulative, metricName: `${LATENCY}_bucket` });
      }
      values.push({ labels: { le: '+Inf', interface: where }, value: t.count, metricName: `${LATENCY}_bucket` });
      values.push({ labels: { interface: where }, value: t.sum, metricName: `${LATENCY}_sum` });
      values.push({ labels: { interface: where }, value: t.count, metricName: `${LATENCY}_count` });
    }
    // What prom-client's registry reads to format it (lib/registry.js); its typings call `type` an enum and want a `collect`, which its runtime does not.
    const metric = { name: LATENCY, help: LATENCY_HELP, type: 'histogram', aggregator: 'sum', values };
    return metric as unknown as Awaited<ReturnType<Histogram<'interface'>['get']>>;
  }

  /** What the registry formats the text exposition from (prom-client calls it when present). */
  async getForPromString(): ReturnType<LatencyHistogram['get']> {
    return this.get();
  }
}
