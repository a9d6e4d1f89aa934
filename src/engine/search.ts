import type { Request } from '../language/eval/activation.js';
import { requestKnowledge } from '../language/partial/request-knowledge.js';
import { actionNames } from './action-names.js';
import { classify } from './affects.js';
import type { Decision } from './decision.js';
import type { Directory } from './directory.js';
import type { PolicySet } from './policy-set.js';
import { decodePageToken, encodePageToken, fingerprint } from './search-page.js';

/*
 * The AuthZEN search APIs over the directory (docs/compliance.md#who-may-the-authzen-search-apis). The contract: a
 * search's results are exactly the candidates for which a single evaluation of the same
 * request allows. Candidates of a subject or resource search are the directory's entities
 * of the searched type; of an action search, the action names the policy set names. Each is
 * decided by `decide` — on a server the Decider, with the same enrichment, signals and
 * fail-closed rules as an evaluation. Partial evaluation only skips work: when no permit
 * can apply to the fixed parts of the request, nothing is decided and nothing is found.
 */

export type SearchKind = 'subject' | 'resource' | 'action';

/** A search request as validated (search-request.ts). */
export interface SearchQuery {
  kind: SearchKind;
  /**
   * The fixed parts: `subject`, `action`, `resource`, `context` (and offline `token`,
   * `risk`). The searched entity is `{type}` alone; an action search has no `action`.
   */
  request: Request;
  /** `token`: a previous page's `next_token` (`null` or `""`: the first page). `limit`: `null` for the default. */
  page: { token: string | null; limit: number | null };
}

export interface SearchLimits {
  defaultPageSize: number;
  maxPageSize: number;
  /** Most candidates one search request may decide: every page decides them all (to count `total`). */
  maxCandidates: number;
}

export const DEFAULT_SEARCH_LIMITS: SearchLimits = { defaultPageSize: 100, maxPageSize: 1000, maxCandidates: 10_000 };

export interface SearchDeps {
  set: PolicySet;
  /** The snapshot candidates come from; the same one `decide` enriches with. */
  directory: Directory;
  /** Decides one candidate's request as an evaluation would. */
  decide: (request: Request) => Decision;
  /** MACs page tokens (search-page.ts). */
  pageKey: string | Buffer;
  limits?: SearchLimits;
}

export type SearchResult = { type: string; id: string } | { name: string };

/** The AuthZEN search response, plus what the search cost (for tests and benchmarks; not sent). */
export interface SearchAnswer {
  page: { next_token: string; count: number; total: number };
  results: SearchResult[];
  stats: { candidates: number; decided: number };
}

export type SearchErrorCode = 'ERR_SEARCH_PAGE_TOKEN' | 'ERR_SEARCH_TOO_MANY_CANDIDATES';

export type SearchOutcome = { ok: true; answer: SearchAnswer } | { ok: false; code: SearchErrorCode; message: string };

type Json = { [k: string]: unknown };
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Runs one search page. Never throws for any validated query. */
export function search(query: SearchQuery, deps: SearchDeps): SearchOutcome {
  const limits = deps.limits ?? DEFAULT_SEARCH_LIMITS;
  // AuthZEN 1.0 leaves the page size to the PDP: a larger `limit` gets the largest page and a
  // `next_token`, which a paging client follows (a 400 would break a client that asks for "all").
  const asked = query.page.limit === null ? null : Math.min(query.page.limit, limits.maxPageSize);
  let limit = asked ?? Math.min(limits.defaultPageSize, limits.maxPageSize);
  const searchId = fingerprint({ kind: query.kind, request: query.request });
  let after: string | null = null;
  if (query.page.token !== null && query.page.token !== '') {
    const cursor = decodePageToken(deps.pageKey, searchId, query.page.token);
    if ('code' in cursor) return { ok: false, ...cursor };
    // A follow-up pages as the first request did: its limit may be repeated or left out, not changed.
    if (asked !== null && asked !== cursor.limit) return { ok: false, code: 'ERR_SEARCH_PAGE_TOKEN', message: `page.token is not valid with page.limit ${asked}: the search it continues pages by ${cursor.limit}; repeat that limit, or leave it out` };
    after = cursor.after;
    limit = cursor.limit;
  }
  const { keys, candidates } = candidateKeys(query, deps);
  if (keys.length > limits.maxCandidates) {
    const what = query.kind === 'action' ? 'actions' : `entities of type \`${searchedType(query)}\``;
    return { ok: false, code: 'ERR_SEARCH_TOO_MANY_CANDIDATES', message: `the search would decide ${keys.length} candidates (${what}); one search decides at most ${limits.maxCandidates}` };
  }
  const allowed = keys.filter((key) => deps.decide(candidateRequest(query, key)).decision);
  // Keys are sorted, so the page starts at the first key after the cursor, wherever it went.
  const start = after === null ? 0 : firstAfter(allowed, after);
  const shown = allowed.slice(start, start + limit);
  const more = limit > 0 && start + shown.length < allowed.length;
  return {
    ok: true,
    answer: {
      page: { next_token: more ? encodePageToken(deps.pageKey, searchId, { after: shown[shown.length - 1], limit }) : '', count: shown.length, total: allowed.length },
      results: shown.map((key) => result(query, key)),
      stats: { candidates, decided: keys.length },
    },
  };
}

function searchedType(query: SearchQuery): string {
  const entity = query.kind === 'subject' ? query.request.subject : query.request.resource;
  return isObject(entity) && typeof entity.type === 'string' ? entity.type : '';
}

/**
 * The candidates to decide, sorted: the directory's ids of the searched type, or the named
 * actions — without those no permit can apply to (partial evaluation over the fixed parts).
 * `candidates` counts them before that cut.
 */
function candidateKeys(query: SearchQuery, deps: SearchDeps): { keys: string[]; candidates: number } {
  if (query.kind === 'action') {
    const names = actionNames(deps.set);
    const template = deps.directory.enrich(query.request);
    return { keys: names.filter((name) => somePermitMayApply(deps.set, { ...template, action: { name } })), candidates: names.length };
  }
  const ids = deps.directory.idsOf(searchedType(query));
  if (ids.length === 0 || !somePermitMayApply(deps.set, deps.directory.enrich(query.request))) return { keys: [], candidates: ids.length };
  return { keys: [...ids], candidates: ids.length };
}

/**
 * Whether some permit may apply to a request of which only `template` is known. `false`
 * proves every completion is denied (no permit, no allow), so its candidates need no
 * decision. Attributes the template lacks are unknown, never assumed absent.
 */
export function somePermitMayApply(set: PolicySet, template: Request): boolean {
  return set.policies.some((p) => p.effect === 'permit' && classify(p, requestKnowledge(p.ast, template)).status !== 'does-not-apply');
}

function candidateRequest(query: SearchQuery, key: string): Request {
  switch (query.kind) {
    case 'subject':
      return { ...query.request, subject: { type: searchedType(query), id: key } };
    case 'resource':
      return { ...query.request, resource: { type: searchedType(query), id: key } };
    case 'action':
      return { ...query.request, action: { name: key } };
  }
}

function result(query: SearchQuery, key: string): SearchResult {
  // Exactly `{type, id}` or `{name}`, in that order: what AuthZEN clients compare.
  return query.kind === 'action' ? { name: key } : { type: searchedType(query), id: key };
}

/** Index of the first key greater than `after` in sorted `keys` (binary search). */
function firstAfter(keys: readonly string[], after: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
