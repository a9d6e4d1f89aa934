import { execFileSync } from 'node:child_process';

/**
 * The CLI tests run `bin/gavel.js` as a user would, which loads dist/. Build once so they
 * test the current source, not a stale build.
 */
export default function setup(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
}
