import { expect, test } from 'vitest';
import { entityLabel } from '../../src/formats/entity-label.js';

test('an entity on one line: type and id, or the type alone for an anonymous caller', () => {
  expect(entityLabel({ type: 'user', id: 'alice' })).toBe('user:alice');
  expect(entityLabel({ type: 'route', id: '/invoices/1' })).toBe('route:/invoices/1');
  expect(entityLabel({ type: 'anonymous', id: '' })).toBe('anonymous');
});
