import fc from 'fast-check';
import { expect, test } from 'vitest';
import { affects, type AffectsRow } from '../../../src/engine/affects.js';
import { decide } from '../../../src/engine/decide.js';
import { buildPolicySet } from '../../../src/engine/policy-set.js';
import { compileExpr } from '../../../src/language/compile/compile-expr.js';
import { Activation, type Request } from '../../../src/language/eval/activation.js';
import { parseExpression } from '../../../src/language/parse/parse.js';
import { parseFacts } from '../../../src/language/partial/partial.js';

/*
 * Soundness of `affects`, against the real engine: generated policies and facts, and
 * generated requests ("completions") kept only when every fact evaluates to `true` on them.
 * For each completion, the engine's verdict on the one policy must agree with its row:
 * - does-not-apply: the engine never counts it (not even a forbid through an error);
 * - applies: the engine counts it unless evaluating it errors;
 * - may_error false: evaluating it never errors;
 * - may-apply: where the engine counts it without error, the printed residual, parsed and
 *   evaluated, is `true`; where it does not count it, the residual is not `true`.
 */

const STRINGS = ['US', 'DE', 'a', 'phi:read', '/a/b', '/c/d'];
const str = fc.constantFrom(...STRINGS).map((s) => JSON.stringify(s));
const num = fc.constantFrom('0', '5', '10');
const scalar = fc.oneof(str, num, fc.constantFrom('true', 'false', 'null'));

/** Paths the policies, facts and requests share, with the type each usually has. */
const PATHS = {
  'subject.country': 'string', 'resource.country': 'string', 'resource.type': 'string', 'resource.path': 'string', action: 'string',
  'subject.address.city': 'string', 'token.acr': 'string', 'subject.level': 'number', 'context.score': 'number',
  'subject.roles': 'list', 'token.scope': 'list', 'context.flag': 'boolean',
} as const;
type PathName = keyof typeof PATHS;
const pattern = fc.constantFrom('/a/**', '/c/*', 'U*', '/a/b', '**');
const member = fc.constantFrom('country', 'flag', 'city', 'acr', 'score', 'roles');
const record = fc.constantFrom('subject', 'context', 'token', 'subject.address', 'resource');

/** Relations on one path, by its type (and now and then one of another type's, for type errors). */
function relations(p: PathName, fact: boolean): fc.Arbitrary<string> {
  const compare = fc.tuple(fc.constantFrom('==', '!='), scalar).map(([op, v]) => `${p} ${op} ${v}`);
  const byType: Record<(typeof PATHS)[PathName], fc.Arbitrary<string>[]> = {
    string: [
      fc.array(str, { minLength: 1, maxLength: 3 }).map((vs) => `${p} in [${vs.join(', ')}]`),
      pattern.map((g) => `${p} like ${JSON.stringify(g)}`),
    ],
    number: [fc.tuple(fc.constantFrom('<', '<=', '>', '>='), num).map(([op, v]) => `${p} ${op} ${v}`)],
    list: [str.map((v) => `${p} contains ${v}`)],
    boolean: fact ? [] : [fc.constant(p)],
  };
  return fc.oneof(compare, ...byType[PATHS[p]]);
}

function atoms(paths: PathName[], fact: boolean): fc.Arbitrary<string> {
  const has = fc.tuple(record, member).map(([r, m]) => `${r} has ${m}`);
  const parts = [...paths.map((p) => relations(p, fact)), has];
  if (fact) parts.push(fc.tuple(record, member).map(([r, m]) => `!(${r} has ${m})`));
  else parts.push(fc.constant('subject.country == resource.country'));
  return fc.oneof(...parts);
}

function conditionOver(paths: PathName[]): fc.Arbitrary<string> {
  const atom = atoms(paths, false);
  return fc.letrec<{ c: string }>((tie) => ({
    c: fc.oneof(
      { depthSize: 'small' },
      atom,
      fc.tuple(tie('c'), tie('c')).map(([a, b]) => `(${a} && ${b})`),
      fc.tuple(tie('c'), tie('c')).map(([a, b]) => `(${a} || ${b})`),
      tie('c').map((a) => `!(${a})`),
    ),
  })).c;
}

const constraint = fc.oneof(
  fc.array(str, { minLength: 1, maxLength: 2 }).map((vs) => `action in [${vs.join(', ')}]`),
  str.map((v) => `resource.type == ${v}`),
  pattern.map((g) => `resource.path like ${JSON.stringify(g)}`),
  str.map((v) => `subject.address.city == ${v}`),
);

/** A policy and facts over the same two or three paths, so that facts often bear on the policy. */
const scenario = fc
  .shuffledSubarray(Object.keys(PATHS) as PathName[], { minLength: 1, maxLength: 2 })
  .chain((paths) =>
    fc.record({
      effect: fc.constantFrom('permit', 'forbid'),
      target: fc.array(constraint, { maxLength: 2 }),
      conditions: fc.array(fc.tuple(fc.constantFrom('when', 'unless'), conditionOver(paths)), { maxLength: 2 }),
      facts: fc.array(atoms(paths, true), { minLength: 1, maxLength: 3 }),
    }),
  )
  .map(({ effect, target, conditions, facts }) => ({
    text: `@id("p") ${effect} (${target.join(', ')}) ${conditions.map(([k, c]) => `${k} { ${c} }`).join(' ')};`,
    facts,
  }));

// Requests: each attribute missing or one of a few values of mixed types.
const MISSING = Symbol('missing');
const stringish = fc.constantFrom<unknown>(MISSING, ...STRINGS, 5, null);
const numberish = fc.constantFrom<unknown>(MISSING, 0, 5, 10, 'a');
const listish = fc.constantFrom<unknown>(MISSING, [], ['phi:read'], ['a', 'US'], 'phi:read a', 'a');
const boolish = fc.constantFrom<unknown>(MISSING, true, false, 'a');

const request: fc.Arbitrary<Request> = fc
  .record({
    country: stringish, rCountry: stringish, type: stringish, path: stringish, action: stringish, city: stringish,
    address: fc.boolean(), acr: stringish, level: numberish, score: numberish, roles: listish, scope: listish, flag: boolish,
    hasToken: fc.boolean(), hasContext: fc.boolean(),
  })
  .map((v) => {
    const props = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, x]) => x !== MISSING));
    const address = v.address ? { address: props({ city: v.city }) } : {};
    return {
      subject: { type: 'user', id: 'u', properties: props({ country: v.country, level: v.level, roles: v.roles, ...address }) },
      action: v.action === MISSING ? {} : { name: v.action },
      resource: props({ type: v.type, id: 'r', properties: props({ country: v.rCountry, path: v.path }) }),
      ...(v.hasToken ? { token: props({ acr: v.acr, scope: v.scope }) } : {}),
      ...(v.hasContext ? { context: props({ score: v.score, flag: v.flag }) } : {}),
    } as Request;
  });

type Outcome = 'applies' | 'not' | 'error';

function outcome(set: NonNullable<ReturnType<typeof buildPolicySet>['set']>, r: Request): Outcome {
  const d = decide(set, r);
  if (d.errors.length > 0) return 'error';
  return d.determining.includes('p') ? 'applies' : 'not';
}

function residualHolds(row: AffectsRow, r: Request): boolean {
  const parsed = parseExpression('residual', row.condition!);
  expect(parsed.diagnostics).toEqual([]);
  return compileExpr(parsed.expr!)(new Activation(r)) === true;
}

const satisfied = (facts: string[], r: Request) => facts.every((f) => compileExpr(parseExpression('f', f).expr!)(new Activation(r)) === true);

test('affects never contradicts the engine on requests consistent with the facts', { timeout: 60_000 }, () => {
  let checked = 0;
  const seen = new Set<string>();
  fc.assert(
    fc.property(scenario, fc.array(request, { minLength: 20, maxLength: 20 }), ({ text, facts }, requests) => {
      const { set } = buildPolicySet([{ file: 'p.gavel', text }]);
      const parsed = parseFacts(facts.map((t, i) => ({ file: `f${i}`, text: t })));
      if (set === null || 'diagnostics' in parsed) return;
      const [row] = affects(set, parsed.knowledge, { all: true });
      seen.add(row.status);
      for (const r of requests.filter((q) => satisfied(facts, q))) {
        checked++;
        const o = outcome(set, r);
        if (row.status === 'does-not-apply') expect(o === 'applies' || (o === 'error' && row.effect === 'forbid')).toBe(false);
        if (row.status === 'applies') expect(o).not.toBe('not');
        if (!row.may_error) expect(o).not.toBe('error');
        if (row.status === 'may-apply' && row.condition === null) expect(o).not.toBe('applies');
        if (row.status === 'may-apply' && row.condition !== null && o !== 'error') expect(residualHolds(row, r)).toBe(o === 'applies');
      }
    }),
    { numRuns: 4000 },
  );
  // Not vacuous: many completions were checked, and every status came up.
  expect(checked).toBeGreaterThan(2000);
  expect([...seen].sort()).toEqual(['applies', 'does-not-apply', 'may-apply']);
});
