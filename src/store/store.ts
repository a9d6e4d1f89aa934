import type { Client, Registry } from '../issuer/registry.js';
import type { BatchSummary } from './decision-summary.js';

/**
 * Everything durable goes through a Store. SQLite (better-sqlite3) is the embedded
 * default; a PostgreSQL implementation will let replicas share one database, so every
 * write here is one explicit transaction and nothing assumes a single writer.
 */
export interface DecisionRecord {
  /** Gavel's id of the decision, unique: what the console links and `explain` takes. */
  id: string;
  /**
   * The request id the caller knows: its X-Request-ID (echoed), or the one Gavel made and
   * sent back; a batch item's is `ID#N`. Callers choose it, so it may repeat; absent in records
   * logged before ids were Gavel's own (their `id` was this).
   */
  request_id?: string;
  /** ISO 8601, when the decision was made. */
  at: string;
  /** Which interface asked: authzen, native, forward_auth, … */
  via: string;
  decision: boolean;
  revision: string;
  determining: string[];
  reasons: string[];
  /** Policy ids whose conditions errored. */
  errors: string[];
  subject: { type: string; id: string };
  action: string;
  resource: { type: string; id: string };
  /** Microseconds the decision took, transport excluded. */
  latencyUs: number;
  /**
   * The request as decided, for explanation and replay: of a token its verified claims,
   * never the raw token. Absent when the server keeps no requests
   * (`decision_log.keep_requests: false`): such a record can be listed, not replayed.
   */
  request?: unknown;
}

/**
 * Decisions already serialised, oldest first: `json` is a JSON array of records, as text or
 * as its UTF-8 bytes. The decision log serialises each record as it is made, so a batch
 * crosses to the writer thread as bytes it takes over (no copy), not as an object graph to
 * clone and walk again.
 */
export interface DecisionBatch {
  firstAt: string;
  lastAt: string;
  count: number;
  json: string | Uint8Array;
  /** Its ids and filter keys (decision-summary.ts); when absent the store parses `json` for them. */
  summary?: BatchSummary;
}

/** Where the decision log's batches go: the store itself, or its writer thread. */
export interface DecisionSink {
  appendBatch(batch: DecisionBatch): void;
}

/** A decision log page cursor, `SEQ.POS` (the batch and the record's place in it): what a page answers as `next`. */
export const LOG_CURSOR = /^(\d{1,15})\.(\d{1,6})$/;

export interface DecisionQuery {
  /** ISO 8601, inclusive. */
  since?: string;
  /** ISO 8601, inclusive. */
  until?: string;
  decision?: boolean;
  subjectId?: string;
  /** Decisions this policy determined. */
  policy?: string;
  /** Which interface asked (`authzen`, `mint`, …). */
  via?: string;
  /** Decisions logged under this request id (a record from before request ids were kept: its id). */
  requestId?: string;
  /** A page's `next` cursor: only decisions older than the last one that page listed. */
  after?: string;
  limit: number;
}

/** Where `gavel log --follow` is in the log: the last batch it read (its number, and when its first decision was made, which tells a renumbered log). */
export interface LogCursor {
  seq: number;
  firstAt: string;
}

/** What a query filters decisions by, without a page's bounds. */
export type DecisionFilter = Omit<DecisionQuery, 'limit' | 'after'>;

/** One page of matching decisions, newest first; `next` continues after it (`null`: no more). */
export interface DecisionPage {
  decisions: DecisionRecord[];
  next: string | null;
}

/** A time window of the log to read in bulk (what-if replays). Both ends inclusive, ISO 8601. */
export interface DecisionWindow {
  since?: string;
  until?: string;
}

/** A policy revision as `gavel serve` loaded it: its files (path → text, the schema included). */
export interface PolicyRevision {
  id: string;
  savedAt: string;
  files: Record<string, string>;
}

/** A directory entity: a user, group, document… whose attributes policies read. */
export interface Entity {
  type: string;
  id: string;
  attributes: { [k: string]: unknown };
}

/** What applying a directory document changed (or, on a dry run, would change). */
export interface DirectoryChanges {
  added: string[];
  changed: string[];
  removed: string[];
}

/** A signing key as stored: the private half sealed with the issuer secret. */
export interface StoredSigningKey {
  kid: string;
  alg: string;
  publicJwk: string;
  sealed: string;
  createdAt: string;
  /** When its algorithm stopped being one the issuer signs with (a config change); it is published for the overlap after. */
  retiredAt?: string | null;
}

export interface AuthCode {
  hash: string;
  clientId: string;
  redirectUri: string;
  challenge: string;
  subject: string;
  scope: string;
  audience: string;
  expiresAt: number;
  /** OpenID Connect: the request's nonce, and when the user signed in (seconds). */
  nonce?: string | null;
  authTime?: number | null;
  /** Seconds the tokens from this code may live at most, from `@token_ttl`; `null`: no cap. */
  ttlCap?: number | null;
  /** RFC 9449 §10: the JWK thumbprint of the DPoP key the code is bound to; `null`: not bound. */
  dpopJkt?: string | null;
}

export interface RefreshToken {
  hash: string;
  family: string;
  clientId: string;
  subject: string;
  scope: string;
  audience: string;
  /** The family's end: successors inherit it, so a family never outlives its sign-in's lifetime. */
  expiresAt: number;
  /** The DPoP key the family is bound to (public clients, RFC 9449 §5); `null`: unbound. */
  jkt?: string | null;
}

export type CodeUse = { kind: 'ok'; code: AuthCode } | { kind: 'refused'; reason: string } | { kind: 'unknown' } | { kind: 'expired' } | { kind: 'reused'; family: string | null };
export type RefreshUse =
  | { kind: 'rotated'; token: RefreshToken }
  | { kind: 'replayed'; token: RefreshToken; successorSealed: string }
  | { kind: 'refused'; token: RefreshToken; reason: string }
  | { kind: 'unknown' }
  | { kind: 'expired' }
  | { kind: 'reused'; family: string };

export interface Store {
  /** An opaque access token's claims, under the hash of its value. */
  saveOpaqueToken(hash: string, claims: Record<string, unknown>, expiresAt: number): void;
  /** The claims of a live opaque token; `null` when unknown or expired. */
  opaqueToken(hash: string, nowSeconds: number): Record<string, unknown> | null;
  saveCode(code: AuthCode): void;
  /**
   * Stores `code` if `claim` (a key, as claimProof takes it) is new, in one transaction with
   * claiming it: a sign-in's claim and its code are kept together or not at all, so a write
   * the store refuses leaves the sign-in free to finish. Answers whether it was stored.
   */
  saveCodeOnce(code: AuthCode, claim: { key: string; expiresAt: number; nowSeconds: number }): boolean;
  /** Whether a code is stored, unused and unexpired: one a sign-in answered with and no client has redeemed yet. */
  codeWaiting(hash: string, nowSeconds: number): boolean;
  /**
   * Marks a code used, in one transaction with reading and `check`ing it: a code is
   * exchanged once, and a request `check` refuses (another client, a wrong verifier) does
   * not use it up. With `owner`, a code issued to another client is `unknown` to the caller:
   * it learns nothing of it, and cannot trip its reuse detection (revoking what it issued).
   */
  useCode(hash: string, nowSeconds: number, check?: (code: AuthCode) => string | null, owner?: string, family?: string | null): CodeUse;
  /** Stores a refresh token; `false` when its family was revoked first (it is stored revoked). `family` of useCode: the family its exchange starts, revoked when the code is replayed. */
  saveRefreshToken(token: RefreshToken): boolean;
  /**
   * Check-and-rotate in one transaction: `check` (the grant's validation and mint
   * decisions) runs first, and a token it refuses is left as it was; a current token is
   * marked rotated and its successor stored (its hash; everything else inherited); one rotated within `graceSeconds` answers the sealed successor it already got;
   * any other reuse revokes its whole family. `bindTo`: the DPoP key an unbound token's
   * successor is bound to (a public client's refresh with a proof, RFC 9449 §5).
   */
  rotateRefreshToken(hash: string, successorHash: string, successorSealed: string, nowSeconds: number, graceSeconds: number, check: (token: RefreshToken) => string | null, owner?: string, bindTo?: string | null): RefreshUse;
  /**
   * Forgets the sealed successors of tokens rotated before `rotatedBefore` (seconds): past the
   * grace window nothing answers with them, and while kept they are live refresh tokens
   * anyone holding the database and the issuer secret could unseal. At most `limit` at a
   * time (default 500); answers how many.
   */
  forgetSuccessors(rotatedBefore: number, limit?: number): number;
  /** A refresh token as stored (to check its key binding before using it); `null` when unknown. */
  refreshToken(hash: string): RefreshToken | null;
  /** A refresh token that can be used now: not revoked, rotated or expired (introspection, RFC 7662). */
  liveRefreshToken(hash: string, nowSeconds: number): RefreshToken | null;
  /** Revokes the family a refresh token belongs to, if it is the client's; answers whether it was. */
  revokeRefreshFamily(hash: string, clientId: string, nowSeconds: number): boolean;
  /** An access token issued within a family, revoked with it; `false` when the family was revoked first (the token is revoked now). */
  recordFamilyAccess(family: string, jti: string, expiresAt: number): boolean;
  /** The family an access token was issued in (a code's or refresh token's), or `null`. */
  familyOfAccess(jti: string): string | null;
  /** Revokes every refresh token of the family and every access token issued in it. */
  revokeFamily(family: string, nowSeconds: number): void;
  /** Entities (when given) and registry sections, in one transaction: all or nothing. */
  applyDocument(entities: readonly Entity[] | undefined, sections: Partial<Registry>, dryRun: boolean): DirectoryChanges;
  /**
   * The same, for a document the caller checked against the store when its change marker was
   * `checkedAt`: `null`, and nothing applied, if the store has changed since (check it again).
   */
  applyDocument(entities: readonly Entity[] | undefined, sections: Partial<Registry>, dryRun: boolean, checkedAt: number): DirectoryChanges | null;
  /** Adds one dynamically registered client; `gavel apply` keeps such clients (attributes.dynamic). */
  addClient(client: Client): void;
  /** The token issuer's registry. */
  registry(): Registry;
  /** Makes each given section exactly what it says (absent sections unchanged), in one transaction. */
  applyRegistry(sections: Partial<Registry>, dryRun: boolean): DirectoryChanges;
  signingKeys(): StoredSigningKey[];
  /** Adds keys in one transaction: a rotation's keys, one per algorithm, are seen by other processes together or not at all. */
  addSigningKeys(keys: readonly StoredSigningKey[]): void;
  /** Marks the keys of `alg` not yet retired as retired at `at`. */
  retireSigningKeys(alg: string, at: string): void;
  /** Revoked access token ids, with when they expire (seconds); expired ones are dropped. */
  revokedTokens(nowSeconds: number): Map<string, number>;
  /** Revokes an access token and every token exchanged from it (RFC 8693), at any depth; answers the ids of those. */
  revokeToken(jti: string, expiresAt: number): string[];
  /** Records that `child` was exchanged from `parent` (until `child` expires); `false` when `parent` was revoked first (`child` is revoked now). */
  recordExchange(parent: string, child: string, expiresAt: number): boolean;
  /** Every directory entity. */
  entities(): Entity[];
  /**
   * Every directory entity, by type and id, a page at a time, all from one snapshot of the
   * store: a server handles each page in a turn of its own, and its other reads and writes
   * run meanwhile. Read every page, or `return()` the generator, before asking for more.
   */
  entityPages(size?: number): Generator<Entity[], void, void>;
  /**
   * Makes the directory exactly `entities`, in one transaction: adds, changes and removes.
   * With `dryRun`, changes nothing and reports what it would do.
   */
  applyEntities(entities: readonly Entity[], dryRun: boolean): DirectoryChanges;
  /** Appends decisions in one transaction: all are stored, or none. */
  appendDecisions(records: readonly DecisionRecord[]): void;
  /** A batch serialised by the decision log (records it made, so not checked again). */
  appendBatch(batch: DecisionBatch): void;
  /** Matching decisions, newest first. */
  queryDecisions(query: DecisionQuery): DecisionRecord[];
  /** Matching decisions, newest first, a page at a time (`query.after`: the previous page's `next`). */
  decisionPage(query: DecisionQuery): DecisionPage;
  /** Matching decisions of the batches stored after the cursor's, oldest first, and the cursor to ask after next (`gavel log --follow`). */
  decisionsAfter(after: LogCursor, query: DecisionFilter, maxBatches?: number): { decisions: DecisionRecord[]; after: LogCursor; more: boolean };
  /** The decision with this id; `null` when none. */
  decisionById(id: string): DecisionRecord | null;
  /** Decisions logged under this request id (callers choose those: there may be several), newest first, at most `limit`. */
  decisionsByRequestId(requestId: string, limit: number): DecisionRecord[];
  /**
   * The log's batches overlapping the window, newest first, each its records as one JSON
   * array (oldest first within it), read lazily: a replay parses each once and holds one at
   * a time. Records outside the window may be present at its edges; the reader filters.
   */
  decisionBatches(window: DecisionWindow): Iterable<string>;
  /** Saves a revision's files unless that revision id is already stored; keeps the newest `keep`. Answers whether it wrote. */
  savePolicyRevision(revision: PolicyRevision, keep?: number, maxBytes?: number): boolean;
  /** A stored revision; `null` when unknown (never saved, or pruned). */
  policyRevision(id: string): PolicyRevision | null;
  /** Stored revision ids starting with `prefix`, newest first. */
  policyRevisionIds(prefix: string): string[];
  /** Deletes decisions older than `before` (ISO 8601) and beyond the newest `keep`; answers how many went. */
  pruneDecisions(before: string, keep: number): number;
  /**
   * A number that changes whenever the directory, the registry or the signing keys change
   * (whichever connection or process wrote them), and only then: cheap to poll.
   */
  changeMarker(): number;
  /** A number that changes whenever a token is revoked, by whichever connection or process: cheap to poll. */
  revocationMarker(): number;
  /**
   * Records a DPoP proof or client assertion (`key`, a hash) as used until `expiresAt` (epoch
   * seconds); answers false when some process recorded it already and it has not expired.
   */
  claimProof(key: string, expiresAt: number, nowSeconds: number): boolean;
  /** Forgets a proof claimed for a request that then failed. */
  releaseProof(key: string): void;
  /**
   * Counts one failed sign-in under `key`, in a window of `windowMs` from the window's first
   * failure (epoch ms); answers the count now and when the window ends, in one step.
   */
  countSignInFailure(key: string, nowMs: number, windowMs: number): { count: number; untilMs: number };
  /** Takes back one failure counted under `key` (a sign-in that turned out right, or was refused unchecked). */
  forgiveSignInFailure(key: string): void;
  /** Whether the database answers; for /readyz. */
  ping(): boolean;
  /** Why the store's file is no longer the one opened (removed, replaced), or `null`. */
  fileProblem?(): string | null;
  /**
   * Runs background `work` (a sweep of expired rows) only if the database is free: when another
   * connection or process holds its write lock, answers `null` at once instead of waiting for
   * it — the request thread must not stop for background work that can wait for its next turn.
   */
  whenFree<T>(work: () => T): T | null;
  /**
   * Runs `work` on this store — one write, atomic by itself: a statement, or a transaction that begins
   * IMMEDIATE — without stopping the event loop while another connection or process holds
   * the write lock: tried at once, then again after short pauses until the busy timeout has
   * passed, when it throws SQLite's SQLITE_BUSY (answered 503). A synchronous write would wait
   * for the lock on the request thread, holding up every decision meanwhile.
   */
  write<T>(work: (store: Store) => T): Promise<T>;
  close(): void;
}

/** A store that cannot be used as asked (a database of another schema, not a Gavel database): the message says why. */
export class StoreError extends Error {}

/**
 * Decisions answered and then given up unwritten (the log could not be written for longer
 * than a queue holds): nothing will retry them, unlike a failed write.
 */
export class DecisionsDropped extends Error {}
