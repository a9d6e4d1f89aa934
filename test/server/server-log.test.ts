import { describe, expect, test } from 'vitest';
import { ServerLog, type LogFormat } from '../../src/server/server-log.js';

function captured(format: LogFormat) {
  const out = { stdout: '', stderr: '' };
  const stream = (name: 'stdout' | 'stderr') => ({ write: (text: string) => ((out[name] += text), true) }) as unknown as NodeJS.WritableStream;
  const log = new ServerLog({ stdout: stream('stdout'), stderr: stream('stderr') }, format, () => Date.UTC(2026, 10, 24, 1, 2, 3, 4));
  return { log, out };
}

const failure = (() => {
  const err = new TypeError('x is not a function');
  err.stack = 'TypeError: x is not a function\n    at decide (src/engine/decide.ts:10:5)\n    at run (src/server/decider.ts:20:3)';
  return err;
})();

describe('the server log', () => {
  test('text: news on stdout, warnings and failures on stderr, details indented, a stack without repeating its message', () => {
    const { log, out } = captured('text');
    log.info('reloaded policies (revision abc)');
    log.warn('no policies in ./policies: every request is denied');
    log.error('rejected a policy change; still serving revision abc:', { details: ['a.gavel:1:2: error: one', 'b.gavel:3:4: error: two'] });
    log.error(`POST /v1/decide (request r1) failed: ${String(failure)}`, { requestId: 'r1', stack: failure.stack! });
    expect(out.stdout).toBe('gavel: reloaded policies (revision abc)\n');
    expect(out.stderr).toBe(
      [
        'gavel: warning: no policies in ./policies: every request is denied',
        'gavel: rejected a policy change; still serving revision abc:',
        '  a.gavel:1:2: error: one',
        '  b.gavel:3:4: error: two',
        'gavel: POST /v1/decide (request r1) failed: TypeError: x is not a function',
        '    at decide (src/engine/decide.ts:10:5)',
        '    at run (src/server/decider.ts:20:3)',
        '',
      ].join('\n'),
    );
  });

  test('json: one object a line, with the time, the level and what else there is', () => {
    const { log, out } = captured('json');
    log.info('stopped');
    log.warn('a "quoted"\nmessage');
    log.error('failed', { requestId: 'r1', stack: failure.stack!, details: [] });
    expect(out.stdout.split('\n')).toEqual(['{"time":"2026-11-24T01:02:03.004Z","level":"info","msg":"stopped"}', '']);
    const lines = out.stderr.trim().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(lines).toEqual([
      { time: '2026-11-24T01:02:03.004Z', level: 'warn', msg: 'a "quoted"\nmessage' },
      { time: '2026-11-24T01:02:03.004Z', level: 'error', msg: 'failed', request_id: 'r1', stack: failure.stack },
    ]);
  });
});
