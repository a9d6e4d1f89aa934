import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { DecisionRecord } from '../../src/store/store.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gavel-compliance-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const VIAS = ['native', 'authzen', 'mint'];
/** Decision n: subject u(n % 7), allow when n is even, determined by p(n % 5), one second apart. */
function record(n: number): DecisionRecord {
  return {
    id: `r-${n}`,
    at: new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString(),
    via: VIAS[n % 3]!,
    decision: n % 2 === 0,
    revision: 'rev1',
    subject: { type: 'user', id: `u${n % 7}` },
    action: 'read',
    resource: { type: 'doc', id: `d${n}` },
    latencyUs: 1,
    determining: [`p${n % 5}`],
    reasons: [],
    errors: [],
    request: { subject: { type: 'user', id: `u${n % 7}` } },
  };
}

function seeded(total = 2_000, batch = 97): { store: SqliteStore; all: DecisionRecord[] } {
  const store = new SqliteStore(join(dir, 'g.db'));
  const all = Array.from({ length: total }, (_, n) => record(n));
  for (let i = 0; i < total; i += batch) store.appendDecisions(all.slice(i, i + batch));
  return { store, all };
}

describe('policy revisions', () => {
  test('a revision is saved once; the newest `keep` are kept; prefixes find ids', () => {
    const store = new SqliteStore(join(dir, 'g.db'));
    const rev = (id: string, at: string) => ({ id, savedAt: at, files: { 'a.gavel': `// ${id}` } });
    expect(store.savePolicyRevision(rev('aaaa1111', '2026-01-01T00:00:00Z'), 2)).toBe(true);
    expect(store.savePolicyRevision(rev('aaaa1111', '2026-01-02T00:00:00Z'), 2)).toBe(false);
    expect(store.policyRevision('aaaa1111')?.savedAt).toBe('2026-01-01T00:00:00Z');
    store.savePolicyRevision(rev('aaaa2222', '2026-01-03T00:00:00Z'), 2);
    store.savePolicyRevision(rev('bbbb3333', '2026-01-04T00:00:00Z'), 2);
    expect(store.policyRevision('aaaa1111')).toBeNull();
    expect(store.policyRevisionIds('aaaa')).toEqual(['aaaa2222']);
    expect(store.policyRevision('bbbb3333')?.files).toEqual({ 'a.gavel': '// bbbb3333' });
    store.close();
  });

  test('revisions are bounded in bytes too, newest kept first, the newest always', () => {
    const store = new SqliteStore(join(dir, 'g.db'));
    const big = (id: string, day: number) => ({ id, savedAt: `2026-01-${String(day).padStart(2, '0')}T00:00:00Z`, files: { 'a.gavel': `// ${id} ${'x'.repeat(1000)}` } });
    for (let day = 1; day <= 5; day++) store.savePolicyRevision(big(`r${day}`, day), 1000, 2500);
    expect(['r1', 'r2', 'r3', 'r4', 'r5'].filter((id) => store.policyRevision(id) !== null)).toEqual(['r4', 'r5']);
    store.savePolicyRevision(big('huge', 6), 1000, 10);
    expect(store.policyRevisionIds('')).toEqual(['huge']);
    store.close();
  });
});

describe('decision log queries', () => {
  test('by id: the record, wherever its batch; null when unknown', () => {
    const { store } = seeded();
    expect(store.decisionById('r-0')?.resource.id).toBe('d0');
    expect(store.decisionById('r-1234')?.resource.id).toBe('d1234');
    expect(store.decisionById('r-12')?.id).toBe('r-12');
    expect(store.decisionById('r-99999')).toBeNull();
    store.close();
  });

  test('ids and subjects holding newlines are found exactly, and match no other subject', () => {
    const store = new SqliteStore(join(dir, 'g.db'));
    // A caller-chosen subject id that spells another subject's summary line, in its own batch.
    store.appendDecisions([{ ...record(1), id: 'x\nr-2', subject: { type: 'user', id: 'mallory\ns:alice' } }]);
    store.appendDecisions([{ ...record(2), subject: { type: 'user', id: 'alice' } }]);
    expect(store.decisionById('r-2')?.subject.id).toBe('alice');
    expect(store.decisionById('x\nr-2')?.subject.id).toBe('mallory\ns:alice');
    expect(store.decisionPage({ subjectId: 'alice', limit: 10 }).decisions.map((r) => r.id)).toEqual(['r-2']);
    expect(store.decisionPage({ subjectId: 'mallory\ns:alice', limit: 10 }).decisions.map((r) => r.id)).toEqual(['x\nr-2']);
    store.close();
  });

  test('filtered pages, newest first, follow a cursor to the end and match a plain filter of every record', () => {
    const { store, all } = seeded();
    const query = { decision: false, subjectId: 'u3', via: 'authzen', since: all[100]!.at, until: all[1900]!.at } as const;
    const expected = all
      .filter((r) => !r.decision && r.subject.id === 'u3' && r.via === 'authzen' && r.at >= query.since && r.at <= query.until)
      .reverse()
      .map((r) => r.id);
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = store.decisionPage({ ...query, limit: 7, ...(after === undefined ? {} : { after }) });
      seen.push(...page.decisions.map((r) => r.id));
      if (page.next === null) break;
      after = page.next;
    }
    expect(expected.length).toBeGreaterThan(10);
    expect(seen).toEqual(expected);
    expect(store.queryDecisions({ policy: 'p3', limit: 3 }).map((r) => r.id)).toEqual(['r-1998', 'r-1993', 'r-1988']);
    store.close();
  });

  test('pruning keeps lookups right: pruned records are gone, trimmed batches still found', () => {
    const { store, all } = seeded();
    expect(store.pruneDecisions(all[150]!.at, 1_000)).toBe(1_000);
    expect(store.decisionById('r-999')).toBeNull();
    expect(store.decisionById('r-1000')?.id).toBe('r-1000');
    expect(store.queryDecisions({ limit: 5_000 })).toHaveLength(1_000);
    expect(store.queryDecisions({ subjectId: 'u0', limit: 5_000 }).at(-1)?.id).toBe('r-1001');
    store.close();
  });

  test('decisionBatches streams the window newest batch first', () => {
    const { store, all } = seeded(1_000, 100);
    const batches = [...store.decisionBatches({ since: all[850]!.at })].map((j) => JSON.parse(j) as DecisionRecord[]);
    expect(batches.map((b) => b[0]!.id)).toEqual(['r-900', 'r-800']);
    store.close();
  });
});
