/**
 * Plain-text and CSV tables for listings. Columns are padded to their widest cell so a
 * listing lines up in a terminal and stays one record a line for `grep` and `cut`.
 */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

/**
 * RFC 4180: fields holding a comma, quote or line break are quoted, quotes doubled, lines
 * end in CRLF. Cells are written as they are — no formula escaping — so the export is the
 * data; spreadsheets should import it as text.
 */
export function renderCsv(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const field = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return [headers, ...rows].map((r) => r.map(field).join(',') + '\r\n').join('');
}
