import { clip } from '../../formats/clip.js';
import { T } from '../types.js';
import type { Value } from '../eval/value.js';
import { BuiltinFailure, failure, type Builtin } from './builtin.js';

/*
 * Times as requests carry them: RFC 3339 strings (`context.time`, which forward-auth, Envoy
 * Check and the token issuer set to the moment of the request, and a PEP sends to AuthZEN).
 * There is no `now()`: a decision reads its time from the request, so the decision log
 * replays it as it was made.
 */

/** RFC 3339 §5.6 `date-time`: a full date, a full time (any digits of fraction) and an offset (`Z` or ±hh:mm). */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const leap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** Milliseconds since 1970 of an RFC 3339 time, or why it is none. */
function instant(v: Value): number | BuiltinFailure {
  if (typeof v !== 'string') return failure('expected an RFC 3339 time (a string such as "2026-11-25T09:30:00Z")');
  const m = DATE_TIME.exec(v);
  if (m !== null) {
    const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number);
    const offset = m[8] === undefined ? 0 : (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10]));
    const days = mo === 2 && leap(y) ? 29 : DAYS[mo - 1];
    // Second 60 is a leap second (§5.7): it is counted as the next second, as POSIX time has none.
    // A leap second is inserted at the end of a UTC day, 23:59:60, whatever the offset says.
    const utcMinute = (((h * 60 + mi - offset) % 1440) + 1440) % 1440;
    const valid = days !== undefined && d >= 1 && d <= days && h < 24 && mi < 60 && (sec < 60 || (sec === 60 && utcMinute === 1439)) && (m[8] === undefined || (Number(m[9]) < 24 && Number(m[10]) < 60));
    if (valid) {
      const fraction = m[7] === undefined ? 0 : Number(`0.${m[7]}`) * 1000;
      const date = new Date(0);
      date.setUTCFullYear(y, mo - 1, d);
      date.setUTCHours(h, mi, 0, 0);
      return date.getTime() + sec * 1000 + fraction - offset * 60_000;
    }
  }
  return failure(`${clip(JSON.stringify(v), 60)} is not an RFC 3339 time (such as "2026-11-25T09:30:00Z")`);
}

/** One formatter per time zone (constructing one costs far more than using it); bounded, as the zone may come from a request. */
const ZONES = new Map<string, Intl.DateTimeFormat>();
const MAX_ZONES = 1_000;

function zone(tz: Value): Intl.DateTimeFormat | BuiltinFailure {
  if (typeof tz !== 'string') return failure('expected a time zone name (such as "Europe/Berlin" or "UTC")');
  let f = ZONES.get(tz);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', hour: 'numeric', minute: 'numeric', weekday: 'short' });
    } catch {
      return failure(`${clip(JSON.stringify(tz), 60)} is not a time zone (an IANA name such as "Europe/Berlin", or "UTC")`);
    }
    if (ZONES.size >= MAX_ZONES) ZONES.delete(ZONES.keys().next().value!);
    ZONES.set(tz, f);
  }
  return f;
}

const WEEKDAYS: Readonly<Record<string, number>> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

/** A part of the local time at `time` in zone `tz`. */
function local(name: string, doc: string, part: (parts: Intl.DateTimeFormatPart[]) => number): Builtin {
  return {
    name,
    params: [T.string, T.string],
    returns: T.number,
    doc,
    literal: (i, v) => {
      const wrong = i === 0 ? instant(v) : zone(v);
      return wrong instanceof BuiltinFailure ? wrong.error : null;
    },
    impl: ([time, tz]) => {
      const ms = instant(time);
      if (ms instanceof BuiltinFailure) return ms;
      const f = zone(tz);
      return f instanceof BuiltinFailure ? f : part(f.formatToParts(ms));
    },
  };
}

const partOf = (parts: Intl.DateTimeFormatPart[], type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)?.value ?? '';

export const time: Builtin[] = [
  {
    name: 'timestamp',
    params: [T.string],
    returns: T.number,
    doc: 'seconds since 1970 of an RFC 3339 time, to compare times: `timestamp(context.time) < timestamp("2027-01-01T00:00:00Z")`',
    impl: ([v]) => {
      const ms = instant(v);
      return ms instanceof BuiltinFailure ? ms : ms / 1000;
    },
  },
  local('hour', 'the hour (0–23) of an RFC 3339 time in a time zone: `hour(context.time, "Europe/Berlin") >= 8`', (parts) => Number(partOf(parts, 'hour'))),
  local('minute', 'the minute (0–59) of an RFC 3339 time in a time zone', (parts) => Number(partOf(parts, 'minute'))),
  local('weekday', 'the day of the week (1 Monday … 7 Sunday, as ISO 8601) of an RFC 3339 time in a time zone', (parts) => WEEKDAYS[partOf(parts, 'weekday')] ?? NaN),
];
