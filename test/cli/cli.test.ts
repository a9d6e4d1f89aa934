import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { gavel, workspace } from './helpers.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

let ws: ReturnType<typeof workspace>;
beforeEach(() => {
  ws = workspace();
});
afterEach(() => ws.remove());

const cwd = () => ws.dir;
const write = (file: string, text: string) => writeFileSync(join(ws.dir, 'policies', file), text);

const financeRead = {
  subject: { type: 'user', id: 'alice', properties: { department: 'finance', roles: [], country: 'DE' } },
  action: { name: 'GET' },
  resource: { type: 'route', id: '/invoices/1', properties: { path: '/invoices/1' } },
  token: { scope: 'invoice:read', acr: 'mfa' },
  risk: { ip: { reputation: 90, lists: [], labels: [] } },
};

describe('gavel check', () => {
  test('the example policies are valid: exit 0 and a summary', async () => {
    const r = await gavel(['check'], { cwd: cwd() });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d+ policies in 6 files: ok \(revision [0-9a-f]{16}\)\n$/);
  });

  test('errors in several files are all reported, one a line, with exit 1', async () => {
    write('broken.gavel', 'permit (action == , resource);\npermit when { token.scpoe contains "x" };\n');
    write('more.gavel', 'forbid when { nope };\n');
    const r = await gavel(['check'], { cwd: cwd() });
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter((l) => l.includes(': error: '))).toEqual([
      'policies/broken.gavel:1:19: error: unexpected `,`, expected an expression',
      'policies/broken.gavel:2:15: error: unknown attribute `token.scpoe` (help: did you mean `scope`?)',
      'policies/more.gavel:1:15: error: unknown name `nope` (help: names are subject, action, resource, context, token, risk)',
    ]);
  });

  test('the closing count is of errors: a file cut off at 50 says so instead of counting its note as one', async () => {
    write('noise.gavel', '/+'.repeat(100));
    write('more.gavel', 'forbid when { nope };\n');
    const r = await gavel(['check'], { cwd: cwd() });
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter((l) => l.includes(': error: '))).toHaveLength(52);
    expect(r.stderr.trimEnd().split('\n').at(-1)).toBe('51 errors, and more not listed in 1 file');
  });

  test('--json reports diagnostics for machines', async () => {
    write('broken.gavel', 'permit when { token.scpoe contains "x" };\n');
    const r = await gavel(['check', '--json'], { cwd: cwd() });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, diagnostics: [{ file: 'policies/broken.gavel', line: 1, col: 15, code: 'unknown-attribute' }] });
    // A folder that cannot be read is still one object on stdout, with the usage error's exit code.
    const missing = await gavel(['check', '--json', '--policies', 'nowhere'], { cwd: cwd() });
    expect([missing.code, missing.stderr, JSON.parse(missing.stdout)]).toEqual([2, '', { ok: false, error: expect.stringMatching(/^policies folder `.*nowhere` does not exist$/), files: 0, policies: null, revision: null, diagnostics: [] }]);
  });

  test('symbolic links are followed (a ConfigMap mount), and a broken one is an error', async () => {
    mkdirSync(join(ws.dir, 'shared'));
    writeFileSync(join(ws.dir, 'shared', 'deny.gavel'), '@id("deny-all") forbid;\n');
    symlinkSync('../shared/deny.gavel', join(ws.dir, 'policies', 'deny.gavel'));
    const linked = await gavel(['eval', '--json', '--request', '-'], { cwd: cwd(), stdin: JSON.stringify(financeRead) });
    expect(JSON.parse(linked.stdout)).toMatchObject({ decision: false, determining: ['deny-all'] });
    symlinkSync('../shared/missing.gavel', join(ws.dir, 'policies', 'gone.gavel'));
    const broken = await gavel(['check'], { cwd: cwd() });
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/gone\.gavel` is a broken symbolic link/);
  });

  test('a policy file that is not UTF-8 is refused with its line, not read with replacement characters', async () => {
    writeFileSync(join(ws.dir, 'policies', 'latin1.gavel'), Buffer.concat([Buffer.from('// fine\n@id("cafe") permit (action == "caf'), Buffer.from([0xe9]), Buffer.from('");\n')]));
    for (const args of [['check'], ['fmt', '--check']]) {
      const r = await gavel(args, { cwd: cwd() });
      expect([args[0], r.code, r.stderr]).toEqual([args[0], 2, expect.stringMatching(/latin1\.gavel` is not UTF-8 text \(line 2\): save it as UTF-8/)]);
    }
  });

  test('an empty folder is valid but warned about: every request would be denied', async () => {
    mkdirSync(join(ws.dir, 'empty'));
    const r = await gavel(['check', '--policies', 'empty'], { cwd: cwd() });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('warning: no *.gavel files under empty');
    // Files that hold only comments are the same: nothing is permitted.
    writeFileSync(join(ws.dir, 'empty', 'todo.gavel'), '// to be written\n');
    const comments = await gavel(['check', '--policies', 'empty'], { cwd: cwd() });
    expect([comments.code, comments.stderr]).toEqual([0, expect.stringContaining('warning: the *.gavel files under empty hold no policy: every request will be denied')]);
  });

  test('a missing folder or an unknown flag is a usage error: exit 2', async () => {
    expect((await gavel(['check', '--policies', 'nowhere'], { cwd: cwd() })).code).toBe(2);
    const r = await gavel(['check', '--bogus'], { cwd: cwd() });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("gavel check: Unknown option '--bogus' (--help lists the options)");
  });

  test('a mistyped flag or command names the one meant', async () => {
    const flag = await gavel(['check', '--polices', 'policies'], { cwd: cwd() });
    expect([flag.code, flag.stderr.trim()]).toEqual([2, "gavel check: Unknown option '--polices' (did you mean --policies?)"]);
    const command = await gavel(['chekc'], { cwd: cwd() });
    expect([command.code, command.stderr.split('\n')[0]]).toEqual([2, 'gavel: unknown command `chekc` (did you mean `check`?)']);
  });

  test('every subcommand has --help', async () => {
    for (const command of ['check', 'fmt', 'eval', 'test']) {
      const r = await gavel([command, '--help'], { cwd: cwd() });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: gavel ${command}`);
    }
    expect((await gavel(['help', 'eval'], { cwd: cwd() })).stdout).toContain('Usage: gavel eval');
    expect((await gavel([], { cwd: cwd() })).code).toBe(2);
    expect((await gavel(['frobnicate'], { cwd: cwd() })).code).toBe(2);
  });
});

describe('gavel fmt', () => {
  test('the example policies are formatted', async () => {
    const r = await gavel(['fmt', '--check'], { cwd: cwd() });
    expect(r.stdout).toBe('');
    expect(r.code).toBe(0);
  });

  test('--check lists unformatted files and changes nothing; fmt rewrites them, keeping comments', async () => {
    const messy = '// keep me\npermit(action=="read",resource)when{subject.a==1&&subject.b==2}; // and me\n';
    write('messy.gavel', messy);
    chmodSync(join(ws.dir, 'policies', 'messy.gavel'), 0o640);
    const checked = await gavel(['fmt', '--check'], { cwd: cwd() });
    expect(checked.code).toBe(1);
    expect(checked.stdout).toBe('policies/messy.gavel: not formatted\n');
    expect(readFileSync(join(ws.dir, 'policies', 'messy.gavel'), 'utf8')).toBe(messy);

    expect((await gavel(['fmt'], { cwd: cwd() })).code).toBe(0);
    expect(readFileSync(join(ws.dir, 'policies', 'messy.gavel'), 'utf8')).toBe(
      '// keep me\npermit (action == "read", resource)\nwhen { subject.a == 1 && subject.b == 2 }; // and me\n',
    );
    expect(statSync(join(ws.dir, 'policies', 'messy.gavel')).mode & 0o777).toBe(0o640);
    expect((await gavel(['fmt', '--check'], { cwd: cwd() })).code).toBe(0);
  });

  test('a symlinked file (a ConfigMap mounts them so) is formatted where it points, and stays a link', async () => {
    mkdirSync(join(ws.dir, 'real'));
    writeFileSync(join(ws.dir, 'real', 'linked.gavel'), '@id("a") permit(action=="x");\n');
    symlinkSync(join('..', 'real', 'linked.gavel'), join(ws.dir, 'policies', 'linked.gavel'));
    expect((await gavel(['fmt'], { cwd: cwd() })).code).toBe(0);
    expect(lstatSync(join(ws.dir, 'policies', 'linked.gavel')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(ws.dir, 'real', 'linked.gavel'), 'utf8')).toBe('@id("a")\npermit (action == "x");\n');
  });

  test('a file with syntax errors is left untouched', async () => {
    write('bad.gavel', 'permit (action ==');
    const r = await gavel(['fmt'], { cwd: cwd() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('policies/bad.gavel:1:');
    expect(readFileSync(join(ws.dir, 'policies', 'bad.gavel'), 'utf8')).toBe('permit (action ==');
  });
});

describe('gavel eval', () => {
  test('evaluates a request from stdin and explains it', async () => {
    const r = await gavel(['eval', '--explain'], { cwd: cwd(), stdin: JSON.stringify(financeRead) });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ALLOW by invoices\.read\n/);
    expect(r.stdout).toMatch(/not-satisfied +forbid +risk\.block-bad-networks/);
  });

  test('--json prints the decision; a deny names the failed condition', async () => {
    writeFileSync(join(ws.dir, 'req.json'), JSON.stringify({ ...financeRead, token: { scope: 'invoice:read', acr: 'pwd' } }));
    const r = await gavel(['eval', '--request', 'req.json', '--json', '--explain'], { cwd: cwd() });
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d).toMatchObject({ decision: false, determining: [], reasons: [], errors: [] });
    const trace = d.explanation.trace.find((t: { id: string }) => t.id === 'invoices.read');
    expect(trace.failed).toEqual({ part: 'when', condition: '(token.acr == "mfa" || token.scope contains_any ["fido", "otp"])', location: 'invoices.gavel:13:6' });
  });

  test('bad input exits 2 with a message saying what and where', async () => {
    const bad = await gavel(['eval'], { cwd: cwd(), stdin: '{"subject": {"type": "user"},\n "action": }' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^gavel eval: stdin:2:12: invalid JSON/);
    // A byte order mark (Windows editors) is not an error; one before broken JSON takes no column.
    expect((await gavel(['eval'], { cwd: cwd(), stdin: `\ufeff${JSON.stringify({ subject: { type: 'user', id: 'a' }, action: { name: 'GET' }, resource: { type: 'route', id: '/x' } })}` })).code).toBeLessThan(2);
    expect((await gavel(['eval'], { cwd: cwd(), stdin: '\ufeff{"subject": {"type": "user"},\n "action": }' })).stderr).toMatch(/^gavel eval: stdin:2:12: invalid JSON/);
    const shape = await gavel(['eval'], { cwd: cwd(), stdin: JSON.stringify({ subject: { type: 'user' }, action: { name: 1 }, resource: { type: 'doc', id: '1' }, contxt: {} }) });
    expect(shape.code).toBe(2);
    expect(shape.stderr).toContain('subject.id: expected a string, and it is missing');
    expect(shape.stderr).toContain('action.name: expected a string');
    expect(shape.stderr).toContain('contxt: unknown member');
    expect((await gavel(['eval'], { cwd: cwd(), stdin: '' })).code).toBe(2);
  });

  test('--ndjson decides one request a line and reports bad lines in place', async () => {
    const lines = [JSON.stringify(financeRead), 'not json', JSON.stringify({ ...financeRead, action: { name: 'DELETE' } })].join('\n');
    const r = await gavel(['eval', '--ndjson'], { cwd: cwd(), stdin: lines + '\n' });
    expect(r.code).toBe(2);
    const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(out).toHaveLength(3);
    expect(out[0]).toMatchObject({ decision: true, determining: ['invoices.read'] });
    expect(out[1]).toMatchObject({ line: 2 });
    expect(out[2]).toMatchObject({ decision: false });
  });
});

describe('gavel apply', () => {
  test('makes the directory what the document says; again, nothing changes; --dry-run changes nothing', async () => {
    writeFileSync(join(ws.dir, 'dir.json'), JSON.stringify({ entities: [{ type: 'user', id: 'alice', attributes: { roles: ['staff'] } }, { type: 'user', id: 'bob' }] }));
    const first = await gavel(['apply', 'dir.json'], { cwd: cwd() });
    expect(first.code).toBe(0);
    expect(first.stdout).toBe('+ user::"alice"\n+ user::"bob"\napplied: 2 added, 0 changed, 0 removed\n');
    expect((await gavel(['apply', 'dir.json'], { cwd: cwd() })).stdout).toBe('applied: 0 added, 0 changed, 0 removed\n');
    writeFileSync(join(ws.dir, 'dir.json'), JSON.stringify({ entities: [{ type: 'user', id: 'alice', attributes: { roles: ['admin'] } }] }));
    const dry = await gavel(['apply', 'dir.json', '--dry-run', '--json'], { cwd: cwd() });
    expect(JSON.parse(dry.stdout)).toEqual({ dry_run: true, added: [], changed: ['user::"alice"'], removed: ['user::"bob"'] });
    expect((await gavel(['apply', 'dir.json'], { cwd: cwd() })).stdout).toContain('applied: 0 added, 1 changed, 1 removed');
  });

  test('a new database is said on stderr; a document refused leaves none behind, nor the folder made for it', async () => {
    writeFileSync(join(ws.dir, 'dir.json'), JSON.stringify({ entities: [{ type: 'user', id: 'alice' }] }));
    const made = await gavel(['apply', 'dir.json', '--db', 'new/here.db'], { cwd: cwd() });
    expect(made).toMatchObject({ code: 0, stderr: `created the database \`${join(ws.dir, 'new', 'here.db')}\` (there was none)\n` });
    expect((await gavel(['apply', 'dir.json', '--db', 'new/here.db'], { cwd: cwd() })).stderr).toBe('');
    writeFileSync(join(ws.dir, 'bad.json'), JSON.stringify({ entities: [{ type: 'user' }] }));
    const refused = await gavel(['apply', 'bad.json', '--db', 'typo/gavle.db'], { cwd: cwd() });
    expect(refused.code).toBe(2);
    expect(existsSync(join(ws.dir, 'typo'))).toBe(false);
  });

  test('keys rotate finds the database, secret and algorithms where the config file puts them', async () => {
    writeFileSync(join(ws.dir, 'dir.json'), JSON.stringify({ entities: [] }));
    expect((await gavel(['apply', 'dir.json', '--db', 'elsewhere/gavel.db'], { cwd: cwd() })).code).toBe(0);
    writeFileSync(join(ws.dir, 'gavel.json'), JSON.stringify({ db: 'elsewhere/gavel.db', issuer: { secret: 's'.repeat(40), signing_alg: 'EdDSA' } }));
    expect((await gavel(['keys', 'rotate'], { cwd: cwd() })).stderr).toContain('no database at');
    const rotated = await gavel(['keys', 'rotate', '--config', 'gavel.json'], { cwd: cwd() });
    expect(rotated).toMatchObject({ code: 0, stdout: expect.stringMatching(/^rotated: key \S+ \(EdDSA\), key \S+ \(RS256\) sign from now on\n$/) });
  });

  test('apply, log, explain, whatif and search work on the database the config file names (--config or GAVEL_CONFIG), as the server does', async () => {
    mkdirSync(join(ws.dir, 'etc'), { recursive: true });
    // `db` is relative to the config file, as gavel serve reads it.
    writeFileSync(join(ws.dir, 'etc', 'gavel.json'), JSON.stringify({ db: '../state/gavel.db' }));
    writeFileSync(join(ws.dir, 'dir.json'), JSON.stringify({ entities: [{ type: 'user', id: 'alice' }] }));
    const applied = await gavel(['apply', 'dir.json', '--config', 'etc/gavel.json'], { cwd: cwd() });
    expect(applied).toMatchObject({ code: 0, stderr: `created the database \`${join(ws.dir, 'state', 'gavel.db')}\` (there was none)\n` });
    expect(existsSync(join(ws.dir, 'data'))).toBe(false);
    // The variable finds it too, for every command that opens the database; --db still wins.
    const env = { GAVEL_CONFIG: 'etc/gavel.json' };
    expect((await gavel(['apply', 'dir.json'], { cwd: cwd(), env })).stdout).toBe('applied: 0 added, 0 changed, 0 removed\n');
    expect(await gavel(['log', '--json'], { cwd: cwd(), env })).toMatchObject({ code: 0, stdout: '[]\n' });
    expect((await gavel(['explain', 'no-such-decision'], { cwd: cwd(), env })).stderr).not.toContain('no database');
    expect((await gavel(['search', 'subject', '--json', '--policies', 'policies'], { cwd: cwd(), env, stdin: JSON.stringify({ subject: { type: 'user' }, action: { name: 'read' }, resource: { type: 'doc', id: 'd' } }) })).code).toBe(0);
    expect((await gavel(['log', '--db', 'other.db'], { cwd: cwd(), env })).stderr).toContain(`no database at \`${join(ws.dir, 'other.db')}\``);
    // A `db` that is not a string is refused, not read past; the server's other settings are not this command's to check.
    writeFileSync(join(ws.dir, 'etc', 'bad.json'), JSON.stringify({ db: 7 }));
    expect(await gavel(['log', '--config', 'etc/bad.json'], { cwd: cwd() })).toMatchObject({ code: 2, stderr: expect.stringContaining('etc/bad.json: db: expected a string') });
    expect(await gavel(['log', '--json'], { cwd: cwd(), env: { ...env, GAVEL_HTTP: 'nonsense', GAVEL_ADMIN_KEY: 'short' } })).toMatchObject({ code: 0, stdout: '[]\n' });
    // --config wins over GAVEL_CONFIG, keys rotate included.
    expect((await gavel(['keys', 'rotate', '--config', 'etc/gavel.json'], { cwd: cwd(), env: { GAVEL_CONFIG: 'etc/bad.json', GAVEL_ISSUER_SECRET: 's'.repeat(40) } })).stderr).not.toContain('bad.json');
    // A database in memory would keep nothing a command did.
    writeFileSync(join(ws.dir, 'etc', 'memory.json'), JSON.stringify({ db: ':memory:' }));
    expect(await gavel(['apply', 'dir.json', '--config', 'etc/memory.json'], { cwd: cwd() })).toMatchObject({ code: 2, stderr: expect.stringContaining('keeps the database in memory') });
  });

  test('a config file without db or policies: both relative to its folder, as the server takes them', async () => {
    mkdirSync(join(ws.dir, 'etc'), { recursive: true });
    writeFileSync(join(ws.dir, 'etc', 'gavel.json'), JSON.stringify({}));
    writeFileSync(join(ws.dir, 'dir.json'), JSON.stringify({ entities: [] }));
    const r = await gavel(['apply', 'dir.json', '--config', 'etc/gavel.json'], { cwd: cwd() });
    expect(r).toMatchObject({ code: 0, stderr: `created the database \`${join(ws.dir, 'etc', 'data', 'gavel.db')}\` (there was none)\n` });
  });

  test('search takes the policies folder the config file names, as the server does', async () => {
    mkdirSync(join(ws.dir, 'etc'), { recursive: true });
    mkdirSync(join(ws.dir, 'served'), { recursive: true });
    writeFileSync(join(ws.dir, 'served', 'only.gavel'), 'permit (action == "read", resource.type == "doc") when { subject.id == "alice" };\n');
    writeFileSync(join(ws.dir, 'etc', 'gavel.json'), JSON.stringify({ db: '../state/gavel.db', policies: '../served' }));
    writeFileSync(join(ws.dir, 'dir.json'), JSON.stringify({ entities: [{ type: 'user', id: 'alice' }, { type: 'user', id: 'bob' }] }));
    expect((await gavel(['apply', 'dir.json', '--config', 'etc/gavel.json'], { cwd: cwd() })).code).toBe(0);
    const r = await gavel(['search', 'subject', '--config', 'etc/gavel.json', '--json'], { cwd: cwd(), stdin: JSON.stringify({ subject: { type: 'user' }, action: { name: 'read' }, resource: { type: 'doc', id: 'd1' } }) });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ results: [{ type: 'user', id: 'alice' }] });
  });

  const SEARCH = JSON.stringify({ subject: { type: 'user' }, action: { name: 'read' }, resource: { type: 'doc', id: 'd1' } });
  test.each(['GAVEL_DB', 'GAVEL_CONFIG'])('%s set but empty is a usage error naming it, for every command with a database, as for gavel serve', async (name) => {
    writeFileSync(join(ws.dir, 'dir.json'), JSON.stringify({ entities: [] }));
    for (const args of [['apply', 'dir.json'], ['log'], ['explain', 'x'], ['whatif', '--candidate', '.'], ['keys', 'rotate'], ['search', 'subject']]) {
      const r = await gavel(args, { cwd: cwd(), env: { [name]: '' }, stdin: SEARCH });
      expect([args[0], r.code, r.stderr]).toEqual([args[0], 2, expect.stringContaining(`${name} is set but empty: unset it, or give it a value`)]);
    }
  });

  test('an empty GAVEL_POLICIES is refused by the commands that answer as the server would, as by gavel serve', async () => {
    const r = await gavel(['search', 'subject'], { cwd: cwd(), env: { GAVEL_POLICIES: ' ' }, stdin: SEARCH });
    expect([r.code, r.stderr]).toEqual([2, expect.stringContaining('GAVEL_POLICIES is set but empty: unset it, or give it a value')]);
  });

  test('commands that only read leave the database as it is: one at an older schema is refused, not migrated', async () => {
    writeFileSync(join(ws.dir, 'dir.json'), JSON.stringify({ entities: [] }));
    expect((await gavel(['apply', 'dir.json', '--db', 'old.db'], { cwd: cwd() })).code).toBe(0);
    // As an older Gavel would have left it: its newest migration not applied.
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(cwd(), 'old.db'));
    const newest = db.prepare('SELECT max(version) FROM schema_migrations').pluck().get() as number;
    db.prepare('DELETE FROM schema_migrations WHERE version = ?').run(newest);
    db.close();
    for (const args of [['log'], ['explain', 'x'], ['whatif', '--candidate', 'policies']]) {
      const r = await gavel([...args, '--db', 'old.db'], { cwd: cwd() });
      expect([args[0], r.code, r.stderr]).toEqual([args[0], 1, expect.stringContaining(`is at schema version ${newest - 1}, and this Gavel reads version ${newest}: start \`gavel serve\``)]);
    }
    const after = new Database(join(cwd(), 'old.db'), { readonly: true });
    expect(after.prepare('SELECT max(version) FROM schema_migrations').pluck().get()).toBe(newest - 1);
    after.close();
    // A file that is no database is said to be one, not an internal error.
    writeFileSync(join(cwd(), 'junk.db'), 'x'.repeat(4096));
    const junk = await gavel(['log', '--db', 'junk.db'], { cwd: cwd() });
    expect([junk.code, junk.stderr]).toEqual([1, expect.stringMatching(/^gavel log: database error: .*\(SQLITE_NOTADB\) — the file is damaged or not a database/)]);
  });

  test('--dry-run against a database not yet made creates none, and says what the first apply would add', async () => {
    writeFileSync(join(ws.dir, 'dir.json'), JSON.stringify({ entities: [{ type: 'user', id: 'alice' }] }));
    const dry = await gavel(['apply', 'dir.json', '--db', 'fresh/gavel.db', '--dry-run'], { cwd: cwd() });
    expect(dry).toMatchObject({ code: 0, stdout: '+ user::"alice"\ndry run: would apply 1 added, 0 changed, 0 removed\n' });
    expect(existsSync(join(cwd(), 'fresh'))).toBe(false);
  });

  test('a change whose name holds a line break is printed quoted: a document cannot print lines of its own', async () => {
    writeFileSync(join(ws.dir, 'dir.json'), JSON.stringify({ entities: [{ type: 'x\n- clients:reporting-app', id: '1' }] }));
    const dry = await gavel(['apply', 'dir.json', '--db', 'fresh/gavel.db', '--dry-run'], { cwd: cwd() });
    expect(dry.stdout.split('\n')[0]).toMatch(/^\+ "x\\n- clients:reporting-app::/);
    expect(dry.stdout.split('\n')).toHaveLength(3);
  });

  test('keys rotate without a database says so, and makes none', async () => {
    const r = await gavel(['keys', 'rotate', '--db', 'none/gavel.db'], { cwd: cwd() });
    expect(r).toMatchObject({ code: 2, stderr: expect.stringContaining('no database at') });
    expect(existsSync(join(cwd(), 'none'))).toBe(false);
  });

  test.skipIf(process.platform !== 'linux')('a database where no folder can be made (under /proc) is a usage error, not a process spinning forever', async () => {
    writeFileSync(join(ws.dir, 'dir.json'), JSON.stringify({ entities: [] }));
    const r = await gavel(['apply', 'dir.json', '--db', '/proc/gavel-no-such/gavel.db'], { cwd: cwd() });
    expect(r).toMatchObject({ code: 2, stderr: expect.stringContaining("gavel apply: cannot open the database `/proc/gavel-no-such/gavel.db`: ENOENT") });
  }, 20_000);

  test('a document that is missing, or a folder, is said in words', async () => {
    expect((await gavel(['apply', 'nothing.json'], { cwd: cwd() })).stderr).toBe('gavel apply: cannot read `nothing.json`: it does not exist\n');
    expect((await gavel(['apply', 'policies'], { cwd: cwd() })).stderr).toBe('gavel apply: cannot read `policies`: it is a folder\n');
  });

  test('an invalid document applies nothing and says where it is wrong', async () => {
    writeFileSync(join(ws.dir, 'bad.json'), JSON.stringify({ entities: [{ type: 'user', id: 'ok' }, { type: 'user' }] }));
    const r = await gavel(['apply', 'bad.json'], { cwd: cwd() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('entities[1].id: missing; it is required (a non-empty string)');
    expect((await gavel(['apply', 'bad.json', '--dry-run'], { cwd: cwd() })).code).toBe(2);
  });
});

describe('gavel log', () => {
  test('says on stderr when more decisions match than --limit shows: a line count is not a decision count', async () => {
    const db = join(ws.dir, 'log.db');
    const store = new SqliteStore(db);
    const record = (id: string, at: string) => ({ id, at, via: 'native' as const, decision: true, revision: 'r', determining: [], reasons: [], errors: [], subject: { type: 'user', id: 'a' }, action: 'read', resource: { type: 'doc', id: '1' }, latencyUs: 1 });
    store.appendDecisions([record('d1', '2026-11-24T01:00:00.000Z'), record('d2', '2026-11-24T01:00:01.000Z'), record('d3', '2026-11-24T01:00:02.000Z')]);
    store.close();
    const two = await gavel(['log', '--db', db, '--limit', '2'], { cwd: cwd() });
    expect(two.stdout.trim().split('\n')).toHaveLength(2);
    expect(two.stderr).toBe('gavel log: the newest 2 shown; more match (raise --limit, up to 100000, or narrow --since/--until)\n');
    const json = await gavel(['log', '--db', db, '--limit', '2', '--json'], { cwd: cwd() });
    expect((JSON.parse(json.stdout) as { id: string }[]).map((r) => r.id)).toEqual(['d3', 'd2']);
    expect(json.stderr).toContain('more match');
    // All of them shown: nothing said.
    expect((await gavel(['log', '--db', db, '--limit', '3'], { cwd: cwd() })).stderr).toBe('');
  });

  test('explain and whatif show a caller-chosen id with its newline escaped; whatif replays at least one decision', async () => {
    const db = join(ws.dir, 'explained.db');
    const store = new SqliteStore(db);
    const request = { subject: { type: 'user', id: 'line\nbreak' }, action: { name: 'GET' }, resource: { type: 'route', id: '/invoices/1', properties: { path: '/invoices/1' } } };
    store.appendDecisions([{ id: 'd1', at: '2026-11-24T01:00:00.000Z', via: 'authzen', decision: false, revision: 'gone', determining: [], reasons: [], errors: [], subject: request.subject, action: 'GET', resource: { type: 'route', id: '/invoices/1' }, latencyUs: 1, request }]);
    store.close();
    const explained = await gavel(['explain', 'd1', '--db', db], { cwd: cwd() });
    expect(explained.code, explained.stderr).toBe(0);
    expect(explained.stdout.split('\n')[0]).toContain('user:line\\u000Abreak GET');
    expect(explained.stdout).toContain('not-satisfied  when failed: subject.type == "client"');
    const zero = await gavel(['whatif', '--candidate', 'policies', '--db', db, '--limit', '0'], { cwd: cwd() });
    expect([zero.code, zero.stderr]).toEqual([2, expect.stringContaining('--limit is a whole number from 1')]);
  });

  test("a caller's id cannot print a line of its own or read as another id: hidden characters are shown as escapes", async () => {
    const db = join(ws.dir, 'forged.db');
    const store = new SqliteStore(db);
    const forged = 'mallory\n2026-11-24T01:00:00.000Z  authzen        ALLOW  user:admin read doc:1';
    store.appendDecisions([{ id: 'd1', at: '2026-11-24T01:00:00.000Z', via: 'authzen', decision: false, revision: 'r', determining: [], reasons: [], errors: [], subject: { type: 'user', id: forged }, action: 'read', resource: { type: 'doc', id: '\u202E1cod' }, latencyUs: 1 }]);
    store.close();
    const r = await gavel(['log', '--db', db], { cwd: cwd() });
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toContain('user:mallory\\u000A2026-11-24T01:00:00.000Z');
    expect(r.stdout).toContain('doc:\\u202E1cod');
  });
});

describe('gavel test', () => {
  test('the example policy tests pass and the last line counts them', async () => {
    const r = await gavel(['test'], { cwd: cwd() });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d+ passed, 0 failed\n$/m);
  });

  test('a failing case is printed with what differed, and exits 1', async () => {
    write(
      'extra.test.yaml',
      `tests:
  - name: deliberately wrong
    request: ${JSON.stringify(financeRead)}
    expect: deny
    determining: [nobody]
`,
    );
    const r = await gavel(['test'], { cwd: cwd() });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAIL  policies/extra.test.yaml:2 deliberately wrong');
    expect(r.stdout).toContain('expected deny, got allow (determining [invoices.read])');
    expect(r.stdout).toContain('determining: expected [nobody], got [invoices.read]');
    expect(r.stdout.trim().split('\n').pop()).toMatch(/^\d+ passed, 1 failed$/);
  });

  test('a malformed test file is reported with its location and counts as a failure', async () => {
    write('bad.test.yaml', 'tests:\n  - name: no expectation\n    request: {}\n');
    const r = await gavel(['test'], { cwd: cwd() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('policies/bad.test.yaml:2:5: error: `no expectation`: `expect` must be `allow` or `deny`');
  });
});
