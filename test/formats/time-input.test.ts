import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { timeInput } from '../../src/formats/time-input.js';

const NOW = Date.UTC(2026, 10, 24, 12, 0, 0);

describe('times typed into filters (--since, --until, the console)', () => {
  test.each([
    ['2026-11-24', '2026-11-24T00:00:00.000Z'],
    ['2026-11-24T01:15:18Z', '2026-11-24T01:15:18.000Z'],
    // Without a zone: UTC, as the log shows times — not the machine's zone.
    ['2026-11-24T01:15:18', '2026-11-24T01:15:18.000Z'],
    ['2026-11-24 01:15', '2026-11-24T01:15:00.000Z'],
    ['2026-11-24T02:15:18+01:00', '2026-11-24T01:15:18.000Z'],
    ['2026-11-23T20:15-0500', '2026-11-24T01:15:00.000Z'],
    ['2026-11-24T01:15:18.123456Z', '2026-11-24T01:15:18.123Z'],
    ['2h', '2026-11-24T10:00:00.000Z'],
    ['7d', '2026-11-17T12:00:00.000Z'],
  ])('%s is %s', (text, iso) => {
    expect(timeInput(text, NOW)).toEqual({ iso });
  });

  test.each(['7', '12', '48', '60', 'yesterday', '24 Nov 2026', '2026-11-24T01:15:18 GMT', '11/24/2026'])('%s is refused (Date.parse read bare numbers as dates: 48 was 2048)', (text) => {
    expect(timeInput(text, NOW)).toEqual({ problem: expect.stringContaining('is neither an ISO 8601 time') });
  });

  test.each(['2026-02-30', '2026-13-01', '2026-11-24T24:00:00Z', '2026-11-24T10:60Z', '2026-11-24T10:00+25:00'])('%s, which does not exist, is refused rather than rolled over', (text) => {
    expect(timeInput(text, NOW)).toEqual({ problem: expect.stringMatching(/does not exist|not a date and time that exists/) });
  });

  test('a time past the year 9999 is refused: ISO 8601 writes it `+010000-…`, which the log would sort before every decision', () => {
    expect(timeInput('9999-12-31T23:59-23:59', NOW)).toEqual({ problem: '`9999-12-31T23:59-23:59` is after the year 9999' });
    expect(timeInput('9999-12-31T23:59Z', NOW)).toEqual({ iso: '9999-12-31T23:59:00.000Z' });
  });

  test('any instant written in ISO 8601 with a zone reads back as itself', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2999-12-31T23:59:59Z'), noInvalidDate: true }), fc.integer({ min: -14 * 60, max: 14 * 60 }), (date, offsetMinutes) => {
        const local = new Date(date.getTime() + offsetMinutes * 60_000).toISOString().slice(0, 23);
        const sign = offsetMinutes < 0 ? '-' : '+';
        const abs = Math.abs(offsetMinutes);
        const zone = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
        expect(timeInput(`${local}${zone}`, NOW)).toEqual({ iso: date.toISOString() });
      }),
    );
  });
});
