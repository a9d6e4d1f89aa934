import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { buildPolicySet } from '../../src/index.js';
import { LivePolicySet } from '../../src/engine/live-set.js';
import { buildApp } from '../../src/http/app.js';

const KEY = 'k'.repeat(32);
const DIR = join(import.meta.dirname, '..', '..', 'policies');
const sources = readdirSync(DIR).filter((f) => f.endsWith('.gavel')).map((file) => ({ file, text: readFileSync(join(DIR, file), 'utf8') }));
const schema = { file: 'schema.json', text: readFileSync(join(DIR, 'schema.json'), 'utf8') };
const live = new LivePolicySet(buildPolicySet(sources, schema).set!);
const auth = { authorization: `Bearer ${KEY}` };

function app(key: string | null = KEY) {
  return buildApp({ policies: live, admin: { key, store: null, reload: null } });
}

describe('GET /v1/policies', () => {
  test('the live set\'s inventory, filtered like `gavel policies`', async () => {
    const r = await app().inject({ method: 'GET', url: '/v1/policies?tag=sox', headers: auth });
    expect(r.statusCode).toBe(200);
    expect(r.json().revision).toBe(live.current.revision);
    expect(r.json().policies.map((p: { id: string }) => p.id)).toEqual(['invoices.read', 'invoices.auditors', 'invoices.no-delete-issued']);
    const forbids = await app().inject({ method: 'GET', url: '/v1/policies?effect=forbid&owner=security', headers: auth });
    expect(forbids.json().policies.map((p: { id: string }) => p.id)).toEqual(['mint.brute-force', 'risk.block-bad-networks', 'risk.blocklisted', 'risk.probing']);
  });

  test.each([
    { note: 'an unknown effect', url: '/v1/policies?effect=maybe' },
    { note: 'an unknown parameter', url: '/v1/policies?colour=red' },
  ])('400 for $note', async ({ url }) => {
    expect((await app().inject({ method: 'GET', url, headers: auth })).statusCode).toBe(400);
  });
});

describe('POST /v1/affects', () => {
  const where = ['resource.type == "patient_record"', 'subject.country != "US"', 'action == "GET"'];

  test('rows with status and residual, as `gavel affects --json`', async () => {
    const r = await app().inject({ method: 'POST', url: '/v1/affects', headers: auth, payload: { where, tag: 'hipaa', effect: 'forbid' } });
    expect(r.statusCode).toBe(200);
    expect(r.json().rows).toEqual([
      expect.objectContaining({ id: 'patients.outside-us', status: 'may-apply', condition: '!(subject.roles contains "transfer-agreement")', may_error: true }),
    ]);
  });

  test('tags and owners as lists; all adds what does not apply', async () => {
    const r = await app().inject({ method: 'POST', url: '/v1/affects', headers: auth, payload: { where: ['resource.type == "patient_record"', 'action == "DELETE"'], tag: ['retention', 'phi'], all: true } });
    const rows = r.json().rows as { id: string; status: string }[];
    expect(rows.find((x) => x.id === 'patients.retention')?.status).toBe('applies');
    expect(rows.find((x) => x.id === 'patients.clinician-read')?.status).toBe('does-not-apply');
  });

  test('a bad fact is a 400 with its location', async () => {
    const r = await app().inject({ method: 'POST', url: '/v1/affects', headers: auth, payload: { where: ['resource.type == "patient_record"', 'subject.country = "US"'] } });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ error: 'invalid_fact', message: 'where#2:1:17: error: unexpected character "=" (help: did you mean `==`? Comparison is `==`; there is no assignment)' });
  });

  test.each([
    { note: 'no where', payload: {} },
    { note: 'where not a list', payload: { where: 'action == "GET"' } },
    { note: 'an unknown field', payload: { where: [], colour: 'red' } },
    { note: 'a bad effect', payload: { where: [], effect: 'allow' } },
  ])('400 for $note', async ({ payload }) => {
    expect((await app().inject({ method: 'POST', url: '/v1/affects', headers: auth, payload })).statusCode).toBe(400);
  });
});

describe('the admin key guards both', () => {
  test.each([
    { note: 'no key', headers: {}, status: 401 },
    { note: 'a wrong key', headers: { authorization: `Bearer ${'x'.repeat(32)}` }, status: 401 },
  ])('$note: $status', async ({ headers, status }) => {
    expect((await app().inject({ method: 'GET', url: '/v1/policies', headers })).statusCode).toBe(status);
    expect((await app().inject({ method: 'POST', url: '/v1/affects', headers, payload: { where: [] } })).statusCode).toBe(status);
  });

  test('without a configured key: 403 admin_disabled', async () => {
    const r = await app(null).inject({ method: 'GET', url: '/v1/policies', headers: auth });
    expect(r.statusCode).toBe(403);
    expect(r.json().error).toBe('admin_disabled');
  });
});
