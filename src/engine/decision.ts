/** What a decision tells its caller. Field names are part of the public API (docs/api.md). */
export interface Decision {
  /** `true` to allow. */
  decision: boolean;
  /** The satisfied forbids on deny, the satisfied permits on allow; empty when nothing applied. */
  determining: string[];
  /** The `reason` texts of the determining forbids. */
  reasons: string[];
  /** Policies whose conditions could not be evaluated on this request. */
  errors: PolicyError[];
  /** The content hash of the policy set that decided. */
  revision: string;
  explanation?: Explanation;
  /** Risk signals a policy read but that could not be computed (`risk.ip: …`); only when some failed. */
  signal_errors?: string[];
}

export interface PolicyError {
  policy: string;
  message: string;
  /** `file:line:col` of the expression that failed. */
  location: string;
}

export type Outcome = 'satisfied' | 'not-satisfied' | 'error';

export interface PolicyTrace {
  id: string;
  effect: 'permit' | 'forbid';
  outcome: Outcome;
  /** `file:line:col` of the policy. */
  location: string;
  /** For `not-satisfied`: the first part that did not hold. */
  failed?: { part: 'target' | 'when' | 'unless'; condition: string; location: string };
  /** For `error`: what went wrong. */
  error?: string;
}

export interface Explanation {
  /** Policies in the set. */
  policies: number;
  /** Policies the index selected for this request; the rest cannot match it. */
  candidates: number;
  /** Every candidate, forbids first, each with its outcome. */
  trace: PolicyTrace[];
}
