import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { gavel, ROOT, workspace } from './helpers.js';

let ws: ReturnType<typeof workspace>;
const FIXTURE = join(ROOT, 'test', 'conformance', 'search');
const ARGS = ['--policies', join(FIXTURE, 'policies'), '--db', 'search.db'];

beforeAll(async () => {
  ws = workspace();
  const applied = await gavel(['apply', join(FIXTURE, 'directory.json'), '--db', 'search.db'], { cwd: ws.dir });
  expect(applied.code).toBe(0);
});
afterAll(() => ws.remove());

describe('gavel search', () => {
  test('subject search from stdin, as lines', async () => {
    const r = await gavel(['search', 'subject', ...ARGS], { cwd: ws.dir, stdin: JSON.stringify({ subject: { type: 'user' }, action: { name: 'read' }, resource: { type: 'record', id: 'record-1' } }) });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('user::"alice"\nuser::"bob"\n2 results\n');
  });

  test('--json prints the AuthZEN response the server would send; pages follow the token', async () => {
    const request = { subject: { type: 'user', id: 'alice' }, resource: { type: 'record', id: 'record-1' }, page: { limit: 1 } };
    const first = await gavel(['search', 'action', ...ARGS, '--json'], { cwd: ws.dir, stdin: JSON.stringify(request) });
    expect(first.code).toBe(0);
    const one = JSON.parse(first.stdout) as { page: { next_token: string; count: number; total: number }; results: unknown[] };
    expect(one).toMatchObject({ page: { count: 1, total: 2 }, results: [{ name: 'read' }] });
    const second = await gavel(['search', 'action', ...ARGS, '--json'], { cwd: ws.dir, stdin: JSON.stringify({ ...request, page: { limit: 1, token: one.page.next_token } }) });
    expect(JSON.parse(second.stdout)).toEqual({ page: { next_token: '', count: 1, total: 2 }, results: [{ name: 'write' }] });
  });

  test.each([
    { note: 'no kind', args: ['search', ...ARGS], stdin: '{}', message: 'say what to search: gavel search subject|resource|action' },
    { note: 'an invalid request', args: ['search', 'resource', ...ARGS], stdin: '{"subject": {"type": "user"}}', message: 'stdin: invalid search request:' },
    { note: 'not JSON', args: ['search', 'resource', ...ARGS], stdin: '{', message: 'stdin: invalid JSON' },
    { note: 'a database that does not exist', args: ['search', 'action', '--db', 'missing.db'], stdin: '{"subject": {"type": "user", "id": "a"}, "resource": {"type": "record", "id": "r"}}', message: 'the database' },
  ])('$note: exit 2 with a message', async ({ args, stdin, message }) => {
    const r = await gavel(args, { cwd: ws.dir, stdin });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });
});
