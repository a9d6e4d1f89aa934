/**
 * A time as a person types it in a filter — the CLI's `--since`/`--until`, the console's
 * "Since" field: an ISO 8601 time (`2026-11-22T10:00:00Z`, `2026-11-22`) or an age back from
 * now (`30s`, `15m`, `2h`, `7d`). Answers the time in ISO 8601, or what is wrong with the text.
 */
export function timeInput(text: string, now: number = Date.now()): { iso: string } | { problem: string } {
  const age = /^(\d+)([smhd])$/.exec(text);
  if (age !== null) {
    const at = new Date(now - Number(age[1]) * AGE_UNITS[age[2]]!);
    return Number.isNaN(at.getTime()) ? { problem: `\`${text}\` reaches further back than a date can` } : { iso: at.toISOString() };
  }
  const at = Date.parse(text);
  return Number.isNaN(at) ? { problem: `\`${text}\` is neither an ISO 8601 time nor an age like 15m, 2h or 7d` } : { iso: new Date(at).toISOString() };
}

const AGE_UNITS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
