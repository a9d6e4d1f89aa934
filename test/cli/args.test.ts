import { describe, expect, test } from 'vitest';
import { flags, timeFlag } from '../../src/cli/args.js';

describe('time flags (--since, --until)', () => {
  const now = Date.parse('2026-11-22T12:00:00.000Z');

  test('take an ISO 8601 time, or an age back from now', () => {
    expect(timeFlag('since', '2026-11-22T10:00:00Z', now)).toBe('2026-11-22T10:00:00.000Z');
    expect(timeFlag('since', '30s', now)).toBe('2026-11-22T11:59:30.000Z');
    expect(timeFlag('since', '15m', now)).toBe('2026-11-22T11:45:00.000Z');
    expect(timeFlag('since', '2h', now)).toBe('2026-11-22T10:00:00.000Z');
    expect(timeFlag('since', '7d', now)).toBe('2026-11-15T12:00:00.000Z');
    expect(timeFlag('since', undefined, now)).toBeUndefined();
  });

  test('anything else is a usage error naming the flag, not a crash', () => {
    expect(() => timeFlag('until', 'yesterday', now)).toThrow('--until: `yesterday` is neither an ISO 8601 time (2026-11-22, 2026-11-22T10:00:00Z) nor an age like 15m, 2h or 7d');
    expect(() => timeFlag('since', '-5m', now)).toThrow('--since: `-5m` is neither');
    expect(() => timeFlag('since', '99999999999d', now)).toThrow('--since: `99999999999d` reaches further back than a date can');
  });
});

describe('flags', () => {
  const options = { tag: { type: 'string' }, 'ip-list': { type: 'string', multiple: true }, json: { type: 'boolean' } } as const;

  test('a single-value flag given twice is a usage error naming it: the first value was silently dropped (`--tag sox --tag hipaa` filtered by hipaa alone)', () => {
    expect(() => flags({ args: ['--tag', 'sox', '--tag', 'hipaa'], options })).toThrow('--tag is given more than once; it takes one value');
    expect(() => flags({ args: ['--tag=sox', '--tag', 'hipaa'], options })).toThrow('--tag is given more than once');
  });

  test('flags that take several values, and a switch given twice, are accepted', () => {
    expect(flags({ args: ['--ip-list', 'a=x', '--ip-list', 'b=y', '--json', '--json'], options }).values).toEqual({ 'ip-list': ['a=x', 'b=y'], json: true });
  });
});
