import { renderCsv } from './table.js';
import type { AffectsRow } from '../engine/affects.js';

/*
 * `gavel affects` output for people (a table) and spreadsheets (CSV). JSON is the rows as
 * they are.
 */

const STATUS_TEXT: Record<AffectsRow['status'], string> = { applies: 'applies', 'may-apply': 'may apply', 'does-not-apply': 'does not apply' };

/** What the last column says: the residual condition, the failing part, or the forbid's reason. */
function detail(r: AffectsRow): string {
  switch (r.status) {
    case 'applies':
      return r.reason !== null ? `reason: ${r.reason}` : '';
    case 'may-apply':
      return r.condition !== null ? `when ${r.condition}` : 'only if evaluating it errors (fail closed)';
    case 'does-not-apply':
      return r.because === null ? '' : r.because_part === 'unless' ? `unless held: ${r.because}` : `fails: ${r.because}`;
  }
}

export function renderAffectsTable(rows: readonly AffectsRow[]): string[] {
  if (rows.length === 0) return ['no policy applies or may apply'];
  const cells = rows.map((r) => [STATUS_TEXT[r.status], r.effect, r.id, r.tags.join(',') || '-', r.owner ?? '-', r.location, detail(r) + (r.may_error && r.effect === 'forbid' && r.status === 'may-apply' && r.condition !== null ? ' (or on an error: fails closed)' : '')]);
  const head = ['STATUS', 'EFFECT', 'ID', 'TAGS', 'OWNER', 'LOCATION', 'CONDITION / REASON'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(head), ...cells.map(line)];
}

const CSV_COLUMNS = ['status', 'effect', 'id', 'tags', 'owner', 'location', 'condition', 'because', 'because_part', 'may_error', 'reason'] as const;


/** The rows as CSV (RFC 4180, lines ending in CRLF, as `gavel policies --csv`). */
export function renderAffectsCsv(rows: readonly AffectsRow[]): string {
  const text = (r: AffectsRow, c: (typeof CSV_COLUMNS)[number]): string => {
    const v = r[c];
    return Array.isArray(v) ? v.join(' ') : v === null ? '' : String(v);
  };
  return renderCsv(CSV_COLUMNS, rows.map((r) => CSV_COLUMNS.map((c) => text(r, c))));
}
