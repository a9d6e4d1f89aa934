#!/usr/bin/env node
// Thin launcher: the CLI lives in dist/ (built by `npm run build`, run by `prepare` on install).
import { holdSignals } from '../dist/cli/early-signals.js';

// A server's stop and reload signals are held while the CLI loads (most of a second), and
// taken over by `gavel serve` once its handlers are in place: before, they killed it.
if (process.argv[2] === 'serve') holdSignals();
const { main } = await import('../dist/cli/main.js');

// `gavel test -v | head` closes the pipe early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  cwd: process.cwd(),
});
