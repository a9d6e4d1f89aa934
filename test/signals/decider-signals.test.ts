import { describe, expect, test } from 'vitest';
import { buildPolicySet } from '../../src/index.js';
import type { DecisionRecord } from '../../src/store/store.js';
import { DecisionLog } from '../../src/engine/decision-log.js';
import { batchText } from '../../src/store/decision-summary.js';
import { Decider } from '../../src/server/decider.js';
import { Metrics } from '../../src/server/metrics.js';
import { LivePolicySet } from '../../src/engine/live-set.js';
import { Signals, type Observed, type SignalProvider } from '../../src/signals/signals.js';
import { Velocity } from '../../src/signals/velocity.js';

const set = (text: string) => buildPolicySet([{ file: 'p.gavel', text }]).set!;
const request = { subject: { type: 'user', id: 'alice' }, action: { name: 'read' }, resource: { type: 'doc', id: '1' } };
const origin = { address: '192.0.2.1' };

/** A provider that counts its reads and answers a fixed reputation, or fails. */
function counting(reputation: number | Error): SignalProvider & { reads: Observed[] } {
  const reads: Observed[] = [];
  return {
    name: 'ip',
    reads,
    read: (o) => {
      reads.push(o);
      if (reputation instanceof Error) throw reputation;
      return { reputation, lists: [], labels: [] };
    },
  };
}

function decider(provider: SignalProvider, velocity: Velocity | null = null, records: DecisionRecord[] = []) {
  const log = new DecisionLog({ appendBatch: (batch) => void records.push(...(JSON.parse(batchText(batch)) as DecisionRecord[])) }, { flushMs: 60_000 });
  const live = new LivePolicySet(set('@id("x") permit (action);'));
  return { d: new Decider(new Metrics(live), log, null, new Signals([provider], velocity)), log };
}

const TWO_READERS = `
@id("allow") permit (action == "read");
@id("bad-network") forbid (action) when { risk.ip.reputation < 20 } reason "bad network";
@id("very-bad") forbid (action) when { risk.ip.reputation < 5 };
`;

describe('risk signals in decisions', () => {
  test('policies that read no risk member never compute a signal', () => {
    const ip = counting(50);
    const { d } = decider(ip);
    expect(d.decide('native', '1', set('@id("allow") permit (action == "read");'), request, {}, origin).decision).toBe(true);
    expect(ip.reads).toEqual([]);
  });

  test('a signal is computed once per request however many policies read it, about the caller', () => {
    const ip = counting(10);
    const { d } = decider(ip);
    const decision = d.decide('native', '1', set(TWO_READERS), request, {}, origin);
    expect(decision).toMatchObject({ decision: false, determining: ['bad-network'], reasons: ['bad network'] });
    expect(ip.reads).toEqual([{ address: '192.0.2.1', subject: 'user/alice', client: null }]);
  });

  test('a provider that fails leaves the member absent: the forbid that reads it fails closed, and the decision says why', () => {
    const { d } = decider(counting(new Error('lists are not loaded')));
    const decision = d.decide('native', '1', set(TWO_READERS), request, {}, origin);
    expect(decision.decision).toBe(false);
    expect(decision.determining).toEqual(['bad-network', 'very-bad']);
    expect(decision.signal_errors).toEqual(['risk.ip: lists are not loaded']);
  });

  test('denials feed velocity, which the next request reads', () => {
    const { d } = decider(counting(100), new Velocity());
    const limited = set(`
      @id("allow") permit (action == "read") when { resource.id == "1" };
      @id("slow-down") forbid (action) when { risk.velocity.address_denials_1m >= 2 } reason "too many denials";`);
    const denied = { ...request, resource: { type: 'doc', id: '2' } };
    expect(d.decide('native', '1', limited, request, {}, origin).decision).toBe(true);
    d.decide('native', '2', limited, denied, {}, origin);
    d.decide('native', '3', limited, denied, {}, origin);
    expect(d.decide('native', '4', limited, request, {}, origin)).toMatchObject({ decision: false, reasons: ['too many denials'] });
    // Another address is not slowed down.
    expect(d.decide('native', '5', limited, request, {}, { address: '192.0.2.99' }).decision).toBe(true);
  });

  test("a subject's counters are its own: a type holding `/` does not share them with another subject (user/x + y and user + x/y were one key)", () => {
    const { d } = decider(counting(100), new Velocity());
    const limited = set(`
      @id("allow") permit (action == "read") when { resource.id == "1" };
      @id("slow-down") forbid (action) when { risk.velocity.subject_denials_1m >= 2 } reason "too many denials";`);
    const slashed = { subject: { type: 'user/x', id: 'y' }, action: { name: 'read' }, resource: { type: 'doc', id: '2' } };
    d.decide('native', '1', limited, slashed, {}, { address: '192.0.2.10' });
    d.decide('native', '2', limited, slashed, {}, { address: '192.0.2.11' });
    const other = { subject: { type: 'user', id: 'x/y' }, action: { name: 'read' }, resource: { type: 'doc', id: '1' } };
    expect(d.decide('native', '3', limited, other, {}, { address: '192.0.2.12' }).decision).toBe(true);
    expect(d.decide('native', '4', limited, { ...slashed, resource: { type: 'doc', id: '1' } }, {}, { address: '192.0.2.13' })).toMatchObject({ decision: false, reasons: ['too many denials'] });
  });

  test('decisions held for a batch (gRPC DecideBatch) feed velocity at once: a later item sees the earlier denials, as one request after another would', () => {
    const { d, log } = decider(counting(100), new Velocity());
    const limited = set(`
      @id("allow") permit (action == "read") when { resource.id == "1" };
      @id("slow-down") forbid (action) when { risk.velocity.address_denials_1m >= 2 } reason "too many denials";`);
    const denied = { ...request, resource: { type: 'doc', id: '2' } };
    const held = [denied, denied, request].map((r, i) => d.held('grpc_batch', `b#${i}`, limited, r, {}, origin));
    expect(held.map((h) => h.decision.decision)).toEqual([false, false, false]);
    expect(held[2]!.decision.reasons).toEqual(['too many denials']);
    // Not logged until committed.
    expect(log.depth).toBe(0);
    for (const h of held) h.commit();
    expect(log.depth).toBe(3);
  });

  test('the velocity client is the token\'s, or in the issuer\'s mint decisions the client it authenticated: a caller naming one cannot raise its counters', () => {
    const ip = counting(100);
    const { d } = decider(ip, new Velocity());
    const limited = set(`@id("x") forbid (action) when { risk.ip.reputation < 0 || risk.velocity.client_denials_1m > 100 };`);
    const asClient = { subject: { type: 'client', id: 'billing' }, action: { name: 'mint' }, resource: { type: 'scope', id: 'a' }, context: { client_id: 'billing' } };
    const forUser = { subject: { type: 'user', id: 'alice' }, action: { name: 'mint' }, resource: { type: 'scope', id: 'a' }, context: { client_id: 'web' } };
    d.decide('native', '1', limited, asClient, {}, origin);
    d.decide('mint', '2', limited, asClient, {}, origin);
    d.decide('mint', '3', limited, forUser, {}, origin);
    expect(ip.reads).toEqual([
      { address: '192.0.2.1', subject: 'client/billing', client: null },
      { address: '192.0.2.1', subject: 'client/billing', client: 'billing' },
      { address: '192.0.2.1', subject: 'user/alice', client: 'web' },
    ]);
  });

  test('the log keeps the signals that were computed, and only those', () => {
    const records: DecisionRecord[] = [];
    const { d, log } = decider(counting(10), new Velocity(), records);
    d.decide('native', '1', set(TWO_READERS), request, {}, origin);
    d.decide('native', '2', set('@id("allow") permit (action == "read");'), request, {}, origin);
    log.flush();
    expect(records[0].request).toMatchObject({ risk: { ip: { reputation: 10 } } });
    expect(Object.keys((records[0].request as { risk: object }).risk)).toEqual(['ip']);
    expect(records[1].request).not.toHaveProperty('risk');
  });

  test('of the velocity counters, only those some policy reads are computed and logged', () => {
    const records: DecisionRecord[] = [];
    const { d, log } = decider(counting(100), new Velocity(), records);
    const policies = set(`
      @id("allow") permit (action == "read");
      @id("slow-down") forbid (action) when { risk.velocity.address_denials_1m >= 5 || risk.velocity.subject_denials_1h >= 50 };`);
    d.decide('native', '1', policies, request, {}, origin);
    log.flush();
    expect((records[0].request as { risk: object }).risk).toEqual({ velocity: { address_denials_1m: 0, subject_denials_1h: 0 } });
  });

  test('a policy that reads a member whole gets every field of it', () => {
    const records: DecisionRecord[] = [];
    const { d, log } = decider(counting(100), new Velocity(), records);
    const policies = set(`
      @id("allow") permit (action == "read");
      @id("counted") forbid (action) when { risk.velocity.address_denials_1m >= 5 };
      @id("whole") forbid (action) when { size(risk.velocity) == 0 };`);
    d.decide('native', '1', policies, request, {}, origin);
    log.flush();
    expect(Object.keys((records[0].request as { risk: { velocity: object } }).risk.velocity)).toHaveLength(18);
  });
});
