import { describe, expect, test } from 'vitest';
import { buildPolicySet } from '../../src/index.js';
import { whyNot } from '../../src/engine/why-not.js';

const needsOf = (policy: string, request: object): string => {
  const set = buildPolicySet([{ file: 'a.gavel', text: `@id("p") ${policy}\n` }]).set!;
  const [permit] = whyNot(set, request as never).permits;
  return permit!.needs;
};

const user = (properties: object) => ({ type: 'user', id: 'u', properties });

describe('why-not: what a near-miss permit would need', () => {
  test('what the request lacks is left as a condition; what it decides drops out', () => {
    const request = { subject: user({ vip: false, level: 3 }), action: { name: 'read' }, resource: { type: 'doc', id: '1', properties: { owner: 'x' } }, context: {} };
    expect(needsOf('permit (action == "read", resource) when { context.amount < 100 || subject.vip == true };', request)).toBe('context.amount < 100');
    expect(needsOf('permit (action == "read", resource) when { (subject.level > 2 && context.mfa == true) || subject.admin == true };', request)).toBe('context.mfa == true || subject.admin == true');
    expect(needsOf('permit (action == "read", resource) when { resource.owner == subject.id || context.shared contains subject.id };', request)).toBe('context.shared contains "u"');
  });

  test('a part that failed on the request\'s own values is offered as written, not reduced to a need the request already meets', () => {
    // `tags` is a string: `contains` errors, and a residual would fold `error && false` to false.
    const request = { subject: user({ clearance: 'high' }), action: { name: 'read' }, resource: { type: 'doc', id: '1', properties: { tags: 'secret' } }, context: {} };
    expect(needsOf('permit (action == "read", resource) unless { context has blocked || (resource.tags contains "secret" && subject.clearance == "low") };', request)).toBe(
      '!(context has blocked || (resource.tags contains "secret" && subject.clearance == "low"))',
    );
    // Another part of the same permit still has its residual.
    expect(needsOf('permit (action == "read", resource) when { context.mfa == true } unless { resource.tags contains "secret" && subject.clearance == "low" };', request)).toBe(
      'context.mfa == true && !(resource.tags contains "secret" && subject.clearance == "low")',
    );
  });
});
