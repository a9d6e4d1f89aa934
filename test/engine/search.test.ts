import { describe, expect, test } from 'vitest';
import { buildPolicySet, decide } from '../../src/index.js';
import { Directory } from '../../src/engine/directory.js';
import { search, type SearchQuery } from '../../src/engine/search.js';
import { actionNames } from '../../src/engine/action-names.js';
import type { Request } from '../../src/language/eval/activation.js';

const set = buildPolicySet([
  {
    file: 'docs.gavel',
    text: `
@id("owner") permit (action in ["read", "edit"], resource.type == "doc") when { resource.owner == subject.id };
@id("publish") permit (action, resource.type == "doc") when { action == "publish" && subject.role == "editor" };
@id("locked") forbid (action == "edit", resource.type == "doc") when { resource.locked == true };
`,
  },
]).set!;
const directory = new Directory([
  { type: 'user', id: 'ann', attributes: { role: 'editor' } },
  { type: 'user', id: 'ben', attributes: {} },
  ...['d3', 'd1', 'd2'].map((id) => ({ type: 'doc', id, attributes: { owner: id === 'd3' ? 'ben' : 'ann', locked: id === 'd2' } })),
]);

/** A search whose decisions are counted. */
function run(query: SearchQuery) {
  let decided = 0;
  const decideCounted = (r: Request) => (decided++, decide(set, directory.enrich(r)));
  const outcome = search(query, { set, directory, decide: decideCounted, pageKey: 'k' });
  if (!outcome.ok) throw new Error(outcome.message);
  return { ...outcome.answer, decided };
}

describe('search (library)', () => {
  test('candidates come from the directory in id order; each is decided', () => {
    const r = run({ kind: 'resource', request: { subject: { type: 'user', id: 'ann' }, action: { name: 'edit' }, resource: { type: 'doc' } }, page: { token: null, limit: null } });
    expect(r.results).toEqual([{ type: 'doc', id: 'd1' }]);
    expect(r.decided).toBe(3);
  });

  test('when no permit can apply to the fixed parts, nothing is decided', () => {
    const r = run({ kind: 'subject', request: { subject: { type: 'user' }, action: { name: 'archive' }, resource: { type: 'doc', id: 'd1' } }, page: { token: null, limit: null } });
    expect(r).toMatchObject({ results: [], decided: 0, stats: { candidates: 2, decided: 0 } });
  });

  test('an action search decides only the named actions some permit may apply to', () => {
    expect(actionNames(set)).toEqual(['edit', 'publish', 'read']);
    const r = run({ kind: 'action', request: { subject: { type: 'user', id: 'ann' }, resource: { type: 'doc', id: 'd2' } }, page: { token: null, limit: null } });
    // d2 is locked: edit is forbidden; ann is an editor and owns it.
    expect(r.results).toEqual([{ name: 'publish' }, { name: 'read' }]);
    expect(r.decided).toBe(3);
    const ben = run({ kind: 'action', request: { subject: { type: 'user', id: 'ben' }, resource: { type: 'folder', id: 'f1' } }, page: { token: null, limit: null } });
    expect(ben).toMatchObject({ results: [], decided: 0 });
  });

  test('an action a target names through action.name is found, and the index files the policy under it', () => {
    const named = buildPolicySet([{ file: 'a.gavel', text: '@id("export") permit (action.name == "export", resource.type == "doc");\n@id("archive") permit (action.name in ["archive"], resource);\n' }]).set!;
    expect(actionNames(named)).toEqual(['archive', 'export']);
    const outcome = search({ kind: 'action', request: { subject: { type: 'user', id: 'ann' }, resource: { type: 'doc', id: 'd1' } }, page: { token: null, limit: null } }, { set: named, directory, decide: (r: Request) => decide(named, r), pageKey: 'k' });
    if (!outcome.ok) throw new Error(outcome.message);
    expect(outcome.answer.results).toEqual([{ name: 'archive' }, { name: 'export' }]);
    // `archive` is filed under its action (it was looked at for every request): another action's lookup does not select it.
    const about = (name: string, type: string) => decide(named, { subject: { type: 'user', id: 'ann' }, action: { name }, resource: { type, id: 'x' } }, { explain: true });
    expect(about('archive', 'folder')).toMatchObject({ decision: true, determining: ['archive'], explanation: { candidates: 1 } });
    expect(about('read', 'folder')).toMatchObject({ decision: false, explanation: { candidates: 0 } });
  });

  test('a limit over the largest page gets the largest page and the rest on the next; a foreign page token is an error', () => {
    const query: SearchQuery = { kind: 'resource', request: { subject: { type: 'user', id: 'ann' }, action: { name: 'read' }, resource: { type: 'doc' } }, page: { token: null, limit: 2 } };
    const tight = { set, directory, decide: (r: Request) => decide(set, directory.enrich(r)), pageKey: 'k', limits: { defaultPageSize: 1, maxPageSize: 1, maxCandidates: 10 } };
    const one = search(query, tight);
    if (!one.ok) throw new Error(one.message);
    expect(one.answer.page).toMatchObject({ count: 1, total: 2 });
    const rest = search({ ...query, page: { token: one.answer.page.next_token, limit: 2 } }, tight);
    if (!rest.ok) throw new Error(rest.message);
    expect(rest.answer.page).toMatchObject({ count: 1, total: 2, next_token: '' });
    expect([...one.answer.results, ...rest.answer.results]).toHaveLength(2);
    const first = search({ ...query, page: { token: null, limit: 1 } }, { set, directory, decide: (r) => decide(set, directory.enrich(r)), pageKey: 'k' });
    if (!first.ok) throw new Error(first.message);
    expect(first.answer.page.next_token).not.toBe('');
    const otherKey = search({ ...query, page: { token: first.answer.page.next_token, limit: 1 } }, { set, directory, decide: (r) => decide(set, directory.enrich(r)), pageKey: 'another' });
    expect(otherKey).toMatchObject({ ok: false, code: 'ERR_SEARCH_PAGE_TOKEN' });
  });
});
