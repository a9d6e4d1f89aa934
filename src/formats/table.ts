import { visible } from './visible.js';

/**
 * Plain-text and CSV tables for listings. Columns are padded to their widest cell so a
 * listing lines up in a terminal and stays one record a line for `grep` and `cut`: a cell's
 * line breaks and other hidden characters (a description written over two lines) are shown
 * as escapes (visible.ts).
 */
export function renderTable(headers: readonly string[], rawRows: readonly (readonly string[])[]): string[] {
  const rows = rawRows.map((r) => r.map(visible));
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

/** RFC 4180 (see csvField), lines ending in CRLF. */
export function renderCsv(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  return [headers, ...rows].map((r) => r.map(csvField).join(',') + '\r\n').join('');
}

/**
 * RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. Policy text
 * is written by many hands, so a field a spreadsheet would run as a formula (`=`, `+`, `-`,
 * `@`, a tab or carriage return first) starts with `'` (OWASP's advice on CSV injection).
 */
export function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
