import { describe, expect, test } from 'vitest';
import { buildPolicySet } from '../../src/index.js';
import { whyNot } from '../../src/engine/why-not.js';

describe('why-not: what a near-miss permit would need', () => {
  test('a condition that errored is offered as written, not reduced to a part the request already meets', () => {
    const set = buildPolicySet([
      { file: 'a.gavel', text: '@id("docs.read") permit (action == "read", resource) unless { context has blocked || (resource.tags contains "secret" && subject.clearance == "low") };\n' },
    ]).set!;
    // `tags` is a string: `contains` errors, and `error && false` folds to false.
    const request = { subject: { type: 'user', id: 'u', properties: { clearance: 'high' } }, action: { name: 'read' }, resource: { type: 'doc', id: '1', properties: { tags: 'secret' } }, context: {} };
    const [permit] = whyNot(set, request).permits;
    expect(permit).toMatchObject({ id: 'docs.read', error: expect.stringContaining('`contains` needs a list') });
    expect(permit!.needs).toBe('!(context has blocked || (resource.tags contains "secret" && subject.clearance == "low"))');
    // Without the error the residual is what the request lacks.
    const listed = { ...request, resource: { ...request.resource, properties: { tags: ['secret'] } } };
    expect(whyNot(set, listed)).toMatchObject({ decision: { decision: true } });
  });
});
