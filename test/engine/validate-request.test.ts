import { describe, expect, test } from 'vitest';
import { validateRequest } from '../../src/engine/validate-request.js';

describe('validateRequest and empty names', () => {
  const anonymous = { subject: { type: 'anonymous', id: '' }, action: { name: 'GET' }, resource: { type: 'route', id: '/hello' } };

  test("a caller's empty id is refused, as gRPC (which cannot tell it from absent) refuses it", () => {
    expect(validateRequest(anonymous, { trusted: false })).toEqual({ problems: ['subject.id: expected a non-empty string'] });
  });

  test("offline tools take it: a gateway's caller without a token is `anonymous` with id \"\", and policy tests write such requests", () => {
    expect(validateRequest(anonymous, { trusted: true })).toEqual({ request: anonymous });
  });
});
