import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { gavel, workspace } from './helpers.js';

let ws: ReturnType<typeof workspace>;
beforeAll(() => {
  ws = workspace();
});
afterAll(() => ws.remove());

const PATIENTS = ['--where', 'resource.type == "patient_record"', '--where', 'subject.country != "US"', '--where', 'action == "GET"'];

describe('gavel affects', () => {
  test('the table lists what applies and may apply, with the residual condition', async () => {
    const r = await gavel(['affects', ...PATIENTS, '--tag', 'hipaa'], { cwd: ws.dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^STATUS\s+EFFECT\s+ID\s+TAGS\s+OWNER\s+LOCATION\s+CONDITION \/ REASON$/);
    expect(lines.slice(1).map((l) => l.replace(/\s{2,}/g, ' | '))).toEqual([
      'may apply | permit | patients.break-glass | hipaa,phi,audit | clinical-systems | patients.gavel:16:1 | when subject.roles contains "on-call" && context has emergency && context.emergency == true',
      'may apply | permit | patients.clinician-read | hipaa,phi | clinical-systems | patients.gavel:5:1 | when subject.roles contains "clinician" && token.scope contains "phi:read" && resource.care_team contains subject.id',
      'may apply | forbid | patients.outside-us | hipaa,phi,data-residency | privacy-office | patients.gavel:23:1 | when !(subject.roles contains "transfer-agreement") (or on an error: fails closed)',
    ]);
  });

  test('--json with --all includes what does not apply, and why', async () => {
    const r = await gavel(['affects', ...PATIENTS, '--tag', 'hipaa', '--all', '--json'], { cwd: ws.dir });
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as { id: string; status: string; because: string | null; reason: string | null }[];
    expect(rows.map((x) => [x.id, x.status])).toEqual([
      ['patients.break-glass', 'may-apply'],
      ['patients.clinician-read', 'may-apply'],
      ['patients.outside-us', 'may-apply'],
      ['patients.retention', 'does-not-apply'],
    ]);
    expect(rows[3]).toMatchObject({ because: 'action in ["DELETE", "delete"]', because_part: 'target', reason: 'patient records are retained and cannot be deleted' });
  });

  test('--csv quotes fields as RFC 4180 does, lines ending in CRLF; --effect and --owner filter', async () => {
    const r = await gavel(['affects', ...PATIENTS, '--csv', '--effect', 'forbid', '--owner', 'privacy-office'], { cwd: ws.dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'status,effect,id,tags,owner,location,condition,because,because_part,may_error,reason',
        'may-apply,forbid,patients.outside-us,hipaa phi data-residency,privacy-office,patients.gavel:23:1,"!(subject.roles contains ""transfer-agreement"")",,,true,patient records stay in the US without a transfer agreement',
        '',
      ].join('\r\n'),
    );
  });

  test('a bad fact is a located error and exit 2; nothing is printed on stdout', async () => {
    const r = await gavel(['affects', '--where', 'resource.type == "x"', '--where', 'subject.country !=  '], { cwd: ws.dir });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('--where#2:1:19: error: unexpected end of input, expected an expression\n');
  });

  test('facts are checked against the policies\' schema: a misspelt attribute or a wrong type is an error, not a fact about nothing', async () => {
    const typo = await gavel(['affects', '--where', 'resource.typ == "patient_record"'], { cwd: ws.dir });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toBe('--where#1:1:1: error: unknown attribute `resource.typ` (help: did you mean `type`?)\n');
    const unquoted = await gavel(['affects', '--where', 'resource.type == "patient_record"', '--where', 'subject.country == 5'], { cwd: ws.dir });
    expect(unquoted.code).toBe(2);
    expect(unquoted.stderr).toBe('--where#2:1:1: error: `==` compares string with number, which is always false\n');
  });

  test('usage errors exit 2', async () => {
    const r = await gavel(['affects', '--effect', 'allow'], { cwd: ws.dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('gavel affects: --effect is `permit` or `forbid`, not `allow`\n');
  });
});

const clinician = (country: string, scope: string) => ({
  subject: { type: 'user', id: 'dr-bo', properties: { roles: ['clinician'], country } },
  action: { name: 'read' },
  resource: { type: 'patient_record', id: 'p-1', properties: { care_team: ['dr-bo'] } },
  token: { scope },
  risk: { ip: { reputation: 90, lists: [], labels: [] } },
});

describe('gavel eval --why', () => {
  test('a deny by a forbid lists the forbid and its reason', async () => {
    const r = await gavel(['eval', '--why', '--json'], { cwd: ws.dir, stdin: JSON.stringify(clinician('DE', 'phi:read')) });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ decision: false, determining: ['patients.outside-us'] });
    expect(out.why.forbids).toEqual([
      { id: 'patients.outside-us', location: 'patients.gavel:23:1', reason: 'patient records stay in the US without a transfer agreement', error: null, stops: 'subject.country == "US" || subject.roles contains "transfer-agreement"' },
    ]);
    // The permit that held is named as overridden, not left out as if none matched.
    expect(out.why.overridden).toEqual([{ id: 'patients.clinician-read', location: 'patients.gavel:5:1' }]);
    const text = await gavel(['eval', '--why'], { cwd: ws.dir, stdin: JSON.stringify(clinician('DE', 'phi:read')) });
    expect(text.stdout).toContain('  permits that would allow, overridden by the forbids above: patients.clinician-read  (patients.gavel:5:1)\n');
    expect(text.stdout).not.toContain('no permit matches');
    // On an allow, the permit that held is what allowed: nothing was overridden.
    const allowed = JSON.parse((await gavel(['eval', '--why', '--json'], { cwd: ws.dir, stdin: JSON.stringify(clinician('US', 'phi:read')) })).stdout);
    expect([allowed.decision, allowed.why.overridden]).toEqual([true, []]);
  });

  test('a deny for lack of a permit names the near-miss permits and what they would need', async () => {
    const r = await gavel(['eval', '--why'], { cwd: ws.dir, stdin: JSON.stringify(clinician('US', 'openid')) });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'DENY (no policy applies)',
        '  permits whose target matched:',
        '    patients.break-glass  (patients.gavel:16:1)',
        '      when failed: subject.roles contains "on-call"  (patients.gavel:21:8)',
        '      would allow when: subject.roles contains "on-call" && context has emergency && context.emergency == true',
        '    patients.clinician-read  (patients.gavel:5:1)',
        '      when failed: token.scope contains "phi:read"  (patients.gavel:12:6)',
        '      would allow when: token.scope contains "phi:read"',
        '',
      ].join('\n'),
    );
  });

  test('--why with --explain is a usage error', async () => {
    const r = await gavel(['eval', '--why', '--explain'], { cwd: ws.dir, stdin: '{}' });
    expect(r.code).toBe(2);
  });
});
