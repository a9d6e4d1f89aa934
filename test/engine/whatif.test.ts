import { mkdirSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { INTERFACE_WIDTH } from '../../src/server/interfaces.js';
import { DecisionLog } from '../../src/engine/decision-log.js';
import { LivePolicySet } from '../../src/engine/live-set.js';
import { buildFromFiles, revisionFiles, RevisionSets, readsByRevision } from '../../src/engine/revisions.js';
import { whatIf } from '../../src/engine/whatif.js';
import { loadPolicyFolder } from '../../src/engine/folder.js';
import { buildApp } from '../../src/http/app.js';
import { Decider } from '../../src/server/decider.js';
import { Metrics } from '../../src/server/metrics.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { Signals } from '../../src/signals/signals.js';
import { Velocity } from '../../src/signals/velocity.js';
import { gavel, ROOT } from '../cli/helpers.js';

const KEY = 'k'.repeat(32);
let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gavel-whatif-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const read = (roles: string[], country: string, id: string) => ({
  subject: { type: 'user', id, properties: { roles, country } },
  action: { name: 'read' },
  resource: { type: 'patient_record', id: `p-${id}` },
  context: { emergency: true },
});

/** The example policies served with a real Decider and decision log into a SQLite file; the candidate tightens break-glass and lets Canada in. */
async function logged(keepRequests = true) {
  cpSync(join(ROOT, 'policies'), join(dir, 'policies'), { recursive: true });
  cpSync(join(ROOT, 'policies'), join(dir, 'proposed'), { recursive: true });
  const file = join(dir, 'proposed', 'patients.gavel');
  writeFileSync(
    file,
    readFileSync(file, 'utf8')
      .replace('subject.roles contains "on-call" &&', 'subject.roles contains_all ["on-call", "physician"] &&')
      .replace('subject.country != "US"', '!(subject.country in ["US", "CA"])'),
  );
  const folder = await loadPolicyFolder(join(dir, 'policies'));
  const set = buildFromFiles(revisionFiles(folder)).set!;
  const db = join(dir, 'gavel.db');
  const store = new SqliteStore(db);
  store.savePolicyRevision({ id: set.revision, savedAt: new Date().toISOString(), files: revisionFiles(folder) });
  const live = new LivePolicySet(set);
  // A clean network, as an IP list provider would answer: the example risk policies read risk.ip and risk.velocity.
  const signals = new Signals([{ name: 'ip', read: () => ({ reputation: 90, lists: [], labels: [] }) }], new Velocity(1_000));
  const log = new DecisionLog(store, { flushMs: 60_000, keepRequests });
  const app = buildApp({ policies: live, store, log, decider: new Decider(new Metrics(live), log, null, signals), admin: { key: KEY, store, reload: null } });
  const requests = [
    ['nurse-kim', ['on-call'], 'US'],
    ['dr-jones', ['on-call', 'physician'], 'US'],
    ['dr-tremblay', ['on-call', 'physician'], 'CA'],
    ['dr-weber', ['on-call', 'physician'], 'DE'],
    ['nurse-lee', ['on-call'], 'US'],
  ] as const;
  for (const [id, roles, country] of requests) {
    const r = await app.inject({ method: 'POST', url: '/v1/decide', payload: read([...roles], country, id), headers: { 'x-request-id': `req-${id}` } });
    expect(r.statusCode).toBe(200);
  }
  log.flush();
  return { app, store, db, live };
}

describe('what-if replay', () => {
  test('counts by direction and by determining policy, with examples (library and POST /v1/whatif)', async () => {
    const { app, store } = await logged();
    const candidate = await loadPolicyFolder(join(dir, 'proposed'));
    const report = whatIf(store, buildFromFiles(revisionFiles(candidate)).set!);
    expect(report).toMatchObject({ replayed: 5, changed: 3, allow_to_deny: 2, deny_to_allow: 1, with_errors: 0 });
    expect(report.examples.allow_to_deny.map((x) => x.request_id)).toEqual(['req-nurse-lee', 'req-nurse-kim']);
    expect(report.examples.deny_to_allow[0]).toMatchObject({ request_id: 'req-dr-tremblay', before: 'deny', after: 'allow', determiningBefore: ['patients.outside-us'], determiningAfter: ['patients.break-glass'] });
    expect(report.policies).toContainEqual({ policy: 'patients.break-glass', side: 'logged', allow_to_deny: 2, deny_to_allow: 0, examples: report.examples.allow_to_deny.map((x) => x.id) });
    expect(whatIf(store, buildFromFiles(revisionFiles(candidate)).set!, { limit: 2 }).replayed).toBe(2);

    const body = { candidate: { files: revisionFiles(candidate) } };
    const r = await app.inject({ method: 'POST', url: '/v1/whatif', payload: body, headers: { authorization: `Bearer ${KEY}` } });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ replayed: 5, changed: 3 });
    const bad = await app.inject({ method: 'POST', url: '/v1/whatif', payload: { candidate: { files: { 'a.gavel': 'permit (action == ) ;' } } }, headers: { authorization: `Bearer ${KEY}` } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'invalid_policies', diagnostics: [expect.stringMatching(/^a\.gavel:1:\d+: error/)] });
    const escape = await app.inject({ method: 'POST', url: '/v1/whatif', payload: { candidate: { files: { '../a.gavel': '' } } }, headers: { authorization: `Bearer ${KEY}` } });
    expect(escape.statusCode).toBe(400);
    await app.close();
  });

  test('gavel whatif: the report; an invalid candidate folder is exit 2 with located diagnostics', async () => {
    const { app, db } = await logged();
    await app.close();
    const ok = await gavel(['whatif', '--candidate', 'proposed', '--db', db, '--json'], { cwd: dir });
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ replayed: 5, allow_to_deny: 2, deny_to_allow: 1 });
    // Examples are columns: the interface padded to the longest interface name, so every subject starts alike.
    const text = await gavel(['whatif', '--candidate', 'proposed', '--db', db], { cwd: dir });
    const examples = text.stdout.split('\n').filter((l) => /^ {2}\d{4}-\d\d-\d\dT/.test(l));
    expect(examples).toHaveLength(3);
    for (const l of examples) expect(l.slice(2 + 24 + 2)).toMatch(new RegExp(`^native {${INTERFACE_WIDTH - 'native'.length}} user:`));
    writeFileSync(join(dir, 'proposed', 'broken.gavel'), 'permit (action ==);\n');
    const bad = await gavel(['whatif', '--candidate', 'proposed', '--db', db], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^proposed\/broken\.gavel:1:\d+: error/m);
    // A folder without policies (a wrong path that happens to exist) is refused, not reported as "deny everything".
    mkdirSync(join(dir, 'empty'));
    const empty = await gavel(['whatif', '--candidate', 'empty', '--db', db], { cwd: dir });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('no *.gavel files under `empty`');
  });
});

describe('what-if and what the log did not keep', () => {
  /** Decisions made by `revisionText` through the real Decider and log (which keeps only the claims policies read), replayed by `candidateText`. */
  async function replayed(revisionText: string, candidateText: string, tokens: Record<string, unknown>[], signals: Signals | null = null) {
    const files = { 'a.gavel': revisionText };
    const set = buildFromFiles(files).set!;
    const store = new SqliteStore(':memory:');
    store.savePolicyRevision({ id: set.revision, savedAt: new Date().toISOString(), files });
    const live = new LivePolicySet(set);
    const log = new DecisionLog(store, { flushMs: 60_000 });
    const decider = new Decider(new Metrics(live), log, null, signals);
    tokens.forEach((token, i) => decider.decide('native', `r${i}`, set, { subject: { type: 'client', id: 'svc' }, action: { name: 'read' }, resource: { type: 'doc', id: '1' }, token }, {}, { address: '192.0.2.7' }));
    log.flush();
    const candidate = buildFromFiles({ 'a.gavel': candidateText }).set!;
    const report = whatIf(store, candidate, { readsOf: readsByRevision(store, [set]) });
    store.close();
    return report;
  }

  test('a change that stands only on a claim no policy read when it was decided is not known, and not counted as a change', async () => {
    // Every token had `aud`; the log kept `scope` only, the one claim read then.
    const report = await replayed('@id("read") permit (action == "read") when { token.scope contains "doc:read" };', '@id("read") permit (action == "read") when { token.scope contains "doc:read" && token.aud == "https://api.example.com" };', [
      { sub: 'svc', scope: 'doc:read', aud: 'https://api.example.com' },
      { sub: 'svc', scope: 'doc:read', aud: 'https://api.example.com' },
    ]);
    expect(report).toMatchObject({ replayed: 2, changed: 0, allow_to_deny: 0, not_known: 2, not_known_reads: ['token.aud'] });
  });

  test('a risk signal nobody computed when it was decided: the candidate\'s forbid fails closed, and the change is not known', async () => {
    const report = await replayed('@id("read") permit (action == "read");', '@id("read") permit (action == "read");\n@id("probing") forbid (action, resource) when { risk.velocity.address_denials_1m > 100 };', [{ sub: 'svc' }]);
    expect(report).toMatchObject({ replayed: 1, changed: 0, not_known: 1, not_known_reads: ['risk.velocity', 'risk.velocity.address_denials_1m'] });
  });

  test('a risk member the deciding revision computed: a candidate asking `risk has ip`, or reading it whole, is replayed on it', async () => {
    const lowReputation = () => new Signals([{ name: 'ip', read: () => ({ reputation: 5, lists: ['firehol'], labels: [] }) }], new Velocity(1_000));
    const deciding = '@id("read") permit (action == "read");\n@id("bad-ip") forbid (action, resource) when { risk.ip.reputation < 0 };';
    const guarded = await replayed(deciding, '@id("read") permit (action == "read");\n@id("bad-ip") forbid (action, resource) when { risk has ip && risk.ip.reputation < 20 };', [{ sub: 'svc' }], lowReputation());
    expect(guarded).toMatchObject({ replayed: 1, changed: 1, allow_to_deny: 1, not_known: 0, not_known_reads: [] });
    // Read whole: known when the deciding revision read it whole too (a provider may compute only the fields read).
    const candidate = '@id("read") permit (action == "read");\n@id("known") forbid (action, resource) when { size(risk.ip) > 0 };';
    expect(await replayed('@id("read") permit (action == "read");\n@id("bad-ip") forbid (action, resource) when { size(risk.ip) < 0 };', candidate, [{ sub: 'svc' }], lowReputation())).toMatchObject({ changed: 1, not_known: 0 });
    expect(await replayed(deciding, candidate, [{ sub: 'svc' }], lowReputation())).toMatchObject({ changed: 0, not_known: 1, not_known_reads: ['risk.ip.*'] });
    // Velocity computes only the counters read: a record of a revision that read one counter does not hold them all.
    const counters = await replayed('@id("read") permit (action == "read") when { risk.velocity.address_denials_1m < 100 };', '@id("read") permit (action == "read") when { size(risk.velocity) > 100 };', [{ sub: 'svc' }], lowReputation());
    expect(counters).toMatchObject({ changed: 0, not_known: 1, not_known_reads: ['risk.velocity.*'] });
  });

  test('an unchanged verdict that stands on what the log did not keep is not known either: a guard on a signal nobody computed is false', async () => {
    const signals = new Signals([{ name: 'ip', read: () => ({ reputation: 5, lists: [], labels: [] }) }], new Velocity(1_000));
    // The deciding revision read no signal, so the record holds no risk.ip; with it, the candidate's forbid would deny.
    const report = await replayed('@id("read") permit (action == "read");', '@id("read") permit (action == "read");\n@id("bad-ip") forbid (action, resource) when { risk has ip && risk.ip.reputation < 20 };', [{ sub: 'svc' }], signals);
    expect(report).toMatchObject({ replayed: 1, changed: 0, not_known: 1, not_known_reads: ['risk.ip', 'risk.ip.reputation'] });
    // A candidate reading only what was kept is vouched for, unchanged.
    const same = await replayed('@id("read") permit (action == "read") when { risk.ip.reputation > 0 };', '@id("read") permit (action == "read") when { risk has ip && risk.ip.reputation > 1 };', [{ sub: 'svc' }], signals);
    expect(same).toMatchObject({ replayed: 1, changed: 0, not_known: 0 });
  });

  test('a candidate reading the token or risk whole reads what the log did not keep: not known, changed or not', async () => {
    const token = await replayed('@id("read") permit (action == "read");', '@id("read") permit (action == "read");\n@id("big") forbid (action, resource) when { size(token) > 3 };', [{ sub: 'svc', a: 1, b: 2, c: 3 }]);
    expect(token).toMatchObject({ changed: 0, not_known: 1, not_known_reads: ['token.*'] });
    const signals = new Signals([{ name: 'ip', read: () => ({ reputation: 50, lists: [], labels: [] }) }], new Velocity(1_000));
    const risk = await replayed('@id("read") permit (action == "read") when { risk.ip.reputation > 10 };', '@id("read") permit (action == "read") when { risk.ip.reputation > 10 };\n@id("many") forbid (action, resource) when { size(risk) > 1 };', [{ sub: 'svc' }], signals);
    expect(risk).toMatchObject({ changed: 0, not_known: 1, not_known_reads: ['risk.*'] });
  });

  test('a verdict a policy decided on kept data alone is certain, whatever a policy reading unkept data would do', async () => {
    // Denied by a forbid on the resource id; the candidate's new permit reads a claim the log did not keep.
    const denied = await replayed('@id("read") permit (action == "read");\n@id("one") forbid (action, resource) when { resource.id == "1" };', '@id("read") permit (action == "read");\n@id("one") forbid (action, resource) when { resource.id == "1" };\n@id("dept") permit (action, resource) when { token.dept == "x" };', [{ sub: 'svc', dept: 'x' }]);
    expect(denied).toMatchObject({ replayed: 1, changed: 0, not_known: 0 });
    // Allowed on kept data, but a new forbid reads an unkept claim: missing, it fails closed; kept, it might not apply.
    const allowed = await replayed('@id("read") permit (action == "read");', '@id("read") permit (action == "read");\n@id("dept") forbid (action, resource) when { token.dept == "x" };', [{ sub: 'svc', dept: 'x' }]);
    expect(allowed).toMatchObject({ replayed: 1, changed: 0, not_known: 1, not_known_reads: ['token.dept'] });
  });

  test('a claim the deciding revision read, absent from the token, is a real absence: the change is counted', async () => {
    const report = await replayed('@id("read") permit (action == "read") when { token.scope contains "doc:read" && (!(token has aud) || token.aud != "x") };', '@id("read") permit (action == "read") when { token.scope contains "doc:read" && token has aud };', [{ sub: 'svc', scope: 'doc:read' }]);
    expect(report).toMatchObject({ replayed: 1, changed: 1, allow_to_deny: 1, not_known: 0, not_known_reads: [] });
  });
});

describe('a log that keeps no requests (decision_log.keep_requests: false)', () => {
  test('records say who asked for what and the outcome, without the request; what-if counts them as not replayable; explain says why it cannot', async () => {
    const { app, store, db } = await logged(false);
    const listed = await app.inject({ method: 'GET', url: '/v1/decisions?limit=10', headers: { authorization: `Bearer ${KEY}` } });
    const records = listed.json().decisions as Record<string, unknown>[];
    expect(records).toHaveLength(5);
    expect(records[0]).toMatchObject({ request_id: 'req-nurse-lee', subject: { type: 'user', id: 'nurse-lee' }, action: 'read', decision: true, determining: ['patients.break-glass'] });
    for (const r of records) expect(r).not.toHaveProperty('request');

    const candidate = await loadPolicyFolder(join(dir, 'proposed'));
    expect(whatIf(store, buildFromFiles(revisionFiles(candidate)).set!)).toMatchObject({ replayed: 0, changed: 0, without_request: 5 });
    expect(whatIf(store, buildFromFiles(revisionFiles(candidate)).set!, { limit: 2 })).toMatchObject({ replayed: 0, without_request: 2 });

    const explain = await app.inject({ method: 'GET', url: '/v1/decisions/req-nurse-lee/explain', headers: { authorization: `Bearer ${KEY}` } });
    expect(explain.statusCode).toBe(409);
    expect(explain.json()).toEqual({ error: 'request_not_kept', message: expect.stringContaining('decision `req-nurse-lee`: This decision was logged without its request') });
    await app.close();
    store.close();

    const cli = await gavel(['explain', 'req-nurse-lee', '--db', db], { cwd: dir });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/^gavel explain: decision `req-nurse-lee`: This decision was logged without its request \(decision_log\.keep_requests was false\)/);
    const replay = await gavel(['whatif', '--candidate', 'proposed', '--db', db], { cwd: dir });
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain('not replayed: 5 decisions logged without their request');
    // Not "no decisions in the log": there are five, logged without what replay needs.
    expect(replay.stdout).toContain('replayed 0 decisions: no decision logged with its request');
  });
});

describe('stored revisions, built again', () => {
  test('load builds a stored revision in slices, the same set a whole build gives; get then finds it without the store', async () => {
    const store = new SqliteStore(join(dir, 'g.db'));
    try {
      const files = { 'a.gavel': '@id("a") permit (action == "read") when { subject.id == "u" };', 'b.gavel': '@id("b") forbid when { context.late == true };' };
      const built = buildFromFiles(files).set!;
      store.savePolicyRevision({ id: built.revision, savedAt: '2026-11-01T00:00:00.000Z', files });
      let reads = 0;
      const revisions = new RevisionSets({ policyRevision: (id) => (reads++, store.policyRevision(id)) });
      expect(await revisions.load('0000000000000000')).toEqual({ kind: 'unknown' });
      const loaded = await revisions.load(built.revision);
      expect(loaded).toMatchObject({ kind: 'found', savedAt: '2026-11-01T00:00:00.000Z', set: { revision: built.revision } });
      expect(loaded.kind === 'found' && loaded.set.policies.map((p) => p.id)).toEqual(['a', 'b']);
      const before = reads;
      expect(revisions.get(built.revision)).toMatchObject({ kind: 'found', set: { revision: built.revision } });
      expect(reads).toBe(before);
    } finally {
      store.close();
    }
  });

  test('concurrent loads of one revision share one build; a revision that no longer builds is said so, and remembered', async () => {
    const store = new SqliteStore(join(dir, 'g.db'));
    try {
      const files = { 'a.gavel': '@id("a") permit;' };
      const id = buildFromFiles(files).set!.revision;
      store.savePolicyRevision({ id, savedAt: '2026-11-01T00:00:00.000Z', files });
      store.savePolicyRevision({ id: 'broken', savedAt: '2026-11-02T00:00:00.000Z', files: { 'a.gavel': 'permit when {' } });
      let reads = 0;
      const revisions = new RevisionSets({ policyRevision: (r) => (reads++, store.policyRevision(r)) });
      const [one, two] = await Promise.all([revisions.load(id), revisions.load(id)]);
      expect(one).toBe(two);
      expect(reads).toBe(1);
      expect(await revisions.load('broken')).toMatchObject({ kind: 'invalid', message: expect.stringContaining('stored revision broken no longer builds') });
      expect(revisions.get('broken')).toMatchObject({ kind: 'invalid' });
      expect(reads).toBe(2);
    } finally {
      store.close();
    }
  });

  test('a revision served before tags and owners were held to their rules rebuilds: its decisions are still explained by it', async () => {
    const store = new SqliteStore(join(dir, 'g.db'));
    try {
      // What older versions accepted and later checks refuse: a tag with a space (`gavel import
      // openapi` wrote them), an empty owner, a raw bidi control in a comment, a velocity counter
      // Gavel does not compute, a schema `entity` compared with the subject.
      const files = {
        'pets.gavel': '@id("pets.list") @tags("openapi", "Pet Store") @owner("") permit (action == "GET"); // \u202e note',
        'risk.gavel': '@id("slow") forbid when { risk.velocity.adress_denials_1m > 10 };\n@id("own") permit when { resource.owner == subject };\n@id("seg") permit when { segment(context.path, 0) == "a" };',
        'schema.json': '{"resource": {"owner": "entity"}}',
      };
      expect(buildFromFiles(files).set).toBeNull();
      const id = 'a23ed6ec1e0e5fc0';
      store.savePolicyRevision({ id, savedAt: '2026-11-01T00:00:00.000Z', files });
      const found = await new RevisionSets(store).load(id);
      expect(found).toMatchObject({ kind: 'found' });
      expect(found.kind === 'found' && found.set.policies.map((p) => p.id).sort()).toEqual(['own', 'pets.list', 'seg', 'slow']);
      // What the store keeps is still checked for meaning: a broken condition does not build.
      store.savePolicyRevision({ id: 'typed', savedAt: '2026-11-02T00:00:00.000Z', files: { 'a.gavel': 'permit when { 1 };' } });
      expect(await new RevisionSets(store).load('typed')).toMatchObject({ kind: 'invalid' });
    } finally {
      store.close();
    }
  });
});

describe('explaining a logged decision', () => {
  test('GET /v1/decisions/{id}/explain: the stored revision, whyNot for a deny; 404 for an unknown id', async () => {
    const { app, live } = await logged();
    const r = await app.inject({ method: 'GET', url: '/v1/decisions/req-dr-weber/explain', headers: { authorization: `Bearer ${KEY}` } });
    expect(r.statusCode).toBe(200);
    const x = r.json();
    expect(x).toMatchObject({ explained_with: { source: 'stored', revision: live.current.revision }, same_verdict: true, decision: { decision: false, determining: ['patients.outside-us'] } });
    expect(x.why_not.forbids.map((f: { id: string }) => f.id)).toEqual(['patients.outside-us']);
    expect(x.why_not.permits.map((p: { id: string }) => p.id)).toContain('patients.clinician-read');
    const one = await app.inject({ method: 'GET', url: '/v1/decisions/req-dr-weber', headers: { authorization: `Bearer ${KEY}` } });
    expect(one.json()).toMatchObject({ request_id: 'req-dr-weber', decision: false });
    const unknown = await app.inject({ method: 'GET', url: '/v1/decisions/nope/explain', headers: { authorization: `Bearer ${KEY}` } });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().message).toMatch(/no decision with id `nope`/);
    await app.close();
  });

  test('gavel explain: found, unknown id (exit 1), revision unavailable (explained with the policies folder, labelled)', async () => {
    const { app, db, store, live } = await logged();
    await app.close();
    const found = await gavel(['explain', 'req-dr-weber', '--db', db], { cwd: dir });
    expect(found.code).toBe(0);
    // Found by the caller's request id; shown with the decision's own id too.
    expect(found.stdout).toMatch(/^[0-9a-f-]{36} \(request req-dr-weber\): DENY user:dr-weber /);
    expect(found.stdout).toMatch(/explained with the stored revision/);
    // The forbid that fired is named with what would stop it, and the permits' needs are said to count only after it.
    expect(found.stdout).toMatch(/forbids that fired:\n {2}patients\.outside-us .*\n {4}stops applying when: subject\.country == "US" \|\| subject\.roles contains "transfer-agreement"\n/);
    expect(found.stdout).toMatch(/what would allow, once every forbid that fired stops applying:\n {2}patients\.clinician-read/);
    const unknown = await gavel(['explain', 'nope', '--db', db], { cwd: dir });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no decision with id `nope`/);
    // Drop the stored revision: the explanation falls back to ./policies and says so.
    store.savePolicyRevision({ id: 'other', savedAt: '2099-01-01T00:00:00Z', files: {} }, 1);
    store.close();
    const fallback = await gavel(['explain', 'req-dr-weber', '--db', db, '--json'], { cwd: dir });
    expect(fallback.code).toBe(0);
    expect(JSON.parse(fallback.stdout).explained_with).toMatchObject({ source: 'live', logged_revision: live.current.revision, note: expect.stringMatching(/is not stored/) });
  });

  test('gavel diff REVISION-PREFIX FOLDER --db: a stored revision against a folder', async () => {
    const { app, db, live } = await logged();
    await app.close();
    const r = await gavel(['diff', live.current.revision.slice(0, 8), 'proposed', '--db', db, '--json'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ before: { dir: `revision:${live.current.revision}` }, changed: 2, added: 0, removed: 0 });
    const none = await gavel(['diff', 'zzzz', 'proposed', '--db', db], { cwd: dir });
    expect(none.code).toBe(2);
  });
});

describe("compliance.md's what-if walkthrough, from the files it ships", () => {
  test('the five break-glass reads and the proposal give the changes the doc shows', async () => {
    const files = revisionFiles(await loadPolicyFolder(join(ROOT, 'policies')));
    const set = buildFromFiles(files).set!;
    const store = new SqliteStore(':memory:');
    store.savePolicyRevision({ id: set.revision, savedAt: new Date().toISOString(), files });
    const log = new DecisionLog(store, { flushMs: 60_000 });
    // As `npm start` with its IP lists: a clean address.
    const signals = new Signals([{ name: 'ip', read: () => ({ reputation: 100, lists: [], labels: [] }) }], new Velocity(1_000));
    const decider = new Decider(new Metrics(new LivePolicySet(set)), log, null, signals);
    const dir = join(ROOT, 'examples', 'compliance', 'break-glass');
    for (const name of readdirSync(dir).sort()) decider.decide('native', name.replace('.json', ''), set, JSON.parse(readFileSync(join(dir, name), 'utf8')), {}, { address: '127.0.0.1' });
    log.flush();
    const proposed = { ...files, 'patients.gavel': readFileSync(join(ROOT, 'examples', 'compliance', 'proposed-patients.gavel'), 'utf8') };
    const report = whatIf(store, buildFromFiles(proposed).set!, { readsOf: readsByRevision(store, [set]) });
    store.close();
    expect(report).toMatchObject({ replayed: 5, changed: 3, allow_to_deny: 2, deny_to_allow: 1, with_errors: 0, not_known: 0 });
    const who = (direction: 'allow_to_deny' | 'deny_to_allow') => report.examples[direction].map((e) => `${e.subject} ${e.resource}`).sort();
    expect(who('allow_to_deny')).toEqual(['user:nurse-kim patient_record:p-1002', 'user:nurse-lee patient_record:p-1005']);
    expect(who('deny_to_allow')).toEqual(['user:dr-tremblay patient_record:p-1003']);
  });
});
