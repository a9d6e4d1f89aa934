import type { Decision } from '../engine/decision.js';
import type { DecisionLog } from '../engine/decision-log.js';
import type { Request } from '../language/eval/activation.js';
import type { Interface, Metrics } from './metrics.js';

/**
 * What happens after every decision, whatever interface asked: a metric and a decision
 * log entry. Both are in-memory appends; the log is written in batches off the request path.
 */
export class DecisionObserver {
  constructor(
    readonly metrics: Metrics,
    private readonly log: DecisionLog | null,
  ) {}

  decided(where: Interface, id: string, request: Request, d: Decision, startNs: bigint): void {
    this.metrics.decided(where, d.decision, startNs);
    this.log?.append({
      id,
      at: new Date().toISOString(),
      via: where,
      decision: d.decision,
      revision: d.revision,
      determining: d.determining,
      reasons: d.reasons,
      errors: d.errors.map((e) => e.policy),
      request,
    });
  }
}
