import { describe, expect, test } from 'vitest';
import { buildPolicySet } from '../../src/index.js';
import { DecisionLog } from '../../src/engine/decision-log.js';
import { LivePolicySet } from '../../src/engine/live-set.js';
import { Decider } from '../../src/server/decider.js';
import { Metrics } from '../../src/server/metrics.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { tokenReads } from '../../src/language/compile/reads.js';
import { parse } from '../../src/language/parse/parse.js';

const POLICIES = `
@id("scoped") permit (action == "read", resource.type == "doc") when { token.scope contains "doc:read" };
@id("strong") forbid (action == "delete", resource.type == "doc") unless { token has acr && token.acr == "mfa" };
`;
const claims = { iss: 'https://id.example.com', aud: 'docs', exp: 2_000_000_000, sub: 'alice', client_id: 'web', jti: 'j-1', scope: 'doc:read', acr: 'pwd', email: 'alice@example.com', name: 'Alice' };

/** One decision through a Decider with a real log over an in-memory SQLite store; answers the request the log kept. */
function logged(policies: string, tokenClaims?: 'read' | 'all'): unknown {
  const live = new LivePolicySet(buildPolicySet([{ file: 'p.gavel', text: policies }]).set!);
  const store = new SqliteStore(':memory:');
  const log = new DecisionLog(store, { flushMs: 60_000, ...(tokenClaims ? { tokenClaims } : {}) });
  new Decider(new Metrics(live), log, null).decide('native', 'r-1', live.current, { subject: { type: 'user', id: 'alice' }, action: { name: 'read' }, resource: { type: 'doc', id: '1' }, token: claims });
  log.flush();
  const [record] = store.queryDecisions({ limit: 1 });
  store.close();
  return record?.request;
}

describe('what the decision log keeps of a verified token', () => {
  test("its identity (iss, sub, client_id, azp, act, jti) and the claims the policies read — not a user's email or name no policy looked at", () => {
    expect((logged(POLICIES) as { token: unknown }).token).toEqual({ iss: 'https://id.example.com', sub: 'alice', client_id: 'web', jti: 'j-1', scope: 'doc:read', acr: 'pwd' });
  });

  test('every claim with decision_log.token_claims "all", or when a policy reads the token whole', () => {
    expect((logged(POLICIES, 'all') as { token: unknown }).token).toEqual(claims);
    expect((logged(`${POLICIES}\n@id("any") permit (action == "list", resource.type == "doc") when { context.seen == token };`) as { token: unknown }).token).toEqual(claims);
  });

  test('the claims a policy reads, by name; * for the token read whole', () => {
    const reads = (text: string) => tokenReads(parse('p.gavel', text).ast.policies[0]!);
    expect(reads('permit (action, resource) when { token.scope contains "x" && token has acr && token.acr == "mfa" };')).toEqual(['acr', 'scope']);
    expect(reads('permit (action, resource) when { token.cnf.jkt == "k" };')).toEqual(['cnf']);
    expect(reads('permit (action, resource) when { context.seen == token };')).toEqual(['*']);
    expect(reads('permit (action, resource) when { subject.role == "admin" };')).toEqual([]);
  });
});
