import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { buildPolicySet, formatDiagnostic } from '../../src/index.js';

const dir = join(import.meta.dirname, '..', 'golden', 'diagnostics');
const read = (name: string) => ({ file: name, text: readFileSync(join(dir, name), 'utf8') });

/** Diagnostics as `gavel check` prints them, one a line, reviewed in the diff. */
function render(name: string, withSchema: boolean): string {
  const { diagnostics } = buildPolicySet([read(name)], withSchema ? read('schema.json') : null);
  return diagnostics.map(formatDiagnostic).join('\n') + '\n';
}

describe('diagnostics (golden files)', () => {
  test('syntax errors: every broken policy of a file is reported with what was expected', async () => {
    await expect(render('syntax.gavel', false)).toMatchFileSnapshot(join(dir, 'syntax.txt'));
  });

  test('type errors against a schema: typos with suggestions, mismatches, arity, literals, duplicate ids', async () => {
    await expect(render('types.gavel', true)).toMatchFileSnapshot(join(dir, 'types.txt'));
  });

  test('a policy set with any error is not built at all', () => {
    const { set } = buildPolicySet([read('types.gavel')], read('schema.json'));
    expect(set).toBeNull();
  });
});
