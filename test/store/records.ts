import type { DecisionRecord } from '../../src/store/store.js';

/** A logged decision for store tests: alice reading doc `id`, allowed, unless `fields` say otherwise. */
export function decisionRecord(id: string, fields: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    id,
    at: '2026-11-22T12:00:00.000Z',
    via: 'native',
    decision: true,
    revision: 'abc',
    subject: { type: 'user', id: 'alice' },
    action: 'read',
    resource: { type: 'doc', id },
    latencyUs: 1,
    determining: [],
    reasons: [],
    errors: [],
    ...fields,
  };
}
