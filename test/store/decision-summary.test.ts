import { describe, expect, test } from 'vitest';
import { BatchKeys, summarize } from '../../src/store/decision-summary.js';
import type { DecisionRecord } from '../../src/store/store.js';

const record = (id: string, subject: string, via: string, decision: boolean, determining: string[]): DecisionRecord => ({
  id,
  at: '2026-11-22T12:00:00.000Z',
  via,
  decision,
  revision: 'abc',
  subject: { type: 'user', id: subject },
  action: 'read',
  resource: { type: 'doc', id: 'd1' },
  latencyUs: 1,
  determining,
  reasons: [],
  errors: [],
});

const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '');

describe("a batch's summary", () => {
  test('lists each subject, interface, decision and determining policy once, each on its own line', () => {
    const keys = new BatchKeys();
    keys.add(record('r1', 'alice', 'authzen', true, ['p1', 'p2']));
    keys.add(record('r2', 'bob', 'authzen', false, ['p2']));
    keys.add(record('r3', 'alice', 'mint', true, []));
    const text = keys.text();
    expect(text.startsWith('\n') && text.endsWith('\n')).toBe(true);
    expect(lines(text).sort()).toEqual(['d:0', 'd:1', 'p:p1', 'p:p2', 's:alice', 's:bob', 'v:authzen', 'v:mint']);
  });

  test('a value holding a newline stays on one line; two that then read alike are listed once', () => {
    const keys = new BatchKeys();
    keys.add(record('r1', 'a\nb', 'native', true, []));
    keys.add(record('r2', 'a b', 'native', true, []));
    expect(lines(keys.text()).filter((l) => l.startsWith('s:'))).toEqual(['s:a b']);
  });

  test('starts empty again once cleared', () => {
    const keys = new BatchKeys();
    keys.add(record('r1', 'alice', 'authzen', false, ['p1']));
    keys.clear();
    keys.add(record('r2', 'bob', 'native', true, []));
    expect(lines(keys.text()).sort()).toEqual(['d:1', 's:bob', 'v:native']);
  });

  test('of records in hand: their ids, one a line, and their keys', () => {
    const summary = summarize([record('r1', 'alice', 'authzen', true, ['p1']), record('r\n2', 'bob', 'authzen', false, [])]);
    expect(summary.ids).toBe('\nr1\nr 2\n');
    expect(lines(summary.keys).sort()).toEqual(['d:0', 'd:1', 'p:p1', 's:alice', 's:bob', 'v:authzen']);
  });
});
