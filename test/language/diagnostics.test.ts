import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { buildPolicySet, decide, formatDiagnostic } from '../../src/index.js';

const dir = join(import.meta.dirname, '..', 'golden', 'diagnostics');
const read = (name: string) => ({ file: name, text: readFileSync(join(dir, name), 'utf8') });

/** Diagnostics as `gavel check` prints them, one a line, reviewed in the diff. */
function render(name: string, withSchema: boolean): string {
  const { diagnostics } = buildPolicySet([read(name)], withSchema ? read('schema.json') : null);
  return diagnostics.map(formatDiagnostic).join('\n') + '\n';
}

describe('diagnostics (golden files)', () => {
  test('syntax errors: every broken policy of a file is reported with what was expected', async () => {
    await expect(render('syntax.gavel', false)).toMatchFileSnapshot(join(dir, 'syntax.txt'));
  });

  test('type errors against a schema: typos with suggestions, mismatches, arity, literals, duplicate ids', async () => {
    await expect(render('types.gavel', true)).toMatchFileSnapshot(join(dir, 'types.txt'));
  });

  test.each([
    { text: 'permit when { subject.department = "finance" };', says: 'a.gavel:1:34: error: unexpected character "=" (help: did you mean `==`? Comparison is `==`; there is no assignment)' },
    { text: "permit when { subject.a == 'x' };", says: 'a.gavel:1:28: error: unexpected character "\'" (help: strings are in double quotes: "…")' },
    { text: 'permit when { context.a & context.b };', says: 'a.gavel:1:25: error: unexpected character "&" (help: did you mean `&&`?)' },
    { text: '/* note */ permit;', says: 'a.gavel:1:1: error: unexpected character "/" (help: comments start with `//` and run to the end of the line; there are no `/* … */` comments)' },
    { text: 'permit when { 1 < context.hour < 5 };', says: 'a.gavel:1:32: error: unexpected `<`, expected `.`, `[`, `}`, `&&` or `||` (help: comparisons do not chain: write `a < b && b < c`)' },
    { text: 'permit when { context.headers.x-tenant == "acme" };', says: 'a.gavel:1:32: error: unexpected `-`, expected `.`, `[`, `}`, `&&`, `||`, `has`, `like` or an operator (help: an attribute name that is not an identifier (with `-`, or starting with a digit) is written in brackets: `context.headers["x-tenant"]`)' },
    { text: 'permit when { !subject.roles contains "dpo" };', says: 'a.gavel:1:15: error: `contains` needs a list on its left, not boolean (help: `!` applies to what follows it alone: write `!(… contains …)`)' },
    { text: 'permit when { "abc" contains "a" };', says: 'a.gavel:1:15: error: `contains` needs a list on its left, not string (help: for text in a string, use `includes(…)`)' },
  ])('a character from other languages\' habits says what was likely meant: $text', ({ text, says }) => {
    expect(buildPolicySet([{ file: 'a.gavel', text }]).diagnostics.map(formatDiagnostic)[0]).toBe(says);
  });

  test('megabytes that are not policies end in a bounded answer: 50 errors and "too many", or one policy with too many tokens', () => {
    const garbage = buildPolicySet([{ file: 'z.gavel', text: '/+'.repeat(3_000_000) }]).diagnostics.map(formatDiagnostic);
    expect(garbage).toHaveLength(51);
    expect(garbage).toContainEqual(expect.stringMatching(/^z\.gavel:1:\d+: error: too many errors; stopped after 50$/));
    expect(buildPolicySet([{ file: 'z.gavel', text: 'permit when { a && '.repeat(400_000) }]).diagnostics.map(formatDiagnostic)).toEqual(['z.gavel:1:1: error: policy has more than 20000 tokens']);
  });

  test('a byte order mark takes no column: compile-time and run-time locations on line 1 are as without it', () => {
    const text = '@id("a") permit when { context.x.y == 1 };\n@id("b") permit when { context.a == 1 2 };\n';
    const located = (t: string) => ({
      compiled: buildPolicySet([{ file: 'a.gavel', text: t }]).diagnostics.map(formatDiagnostic),
      decided: decide(buildPolicySet([{ file: 'a.gavel', text: t.split('\n')[0]! }]).set!, { subject: { type: 'u', id: '1' }, action: { name: 'r' }, resource: { type: 'd', id: '1' }, context: { x: 1 } }).errors.map((e) => e.location),
    });
    const plain = located(text);
    expect(plain.compiled).toEqual([expect.stringMatching(/^a\.gavel:2:39: error: unexpected number/)]);
    expect(plain.decided).toEqual(['a.gavel:1:24']);
    expect(located(`\ufeff${text}`)).toEqual(plain);
  });

  test('a condition nested deeper than the limit is a `limit` error, not a crash, however it is nested', () => {
    const deep = [
      `@id("and") permit when { ${Array(4000).fill('true').join(' && ')} };`,
      `@id("not") permit when { ${'!'.repeat(6000)}true };`,
      `@id("dot") permit when { context${'.a'.repeat(4000)} == 1 };`,
    ];
    for (const text of deep) {
      const { set, diagnostics } = buildPolicySet([{ file: 'deep.gavel', text }]);
      expect(set).toBeNull();
      expect(diagnostics.map(formatDiagnostic)).toEqual([expect.stringMatching(/^deep\.gavel:1:1: error: an expression is nested deeper than 500 levels/)]);
    }
    // A long chain within the limit is an ordinary policy.
    expect(buildPolicySet([{ file: 'long.gavel', text: `@id("long") permit when { ${Array(450).fill('context.x == 1').join(' || ')} };` }]).set).not.toBeNull();
  });

  test('schema errors point at their place: an element type inside list<…>, and an implied attribute declared as something other than a string', () => {
    const schema = { file: 'schema.json', text: '{\n  "subject": {\n    "a": "list<strin>",\n    "type": "number"\n  }\n}\n' };
    const { set, diagnostics } = buildPolicySet([{ file: 'a.gavel', text: '@id("a") permit (action);' }], schema);
    expect(set).toBeNull();
    expect(diagnostics.map(formatDiagnostic)).toEqual([
      expect.stringMatching(/^schema\.json:3:10: error: unknown type `strin` for `subject\.a`/),
      'schema.json:4:5: error: `subject.type` is always a string (every request has it); declare it as "string" or leave it out',
    ]);
  });

  test('after `.` and `@` a name is expected, whatever spellings a name may take (not "an operator")', () => {
    const errors = (text: string) => buildPolicySet([{ file: 'a.gavel', text }]).diagnostics.map(formatDiagnostic);
    expect(errors('permit when { context.== 1 };')).toEqual(['a.gavel:1:23: error: unexpected `==`, expected a name']);
    expect(errors('@("x") permit;')).toEqual(['a.gavel:1:2: error: unexpected `(`, expected a name']);
  });

  test('what was unexpected is shown short, and hidden characters as escapes', () => {
    const errors = (text: string) => buildPolicySet([{ file: 'a.gavel', text }]).diagnostics.map(formatDiagnostic);
    expect(errors(`permit reason "a" "${'x'.repeat(100_000)}";`)).toEqual([expect.stringMatching(/^a\.gavel:1:19: error: unexpected string "x{39}… \(100002 characters\), expected `;`$/)]);
    expect(errors('permit when { context.a\u200b == 1 };')[0]).toContain('unexpected character "\\u200B"');
  });

  test('habits from Cedar, Rego and word processors get a hint at what is meant here', () => {
    const help = (text: string) => buildPolicySet([{ file: 'a.gavel', text }]).diagnostics.map((d) => d.help);
    expect(help('permit when { subject.roles.contains("viewer") };')).toEqual(['`contains` is written between its operands, not called: `subject.roles contains "viewer"`']);
    expect(help('permit when { resource is document };')).toEqual(['there is no `is`: compare the type, `resource.type == "document"`']);
    expect(help('permit when { subject.n == 01 };')).toEqual(['a number has no leading zeros: `1`, not `01`']);
    expect(help('permit (action in [Action::"read"]);')).toEqual(['an action is a string (`action == "read"`); an entity is compared by its `.type` and `.id` (`subject.id == "alice"`)']);
    expect(help('permit when { subject.id == \u201cGET\u201d };')).toEqual(['strings are in straight double quotes: "…"', 'strings are in straight double quotes: "…"']);
    expect(help('permit when { subject.n \u2260 3 };')).toEqual(['did you mean `!=`?']);
    expect(help('permit when { principal.x == True || subject.y == nil };')).toEqual(['did you mean `subject`?', 'did you mean `true`?', 'did you mean `null`?']);
    expect(help('@id("a") permit (action == "a")\n@id("b") permit;')).toEqual(['the policy before ends without `;`: end each policy with `;` (line 1, after `)`)']);
    expect(help('permit when { subject.x @ };')).toEqual([undefined]);
    // A name that is a property of every object is not taken for one of these.
    expect(help('permit when { constructor };')).toEqual(['names are subject, action, resource, context, token, risk']);
  });

  test('an attribute the schema declares `entity` is a `{"type", "id"}` record: compared with `subject` it is refused (it never held), its `.id` is compared', () => {
    const schema = { file: 'schema.json', text: '{"resource": {"owner": "entity"}}' };
    const errors = (text: string) => buildPolicySet([{ file: 'a.gavel', text }], schema).diagnostics.map(formatDiagnostic);
    expect(errors('permit (action == "read") when { resource.owner == subject };')).toEqual([
      'a.gavel:1:34: error: `==` compares record with entity, which is always false (help: a `{"type", "id"}` in the request is a record, not an entity: compare ids, `resource.owner.id == subject.id`)',
    ]);
    expect(errors('permit (action == "read") when { resource.owner.id == subject.id && resource.owner.type == "user" };')).toEqual([]);
  });

  test('an attribute the schema marks optional (`"mfa?"`) must be tested with `has` before it is read: in the same `&&`, an `||` after its absence, or an earlier condition', () => {
    const schema = { file: 'schema.json', text: JSON.stringify({ subject: { 'manager?': { name: 'string', 'email?': 'string' }, 'nick?': 'string' }, context: { 'mfa?': 'boolean' } }) };
    const errors = (text: string) => buildPolicySet([{ file: 'a.gavel', text }], schema).diagnostics.map(formatDiagnostic);
    // The trap: a request without `mfa` makes this forbid deny everything.
    expect(errors('forbid when { context.mfa == false };')).toEqual([
      'a.gavel:1:15: error: `context.mfa` is optional in the schema: on a request without it this is an error (a forbid denies, a permit does not apply) (help: test it first: `context has mfa && …`)',
    ]);
    for (const guarded of [
      'forbid when { context has mfa && context.mfa == false };',
      'forbid when { !(context has mfa) || context.mfa == false };',
      'forbid unless { context has mfa && context.mfa };',
      'permit when { subject has manager } when { subject.manager.name == "bob" };',
      'permit unless { !(subject has manager) } when { subject.manager.name == "bob" };',
      'permit when { subject has manager && subject.manager has email && subject.manager.email == "x" };',
    ]) expect(errors(guarded), guarded).toEqual([]);
    // A target never errors (a missing attribute does not match), and what it matched is there for the conditions.
    expect(errors('permit (action, subject.nick == "bob");')).toEqual([]);
    expect(errors('permit (action, subject.nick like "b*") when { subject.nick != "bo" };')).toEqual([]);
    // A test that may not have held guards nothing.
    expect(errors('permit when { (context has mfa || subject has manager) && context.mfa };')).toHaveLength(1);
    expect(errors('permit when { subject has manager && subject.manager.email == "x" };')[0]).toContain('`subject.manager.email` is optional');
  });

  test('a misspelt `risk.velocity` counter is an error, with or without a schema: it would be missing on every request, and a forbid reading it denies them all', () => {
    const errors = (text: string, schema?: string) => buildPolicySet([{ file: 'a.gavel', text }], schema === undefined ? null : { file: 'schema.json', text: schema }).diagnostics.map(formatDiagnostic);
    const typo = 'forbid when { risk.velocity.adress_denials_1m > 10 } reason "slow down";';
    const want = 'a.gavel:1:15: error: `risk.velocity` has no counter `adress_denials_1m`: it would be missing on every request (help: did you mean `address_denials_1m`?)';
    expect(errors(typo)).toEqual([want]);
    expect(errors(typo, '{"risk": {"velocity": {"*": "number"}}}')).toEqual([want]);
    expect(errors('forbid when { risk.velocity has client_denial_1h };')).toEqual(['a.gavel:1:15: error: `risk.velocity` has no counter `client_denial_1h`: it would be missing on every request (help: did you mean `client_denials_1h`?)']);
    expect(errors('forbid when { risk.velocity.subject_token_requests_1h > 100 && risk.velocity has address_auth_failures_1m };')).toEqual([]);
  });

  test('a bidirectional control written raw in a string or a comment is refused where it stands ("Trojan Source"); escaped it is a character like any other', () => {
    const errors = (text: string) => buildPolicySet([{ file: 'a.gavel', text }]).diagnostics.map(formatDiagnostic);
    expect(errors('permit when { subject.role == "user\u202e \u2066// admin\u2069" };')).toEqual([
      'a.gavel:1:36: error: a bidirectional control character (U+202E) changes how the text around it is displayed (help: write it as an escape: \\u{202e})',
    ]);
    expect(errors('permit when { subject.role == "user" }; // \u2067 note\npermit when { subject.role == "x" };')).toEqual([
      'a.gavel:1:44: error: a bidirectional control character (U+2067) changes how the text around it is displayed (help: take it out of the comment: \\u{2067})',
    ]);
    expect(errors('permit when { subject.role == "user\\u{202e}" };')).toEqual([]);
  });

  test('a schema saved with a byte order mark is read as one without; its errors keep their places', () => {
    const policy = [{ file: 'a.gavel', text: '@id("a") permit when { subject.level > 1 };' }];
    expect(buildPolicySet(policy, { file: 'schema.json', text: '\uFEFF{"subject": {"level": "number"}}' }).diagnostics).toEqual([]);
    const broken = buildPolicySet(policy, { file: 'schema.json', text: '\uFEFF{\n  "subject": {"level": "number",}\n}' });
    expect(broken.diagnostics.map(formatDiagnostic)).toEqual([expect.stringMatching(/^schema\.json:2:\d+: error: schema is not valid JSON/)]);
  });

  test('a lone \\r ends a line in locations too, as it does for comments', () => {
    const { diagnostics } = buildPolicySet([{ file: 'a.gavel', text: 'permit when { true };\r// c\r@id("b") permit when { zz };' }]);
    expect(diagnostics.map(formatDiagnostic)).toEqual([expect.stringMatching(/^a\.gavel:3:24: error: unknown name `zz`/)]);
  });

  test('after a lone \\r, a runtime error and an explanation name the line the checker would', () => {
    const { set } = buildPolicySet([{ file: 'a.gavel', text: 'permit\rwhen {\r  context.x == 1\r};\r' }]);
    const d = decide(set!, { subject: { type: 'u', id: 'a' }, action: { name: 'GET' }, resource: { type: 'd', id: '1' }, context: {} }, { explain: true });
    expect(d.errors).toEqual([{ policy: 'a.gavel#1', message: '`context.x` is missing', location: 'a.gavel:3:3' }]);
    expect(d.explanation?.trace[0]).toMatchObject({ location: 'a.gavel:1:1', outcome: 'error' });
  });

  test('`has` on an unknown attribute reports it once', () => {
    const schema = { file: 'schema.json', text: JSON.stringify({ token: { sub: 'string' } }) };
    const { diagnostics } = buildPolicySet([{ file: 'a.gavel', text: '@id("a") permit when { token.zzz has x };' }], schema);
    expect(diagnostics.map(formatDiagnostic)).toEqual([expect.stringMatching(/^a\.gavel:1:24: error: unknown attribute `token\.zzz`/)]);
  });

  test('an over-long policy id is told its length; a root declared as a type name is told it may be "record"', () => {
    const long = buildPolicySet([{ file: 'a.gavel', text: `@id("${'a'.repeat(201)}") permit (action);` }]);
    expect(long.diagnostics.map(formatDiagnostic)).toEqual([expect.stringContaining('a policy id is 1 to 200 characters; this one has 201')]);
    const root = buildPolicySet([{ file: 'a.gavel', text: '@id("a") permit (action);' }], { file: 'schema.json', text: '{"token": "any"}' });
    expect(root.diagnostics.map(formatDiagnostic)).toEqual([expect.stringContaining('root `token` must be declared as an object of attributes, or as "record"')]);
  });

  test('a policy set with any error is not built at all', () => {
    const { set } = buildPolicySet([read('types.gavel')], read('schema.json'));
    expect(set).toBeNull();
  });
});

describe('a file with many problems', () => {
  test('check errors are capped per file as parse errors are: the first 50 by place, then a note (200,000 of them overflowed the stack)', () => {
    const { set, diagnostics } = buildPolicySet([{ file: 'a.gavel', text: 'permit when { 1 };\n'.repeat(200_000) }, { file: 'b.gavel', text: 'permit when { 2 };\n' }]);
    expect(set).toBeNull();
    const inA = diagnostics.filter((d) => d.file === 'a.gavel');
    expect(inA).toHaveLength(51);
    expect(inA.slice(0, 50).map((d) => d.span.start.line)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(inA[50]).toMatchObject({ code: 'truncated', message: 'too many errors; stopped after 50' });
    // Another file's problems are still reported.
    expect(diagnostics.filter((d) => d.file === 'b.gavel').map((d) => d.message)).toEqual(['`when` needs a boolean condition, not number']);
  });

  test('duplicate ids count toward the same cap', () => {
    const { diagnostics } = buildPolicySet([{ file: 'a.gavel', text: '@id("x") permit;\n'.repeat(1000) }]);
    expect(diagnostics).toHaveLength(51);
    expect(diagnostics.filter((d) => d.code === 'duplicate-id')).toHaveLength(50);
    expect(diagnostics.at(-1)).toMatchObject({ code: 'truncated' });
  });
});

describe('the checker on lists of ranges', () => {
  test.each([
    '[cidr("10.0.0.0/8")] contains ip("10.1.2.3")',
    '[cidr("10.0.0.0/8")] contains "10.1.2.3"',
    '[cidr("10.0.0.0/8"), cidr("192.168.0.0/16")] contains_any [ip("10.1.2.3"), ip("172.16.0.1")]',
    '[cidr("10.0.0.0/8")] contains_all [ip("10.1.2.3"), "10.9.9.9"]',
    'ip("10.1.2.3") in [cidr("10.0.0.0/8")]',
  ])('`%s` holds addresses, as `in` does: accepted, and true', (condition) => {
    const { set, diagnostics } = buildPolicySet([{ file: 'a.gavel', text: `permit when { ${condition} };` }]);
    expect(diagnostics.map(formatDiagnostic)).toEqual([]);
    expect(decide(set!, {}).decision).toBe(true);
  });

  test('a value that is not an address against ranges is still refused', () => {
    const { diagnostics } = buildPolicySet([{ file: 'a.gavel', text: 'permit when { [cidr("10.0.0.0/8")] contains 5 };' }]);
    expect(diagnostics.map((d) => d.message)).toEqual([expect.stringMatching(/^`contains` compares ip with number/)]);
  });
});

describe('ip() on an attribute the schema types ip', () => {
  const schema = { file: 'schema.json', text: JSON.stringify({ context: { ip: 'ip' } }) };
  test('`ip(context.ip)` is accepted and decides on the address, as over a string', () => {
    const { set, diagnostics } = buildPolicySet([{ file: 'a.gavel', text: 'permit when { ip(context.ip) in cidr("10.0.0.0/8") };' }], schema);
    expect(diagnostics.map(formatDiagnostic)).toEqual([]);
    expect(decide(set!, { context: { ip: '10.1.2.3' } }).decision).toBe(true);
    expect(decide(set!, { context: { ip: '192.0.2.1' } }).decision).toBe(false);
  });

  test('ip() of a number is still refused', () => {
    const { diagnostics } = buildPolicySet([{ file: 'a.gavel', text: 'permit when { ip(5) in cidr("10.0.0.0/8") };' }]);
    expect(diagnostics.map((d) => d.message)).toEqual(['argument 1 of `ip` must be an ip or a string holding one, not number']);
  });
});

describe('what gavel check counts', () => {
  test('an error about a limit is an error, not the note that more went unlisted', () => {
    const deep = `permit when { ${'('.repeat(70)}true${')'.repeat(70)} };\n`;
    const { diagnostics } = buildPolicySet([{ file: 'a.gavel', text: deep }]);
    expect(diagnostics.map((d) => [d.code, d.message])).toEqual([['limit', 'nesting is deeper than 64 levels']]);
  });

  test('a limit error among many others counts toward the cap, and the note comes last', () => {
    const text = `permit when { "x" like "${'a'.repeat(300)}" };\n${'permit when { nosuch == 1 };\n'.repeat(60)}`;
    const { diagnostics } = buildPolicySet([{ file: 'a.gavel', text }]);
    expect(diagnostics).toHaveLength(51);
    expect(diagnostics[0]).toMatchObject({ code: 'limit' });
    expect(diagnostics[50]).toMatchObject({ code: 'truncated', message: 'too many errors; stopped after 50' });
  });
});

describe('annotations that reports could not show as written', () => {
  test.each([
    ['@tags("a,b")', 'tag `a,b` may use only letters, digits and `_ . : / -` (at most 100): tables and CSV exports separate tags with `,`, `;` and spaces'],
    ['@tags("data protection")', 'tag `data protection` may use only letters, digits and `_ . : / -` (at most 100): tables and CSV exports separate tags with `,`, `;` and spaces'],
    ['@tags("")', 'a tag is not empty'],
    ['@owner(" ")', '`@owner` names a team: it is not empty'],
  ])('%s is refused', (annotation, message) => {
    const { diagnostics } = buildPolicySet([{ file: 'a.gavel', text: `${annotation} permit;\n` }]);
    expect(diagnostics.map((d) => [d.code, d.message])).toEqual([['invalid-annotation', message]]);
  });

  test('tags in any script, with the separators ids take, are fine', () => {
    expect(buildPolicySet([{ file: 'a.gavel', text: '@tags("sox", "four-eyes", "gdpr:art-17", "datenschutz", "個人情報") permit;\n' }]).diagnostics).toEqual([]);
  });
});
