import { describe, expect, test } from 'vitest';
import { buildPolicySet, decide, type Request } from '../../src/index.js';

/** Decides `when { CONDITION }` on one request: true, false, or 'error'. */
function when(condition: string, request: Request): boolean | 'error' {
  const { set, diagnostics } = buildPolicySet([{ file: 'c.gavel', text: `@id("c") permit when { ${condition} };` }]);
  expect(diagnostics.map((d) => d.message)).toEqual([]);
  const d = decide(set!, request);
  return d.errors.length > 0 ? 'error' : d.decision;
}

const authzen: Request = {
  subject: { type: 'user', id: 'alice', properties: { name: 'Alice Liddell', department: 'finance', roles: ['staff', 'auditor'], level: 3 } },
  action: { name: 'GET', properties: { method: 'GET' } },
  resource: { type: 'route', id: '/invoices/2024/42', properties: { path: '/invoices/2024/42', owner: 'alice' } },
  context: { ip: '10.1.2.3', ip6: '2001:db8::17', mapped: '::ffff:10.9.9.9', score: 0.4, headers: { 'x-tenant': 'acme' }, nothing: null },
  token: { sub: 'alice', scope: 'invoice:read  otp', acr: 'mfa' },
  risk: { ip: { reputation: 72, lists: ['tor-exits'] } },
};

describe('the request model', () => {
  test.each([
    { note: 'subject.X reads subject.properties.X', condition: 'subject.department == "finance"', want: true },
    { note: 'type and id are read from the entity itself', condition: 'subject.type == "user" && subject.id == "alice"', want: true },
    { note: 'a subject\'s name is an ordinary property', condition: 'subject.name == "Alice Liddell"', want: true },
    { note: 'action compared with a string compares its name', condition: 'action == "GET"', want: true },
    { note: 'action properties flatten too', condition: 'action.method == "GET"', want: true },
    { note: 'a bare subject is an entity reference', condition: 'subject == user::"alice"', want: true },
    { note: 'entity references compare type and id', condition: 'subject == client::"alice"', want: false },
    { note: 'token.scope is a set built from the space-delimited claim', condition: 'token.scope contains "otp"', want: true },
    { note: 'token.scope splits on any run of spaces', condition: 'size(token.scope) == 2', want: true },
    { note: 'a scope never matches part of another', condition: 'token.scope contains "invoice"', want: false },
    { note: 'nested records are read with dots', condition: 'risk.ip.reputation >= 50', want: true },
    { note: 'names that are not identifiers are read with brackets', condition: 'context.headers["x-tenant"] == "acme"', want: true },
    { note: 'a missing attribute is an error', condition: 'subject.manager == "bob"', want: 'error' },
    { note: '`has` tests presence without error', condition: '!(subject has manager) && subject has department', want: true },
    { note: 'null is a value, not a missing attribute', condition: 'context.nothing == null && context has nothing', want: true },
  ])('$note', ({ condition, want }) => {
    expect(when(condition, authzen)).toBe(want);
  });
});

describe('operators', () => {
  test.each([
    { note: '&& short-circuits: false && error is false', condition: 'false && subject.missing', want: false },
    { note: '|| short-circuits: true || error is true', condition: 'true || subject.missing', want: true },
    { note: 'an error on the left of && is an error', condition: 'subject.missing && false', want: 'error' },
    { note: 'comparing different types with == is false, not an error', condition: 'context.score == "0.4"', want: false },
    { note: 'ordering needs numbers', condition: 'subject.department < 3', want: 'error' },
    { note: 'in [list]', condition: 'subject.department in ["finance", "treasury"]', want: true },
    { note: 'contains on a list', condition: 'subject.roles contains "auditor"', want: true },
    { note: 'contains_any', condition: 'subject.roles contains_any ["admin", "auditor"]', want: true },
    { note: 'contains_all', condition: 'subject.roles contains_all ["admin", "auditor"]', want: false },
    { note: 'contains_all of nothing holds', condition: 'subject.roles contains_all []', want: true },
    { note: 'lists compare element by element', condition: 'subject.roles == ["staff", "auditor"]', want: true },
    { note: 'negative numbers', condition: '-subject.level < -2', want: true },
  ])('$note', ({ condition, want }) => {
    expect(when(condition, authzen)).toBe(want);
  });
});

describe('keys and path segments known only at run time', () => {
  const tenants: Request = {
    subject: { type: 'user', id: 'alice', properties: { roles_by_tenant: { acme: ['editor'], beta: ['viewer'], odd: { error: 'a value, not a failure' } } } },
    action: { name: 'PUT' },
    resource: { type: 'route', id: '/v1/orgs/acme/orders/42', properties: { tenant: 'acme', other: 'gamma', path: '/v1/orgs/acme/orders/42' } },
    token: { org: 'acme', near: 'ac' },
  };
  test.each([
    { note: 'get reads the attribute a string names: a tenant\'s roles by the resource\'s tenant', condition: 'get(subject.roles_by_tenant, resource.tenant) contains "editor"', want: true },
    { note: 'get of a key the record lacks is an error, as a missing attribute is', condition: 'get(subject.roles_by_tenant, resource.other) contains "editor"', want: 'error' },
    { note: 'has_key guards it', condition: '!has_key(subject.roles_by_tenant, resource.other) && has_key(subject.roles_by_tenant, "beta")', want: true },
    { note: 'a record holding `error` is a value like any other', condition: 'get(subject.roles_by_tenant, "odd").error == "a value, not a failure"', want: true },
    { note: 'segment counts a path\'s segments from 1: the org of /v1/orgs/{org}/…', condition: 'segment(resource.path, 3) == token.org', want: true },
    { note: 'segment compares whole segments: `ac` is not the org `acme`', condition: 'segment(resource.path, 3) == token.near', want: false },
    { note: 'a segment past the end is an error', condition: 'segment(resource.path, 6) == "x"', want: 'error' },
  ])('$note', ({ condition, want }) => {
    expect(when(condition, tenants)).toBe(want);
  });
});

describe('times, read from the request (RFC 3339), in a time zone', () => {
  // Wednesday 25 November 2026, 07:30 UTC: 08:30 in Berlin, 16:30 in Tokyo, 13:00 in Kolkata.
  const at: Request = { subject: { type: 'user', id: 'nurse' }, action: { name: 'read' }, resource: { type: 'record', id: '1' }, context: { time: '2026-11-25T07:30:00Z', late: '2026-11-29T23:30:00Z', local: '2026-11-25T08:30:00+01:00', bad: '2026-02-30T00:00:00Z', leap: '2026-11-25T10:15:60Z', tz: 'Europe/Berlin' } };
  test.each([
    { note: 'hour in a zone: working hours in Berlin', condition: 'hour(context.time, "Europe/Berlin") >= 8 && hour(context.time, "Europe/Berlin") < 18', want: true },
    { note: 'the same instant is another hour elsewhere', condition: 'hour(context.time, "Asia/Tokyo") == 16 && hour(context.time, "UTC") == 7', want: true },
    { note: 'minute, with a half-hour offset', condition: 'minute(context.time, "Asia/Kolkata") == 0 && hour(context.time, "Asia/Kolkata") == 13', want: true },
    { note: 'weekday is ISO 8601: Monday 1 … Sunday 7, in the zone', condition: 'weekday(context.time, "UTC") == 3 && weekday(context.late, "UTC") == 7 && weekday(context.late, "Asia/Tokyo") == 1', want: true },
    { note: 'the zone may come from the request', condition: 'hour(context.time, context.tz) == 8', want: true },
    { note: 'an offset is honoured: 08:30+01:00 is 07:30Z', condition: 'timestamp(context.local) == timestamp(context.time)', want: true },
    { note: 'timestamps compare', condition: 'timestamp(context.time) < timestamp(context.late) && timestamp(context.time) < timestamp("2027-01-01T00:00:00Z")', want: true },
    { note: 'a day its month does not have is an error, not 2 March', condition: 'timestamp(context.bad) > 0', want: 'error' },
    { note: 'a leap second (second 60) is the next second; any digits of fraction; year 0 was a leap year', condition: 'timestamp("2016-12-31T23:59:60Z") == timestamp("2017-01-01T00:00:00Z") && timestamp("2017-01-01T00:59:60+01:00") == timestamp("2017-01-01T00:00:00Z") && timestamp("2026-11-25T07:30:00.1234567891Z") > timestamp(context.time) && timestamp("0000-02-29T00:00:00Z") < 0', want: true },
    { note: 'a time that is not RFC 3339 is an error', condition: 'hour(subject.id, "UTC") == 1', want: 'error' },
    { note: 'second 60 only ends a UTC day: 10:15:60 is an error', condition: 'timestamp(context.leap) > 0', want: 'error' },
  ])('$note', ({ condition, want }) => {
    expect(when(condition, at)).toBe(want);
  });

  test('a misspelt time zone or a bad time written in the policy is a check error, before any request', () => {
    const { diagnostics } = buildPolicySet([{ file: 'c.gavel', text: 'permit when { hour(context.time, "Europe/Berln") > 8 && timestamp("2026-13-01T00:00:00Z") > 0 && segment(context.path, 0) == "a" };' }]);
    expect(diagnostics.map((d) => `${d.span.start.col} ${d.message}`)).toEqual([
      '34 `hour`: "Europe/Berln" is not a time zone (an IANA name such as "Europe/Berlin", or "UTC")',
      '57 `timestamp`: "2026-13-01T00:00:00Z" is not an RFC 3339 time (such as "2026-11-25T09:30:00Z")',
      '120 `segment`: the segment is counted from 1, a whole number',
    ]);
  });
});

describe('like: `*` within a segment, `**` across segments', () => {
  test.each([
    { pattern: '/invoices/**', want: true },
    { pattern: '/invoices/*', want: false },
    { pattern: '/invoices/*/*', want: true },
    { pattern: '/invoices/*/4*', want: true },
    { pattern: '/invoices/2024/42', want: true },
    { pattern: '**/42', want: true },
    { pattern: '/inv*', want: false },
    { pattern: '/inv*/**', want: true },
    { pattern: '/invoices/\\*/42', want: false },
  ])('`$pattern` on /invoices/2024/42 is $want', ({ pattern, want }) => {
    expect(when(`resource.path like ${JSON.stringify(pattern)}`, authzen)).toBe(want);
  });

  test('matching is linear: a pathological pattern on a long path answers at once', () => {
    const path = '/a'.repeat(5000);
    const request = { ...authzen, resource: { type: 'route', id: 'x', properties: { path } } };
    expect(when('resource.path like "**a**a**a**a**a**a**a**b"', request)).toBe(false);
  });
});

describe('IP addresses and CIDR ranges', () => {
  test.each([
    { value: null, says: 'got null' },
    { value: ['10.0.0.1'], says: 'got a list' },
    { value: { a: 1 }, says: 'got a record' },
    { value: 7, says: 'got a number' },
  ])('a value that is no address says what it is: $says', ({ value, says }) => {
    const { set } = buildPolicySet([{ file: 'c.gavel', text: '@id("c") permit when { context.at in cidr("10.0.0.0/8") || is_private(context.at) };' }]);
    const d = decide(set!, { ...authzen, context: { at: value } });
    expect(d.errors.map((e) => e.message)).toEqual([expect.stringContaining(`expected an IP address, ${says}`)]);
  });

  test.each([
    { note: 'IPv4 in an IPv4 range', condition: 'context.ip in cidr("10.0.0.0/8")', want: true },
    { note: 'IPv4 outside an IPv4 range', condition: 'context.ip in cidr("192.168.0.0/16")', want: false },
    { note: 'a /32 is one address', condition: 'context.ip in cidr("10.1.2.3/32")', want: true },
    { note: '0.0.0.0/0 holds every IPv4 address', condition: 'context.ip in cidr("0.0.0.0/0")', want: true },
    { note: 'IPv6 in an IPv6 range', condition: 'context.ip6 in cidr("2001:db8::/32")', want: true },
    { note: 'a /128 is one address', condition: 'context.ip6 in cidr("2001:db8::17/128")', want: true },
    { note: 'IPv6 outside an IPv6 range', condition: 'context.ip6 in cidr("2001:db9::/32")', want: false },
    { note: 'an IPv4-mapped IPv6 address matches an IPv4 range', condition: 'context.mapped in cidr("10.0.0.0/8")', want: true },
    { note: 'a list of ranges', condition: 'context.ip in [cidr("192.168.0.0/16"), cidr("10.0.0.0/8")]', want: true },
    { note: 'a list of ranges needs an address, as a single range does', condition: 'subject.department in [cidr("10.0.0.0/8")]', want: 'error' },
    { note: 'contains is in the other way round: a list of ranges needs an address', condition: '[cidr("10.0.0.0/8")] contains subject.department', want: 'error' },
    { note: 'contains finds an address in a list of ranges', condition: '[cidr("192.168.0.0/16"), cidr("10.0.0.0/8")] contains context.ip', want: true },
    { note: 'contains_any: a non-address is an error unless another item matched', condition: '[cidr("10.0.0.0/8")] contains_any [subject.department]', want: 'error' },
    { note: 'contains_any: another item matched', condition: '[cidr("10.0.0.0/8")] contains_any [subject.department, context.ip]', want: true },
    { note: 'contains_all: a non-address cannot be judged', condition: '[cidr("10.0.0.0/8")] contains_all [context.ip, subject.department]', want: 'error' },
    { note: 'a list without ranges compares a non-address as a value', condition: '["10.1.2.3"] contains subject.department', want: false },
    { note: 'ip() values equal their text', condition: 'ip("10.1.2.3") == context.ip', want: true },
    { note: 'ip() values equal their text on either side', condition: 'ip(context.ip) == "10.1.2.3" && ip(context.ip) != "10.1.2.4"', want: true },
    { note: 'builtins over addresses', condition: 'is_private(context.ip) && is_ipv6(context.ip6) && !is_loopback(context.ip)', want: true },
    { note: 'a string that is not an address is an error', condition: 'subject.department in cidr("10.0.0.0/8")', want: 'error' },
  ])('$note', ({ condition, want }) => {
    expect(when(condition, authzen)).toBe(want);
  });
});
