import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { routePath } from '../../src/engine/route-path.js';

describe('the path a gateway call is decided on', () => {
  test.each([
    { raw: '/invoices/1', path: '/invoices/1' },
    { raw: '/', path: '/' },
    { raw: '/invoices/../customers/1', path: '/customers/1' },
    { raw: '/invoices/%2e%2e/customers/1', path: '/customers/1' },
    { raw: '/invoices/%2E./customers/1', path: '/customers/1' },
    { raw: '/a/./b/', path: '/a/b/' },
    { raw: '/a/b/..', path: '/a/' },
    { raw: '/../../etc/passwd', path: '/etc/passwd' },
    { raw: '/%61dmin/x', path: '/admin/x' },
    { raw: '/a/%7e%41%20b%c3%a9', path: '/a/~A%20bé' },
    { raw: '/été', path: '/été' },
    { raw: '/admin;x/secret', path: '/admin/secret' },
    { raw: '/files;jsessionid=1/doc;v=2', path: '/files/doc' },
    { raw: '/a/%25/b', path: '/a/%25/b' },
    { raw: '//a///b', path: '/a/b' },
    { raw: '/a//', path: '/a/' },
    { raw: '/.well-known/openid-configuration', path: '/.well-known/openid-configuration' },
    { raw: '/files/a;b/..x', path: '/files/a/..x' },
  ])('$raw is decided as $path', ({ raw, path }) => {
    expect(routePath(raw)).toEqual({ path });
  });

  test.each([
    { raw: '/invoices/..%2fcustomers/1', problem: 'encoded slash' },
    { raw: '/invoices%2F..%2F..%2Fadmin', problem: 'encoded slash' },
    { raw: '/a/%5c../b', problem: 'encoded slash or backslash' },
    { raw: '/a\\..\\b', problem: 'backslash' },
    { raw: '/admin/secret#/../../a/x', problem: 'backslash or #' },
    { raw: '/a/x/;/../../admin', problem: 'parameters reduce to nothing' },
    { raw: '/a/%u002e%u002e/admin', problem: 'not followed by two hex digits' },
    { raw: '/a%zz', problem: 'not followed by two hex digits' },
    { raw: '/a/%252e%252e/x', problem: 'percent-encoded % before hex digits' },
    { raw: '/a/%c0%ae%c0%ae/x', problem: 'not UTF-8' },
    { raw: '/a/%e9', problem: 'not UTF-8' },
    { raw: '/invoices/..;/customers/1', problem: 'parameters reduce to a dot segment' },
    { raw: '/invoices/.;x/1', problem: 'parameters reduce to a dot segment' },
    { raw: '/invoices/%2e%2e;jsessionid=1/customers', problem: 'parameters reduce to a dot segment' },
    { raw: '/invoices//../customers/1', problem: 'empty segment (//) and a dot segment' },
    { raw: '*', problem: 'does not start with /' },
    { raw: 'http://evil/x', problem: 'does not start with /' },
  ])('$raw is refused: servers read it differently', ({ raw, problem }) => {
    const r = routePath(raw);
    expect('problem' in r && r.problem).toContain(problem);
  });

  const segment = fc.stringMatching(/^[A-Za-z0-9\-_~%.;:@!$&'()*+,=]{0,8}$/);
  const raw = fc.array(fc.oneof(segment, fc.constantFrom('', '.', '..', '%2e', '%2E%2e', '%41', '%2F')), { maxLength: 8 }).map((parts) => `/${parts.join('/')}`);

  test('a decided path has no dot or empty segments, and deciding it again changes nothing', () => {
    fc.assert(
      fc.property(raw, (p) => {
        const r = routePath(p);
        if ('problem' in r) return;
        const segments = r.path.split('/').slice(1, -1);
        expect(segments.filter((s) => s === '' || s === '.' || s === '..')).toEqual([]);
        expect(routePath(r.path)).toEqual(r);
      }),
      { numRuns: 2000 },
    );
  });

  test('a path with no dot, empty or percent-encoded segments is decided as written', () => {
    const plain = fc.array(fc.stringMatching(/^[A-Za-z0-9\-_~]{1,8}$/), { minLength: 1, maxLength: 6 }).map((parts) => `/${parts.join('/')}`);
    fc.assert(
      fc.property(plain, (p) => {
        expect(routePath(p)).toEqual({ path: p });
      }),
      { numRuns: 500 },
    );
  });
});
