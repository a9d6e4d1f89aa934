import { randomUUID } from 'node:crypto';
import { IDENTITY_CLAIMS } from '../engine/logged-claims.js';
import { decide, type DecideOptions } from '../engine/decide.js';
import type { Decision } from '../engine/decision.js';
import type { DecisionLog } from '../engine/decision-log.js';
import { Directory, type LiveDirectory } from '../engine/directory.js';
import type { PolicySet } from '../engine/policy-set.js';
import type { DecisionRecord } from '../store/store.js';
import type { Request } from '../language/eval/activation.js';
import type { Interface, Metrics } from './metrics.js';
import type { Observed, RiskRoot, Signals } from '../signals/signals.js';
import { subjectKey } from '../signals/velocity.js';
import { ALL_SIGNALS } from '../language/compile/reads.js';
import { withRoots } from '../engine/request-roots.js';

/** One request decided, before it is counted and logged. */
interface Evaluated {
  d: Decision;
  risk: RiskRoot | null;
  /** The request as decided: enriched from the directory. */
  enriched: Request;
  latencyUs: number;
}

/** Where a call came from, as the interface saw it. */
export interface Origin {
  /** The client's address (after trusted proxies); `null` when the transport has none. */
  address: string | null;
}

const UNKNOWN: Origin = { address: null };

let lastMs = 0;
let lastIso = '';
/** `new Date().toISOString()`, made once per millisecond: thousands of decisions share one. */
function nowIso(): string {
  const ms = Date.now();
  if (ms !== lastMs) [lastMs, lastIso] = [ms, new Date(ms).toISOString()];
  return lastIso;
}
const EMPTY_DIRECTORY = new Directory([]);

type Json = { [k: string]: unknown };
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string => (typeof v === 'string' ? v : '');


/**
 * The request as decided, for explanation and replay. `request.token` holds the verified
 * claims, never the raw token (a replayed or leaked log cannot present it); of them the log
 * keeps the token's identity and the claims the policies read (`reads`), unless told to keep
 * all — not a user's email or name that no policy looked at.
 */
function loggedRequest(request: Request, risk: Json | null, reads: ReadonlySet<string> | null): Request {
  let out = risk === null || Object.keys(risk).length === 0 ? request : withRoots(request, { risk });
  if (reads !== null && !reads.has(ALL_SIGNALS) && isObject(request.token)) out = withRoots(out, { token: keptClaims(request.token, reads) });
  return out;
}

/** The claims kept of a token, by its claims object: a cached verification hands every request the same one. */
const kept = new WeakMap<Json, { reads: ReadonlySet<string>; claims: Json }>();

function keptClaims(claims: Json, reads: ReadonlySet<string>): Json {
  const hit = kept.get(claims);
  if (hit !== undefined && hit.reads === reads) return hit.claims;
  const out = Object.fromEntries(Object.keys(claims).filter((k) => IDENTITY_CLAIMS.has(k) || reads.has(k)).map((k) => [k, claims[k]]));
  kept.set(claims, { reads, claims: out });
  return out;
}

/** Who a request is about, for signals: subject `type/id`, the token's client, the address. */
function observed(request: Request, origin: Origin, where: Interface | null): Observed {
  const subject = isObject(request.subject) && typeof request.subject.id === 'string' ? subjectKey(text(request.subject.type), request.subject.id) : null;
  const token = isObject(request.token) ? request.token : {};
  // The OAuth client: the verified token's; in the issuer's own mint decisions, the authenticated
  // client the issuer puts in `context.client_id` (for user grants too). Never a client a caller
  // merely names: any caller of /v1/decide could then raise another client's denial counters.
  const minting = where === 'mint' && isObject(request.context) && typeof request.context.client_id === 'string' ? request.context.client_id : null;
  const client = typeof token.client_id === 'string' ? token.client_id : typeof token.azp === 'string' ? token.azp : minting;
  return { address: origin.address, subject, client };
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
    private readonly signals: Signals | null = null,
  ) {}

  decide(where: Interface, id: string, set: PolicySet, input: Request, options: DecideOptions = {}, origin: Origin = UNKNOWN): Decision {
    const done = this.run(where, set, input, options, origin);
    this.decided(where, id, set, done);
    return done.d;
  }

  /**
   * Decides as `decide` does, but leaves the decision out of the metrics and the log until
   * `commit`: a batch whose answer turns out to be one the caller cannot receive is dropped
   * whole, and no decision that nobody received is on the record. Velocity observes it at
   * once, as `decide` does: the caller did ask, and a batch's later items see its earlier
   * denials as they would one request after another.
   */
  held(where: Interface, id: string, set: PolicySet, input: Request, options: DecideOptions = {}, origin: Origin = UNKNOWN): { decision: Decision; commit: () => void } {
    const done = this.run(where, set, input, options, origin);
    return { decision: done.d, commit: () => this.decided(where, id, set, done) };
  }

  /** Enriches, evaluates and lets velocity observe one request: what `decide` and `held` share. */
  private run(where: Interface, set: PolicySet, input: Request, options: DecideOptions, origin: Origin): Evaluated {
    const start = process.hrtime.bigint();
    const enriched = this.directory === null ? input : this.directory.current.enrich(input);
    const { d, risk, who } = this.evaluate(set, enriched, options, origin, where);
    if (who !== null) this.signals?.observe(d.decision, who);
    return { d, risk, enriched, latencyUs: Number(process.hrtime.bigint() - start) / 1e3 };
  }

  /** The directory snapshot decisions are enriched from now: a search keeps one for all its candidates. */
  snapshot(): Directory {
    return this.directory?.current ?? EMPTY_DIRECTORY;
  }

  /**
   * One candidate of a search, decided as `decide` does — enriched from `directory`, with
   * the same signals and policies — and counted in the metrics (interface `authzen_search`).
   * It is not logged: a search is not an enforcement, and a record per candidate would
   * flood the log; the PEP's later evaluation is logged. Nor is it observed by velocity:
   * each denied candidate would count as a denial of the caller's address.
   */
  searched(set: PolicySet, directory: Directory, input: Request, origin: Origin = UNKNOWN): Decision {
    const start = process.hrtime.bigint();
    const { d } = this.evaluate(set, directory.enrich(input), {}, origin, null);
    this.metrics.decided('authzen_search', d.decision, Number(process.hrtime.bigint() - start) / 1e9);
    return d;
  }

  /**
   * `who`: whom velocity counts the decision against, when some policy reads velocity
   * (counters nobody reads cost nothing). `where` is null for what is decided but not
   * enforced (search candidates): it is not counted.
   */
  private evaluate(set: PolicySet, enriched: Request, options: DecideOptions, origin: Origin, where: Interface | null): { d: Decision; risk: RiskRoot | null; who: Observed | null } {
    // Policies that read no `risk` member get no `risk` root, and pay nothing for signals.
    if (this.signals === null || set.riskReads.size === 0) return { d: decide(set, enriched, options), risk: null, who: null };
    const who = observed(enriched, origin, where);
    const risk = this.signals.root(who, set.riskReads);
    let d = decide(set, withRoots(enriched, { risk }), options);
    if (risk.errors.length > 0) d = { ...d, signal_errors: risk.errors };
    return { d, risk, who: where !== null && (set.riskReads.has('velocity') || set.riskReads.has(ALL_SIGNALS)) ? who : null };
  }

  private decided(where: Interface, id: string, set: PolicySet, { d, risk, enriched: request, latencyUs }: Evaluated): void {
    this.metrics.decided(where, d.decision, latencyUs / 1e6);
    if (this.log === null) return;
    const subject = isObject(request.subject) ? request.subject : {};
    const resource = isObject(request.resource) ? request.resource : {};
    const action = isObject(request.action) ? request.action.name : request.action;
    const record: DecisionRecord = {
      // Gavel's own id: the request id is the caller's to choose, and a caller reusing another
      // request's would otherwise make its decision the one a lookup by that id finds.
      id: randomUUID(),
      request_id: id,
      at: nowIso(),
      via: where,
      decision: d.decision,
      revision: d.revision,
      subject: { type: text(subject.type), id: text(subject.id) },
      action: text(action),
      resource: { type: text(resource.type), id: text(resource.id) },
      latencyUs: Math.round(latencyUs * 10) / 10,
      determining: d.determining,
      reasons: d.reasons,
      errors: d.errors.map((e) => e.policy),
    };
    if (this.log.keepsRequests) record.request = loggedRequest(request, risk === null ? null : risk.computed(), this.log.tokenClaims === 'all' ? null : set.tokenReads);
    this.log.append(record);
  }
}
