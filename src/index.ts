/**
 * Gavel as a library: build a policy set from sources, then decide requests against it.
 *
 * ```ts
 * import { buildPolicySet, decide } from 'gavel';
 * const { set, diagnostics } = buildPolicySet([{ file: 'app.gavel', text }]);
 * if (set) decide(set, { subject, action, resource, context }).decision;
 * ```
 */
export { buildPolicySet, type PolicySet, type PolicySource, type BuildResult } from './engine/policy-set.js';
export { decide, type DecideOptions } from './engine/decide.js';
export type { Decision, Explanation, PolicyError, PolicyTrace, Outcome } from './engine/decision.js';
export type { Request } from './language/eval/activation.js';
/** Compliance: which policies affect the requests some facts describe, and why a request was denied (docs/compliance.md). */
export { affects, type AffectsRow, type AffectsFilters, type Status } from './engine/affects.js';
export { whyNot, type WhyNot, type FiredForbid, type MissedPermit } from './engine/why-not.js';
export { parseFacts, type FactSource, type Knowledge } from './language/partial/partial.js';
export { parse } from './language/parse/parse.js';
export { format } from './language/format/format.js';
export { formatDiagnostic, type Diagnostic } from './language/diagnostic.js';
export { loadPolicyFolder, type PolicyFolder } from './engine/folder.js';
export { validateRequest, type ValidateOptions } from './engine/validate-request.js';
/** The policy inventory (`gavel policies`): one JSON-able row per policy of a set's `files`. */
export { inventory, filterInventory, type InventoryRow, type InventoryFilter } from './engine/inventory.js';
/** Policies added, removed and changed between two sets' `files`, compared in canonical form (`gavel diff`). */
export { diffPolicies, type PolicyDiff, type PolicyChange, type PolicySide, type Aspect } from './engine/policy-diff.js';
/**
 * The `risk.ip` signal (docs/signals.md): IP reputation lists read from files, looked up by
 * longest prefix, reloaded when they change. Give `lookup()`'s answer to `decide()` as `risk.ip`.
 */
export { LiveIpLists, type LiveIpListsOptions, type OpenIpListsResult, type IpListStatus, type IpListsStatus, type IpListsReloadReport, type IpSignals, type IpListConfig } from './signals/ip/index.js';
