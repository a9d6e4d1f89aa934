import type { Reporter, RunnerTask, RunnerTestFile } from 'vitest/node';

/**
 * Ends the run with the plain line `N passed, M failed` (`, K skipped` when some were),
 * the closing line CI and scripts read. It runs in `onFinished`, after the default
 * reporter has printed its own summary, so it is the last line.
 */
export default class SummaryReporter implements Reporter {
  onFinished(files: RunnerTestFile[] = []): void {
    const count = { passed: 0, failed: 0, skipped: 0 };
    const visit = (task: RunnerTask): void => {
      if (task.type === 'suite') {
        task.tasks.forEach(visit);
        return;
      }
      const state = task.result?.state;
      if (state === 'pass') count.passed++;
      else if (state === 'fail') count.failed++;
      else count.skipped++;
    };
    for (const file of files) {
      // A file that failed to load has no tests: it still counts as a failure.
      if (file.tasks.length === 0 && file.result?.state === 'fail') count.failed++;
      file.tasks.forEach(visit);
    }
    const skipped = count.skipped > 0 ? `, ${count.skipped} skipped` : '';
    process.stdout.write(`\n${count.passed} passed, ${count.failed} failed${skipped}\n`);
  }
}
