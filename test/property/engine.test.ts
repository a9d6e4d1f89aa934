import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { buildPolicySet, decide, type PolicySet } from '../../src/index.js';
import { policyId } from '../../src/engine/policy-set.js';
import { referenceDecide } from '../reference/evaluate.js';

/**
 * Generated policies over a small vocabulary, so that targets, attributes and values of
 * generated requests collide often: the engine (indexed, compiled, with fast paths) must
 * decide exactly as the naive reference evaluator does.
 */
const str = fc.constantFrom('a', 'b', 'x', '/a/b', '10.1.2.3', '');
const num = fc.constantFrom(0, 1, 2.5, 80, -3);
const strPath = fc.constantFrom('subject.role', 'subject.dept', 'resource.dept', 'resource.owner', 'subject.id', 'resource.path', 'token.acr', 'action', 'context.ip');
const numPath = fc.constantFrom('subject.level', 'context.score', 'risk.rep', 'resource.size');
const listPath = fc.constantFrom('token.scope', 'subject.tags');
const recordRoot = fc.constantFrom('subject', 'resource', 'context', 'token', 'risk');
const attr = fc.constantFrom('role', 'dept', 'level', 'score', 'flag', 'tags', 'scope', 'ip');
const q = (s: string) => JSON.stringify(s);

const atom: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(strPath, fc.constantFrom('==', '!='), str).map(([p, op, v]) => `${p} ${op} ${q(v)}`),
  fc.tuple(strPath, fc.constantFrom('==', '!='), strPath).map(([p, op, r]) => `${p} ${op} ${r}`),
  fc.tuple(numPath, fc.constantFrom('<', '<=', '>', '>=', '==', '!='), num).map(([p, op, v]) => `${p} ${op} ${v}`),
  fc.tuple(strPath, fc.array(str, { maxLength: 3 })).map(([p, vs]) => `${p} in [${vs.map(q).join(', ')}]`),
  fc.tuple(listPath, str).map(([p, v]) => `${p} contains ${q(v)}`),
  fc.tuple(listPath, fc.constantFrom('contains_any', 'contains_all'), fc.array(str, { maxLength: 3 })).map(([p, op, vs]) => `${p} ${op} [${vs.map(q).join(', ')}]`),
  fc.constantFrom('context.ip in cidr("10.0.0.0/8")', 'context.ip in [cidr("10.0.0.0/8"), cidr("::1/128")]', 'is_private(context.ip)', 'context.ip == ip("10.1.2.3")', 'context.ip in ["10.1.2.3", "x"]'),
  fc.tuple(recordRoot, attr).map(([r, a]) => `${r} has ${a}`),
  fc.tuple(fc.constantFrom('resource.path', 'subject.role'), fc.constantFrom('/a/**', '/a/*', '/*', '/a/b', '**', 'a*', '*/b')).map(([p, g]) => `${p} like ${q(g)}`),
  fc.constantFrom('context.flag', 'starts_with(subject.role, "a")', 'size(token.scope) > 1', 'subject == user::"u1"', 'resource == doc::"1"', 'true', 'false'),
);

const condition: fc.Arbitrary<string> = fc.letrec<{ c: string }>((tie) => ({
  c: fc.oneof(
    { depthSize: 'small' },
    atom,
    tie('c').map((c) => `!(${c})`),
    fc.tuple(tie('c'), fc.constantFrom('&&', '||'), tie('c')).map(([l, op, r]) => `(${l}) ${op} (${r})`),
  ),
})).c;

const constraint = fc.constantFrom(
  'action',
  'action == "read"',
  'action in ["read", "write"]',
  'action == "GET"',
  'action.name == "read"',
  'action.name in ["read", "GET"]',
  'action.name == "delete"',
  'resource',
  'resource.type == "doc"',
  'resource.type in ["doc", "route"]',
  'resource == doc::"1"',
  'resource in [doc::"1", doc::"2"]',
  'resource.path like "/a/**"',
  'resource.path like "/a/*"',
  'resource.path like "/a/b"',
  'resource.path like "/*"',
  'subject == user::"u1"',
  'subject.role == "a"',
);

const policyText = fc
  .record({
    effect: fc.constantFrom('permit', 'forbid'),
    target: fc.option(fc.uniqueArray(constraint, { maxLength: 3 }), { nil: null }),
    conditions: fc.array(fc.tuple(fc.constantFrom('when', 'unless'), condition), { maxLength: 2 }),
  })
  .map(({ effect, target, conditions }) => `${effect} ${target === null ? '' : `(${target.join(', ')})`} ${conditions.map(([k, c]) => `${k} { ${c} }`).join(' ')};`);

const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 3 });
const value = fc.oneof(str, num, fc.boolean(), fc.array(str, { maxLength: 3 }), fc.constant(null));
const properties = fc.record({ role: maybe(fc.oneof(str, num)), dept: maybe(str), level: maybe(fc.oneof(num, str)), tags: maybe(fc.array(str, { maxLength: 3 })), owner: maybe(str), path: maybe(fc.oneof(str, fc.constantFrom('/a/c', '/a/b/c', '/b'))), size: maybe(num) }, { requiredKeys: [] });
const entity = (types: string[], ids: string[]) => fc.record({ type: fc.constantFrom(...types), id: fc.constantFrom(...ids), properties }, { requiredKeys: ['type', 'id'] });

export const request = fc.record(
  {
    subject: entity(['user', 'client'], ['u1', 'u2', 'a']),
    action: fc.oneof(fc.record({ name: fc.constantFrom('read', 'write', 'GET', 'delete') }), fc.constantFrom('read', 'GET')),
    resource: entity(['doc', 'route'], ['1', '2', '/a/b']),
    context: fc.record({ ip: maybe(fc.constantFrom('10.1.2.3', '192.168.0.1', '::1', '2001:db8::1', 'nope', '::ffff:10.0.0.1')), score: maybe(fc.oneof(num, str)), flag: maybe(fc.oneof(fc.boolean(), str)) }, { requiredKeys: [] }),
    token: fc.record({ scope: maybe(fc.oneof(fc.constantFrom('a b', 'x', '', ' a  x ', 'b'), fc.array(str, { maxLength: 2 }), num)), acr: maybe(value) }, { requiredKeys: [] }),
    risk: fc.record({ rep: maybe(fc.oneof(num, str)) }, { requiredKeys: [] }),
  },
  { requiredKeys: [] },
);

/** Builds the generated texts, dropping any policy the checker rejects (e.g. a type clash). */
function build(texts: string[]): { set: PolicySet; policies: { id: string; policy: PolicySet['policies'][number]['ast'] }[] } {
  const valid = texts.filter((text) => buildPolicySet([{ file: 'probe.gavel', text }]).set !== null);
  const { set, diagnostics } = buildPolicySet([{ file: 'gen.gavel', text: valid.join('\n') }]);
  expect(diagnostics).toEqual([]);
  return { set: set!, policies: set!.policies.map((p, n) => ({ id: policyId('gen.gavel', n + 1, p.annotations), policy: p.ast })) };
}

const sorted = (xs: string[]) => [...xs].sort();

describe('the engine agrees with the reference evaluator', () => {
  test('on generated policy sets and requests: decision, determining policies and errors', () => {
    fc.assert(
      fc.property(fc.array(policyText, { minLength: 1, maxLength: 8 }), fc.array(request, { minLength: 1, maxLength: 10 }), (texts, requests) => {
        const { set, policies } = build(texts);
        for (const r of requests) {
          const got = decide(set, r);
          const want = referenceDecide(policies, r);
          expect({ decision: got.decision, determining: sorted(got.determining) }).toEqual({ decision: want.decision, determining: sorted(want.determining) });
          // With no forbid satisfied, every permit was evaluated, so errors must match too.
          if (got.decision || got.determining.length === 0) expect(sorted(got.errors.map((e) => e.policy))).toEqual(sorted(want.errors));
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('contains_any and contains_all over long lists (a Set instead of a scan) agree with the reference', () => {
  // Records and lists too (keyed in a Map, not scanned): records whose members come in another order, nested lists, -0.
  const small = fc.constantFrom<unknown>('a', 'b', 1, -0, 0, null, true);
  const composite = fc.oneof(fc.dictionary(fc.constantFrom('k', 'j', 'm'), small, { maxKeys: 3 }), fc.array(small, { maxLength: 2 }), fc.array(fc.array(small, { maxLength: 2 }), { maxLength: 2 }));
  const item = fc.oneof(fc.constantFrom('a', 'b', 'x', '10.1.2.3', '10.9.9.9', '192.168.0.1', '', 'true'), fc.constantFrom(0, 1, 2.5, -3), fc.boolean(), fc.constantFrom({ k: 'a' }, ['a'], null), composite);
  const constant = fc.constantFrom('"a"', '"x"', '"10.1.2.3"', '1', 'true', 'cidr("10.0.0.0/8")', 'ip("192.168.0.1")');
  test('lists from the request on both sides, and request lists against constant ones with ranges and addresses', () => {
    fc.assert(
      fc.property(fc.constantFrom('contains_any', 'contains_all'), fc.array(item, { maxLength: 40 }), fc.array(item, { maxLength: 40 }), fc.array(constant, { minLength: 9, maxLength: 20 }), (op, left, right, consts) => {
        const { set, policies } = build([
          `permit (action == "a", resource) when { subject.tags ${op} resource.tags };`,
          `permit (action == "b", resource) when { subject.tags ${op} [${consts.join(', ')}] };`,
          `permit (action == "c", resource) when { [${consts.join(', ')}] ${op} resource.tags };`,
        ]);
        for (const action of ['a', 'b', 'c']) {
          const r = { subject: { type: 'user', id: 'u', properties: { tags: left } }, action: { name: action }, resource: { type: 'doc', id: '1', properties: { tags: right } } };
          const got = decide(set, r);
          const want = referenceDecide(policies, r);
          expect({ decision: got.decision, errors: got.errors.length > 0 }).toEqual({ decision: want.decision, errors: want.errors.length > 0 });
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('contains_any and contains_all over long lists of records and lists', () => {
  const { set } = build(['permit (action == "all", resource) when { subject.tags contains_all resource.tags };', 'permit (action == "any", resource) when { subject.tags contains_any resource.tags };']);
  const asked = (action: string, left: unknown[], right: unknown[]) =>
    decide(set, { subject: { type: 'user', id: 'u', properties: { tags: left } }, action: { name: action }, resource: { type: 'doc', id: '1', properties: { tags: right } } }).decision;

  test('records are equal whatever the order of their members, at any depth; lists by their items in order', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.string({ maxLength: 3 })), { minLength: 9, maxLength: 30 }), fc.boolean(), (pairs, nested) => {
        const left = pairs.map(([n, t]) => (nested ? { a: n, b: [t, { c: n, d: t }] } : { a: n, b: t }));
        // The same records built member by member in the reverse order.
        const right = pairs.map(([n, t]) => (nested ? { b: [t, { d: t, c: n }], a: n } : { b: t, a: n }));
        expect(asked('all', left, right)).toBe(true);
        expect(asked('any', left, right.slice(0, 1))).toBe(true);
        // One member different is another record; a list with its items swapped is another list.
        // (Enough items on both sides that the keyed lookup answers, not the scan: it runs past 64 pairs.)
        const strangers = Array.from({ length: 8 }, (_, k) => ({ a: -1 - k, b: 'x' }));
        expect(asked('any', left, [...strangers, [pairs[0]![1], pairs[0]![0]]])).toBe(false);
        expect(asked('any', left.map((r) => [r.a, r.b]), [...strangers, ...pairs.map(([n, t]) => [t, n])])).toBe(false);
        expect(asked('any', left.map((r) => [r.a, r.b]), [...strangers, [pairs[0]![0], left[0]!.b]])).toBe(true);
        expect(asked('all', left, [...right, { ...right[0], extra: 1 }])).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});

describe('decisions are total and fail closed', () => {
  const set = buildPolicySet([{ file: 'p.gavel', text: 'permit (action == "read", resource.type == "doc") when { subject.role == "a" && token.scope contains "x" };\nforbid (action, resource) when { context.score > 80 };' }]).set!;

  test('evaluation never throws and always returns a decision, whatever the request holds', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.dictionary(fc.constantFrom('subject', 'action', 'resource', 'context', 'token', 'risk', '__proto__', 'constructor'), fc.anything())), (r) => {
        const d = decide(set, r as never);
        expect(typeof d.decision).toBe('boolean');
        expect(d.revision).toBe(set.revision);
      }),
      { numRuns: 2000 },
    );
  });

  test('a permit never overrides a satisfied forbid', () => {
    fc.assert(
      fc.property(fc.array(policyText, { maxLength: 6 }), request, (texts, r) => {
        const { set: withForbid } = build([...texts, 'forbid (action, resource) when { true };']);
        const d = decide(withForbid, r);
        expect(d.decision).toBe(false);
        expect(d.determining.length).toBeGreaterThan(0);
      }),
      { numRuns: 200 },
    );
  });
});
