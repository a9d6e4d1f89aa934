import { Activation, type Request } from '../language/eval/activation.js';
import type { CompiledPolicy } from '../language/compile/compile-policy.js';
import { EvalError } from '../language/eval/value.js';
import type { Span } from '../language/ast.js';
import type { Decision, PolicyError, PolicyTrace } from './decision.js';
import { PolicyIndex } from './index.js';
import type { PolicySet } from './policy-set.js';

export interface DecideOptions {
  /** Add an explanation: every candidate with its outcome. Costs more; off on the hot path. */
  explain?: boolean;
}

function where(file: string, span: Span): string {
  return `${file}:${span.start.line}:${span.start.col}`;
}

/** Conditions of one policy; a throw (which compiled code should never do) counts as an error. */
function holds(p: CompiledPolicy, a: Activation): boolean | EvalError {
  try {
    return p.holds(a);
  } catch (err: unknown) {
    return new EvalError(`internal error: ${err instanceof Error ? err.message : String(err)}`, p.span);
  }
}

function matches(p: CompiledPolicy, a: Activation): boolean {
  try {
    // Candidates come from the index, which already proved the constraint it looked up.
    return p.matchesCandidate(a);
  } catch {
    // Fail closed: a forbid whose target cannot be read is tried; a permit is not.
    return p.effect === 'forbid';
  }
}

/** What a decision collects while its candidates are evaluated. */
interface Tally {
  determining: string[];
  reasons: string[];
  /** Whether a forbid applied only because it could not be evaluated. */
  failedClosed: boolean;
  errors: PolicyError[];
  /** Every candidate's outcome; only when an explanation was asked for. */
  trace: PolicyTrace[] | null;
}

/**
 * The reason given for forbids that apply only because they could not be evaluated (fail
 * closed): their own reasons say why their conditions deny, which they did not. Generic on
 * purpose — reasons reach end users (a gateway's 403, the token endpoint's `invalid_scope`),
 * while which policy failed, where and why is in `errors` and the decision log.
 */
export const FAILED_CLOSED = 'the request could not be checked against every policy, and is denied';

/**
 * Evaluates one candidate into the tally; answers whether it applies. An erroring forbid
 * applies (fail closed); an erroring permit does not. Both errors are reported.
 */
function apply(p: CompiledPolicy, a: Activation, tally: Tally): boolean {
  const trace = tally.trace;
  if (!matches(p, a)) {
    trace?.push(traced(p, a, 'not-satisfied'));
    return false;
  }
  const r = holds(p, a);
  if (r === false) {
    trace?.push(traced(p, a, 'not-satisfied'));
    return false;
  }
  if (r instanceof EvalError) {
    tally.errors.push({ policy: p.id, message: r.message, location: where(p.file, r.span) });
    trace?.push({ ...traced(p, a, 'error'), error: r.message });
    if (p.effect === 'permit') return false;
    tally.determining.push(p.id);
    // Its own reason says why its conditions deny, which they did not: a caller told "outside
    // working hours" for a request that lacked the hour would be told something untrue.
    tally.failedClosed = true;
    return true;
  }
  trace?.push(traced(p, a, 'satisfied'));
  tally.determining.push(p.id);
  if (p.reason !== null && p.effect === 'forbid') tally.reasons.push(p.reason);
  return true;
}

/**
 * Decides one request: any satisfied forbid denies; else any satisfied permit allows; else
 * deny. Never throws, whatever the request holds. The hot path allocates the activation,
 * the bucket list and the decision, and nothing per candidate.
 */
export function decide(set: PolicySet, request: Request, options: DecideOptions = {}): Decision {
  // A library caller may pass anything; a non-object request simply has no attributes.
  const a = new Activation(typeof request === 'object' && request !== null ? request : {});
  const buckets = set.index.lookup(a);
  const tally: Tally = { determining: [], reasons: [], failedClosed: false, errors: [], trace: options.explain ? [] : null };
  for (let i = 0; i < buckets.length; i++) {
    const forbids = buckets[i].forbids;
    for (let j = 0; j < forbids.length; j++) apply(forbids[j], a, tally);
  }
  const denied = tally.determining.length > 0;
  for (let i = 0; i < buckets.length; i++) {
    const permits = buckets[i].permits;
    for (let j = 0; j < permits.length; j++) {
      if (!denied) apply(permits[j], a, tally);
      else if (tally.trace !== null) tally.trace.push(runDetached(permits[j], a));
      else break;
    }
  }
  const { determining, reasons, errors, trace } = tally;
  // Canonical order, so the same request gives the same answer whatever order files were read in.
  if (determining.length > 1) determining.sort();
  if (reasons.length > 1) reasons.sort();
  // After the reasons that held: a gateway shows the first, and a real one says more.
  if (tally.failedClosed) reasons.push(FAILED_CLOSED);
  if (errors.length > 1) errors.sort((x, y) => (x.policy < y.policy ? -1 : x.policy > y.policy ? 1 : 0));
  const decision: Decision = { decision: !denied && determining.length > 0, determining, reasons, errors, revision: set.revision };
  if (trace !== null) decision.explanation = { policies: set.policies.length, candidates: PolicyIndex.count(buckets), trace };
  return decision;
}

/** A permit's outcome when a forbid already decided: reported, but it changes nothing. */
function runDetached(p: CompiledPolicy, a: Activation): PolicyTrace {
  if (!matches(p, a)) return traced(p, a, 'not-satisfied');
  const r = holds(p, a);
  if (r instanceof EvalError) return { ...traced(p, a, 'error'), error: r.message };
  return traced(p, a, r ? 'satisfied' : 'not-satisfied');
}

function traced(p: CompiledPolicy, a: Activation, outcome: PolicyTrace['outcome']): PolicyTrace {
  const t: PolicyTrace = { id: p.id, effect: p.effect, outcome, location: where(p.file, p.span) };
  if (outcome === 'not-satisfied') {
    const failed = p.explainFailure(a);
    if (failed !== null) t.failed = { part: failed.part, condition: failed.text, location: where(p.file, failed.span) };
  }
  return t;
}
