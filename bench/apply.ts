/**
 * `gavel apply` beside another writer: `npm run bench:apply`.
 *
 * A directory of 100,000 entities is applied again, first with one entity changed (what a
 * deployment pipeline re-applying its document does), then with every entity changed, while
 * another process commits a small write every millisecond — what a serving Gavel's own writes
 * are (the decision log's writer, the issuer's codes and refresh tokens). It reports how long
 * each apply took and the longest the other writer waited for the write lock meanwhile: the
 * document is compared with the store without the lock, and only its changes are written under it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { SqliteStore } from '../dist/store/sqlite/sqlite-store.js';
import { writeSection } from './results-file.js';
import { loadAverage, machine, revision } from './server-bench/report.js';

const COMMAND = 'npm run bench:apply';
const ENTITIES = 100_000;
const ROUNDS = 3;
const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');

const documentOf = (version: number, all: boolean) =>
  Array.from({ length: ENTITIES }, (_, i) => ({ type: 'user', id: `u${i}`, attributes: { n: i, department: `d${i % 50}`, version: all || i === 7 ? version : 0 } }));

/** Another process committing one row every millisecond; it answers the longest wait for the lock since the last ask. */
function otherWriter(path: string): { ready: Promise<void>; worst: () => Promise<number>; stop: () => void } {
  const child = spawn(process.execPath, [
    '-e',
    `const db = new (require(${JSON.stringify(sqlite)}))(${JSON.stringify(path)}, { timeout: 30000 });
     db.exec('CREATE TABLE IF NOT EXISTS other_writes (x)');
     const insert = db.prepare('INSERT INTO other_writes VALUES (1)');
     const write = db.transaction(() => insert.run());
     let worst = 0;
     process.stdin.on('data', () => { process.stdout.write(worst.toFixed(2) + '\\n'); worst = 0; });
     process.stdout.write('ready\\n');
     (function loop() { const t = performance.now(); write.immediate(); worst = Math.max(worst, performance.now() - t); setTimeout(loop, 1); })();`,
  ]);
  let lines: ((line: string) => void)[] = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    for (const line of d.split('\n').filter((l) => l !== '')) lines.shift()?.(line);
  });
  const next = () => new Promise<string>((resolve) => lines.push(resolve));
  return {
    ready: next().then(() => {}),
    worst: () => {
      const answer = next();
      child.stdin.write('?\n');
      return answer.then(Number);
    },
    stop: () => {
      lines = [];
      child.kill();
    },
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(os.tmpdir(), 'gavel-bench-apply-'));
  const store = new SqliteStore(join(dir, 'gavel.db'));
  const other = otherWriter(join(dir, 'gavel.db'));
  try {
    store.applyDocument(documentOf(0, true), {}, false);
    await other.ready;
    const rows: string[] = [];
    for (const [what, all] of [['one entity changed', false], ['every entity changed', true]] as const) {
      const took: number[] = [];
      const waited: number[] = [];
      for (let round = 1; round <= ROUNDS; round++) {
        const doc = documentOf(all ? round : round + 100, all);
        await new Promise((r) => setTimeout(r, 200));
        await other.worst();
        const start = performance.now();
        const changes = store.applyDocument(doc, {}, false);
        took.push(performance.now() - start);
        await new Promise((r) => setTimeout(r, 50));
        waited.push(await other.worst());
        console.log(`${what}: apply ${took.at(-1)!.toFixed(0)} ms (${changes.changed.length} changed), the other writer waited at most ${waited.at(-1)!.toFixed(1)} ms`);
      }
      rows.push(`| ${ENTITIES.toLocaleString('en')} entities, ${what} | ${median(took).toFixed(0)} ms | ${median(waited).toFixed(1)} ms | ${waited.map((w) => w.toFixed(1)).join(', ')} |`);
    }
    const table = ['| apply | apply took (median) | other writer\'s longest wait (median) | longest wait, each round |', '| --- | --: | --: | --- |', ...rows];
    console.log(`\n${table.join('\n')}\n\nreproduce: ${COMMAND}`);
    writeSection(
      'apply',
      [
        '## Apply',
        '',
        `Reproduce with \`${COMMAND}\` (bench/apply.ts). ${new Date().toISOString().slice(0, 10)}, ${revision()}, ${machine()}, load average ${loadAverage()}.`,
        '',
        `\`store.applyDocument\` (what \`gavel apply\` and \`POST /v1/apply\` run) re-applies a directory of ${ENTITIES.toLocaleString('en')} entities while another process commits a one-row transaction every millisecond, as a serving Gavel's writers do; ${ROUNDS} rounds each. The document is compared with the store in a read snapshot, without the write lock, and only its changes are written under the lock (if the store moved meanwhile, it is compared again).`,
        '',
        ...table,
        '',
        'Before this way of applying (commit 376e445) the document was compared under the write lock; docs/design-notes.md ("Every write transaction is BEGIN IMMEDIATE") has that commit measured with this script beside this one.',
      ].join('\n'),
    );
  } finally {
    other.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
