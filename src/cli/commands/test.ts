import { readTestFile, runTestCase } from '../../engine/policy-tests.js';
import { Exit, writeLine, type CliIo } from '../io.js';
import { COMMON, flags, policiesDir } from '../args.js';
import { joinPath, loadSet, printDiagnostics } from '../load.js';

export const testHelp = `Usage: gavel test [--policies DIR] [--verbose]

Runs the policy tests kept beside the policies: every *.test.yaml (or .test.yml,
.test.json) under DIR (default ./policies). Each case is a request, the expected
decision and optionally the expected determining policy ids and reasons:

  tests:
    - name: finance staff read invoices with MFA
      request: { subject: {...}, action: {name: GET}, resource: {...}, token: {...} }
      expect: allow
      determining: [invoices.read]

Prints each failure with what differed and ends with the line "N passed, M failed".
Exit codes: 0 all passed, 1 a test failed or the policies are invalid, 2 usage error.

Options:
  -p, --policies DIR   policies folder (default ./policies)
  -v, --verbose        print passing cases too
  -h, --help           show this help`;

export async function test(argv: string[], io: CliIo): Promise<number> {
  const { values } = flags({ args: argv, strict: true, options: { ...COMMON, verbose: { type: 'boolean', short: 'v' } } });
  if (values.help) return writeLine(io.stdout, testHelp), Exit.ok;
  const shown = values.policies ?? 'policies';
  const result = await loadSet(policiesDir(io.cwd, values.policies));
  if (result.set === null) {
    printDiagnostics(io, result, shown);
    writeLine(io.stdout, '0 passed, 1 failed');
    return Exit.failed;
  }
  let passed = 0;
  let failed = 0;
  for (const source of result.folder.tests) {
    const { cases, problems } = readTestFile(source);
    for (const p of problems) writeLine(io.stderr, `${joinPath(shown, p.file)}:${p.line}:${p.col}: error: ${p.message}`);
    // A file that cannot be read counts once, however many errors its parser found; each bad case counts.
    failed += problems.filter((p) => p.scope === 'case').length + (problems.some((p) => p.scope === 'file') ? 1 : 0);
    for (const c of cases) {
      const { differences } = runTestCase(result.set, c);
      const where = `${joinPath(shown, c.file)}:${c.line}`;
      if (differences.length === 0) {
        passed++;
        if (values.verbose) writeLine(io.stdout, `ok    ${where} ${c.name}`);
        continue;
      }
      failed++;
      writeLine(io.stdout, `FAIL  ${where} ${c.name}`);
      for (const d of differences) writeLine(io.stdout, `      ${d}`);
    }
  }
  if (result.folder.tests.length === 0) writeLine(io.stderr, `no *.test.yaml files under ${shown}`);
  writeLine(io.stdout, `${passed} passed, ${failed} failed`);
  return failed > 0 ? Exit.failed : Exit.ok;
}
