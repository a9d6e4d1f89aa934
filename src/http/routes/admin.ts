import type { FastifyInstance } from 'fastify';
import type { ReplaySlot } from '../../engine/replay-slot.js';
import type { ServerLog } from '../../server/server-log.js';
import { LOG_CURSOR, type DecisionQuery, type DecisionRecord, type Store } from '../../store/store.js';
import { ambiguity, findDecision } from '../../engine/find-decision.js';
import type { LivePolicySet } from '../../engine/live-set.js';
import { explainLogged, REQUEST_NOT_KEPT } from '../../engine/explain-logged.js';
import { buildFromFilesInSlices, RevisionSets, readsByRevision } from '../../engine/revisions.js';
import { whatIfInSlices } from '../../engine/whatif.js';
import { formatDiagnostic } from '../../language/diagnostic.js';
import { requireAdminKey, type AdminGate } from '../admin-auth.js';
import { applyDocument } from '../../issuer/apply-document.js';
import { INTERFACES } from '../../server/interfaces.js';
import { timeInput } from '../../formats/time-input.js';

const decisionsQuery = {
  type: 'object',
  // A misspelt filter must not answer the unfiltered log as if it had matched.
  additionalProperties: false,
  properties: {
    // An ISO 8601 time or an age back from now (15m, 2h, 7d), as `gavel log` and the console take them.
    since: { type: 'string', maxLength: 64 },
    until: { type: 'string', maxLength: 64 },
    via: { type: 'string', enum: INTERFACES },
    request_id: { type: 'string', minLength: 1, maxLength: 512 },
    after: { type: 'string', pattern: LOG_CURSOR.source, description: 'the `next` value of a previous page' },
    decision: { type: 'string', enum: ['allow', 'deny'] },
    subject: { type: 'string' },
    policy: { type: 'string' },
    limit: { type: 'string', pattern: '^[0-9]{1,6}$', description: 'a whole number from 1 to 10,000' },
  },
} as const;

export interface AdminOptions {
  /** The bearer key admin calls must present; `null` disables the admin endpoints. */
  key: string | null;
  store: Store | null;
  /** Reloads policies now; answers what happened. */
  reload: (() => Promise<unknown>) | null;
  /**
   * Told after POST /v1/apply committed a document (not a dry run), so the server serves the
   * new directory and registry at once; the answer waits for it. It may fail (the store
   * unreadable a moment): the document stays applied, and the server reads it again later.
   */
  applied?: () => void | Promise<void>;
}

/**
 * What-if replays run on the server's request thread (they are CPU work over the log), so an
 * admin call replays at most this many of the newest decisions; `gavel whatif` on the
 * database file has no such cap.
 */
const WHATIF_MAX = 200_000;
const WHATIF_DEFAULT = 10_000;

const whatIfBody = {
  type: 'object',
  required: ['candidate'],
  additionalProperties: false,
  properties: {
    // Files in the body, not a folder path: the server reads nothing an admin names.
    candidate: {
      type: 'object',
      required: ['files'],
      additionalProperties: false,
      properties: { files: { type: 'object', maxProperties: 10_000, additionalProperties: { type: 'string', maxLength: 1_000_000 } } },
    },
    // An ISO 8601 time or an age back from now (15m, 2h, 7d), as `gavel log` and the console take them.
    since: { type: 'string', maxLength: 64 },
    until: { type: 'string', maxLength: 64 },
    limit: { type: 'integer', minimum: 1, maximum: WHATIF_MAX },
  },
} as const;

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 512 } } } as const;

const applyQuery = { type: 'object', additionalProperties: false, properties: { dry_run: { type: 'string', enum: ['true', 'false'] } } } as const;
/** A route that takes no query parameters refuses them, as the others refuse a misspelt one. */
export const noQuery = { type: 'object', additionalProperties: false, properties: {} } as const;

/** A request id several decisions were logged under: each of them, to be asked for by its own id. */
function ambiguousAnswer(id: string, records: readonly DecisionRecord[]) {
  return { error: 'ambiguous_id', message: ambiguity(id, records), ids: records.map((r) => r.id) };
}

/** `since` and `until` as ISO 8601 times, from what a caller typed (a time, or an age back from now); or what is wrong. */
function timeWindow(given: { since?: string; until?: string }): { since?: string; until?: string } | { problem: string } {
  const out: { since?: string; until?: string } = {};
  for (const key of ['since', 'until'] as const) {
    const text = given[key];
    if (text === undefined) continue;
    const at = timeInput(text);
    if ('problem' in at) return { problem: `${key}: ${at.problem}` };
    out[key] = at.iso;
  }
  return out;
}

/** Admin endpoints: the decision log and an immediate reload, behind the admin key. */
export function adminRoutes(app: FastifyInstance, options: AdminOptions, live: LivePolicySet, gate: AdminGate, serverLog: ServerLog, replays: ReplaySlot): void {
  const revisions = options.store === null ? null : new RevisionSets(options.store);
  void app.register(async (admin) => {
    requireAdminKey(admin, gate);

    admin.get('/v1/decisions', { schema: { querystring: decisionsQuery } }, async (request, reply) => {
      if (options.store === null) return reply.status(404).send({ error: 'not_found', message: 'this server keeps no decision log' });
      const q = request.query as { since?: string; until?: string; decision?: 'allow' | 'deny'; subject?: string; policy?: string; via?: string; request_id?: string; after?: string; limit?: string };
      const limit = Number(q.limit ?? 100);
      if (limit < 1 || limit > 10_000) return reply.status(400).send({ error: 'invalid_request', message: `query parameter "limit" must be from 1 to 10000 (${q.limit} given)` });
      const query: DecisionQuery = { limit };
      const window = timeWindow(q);
      if ('problem' in window) return reply.status(400).send({ error: 'invalid_request', message: window.problem });
      Object.assign(query, window);
      if (q.decision !== undefined) query.decision = q.decision === 'allow';
      if (q.subject !== undefined) query.subjectId = q.subject;
      if (q.policy !== undefined) query.policy = q.policy;
      if (q.via !== undefined) query.via = q.via;
      if (q.request_id !== undefined) query.requestId = q.request_id;
      if (q.after !== undefined) query.after = q.after;
      return options.store.decisionPage(query);
    });

    admin.get('/v1/decisions/:id', { schema: { params: idParams, querystring: noQuery } }, async (request, reply) => {
      if (options.store === null) return reply.status(404).send({ error: 'not_found', message: 'this server keeps no decision log' });
      const { id } = request.params as { id: string };
      const found = findDecision(options.store, id);
      if (found.kind === 'none') return reply.status(404).send({ error: 'not_found', message: `no decision with id \`${id}\` in the log (unknown, or pruned)` });
      if (found.kind === 'ambiguous') return reply.status(409).send(ambiguousAnswer(id, found.records));
      return found.record;
    });

    admin.get('/v1/decisions/:id/explain', { schema: { params: idParams, querystring: noQuery } }, async (request, reply) => {
      if (options.store === null || revisions === null) return reply.status(404).send({ error: 'not_found', message: 'this server keeps no decision log' });
      const { id } = request.params as { id: string };
      const found = findDecision(options.store, id);
      if (found.kind === 'none') return reply.status(404).send({ error: 'not_found', message: `no decision with id \`${id}\` in the log (unknown, or pruned)` });
      if (found.kind === 'ambiguous') return reply.status(409).send(ambiguousAnswer(id, found.records));
      const record = found.record;
      // Built in slices first (then at hand for `get`): the revision may be 10,000 policies.
      if (record.request !== undefined && record.request !== null) await revisions.load(record.revision);
      return explainLogged(record, (r) => revisions.get(r), live.current) ?? reply.status(409).send({ error: 'request_not_kept', message: `decision \`${id}\`: ${REQUEST_NOT_KEPT}` });
    });

    admin.post('/v1/whatif', { schema: { body: whatIfBody, querystring: noQuery } }, async (request, reply) => {
      if (options.store === null) return reply.status(404).send({ error: 'not_found', message: 'this server keeps no decision log' });
      const body = request.body as { candidate: { files: Record<string, string> }; since?: string; until?: string; limit?: number };
      const window = timeWindow(body);
      if ('problem' in window) return reply.status(400).send({ error: 'invalid_request', message: window.problem });
      const bad = Object.keys(body.candidate.files).find((f) => f.startsWith('/') || f.split('/').includes('..') || f.includes('\\'));
      if (bad !== undefined) return reply.status(400).send({ error: 'invalid_candidate', message: `\`${bad}\`: file names are relative paths with \`/\`, without \`..\`` });
      if (!Object.keys(body.candidate.files).some((f) => f.endsWith('.gavel'))) return reply.status(400).send({ error: 'invalid_candidate', message: 'the candidate has no .gavel file: every request would be denied' });
      // One replay at a time, in slices between the decisions this server answers; checked
      // before the candidate is built, so concurrent calls do not each hold a whole set.
      if (!replays.take()) return reply.status(429).send({ error: 'busy', message: 'another what-if replay is running on this server; try again when it is done' });
      try {
        const { set, diagnostics } = await buildFromFilesInSlices(body.candidate.files);
        if (set === null) return reply.status(400).send({ error: 'invalid_policies', message: `the candidate has ${diagnostics.length} problem(s)`, diagnostics: diagnostics.map(formatDiagnostic) });
        return await whatIfInSlices(options.store, set, {
          limit: body.limit ?? WHATIF_DEFAULT,
          ...window,
          readsOf: readsByRevision(options.store, [live.current]),
        });
      } finally {
        replays.release();
      }
    });

    // The same document as `gavel apply`: directory entities and the issuer's registry.
    admin.post('/v1/apply', { schema: { querystring: applyQuery, body: { type: 'object' } } }, async (request, reply) => {
      if (options.store === null) return reply.status(404).send({ error: 'not_found', message: 'this server has no store' });
      const dryRun = (request.query as { dry_run?: string }).dry_run === 'true';
      const result = await applyDocument(options.store, request.body, dryRun);
      if ('problems' in result) return reply.status(400).send({ error: 'invalid_document', message: `the document is invalid: ${result.problems.length} problem(s)`, problems: result.problems });
      if ('busy' in result) return reply.status(409).header('retry-after', '1').send({ error: 'conflict', message: result.busy });
      if (dryRun) return { dry_run: true, ...result.changes };
      try {
        await options.applied?.();
      } catch (err: unknown) {
        // The document is committed: a 500 would read as "not applied", and a caller retrying
        // would only apply it again. Said as what it is — applied, not yet served.
        const why = err instanceof Error ? err.message : String(err);
        serverLog.error(`POST /v1/apply (request ${request.id}) applied the document but cannot read the directory again yet: ${why}`, { requestId: request.id });
        return { dry_run: false, ...result.changes, served: false, warning: `the document was applied, but this server could not read it back yet (${why}); it serves the change once a read succeeds (tried again every second)` };
      }
      return { dry_run: false, ...result.changes };
    });

    admin.post('/v1/reload', { schema: { querystring: noQuery } }, async (_request, reply) => {
      if (options.reload === null) return reply.status(404).send({ error: 'not_found', message: 'this server does not reload policies' });
      return options.reload();
    });
  });
}
