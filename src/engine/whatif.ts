/**
 * "What would change if we deploy this?": decisions from the decision log replayed against
 * a candidate policy set, reporting those whose verdict would flip. Replay decides the
 * logged `request` as it is — the attributes the directory gave it then, a token's verified
 * claims, the risk signals computed then (only those some policy read at the time). A
 * candidate that reads a signal nobody computed sees it missing: its permit does not
 * apply and its forbid applies (fail closed), and the replay counts those errors.
 *
 * Results are plain JSON-able values: the CLI, `POST /v1/whatif` and the console show them.
 */
import { entityLabel } from '../formats/entity-label.js';
import type { Request } from '../language/eval/activation.js';
import type { DecisionRecord, DecisionWindow } from '../store/store.js';
import { decide } from './decide.js';
import { IDENTITY_CLAIMS } from './logged-claims.js';
import { ALL_SIGNALS as ALL } from '../language/compile/reads.js';
import type { PolicySet } from './policy-set.js';
import type { CompiledPolicy } from '../language/compile/compile-policy.js';
import type { PolicyTrace } from './decision.js';
import type { RevisionReads } from './revisions.js';

/** Where replayed decisions come from: batches of records as JSON arrays, newest batch first. */
export interface DecisionSource {
  decisionBatches(window: DecisionWindow): Iterable<string>;
}

export interface WhatIfOptions extends DecisionWindow {
  /** Replay at most the newest `limit` decisions of the window. */
  limit?: number;
  /** Examples kept per direction and per policy; default 5. */
  examples?: number;
  /**
   * What a stored revision's policies read (`readsByRevision`), or `null` when it is not
   * stored: which token claims and `risk` members its decisions' records kept. Without it, a
   * claim a record lacks, or a member a candidate reads whole, is taken as possibly not kept.
   */
  readsOf?: (revision: string) => RevisionReads | null;
}

export type Direction = 'allow_to_deny' | 'deny_to_allow';

export interface WhatIfExample {
  /** The decision's id; and the caller's request id, when the record has one. */
  id: string;
  request_id?: string;
  at: string;
  via: string;
  subject: string;
  action: string;
  resource: string;
  before: 'allow' | 'deny';
  after: 'allow' | 'deny';
  determiningBefore: string[];
  determiningAfter: string[];
  /** The candidate's reasons and erroring policies for the new verdict. */
  reasonsAfter: string[];
  errorsAfter: string[];
}

export interface PolicyCount {
  policy: string;
  /** `candidate`: it determined the new verdict; `logged`: it determined the old one. */
  side: 'candidate' | 'logged';
  allow_to_deny: number;
  deny_to_allow: number;
  /** Ids of a few of those decisions. */
  examples: string[];
}

export interface WhatIfReport {
  candidate: { revision: string; policies: number };
  window: { since: string | null; until: string | null; oldest: string | null; newest: string | null };
  replayed: number;
  changed: number;
  allow_to_deny: number;
  deny_to_allow: number;
  /** Replays where a candidate policy could not be evaluated (e.g. a risk signal absent from the log). */
  with_errors: number;
  /**
   * Decisions the candidate decides through a policy that read what the record does not
   * hold because the log did not keep it — a token claim no policy read when it was decided,
   * a risk signal not computed then — whether its verdict changed or not: `risk has ip` is
   * false on such a record, so a guarded forbid leaves it unchanged where it might have
   * denied. What they would be is not known; they are not in `changed`.
   */
  not_known: number;
  /** What those policies read that the records lacked (`token.aud`, `risk.velocity`). */
  not_known_reads: string[];
  /** Decisions in the window logged without their request (`decision_log.keep_requests: false`): not replayable, so not replayed. */
  without_request: number;
  /** Replayed decisions by the revision that made them. */
  revisions: Record<string, number>;
  /** Changed decisions by determining policy, most changes first. */
  policies: PolicyCount[];
  examples: Record<Direction, WhatIfExample[]>;
}

/** Replays the window at once: for the CLI, which has nothing else to serve meanwhile. */
export function whatIf(source: DecisionSource, candidate: PolicySet, options: WhatIfOptions = {}): WhatIfReport {
  const steps = replay(source, candidate, options);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/**
 * Replays the window a stored batch (≤ 500 decisions, a few milliseconds) at a time, giving
 * the event loop back in between: a server answers its decisions while an administrator's
 * what-if runs. The store must read each batch on its own (no statement held open across
 * turns, which would block the connection for everyone else).
 */
export async function whatIfInSlices(source: DecisionSource, candidate: PolicySet, options: WhatIfOptions = {}): Promise<WhatIfReport> {
  const steps = replay(source, candidate, options);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function* replay(source: DecisionSource, candidate: PolicySet, options: WhatIfOptions): Generator<void, WhatIfReport> {
  const keep = options.examples ?? 5;
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const report: WhatIfReport = {
    candidate: { revision: candidate.revision, policies: candidate.policies.length },
    window: { since: options.since ?? null, until: options.until ?? null, oldest: null, newest: null },
    replayed: 0,
    changed: 0,
    allow_to_deny: 0,
    deny_to_allow: 0,
    with_errors: 0,
    not_known: 0,
    not_known_reads: [],
    without_request: 0,
    revisions: {},
    policies: [],
    examples: { allow_to_deny: [], deny_to_allow: [] },
  };
  const byPolicy = new Map<string, PolicyCount>();
  const notKnown = new Set<string>();
  const count = (policy: string, side: PolicyCount['side'], direction: Direction, id: string) => {
    const k = `${side}\0${policy}`;
    let row = byPolicy.get(k);
    if (row === undefined) byPolicy.set(k, (row = { policy, side, allow_to_deny: 0, deny_to_allow: 0, examples: [] }));
    row[direction]++;
    if (row.examples.length < keep) row.examples.push(id);
  };
  const window: DecisionWindow = {};
  if (options.since !== undefined) window.since = options.since;
  if (options.until !== undefined) window.until = options.until;
  outer: for (const json of source.decisionBatches(window)) {
    // One parse per batch; records newest first, as the batches come.
    const records = JSON.parse(json) as DecisionRecord[];
    for (let i = records.length - 1; i >= 0; i--) {
      // The newest `limit` decisions: those logged without a request count too, so an outcomes-only log is not read to its end.
      if (report.replayed + report.without_request >= limit) break outer;
      const r = records[i]!;
      if ((options.since !== undefined && r.at < options.since) || (options.until !== undefined && r.at > options.until)) continue;
      if (r.request === undefined || r.request === null) {
        report.without_request++;
        continue;
      }
      report.replayed++;
      report.window.newest ??= r.at;
      report.window.oldest = r.at;
      report.revisions[r.revision] = (report.revisions[r.revision] ?? 0) + 1;
      // No explanation: only the verdict is compared.
      const d = decide(candidate, r.request as Request);
      if (d.errors.length > 0) report.with_errors++;
      // Unchanged is vouched for only when nothing the candidate read was missing for want of
      // keeping; the policies' reads together are checked first, the trace only when one lacks.
      // The deciding revision's reads are looked up (a stored revision built) only when a read is in question.
      let known: RevisionReads | null | undefined;
      const deciding = (): RevisionReads | null => (known ??= options.readsOf?.(r.revision) ?? null);
      const unchanged = d.decision === r.decision;
      const unkept = unchanged && unkeptBy(candidate, r, deciding).length === 0 ? [] : unkeptReads(candidate, r, deciding);
      if (unchanged && unkept.length === 0) continue;
      if (unkept.length > 0) {
        report.not_known++;
        for (const read of unkept) notKnown.add(read);
        continue;
      }
      const direction: Direction = r.decision ? 'allow_to_deny' : 'deny_to_allow';
      report.changed++;
      report[direction]++;
      for (const p of d.determining) count(p, 'candidate', direction, r.id);
      for (const p of r.determining) count(p, 'logged', direction, r.id);
      if (d.determining.length === 0) count('(no policy applies)', 'candidate', direction, r.id);
      const examples = report.examples[direction];
      if (examples.length < keep) {
        examples.push({
          id: r.id,
          ...(r.request_id === undefined ? {} : { request_id: r.request_id }),
          at: r.at,
          via: r.via,
          subject: `${entityLabel(r.subject)}`,
          action: r.action,
          resource: `${entityLabel(r.resource)}`,
          before: r.decision ? 'allow' : 'deny',
          after: d.decision ? 'allow' : 'deny',
          determiningBefore: r.determining,
          determiningAfter: d.determining,
          reasonsAfter: d.reasons,
          errorsAfter: d.errors.map((e) => e.policy),
        });
      }
    }
    yield;
  }
  report.not_known_reads = [...notKnown].sort();
  const total = (c: PolicyCount) => c.allow_to_deny + c.deny_to_allow;
  report.policies = [...byPolicy.values()].sort((a, b) => total(b) - total(a) || (a.side < b.side ? -1 : a.side > b.side ? 1 : 0) || (a.policy < b.policy ? -1 : 1));
  return report;
}

type Json = { [k: string]: unknown };
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * What the candidate's policies whose target matched this request read that its record lacks
 * because the log did not keep it: a token claim outside what the deciding revision read (and
 * the identity claims), a `risk` member not computed then. Empty when the change stands on
 * what was kept. Decided again with the explanation, for the candidates: only for changed
 * decisions and for those whose record lacks something some candidate policy reads.
 */
function unkeptReads(candidate: PolicySet, r: DecisionRecord, deciding: () => RevisionReads | null): string[] {
  const d = decide(candidate, r.request as Request, { explain: true });
  const matched: { policy: CompiledPolicy; outcome: PolicyTrace['outcome']; unkept: string[] }[] = [];
  for (const t of d.explanation?.trace ?? []) {
    if (t.failed?.part === 'target') continue;
    const p = candidate.byId.get(t.id);
    if (p === undefined) continue;
    const unkept = unkeptBy(p, r, deciding);
    // A velocity counter no policy read then is not in the record, though `risk.velocity` is.
    const absent = /^`(risk\.[^`]+)` is missing/.exec(t.error ?? '');
    if (absent !== null) unkept.push(absent[1]!);
    matched.push({ policy: p, outcome: t.outcome, unkept });
  }
  // A verdict that stands on kept data alone is certain, whatever the others would do: a
  // forbid that held on it denies; a permit that held on it allows when no forbid could.
  const onKept = (effect: 'permit' | 'forbid') => matched.some((m) => m.policy.effect === effect && m.outcome === 'satisfied' && m.unkept.length === 0);
  if (!d.decision && onKept('forbid')) return [];
  if (d.decision && onKept('permit') && matched.every((m) => m.policy.effect === 'permit' || m.unkept.length === 0)) return [];
  return [...new Set(matched.flatMap((m) => m.unkept))];
}

/** Of what `reader` reads (a policy, or a whole set), what the record lacks because the log did not keep it. */
function unkeptBy(reader: { tokenReads: Iterable<string>; riskReads: Iterable<string> }, r: DecisionRecord, deciding: () => RevisionReads | null): string[] {
  const request = r.request as Request;
  const token = isObject(request.token) ? request.token : null;
  const risk = isObject(request.risk) ? request.risk : {};
  const missing: string[] = [];
  if (token !== null) {
    for (const claim of reader.tokenReads) {
      if (claim !== ALL && (IDENTITY_CLAIMS.has(claim) || Object.hasOwn(token, claim))) continue;
      if (!claimKept(token, claim, deciding()?.token ?? null)) missing.push(`token.${claim}`);
    }
  }
  for (const read of reader.riskReads) if (!riskKept(risk, read, deciding)) missing.push(`risk.${read}`);
  return missing;
}

/**
 * Whether a claim the record's token lacks (or, for `*`, all of them) was kept: the log keeps
 * the claims the deciding revision read, or every one (`token_claims: "all"`: a claim beyond
 * what was read is in the record). A claim it read and the token lacks is a real absence.
 */
function claimKept(token: Json, claim: string, logged: ReadonlySet<string> | null): boolean {
  if (logged === null) return false;
  if (logged.has(ALL)) return true;
  if (Object.keys(token).some((k) => !IDENTITY_CLAIMS.has(k) && !logged.has(k))) return true;
  return claim !== ALL && logged.has(claim);
}

/**
 * Whether a record holds a `risk` read as the candidate reads it (`ip`, `ip.reputation`,
 * `ip.*`). A member read whole must be there as the deciding revision had it computed whole:
 * a provider computes only the fields read (velocity's counters), and the log keeps what was computed.
 */
function riskKept(risk: Json, read: string, deciding: () => RevisionReads | null): boolean {
  // `risk` read whole: every signal, of which the record holds those computed then.
  if (read === ALL) return deciding()?.risk.has(ALL) === true;
  const [member, field] = read.split('.') as [string, string | undefined];
  if (field !== ALL) return holds(risk, field === undefined ? [member] : [member, field]);
  if (!holds(risk, [member])) return false;
  const reads = deciding()?.risk;
  return reads !== undefined && (reads.has(read) || reads.has(ALL));
}

function holds(value: Json, path: readonly string[]): boolean {
  let at: unknown = value;
  for (const name of path) {
    if (!isObject(at) || !Object.hasOwn(at, name)) return false;
    at = at[name];
  }
  return true;
}
