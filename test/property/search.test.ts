import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildPolicySet } from '../../src/index.js';
import { LivePolicySet } from '../../src/engine/live-set.js';
import { Directory, LiveDirectory } from '../../src/engine/directory.js';
import { buildApp } from '../../src/http/app.js';

/**
 * The search contract: a search's results are exactly the directory entities (or the named
 * actions) for which a single evaluation of the same request allows — whatever the
 * policies, the directory, the partial-evaluation pre-filter and the page size. Both sides
 * go through the real HTTP routes of one server.
 */

const ACTIONS = ['read', 'write', 'delete'] as const;
const USERS = ['u1', 'u2', 'u3', 'u4'];
const DOCS = ['d1', 'd2', 'd3', 'd4', 'd5'];
const q = (s: string) => JSON.stringify(s);

const condition = fc.constantFrom(
  'subject.dept == resource.dept',
  'resource.owner == subject.id',
  'subject.role == "admin"',
  'resource.status == "draft"',
  'subject has role',
  'resource has owner',
  'context has flag && context.flag == true',
  'action == "read"',
  'action in ["write", "delete"]',
  'subject.id == "u1"',
  'resource.id == "d2"',
  'subject.type == "user"',
);

const conditions: fc.Arbitrary<string> = fc.oneof(
  condition,
  fc.tuple(condition, fc.constantFrom('&&', '||'), condition).map(([a, op, b]) => `${a} ${op} ${b}`),
  condition.map((c) => `!(${c})`),
);

const policy = fc.record({
  effect: fc.constantFrom('permit', 'permit', 'forbid'),
  actions: fc.subarray([...ACTIONS]),
  type: fc.constantFrom(null, 'doc', 'folder'),
  when: fc.option(conditions, { nil: null }),
});

type Generated = { effect: string; actions: string[]; type: string | null; when: string | null };

function text(policies: Generated[]): string {
  return policies
    .map((p, i) => {
      const action = p.actions.length === 0 ? 'action' : p.actions.length === 1 ? `action == ${q(p.actions[0])}` : `action in [${p.actions.map(q).join(', ')}]`;
      const resource = p.type === null ? 'resource' : `resource.type == ${q(p.type)}`;
      return `@id("p${i}") ${p.effect} (${action}, ${resource})${p.when === null ? '' : ` when { ${p.when} }`};`;
    })
    .join('\n');
}

const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const userAttributes = fc.record({ dept: maybe(fc.constantFrom('a', 'b')), role: maybe(fc.constantFrom('admin', 'staff')) }, { requiredKeys: [] });
const docAttributes = fc.record({ dept: maybe(fc.constantFrom('a', 'b')), owner: maybe(fc.constantFrom(...USERS)), status: maybe(fc.constantFrom('draft', 'final')) }, { requiredKeys: [] });
const defined = (o: object) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

const world = fc.record({
  policies: fc.array(policy, { minLength: 1, maxLength: 5 }),
  users: fc.subarray(USERS).chain((ids) => fc.tuple(...ids.map((id) => userAttributes.map((a) => ({ type: 'user', id, attributes: defined(a) }))))),
  docs: fc.subarray(DOCS).chain((ids) => fc.tuple(...ids.map((id) => docAttributes.map((a) => ({ type: 'doc', id, attributes: defined(a) }))))),
  kind: fc.constantFrom('subject', 'resource', 'action'),
  subject: fc.constantFrom(...USERS, 'nobody'),
  resource: fc.constantFrom(...DOCS, 'd9'),
  action: fc.constantFrom(...ACTIONS, 'approve'),
  context: fc.constantFrom(undefined, { flag: true }, { flag: false }),
  limit: fc.constantFrom(undefined, 1, 2, 3),
});

let app: FastifyInstance;
const live = new LivePolicySet(buildPolicySet([{ file: 'p.gavel', text: '' }]).set!);
const directory = new LiveDirectory(new Directory([]));
beforeAll(async () => {
  app = buildApp({ policies: live, directory });
  await app.ready();
});
afterAll(() => app.close());

type Json = { [k: string]: unknown };
async function post(url: string, body: Json): Promise<Json> {
  const r = await app.inject({ method: 'POST', url, payload: body });
  if (r.statusCode !== 200) throw new Error(`${url}: ${r.statusCode} ${r.body}`);
  return r.json() as Json;
}

/** Every page of a search, followed to the end. */
async function allPages(kind: string, body: Json, limit: number | undefined): Promise<unknown[]> {
  const results: unknown[] = [];
  let token = '';
  for (let pages = 0; pages < 20; pages++) {
    const page = { ...(limit === undefined ? {} : { limit }), ...(token === '' ? {} : { token }) };
    const r = (await post(`/access/v1/search/${kind}`, { ...body, page })) as { page: { next_token: string }; results: unknown[] };
    results.push(...r.results);
    token = r.page.next_token;
    if (token === '') return results;
  }
  throw new Error('the search never ended');
}

async function allowed(request: Json): Promise<boolean> {
  return ((await post('/access/v1/evaluation', request)) as { decision: boolean }).decision;
}

describe('search = brute force over single evaluations', () => {
  test('for generated policies, directories and searches', async () => {
    await fc.assert(
      fc.asyncProperty(world, async (w) => {
        const built = buildPolicySet([{ file: 'p.gavel', text: text(w.policies) }]);
        if (built.set === null) throw new Error(`generated policies do not build: ${built.diagnostics.map((d) => d.message).join('; ')}`);
        live.swap(built.set);
        directory.swap(new Directory([...w.users, ...w.docs]));
        const context = w.context === undefined ? {} : { context: w.context };
        const subject = { type: 'user', id: w.subject };
        const resource = { type: 'doc', id: w.resource };
        const action = { name: w.action };
        if (w.kind === 'subject') {
          const found = await allPages('subject', { subject: { type: 'user' }, action, resource, ...context }, w.limit);
          const expected = [];
          for (const u of [...w.users].sort((a, b) => (a.id < b.id ? -1 : 1))) if (await allowed({ subject: { type: 'user', id: u.id }, action, resource, ...context })) expected.push({ type: 'user', id: u.id });
          expect(found).toEqual(expected);
        } else if (w.kind === 'resource') {
          const found = await allPages('resource', { subject, action, resource: { type: 'doc' }, ...context }, w.limit);
          const expected = [];
          for (const d of [...w.docs].sort((a, b) => (a.id < b.id ? -1 : 1))) if (await allowed({ subject, action, resource: { type: 'doc', id: d.id }, ...context })) expected.push({ type: 'doc', id: d.id });
          expect(found).toEqual(expected);
        } else {
          const found = await allPages('action', { subject, resource, ...context }, w.limit);
          // Candidates are the actions the policies name; the generator names only these.
          const named = new Set(w.policies.flatMap((p) => [...p.actions, ...ACTIONS.filter((a) => p.when?.includes(q(a)))]));
          const expected = [];
          for (const name of [...named].sort()) if (await allowed({ subject, action: { name }, resource, ...context })) expected.push({ name });
          expect(found).toEqual(expected);
        }
      }),
      { numRuns: 300 },
    );
  });
});
