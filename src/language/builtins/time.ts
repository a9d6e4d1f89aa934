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

/** RFC 3339 §5.6 `date-time`: a full date, a full time and an offset (`Z` or ±hh:mm). */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** Milliseconds since 1970 of an RFC 3339 time, or why it is none. */
function instant(v: Value): number | BuiltinFailure {
  if (typeof v !== 'string') return failure('expected an RFC 3339 time (a string such as "2026-11-25T09:30:00Z")');
  const m = DATE_TIME.exec(v);
  const ms = m === null ? NaN : Date.parse(v);
  // Date.parse takes 2026-02-30 for March 2nd: the day must exist in its month.
  const valid = m !== null && !Number.isNaN(ms) && new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))).getUTCDate() === Number(m[3]) && Number(m[4]) < 24 && Number(m[5]) < 60 && Number(m[6]) < 60 && (m[9] === undefined || (Number(m[9]) < 24 && Number(m[10]) < 60));
  return valid ? ms : failure(`${clip(JSON.stringify(v), 60)} is not an RFC 3339 time (such as "2026-11-25T09:30:00Z")`);
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

const numberPart = (parts: Intl.DateTimeFormatPart[], type: Intl.DateTimeFormatPartTypes): number => Number(parts.find((p) => p.type === type)?.value);

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
  local('hour', 'the hour (0–23) of an RFC 3339 time in a time zone: `hour(context.time, "Europe/Berlin") >= 8`', (parts) => numberPart(parts, 'hour')),
  local('minute', 'the minute (0–59) of an RFC 3339 time in a time zone', (parts) => numberPart(parts, 'minute')),
  local('weekday', 'the day of the week (1 Monday … 7 Sunday, as ISO 8601) of an RFC 3339 time in a time zone', (parts) => WEEKDAYS[parts.find((p) => p.type === 'weekday')?.value ?? ''] ?? NaN),
];
