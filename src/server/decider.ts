import { decide, type DecideOptions } from '../engine/decide.js';
import type { Decision } from '../engine/decision.js';
import type { DecisionLog } from '../engine/decision-log.js';
import type { LiveDirectory } from '../engine/directory.js';
import type { PolicySet } from '../engine/policy-set.js';
import type { Request } from '../language/eval/activation.js';
import type { Interface, Metrics } from './metrics.js';

type Json = { [k: string]: unknown };
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Of a verified token, the log keeps who and which token: never the raw token or other claims. */
function loggedRequest(request: Request): Request {
  if (!isObject(request.token)) return request;
  const { sub, client_id, jti } = request.token;
  return { ...request, token: Object.fromEntries(Object.entries({ sub, client_id, jti }).filter(([, v]) => v !== undefined)) };
}

/**
 * How every interface decides: the request is enriched from the directory snapshot, decided
 * against the given policy set, counted and logged. No I/O: the directory is in memory and
 * the log is an in-memory append written in batches off the request path.
 */
export class Decider {
  constructor(
    readonly metrics: Metrics,
    private readonly log: DecisionLog | null,
    private readonly directory: LiveDirectory | null,
  ) {}

  decide(where: Interface, id: string, set: PolicySet, input: Request, options: DecideOptions = {}): Decision {
    const start = process.hrtime.bigint();
    const request = this.directory === null ? input : this.directory.current.enrich(input);
    const d = decide(set, request, options);
    this.decided(where, id, request, d, start);
    return d;
  }

  private decided(where: Interface, id: string, request: Request, d: Decision, startNs: bigint): void {
    const latencyUs = Number(process.hrtime.bigint() - startNs) / 1e3;
    this.metrics.decided(where, d.decision, startNs);
    if (this.log === null) return;
    const subject = isObject(request.subject) ? request.subject : {};
    const resource = isObject(request.resource) ? request.resource : {};
    const action = isObject(request.action) ? request.action.name : request.action;
    this.log.append({
      id,
      at: new Date().toISOString(),
      via: where,
      decision: d.decision,
      revision: d.revision,
      subject: { type: text(subject.type), id: text(subject.id) },
      action: text(action),
      resource: { type: text(resource.type), id: text(resource.id) },
      latencyUs,
      determining: d.determining,
      reasons: d.reasons,
      errors: d.errors.map((e) => e.policy),
      request: loggedRequest(request),
    });
  }
}
