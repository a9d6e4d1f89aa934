/**
 * A line diff for short texts (one policy): the longest common subsequence of lines,
 * printed as unified-diff hunks. Policies are tens of lines, so the quadratic table is
 * cheap; past `MAX_CELLS` the texts are shown as all removed and all added rather than
 * spending unbounded time and memory on a pathological input.
 */
export type DiffLine = { op: ' ' | '-' | '+'; text: string };

const MAX_CELLS = 4_000_000;

export function diffLines(before: readonly string[], after: readonly string[]): DiffLine[] {
  const n = before.length;
  const m = after.length;
  if (n * m > MAX_CELLS) return [...before.map((text) => ({ op: '-' as const, text })), ...after.map((text) => ({ op: '+' as const, text }))];
  // lcs[i][j]: length of the LCS of before[i..] and after[j..], in one flat array.
  const lcs = new Uint32Array((n + 1) * (m + 1));
  const at = (i: number, j: number) => i * (m + 1) + j;
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[at(i, j)] = before[i] === after[j] ? lcs[at(i + 1, j + 1)] + 1 : Math.max(lcs[at(i + 1, j)], lcs[at(i, j + 1)]);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && before[i] === after[j]) {
      out.push({ op: ' ', text: before[i++] });
      j++;
    } else if (i < n && (j === m || lcs[at(i + 1, j)] >= lcs[at(i, j + 1)])) out.push({ op: '-', text: before[i++] });
    else out.push({ op: '+', text: after[j++] });
  }
  return out;
}

/**
 * Unified-diff hunks (`@@ -a,b +c,d @@`, then ` `/`-`/`+` lines) with `context` unchanged
 * lines around each change; line numbers count from 1 in each text.
 */
export function unifiedHunks(lines: readonly DiffLine[], context = 3): string[] {
  const changed = lines.map((l, k) => (l.op === ' ' ? -1 : k)).filter((k) => k >= 0);
  if (changed.length === 0) return [];
  const ranges: [number, number][] = [];
  for (const k of changed) {
    const from = Math.max(0, k - context);
    const to = Math.min(lines.length - 1, k + context);
    const last = ranges[ranges.length - 1];
    if (last !== undefined && from <= last[1] + 1) last[1] = to;
    else ranges.push([from, to]);
  }
  const out: string[] = [];
  for (const [from, to] of ranges) {
    const oldStart = 1 + lines.slice(0, from).filter((l) => l.op !== '+').length;
    const newStart = 1 + lines.slice(0, from).filter((l) => l.op !== '-').length;
    const hunk = lines.slice(from, to + 1);
    const oldCount = hunk.filter((l) => l.op !== '+').length;
    const newCount = hunk.filter((l) => l.op !== '-').length;
    out.push(`@@ -${oldStart},${oldCount} +${newStart},${newCount} @@`, ...hunk.map((l) => `${l.op}${l.text}`));
  }
  return out;
}
