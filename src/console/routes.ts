import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LivePolicySet } from '../engine/live-set.js';
import { answerAffects } from '../engine/affects-query.js';
import { timeInput } from '../formats/time-input.js';
import { inventoryOf } from '../engine/inventory-cache.js';
import { explainLogged } from '../engine/explain-logged.js';
import { decide } from '../engine/decide.js';
import type { ReplaySlot } from '../engine/replay-slot.js';
import type { Request } from '../language/eval/activation.js';
import { RevisionSets, readsByRevision } from '../engine/revisions.js';
import { LOG_CURSOR, type Store } from '../store/store.js';
import type { TrustedProxies } from '../signals/client-address.js';
import { renderAffectsCsv } from '../formats/render-affects.js';
import { readAffectsForm, queryOf, factsOf } from './affects-form.js';
import { affectsPage } from './affects-page.js';
import { cookie, isHttps, setCookie } from './cookies.js';
import { decisionPage } from './decision-page.js';
import { decisionPage as pageOfDecisions, findDecision } from './decisions.js';
import { ambiguity } from '../engine/find-decision.js';
import { DECISIONS_PER_PAGE, decisionsPage, filterOf, type DecisionsForm } from './decisions-page.js';
import { checkAdminKey, type KeyAttempts } from '../http/admin-auth.js';
import { secureHeaders, sendPage, STYLE } from './layout.js';
import { query } from './html.js';
import { disabledPage, loginPage, problemPage } from './login-page.js';
import { policiesPage } from './policies-page.js';
import { whatIfPage, type WhatIfResult } from './whatif-page.js';
import { whatIfInSlices } from '../engine/whatif.js';
import { buildPolicySetInSlices, type PolicySet } from '../engine/policy-set.js';
import { FolderError, loadPolicyFolder } from '../engine/folder.js';
import { formatDiagnostic } from '../language/diagnostic.js';
import { createSessions, SESSION_SECONDS, type Session, type Sessions } from './session.js';

export interface ConsoleOptions {
  /** The admin key; `null`: the console only says how to enable it. */
  key: string | null;
  policies: LivePolicySet;
  /** Where the decision log is; `null`: the decisions pages say there is none. */
  store: Store | null;
  /** Proxies whose X-Forwarded-Proto says the browser used https (so cookies get `Secure`). */
  proxies: TrustedProxies;
  /** Wrong keys at sign-in, counted per address together with the admin APIs'. */
  attempts: KeyAttempts;
  /** The server's one what-if replay at a time, shared with the admin API. */
  replays: ReplaySlot;
}

const SESSION_COOKIE = 'gavel_console';
const LOGIN_COOKIE = 'gavel_console_login';
/** Forms are a key or a CSRF token: anything larger is not one of ours. */
const FORM_LIMIT = 8 * 1024;

const now = (): number => Math.floor(Date.now() / 1000);
const params = (request: FastifyRequest): URLSearchParams => new URLSearchParams(request.url.slice(request.url.indexOf('?') + 1 || request.url.length));
const form = (request: FastifyRequest): URLSearchParams => (request.body instanceof URLSearchParams ? request.body : new URLSearchParams());
const redirect = (reply: FastifyReply, to: string): FastifyReply => secureHeaders(reply).status(303).header('location', to).send();

function same(a: string | undefined | null, b: string | undefined | null): boolean {
  // An empty token (a login form posted without its cookie's value, say) is no token.
  if (a === undefined || a === null || b === undefined || b === null || a === '' || b === '') return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

type Page = (request: FastifyRequest, reply: FastifyReply, session: Session, csrf: string) => Promise<FastifyReply> | FastifyReply;

/**
 * The console at /console: server-rendered pages over the live policy set and the decision
 * log, for people (docs/console.md). Sign-in takes the admin key and answers a signed
 * session cookie; every page needs it, every POST also its CSRF token.
 */
export function consoleRoutes(app: FastifyInstance, options: ConsoleOptions): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_LIMIT }, (_request, body, done) => done(null, new URLSearchParams(body as string)));
    // The routes' own limit too: a 413 names the limit its route has (error-handler.ts).
    scope.addHook('onRoute', (route) => {
      route.bodyLimit ??= FORM_LIMIT;
    });

    scope.get('/console/style.css', async (_request, reply) =>
      reply.header('content-type', 'text/css; charset=utf-8').header('x-content-type-options', 'nosniff').header('cache-control', 'max-age=3600').send(STYLE),
    );

    const key = options.key;
    if (key === null) {
      const disabled = async (_request: FastifyRequest, reply: FastifyReply) => sendPage(reply, 403, disabledPage());
      for (const url of ['/console', '/console/*']) scope.route({ method: ['GET', 'POST'], url, handler: disabled });
      return;
    }
    // The inventory of a large set takes a parse of every policy: done before listening, not on the first page view.
    scope.addHook('onReady', async () => void inventoryOf(options.policies.current));
    const sessions = createSessions(key);
    routes(scope, options, key, sessions);
  });
}

function routes(scope: FastifyInstance, options: ConsoleOptions, key: string, sessions: Sessions): void {
  // A decision is explained with the revision that made it, rebuilt from the store (the last few kept built).
  const revisions = options.store === null ? null : new RevisionSets(options.store);
  /** A page for a signed-in browser; any other is sent to sign in. */
  const signedIn = (handler: Page) => async (request: FastifyRequest, reply: FastifyReply) => {
    const session = sessions.verify(cookie(request, SESSION_COOKIE), now());
    // A page asked for without a session — a link from a ticket, which SameSite=Strict sends
    // without the cookie — is where the sign-in goes back to.
    if (session === null) {
      const back = request.method === 'GET' ? returnPath(request.url) : null;
      // Where a sign-in goes anyway needs no `next`.
      return redirect(reply, back === null || back === '/console/policies' ? '/console/login' : `/console/login${query({ next: back })}`);
    }
    return handler(request, reply, session, sessions.csrf(session));
  };
  const shell = (csrf: string) => ({ csrf, revision: options.policies.current.revision });

  const showLogin = (request: FastifyRequest, reply: FastifyReply, status: number, error: string | null) => {
    // Login CSRF: a random token in a cookie only this form's POST receives, and in the form.
    const token = randomBytes(18).toString('base64url');
    reply.header('set-cookie', setCookie(LOGIN_COOKIE, token, { path: '/console/login', maxAge: 3600, secure: isHttps(request, options.proxies) }));
    return sendPage(reply, status, loginPage(token, error, returnPath(params(request).get('next') ?? (request.method === 'POST' ? (form(request).get('next') ?? '') : ''))));
  };

  scope.get('/console', async (_request, reply) => redirect(reply, '/console/policies'));

  scope.get('/console/login', async (request, reply) => {
    if (sessions.verify(cookie(request, SESSION_COOKIE), now()) !== null) return redirect(reply, returnPath(params(request).get('next') ?? '') ?? '/console/policies');
    return showLogin(request, reply, 200, null);
  });

  scope.post('/console/login', async (request, reply) => {
    const body = form(request);
    if (!same(body.get('csrf'), cookie(request, LOGIN_COOKIE))) return sendPage(reply, 403, problemPage('Sign-in refused', 'the form has expired or did not come from this console; open the sign-in page again', null));
    const check = checkAdminKey(options.attempts, key, request, body.get('key') ?? null);
    if (check.kind === 'wait') return showLogin(request, reply.header('retry-after', String(check.seconds)), 429, `too many wrong keys from this address; try again in ${check.seconds} s`);
    if (check.kind === 'wrong') return showLogin(request, reply, 401, 'that is not the admin key');
    const { value } = sessions.issue(now());
    const secure = isHttps(request, options.proxies);
    reply.header('set-cookie', [
      setCookie(SESSION_COOKIE, value, { path: '/console', maxAge: SESSION_SECONDS, secure }),
      setCookie(LOGIN_COOKIE, '', { path: '/console/login', maxAge: 0, secure }),
    ]);
    return redirect(reply, returnPath(body.get('next') ?? '') ?? '/console/policies');
  });

  scope.post('/console/logout', async (request, reply) => {
    const session = sessions.verify(cookie(request, SESSION_COOKIE), now());
    if (session === null) return redirect(reply, '/console/login');
    if (!sessions.csrfMatches(session, form(request).get('csrf') ?? undefined)) return sendPage(reply, 403, problemPage('Refused', 'the form did not carry this session\'s CSRF token', sessions.csrf(session)));
    sessions.end(session);
    reply.header('set-cookie', setCookie(SESSION_COOKIE, '', { path: '/console', maxAge: 0, secure: isHttps(request, options.proxies) }));
    return redirect(reply, '/console/login');
  });

  scope.get('/console/policies', signedIn((request, reply, _session, csrf) => {
    const p = params(request);
    const effect = p.get('effect');
    const set = options.policies.current;
    return sendPage(reply, 200, policiesPage(inventoryOf(set), {
      q: p.get('q') ?? '',
      tag: p.get('tag') || undefined,
      owner: p.get('owner') || undefined,
      effect: effect === 'permit' || effect === 'forbid' ? effect : undefined,
      page: Math.max(0, Math.min(Number.parseInt(p.get('page') ?? '0', 10) || 0, 10_000)),
    }, { csrf, revision: set.revision }));
  }));

  scope.get('/console/affects', signedIn((request, reply, _session, csrf) => {
    const f = readAffectsForm(params(request));
    const answer = factsOf(f).length === 0 ? null : answerAffects(options.policies.current, queryOf(f));
    return sendPage(reply, answer?.kind === 'bad-facts' ? 400 : 200, affectsPage(f, answer, shell(csrf)));
  }));

  scope.get('/console/affects.csv', signedIn((request, reply) => {
    const answer = answerAffects(options.policies.current, queryOf(readAffectsForm(params(request))));
    secureHeaders(reply);
    if (answer.kind === 'bad-facts') return reply.status(400).header('content-type', 'text/plain; charset=utf-8').send(`${answer.diagnostics.join('\n')}\n`);
    return reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', 'attachment; filename="affects.csv"')
      .send(renderAffectsCsv(answer.rows));
  }));

  scope.get('/console/decisions', signedIn((request, reply, _session, csrf) => {
    const p = params(request);
    const f: DecisionsForm = { decision: p.get('decision') ?? '', subject: p.get('subject') ?? '', policy: p.get('policy') ?? '', since: p.get('since') ?? '' };
    if (options.store === null) return sendPage(reply, 200, decisionsPage(f, { disabled: true }, shell(csrf)));
    const filter = filterOf(f);
    if ('error' in filter) return sendPage(reply, 400, decisionsPage(f, filter, shell(csrf)));
    const older = p.get('older');
    if (older !== null && !LOG_CURSOR.test(older)) return sendPage(reply, 400, decisionsPage(f, { error: 'the link to older decisions is damaged: start again from the first page' }, shell(csrf)));
    const page = pageOfDecisions(options.store, filter.filter, DECISIONS_PER_PAGE, older);
    return sendPage(reply, 200, decisionsPage(f, { page }, shell(csrf)));
  }));

  // Replays the newest logged decisions against a folder on this server: an administrator's
  // read of policy files, as `gavel whatif --candidate` does. A POST with the session's CSRF
  // token (a link from another page, even a same-site one, cannot start it), one at a time,
  // in slices that leave the event loop to the decisions this server answers.
  scope.get('/console/whatif', signedIn((_request, reply, _session, csrf) =>
    sendPage(reply, 200, whatIfPage({ candidate: '', limit: WHATIF_DEFAULT, since: '' }, { kind: 'none' }, { csrf, revision: options.policies.current.revision })),
  ));
  scope.post('/console/whatif', signedIn(async (request, reply, session, csrf) => {
    const f = form(request);
    if (!sessions.csrfMatches(session, f.get('csrf') ?? undefined)) return sendPage(reply, 403, problemPage('Refused', 'the form did not carry this session\'s CSRF token', csrf));
    const limitText = (f.get('limit') ?? '').trim();
    const limit = limitText === '' ? WHATIF_DEFAULT : Number(limitText);
    const limitOk = Number.isInteger(limit) && limit >= 1 && limit <= WHATIF_MAX;
    const asked = { candidate: f.get('candidate') ?? '', limit: limitOk ? limit : WHATIF_DEFAULT, since: f.get('since') ?? '' };
    const shell = { csrf, revision: options.policies.current.revision };
    if (!limitOk) return sendPage(reply, 400, whatIfPage(asked, { kind: 'problem', message: `newest decisions: \`${limitText}\` is not a whole number from 1 to ${WHATIF_MAX.toLocaleString('en-US')}`, diagnostics: [] }, shell));
    if (asked.candidate === '') return sendPage(reply, 400, whatIfPage(asked, { kind: 'problem', message: 'give the folder of the candidate policies', diagnostics: [] }, shell));
    if (options.store === null) return sendPage(reply, 404, problemPage('No decision log', 'this server keeps no decision log to replay', csrf));
    if (!options.replays.take()) return sendPage(reply, 429, whatIfPage(asked, { kind: 'problem', message: 'another what-if replay is running on this server; try again when it is done', diagnostics: [] }, shell));
    try {
      const result = await replay(options.store, asked, options.policies.current);
      return sendPage(reply, result.kind === 'report' ? 200 : 400, whatIfPage(asked, result, shell));
    } finally {
      options.replays.release();
    }
  }));

  scope.get('/console/decisions/:id', signedIn(async (request, reply, _session, csrf) => {
    if (options.store === null) return sendPage(reply, 404, problemPage('No decision log', 'this server keeps no decision log', csrf));
    const id = (request.params as { id: string }).id;
    const found = findDecision(options.store, id);
    if (found.kind === 'none') return sendPage(reply, 404, problemPage('Decision not found', `no decision \`${id}\` in the log (it may have been pruned)`, csrf));
    if (found.kind === 'ambiguous') return sendPage(reply, 409, problemPage('Several decisions', ambiguity(id, found.records), csrf));
    const record = found.record;
    // Built in slices first (then at hand for `get`): the revision may be 10,000 policies.
    if (record.request !== undefined && record.request !== null) await revisions?.load(record.revision);
    const explained = explainLogged(record, (r) => revisions?.get(r) ?? { kind: 'unknown' }, options.policies.current);
    if (explained === null) return sendPage(reply, 200, decisionPage(record, null, { csrf, revision: options.policies.current.revision }));
    const why = { decision: explained.decision, forbids: explained.why_not?.forbids ?? [], permits: explained.why_not?.permits ?? [], overridden: explained.why_not?.overridden ?? [] };
    const live = options.policies.current;
    const by = explained.explained_with;
    const redecided = { revision: by.revision, stored: by.source === 'stored', live: by.revision === live.revision ? null : { revision: live.revision, decision: decide(live, record.request as Request).decision } };
    return sendPage(reply, 200, decisionPage(record, why, { csrf, revision: live.revision }, redecided));
  }));
}

/** Decisions a console what-if replays by default, and at most. */
const WHATIF_DEFAULT = 10_000;
const WHATIF_MAX = 200_000;

async function replay(store: Store, form: { candidate: string; limit: number; since: string }, live: PolicySet): Promise<WhatIfResult> {
  const since = form.since.trim() === '' ? null : timeInput(form.since.trim());
  if (since !== null && 'problem' in since) return { kind: 'problem', message: `since: ${since.problem}`, diagnostics: [] };
  let folder;
  try {
    folder = await loadPolicyFolder(form.candidate);
  } catch (err: unknown) {
    if (err instanceof FolderError) return { kind: 'problem', message: err.message, diagnostics: [] };
    throw err;
  }
  if (folder.sources.length === 0) return { kind: 'problem', message: `no *.gavel files under \`${form.candidate}\`: give the folder of the candidate policies`, diagnostics: [] };
  // In slices: the server keeps answering decisions while a large candidate set compiles.
  const { set, diagnostics } = await buildPolicySetInSlices(folder.sources, folder.schema);
  if (set === null) return { kind: 'problem', message: `the candidate policies have ${diagnostics.length} problem(s)`, diagnostics: diagnostics.map(formatDiagnostic) };
  return { kind: 'report', report: await whatIfInSlices(store, set, { limit: form.limit, ...(since === null ? {} : { since: since.iso }), readsOf: readsByRevision(store, [live]) }) };
}

/**
 * Where a sign-in may return to: a console page's path and query as this server wrote it, or
 * null. Only `/console/…` of this origin — never `//host`, a backslash (which browsers read as
 * a slash), or anything else that would make the sign-in an open redirect.
 */
export function returnPath(next: string): string | null {
  if (next.length > 2_000 || !next.startsWith('/console/') || next.startsWith('/console/login')) return null;
  if (!/^\/console\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$/.test(next) || next.includes('//')) return null;
  // A dot segment, spelled out or encoded, would lead a browser out of /console/ (`/console/%2e%2e/metrics`).
  const path = next.split('?')[0]!;
  return path.split('/').some((segment) => /^(?:\.|%2e){1,2}$/i.test(segment)) ? null : next;
}
