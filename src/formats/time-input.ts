/**
 * A time as a person types it in a filter — the CLI's `--since`/`--until`, the console's
 * "Since" field: an ISO 8601 time (`2026-11-22T10:00:00Z`, `2026-11-22T11:00+01:00`; without a
 * zone, UTC; a date alone is its midnight, UTC) or an age back from now (`30s`, `15m`, `2h`,
 * `7d`). Answers the time in ISO 8601, or what is wrong with the text.
 */
export function timeInput(text: string, now: number = Date.now()): { iso: string } | { problem: string } {
  const age = /^(\d+)([smhd])$/.exec(text);
  if (age !== null) {
    const at = new Date(now - Number(age[1]) * AGE_UNITS[age[2]]!);
    return Number.isNaN(at.getTime()) ? { problem: `\`${text}\` reaches further back than a date can` } : { iso: at.toISOString() };
  }
  const m = ISO.exec(text);
  if (m === null) return { problem: `\`${text}\` is neither an ISO 8601 time (2026-11-22, 2026-11-22T10:00:00Z) nor an age like 15m, 2h or 7d` };
  const [, y, mo, d, h = '00', mi = '00', sec = '00', frac = '', zone = 'Z'] = m;
  // Date.parse would take `7` as July 2001 and roll 2026-02-30 over into March; a time
  // without a zone would be the machine's local time. Here each part must exist as written,
  // and a time without a zone is UTC, as the log shows every time.
  const at = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), Number(frac.slice(0, 3).padEnd(3, '0')));
  const check = new Date(at);
  if (check.getUTCFullYear() !== Number(y) || check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59) {
    return { problem: `\`${text}\` is not a date and time that exists` };
  }
  if (zone !== 'Z' && zone !== 'z' && (Number(zone.slice(1, 3)) > 23 || Number(zone.slice(-2)) > 59)) return { problem: `\`${text}\` has a zone offset that does not exist` };
  const offset = zone === 'Z' || zone === 'z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(-2)));
  const iso = new Date(at - offset * 60_000).toISOString();
  // Past 9999 ISO 8601 writes `+010000-…`, which sorts before every logged time: the log's filters compare text.
  return iso.startsWith('+') ? { problem: `\`${text}\` is after the year 9999` } : { iso };
}

/** A date, optionally with a time (seconds and fractions optional) and a zone (`Z`, `+02:00`, `+0200`). */
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/;

const AGE_UNITS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
