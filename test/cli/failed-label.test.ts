import { expect, test } from 'vitest';
import { failedLabel } from '../../src/cli/render.js';

test('a candidate\'s first false part is named as it is: a target, a when, an unless (explain said "when failed" for a target)', () => {
  expect((['target', 'when', 'unless'] as const).map(failedLabel)).toEqual(['target failed', 'when failed', 'unless held']);
});
