/**
 * `like` patterns. `*` matches any run of characters without `/` (one path segment or part
 * of one), `**` matches any run including `/`, `\*` and `\\` are a literal star and
 * backslash. Matching simulates the pattern as a small automaton over the input: time is
 * O(input × pattern) whatever the pattern, never exponential as backtracking would be.
 */
type Piece = { kind: 'text'; text: string } | { kind: 'star' } | { kind: 'globstar' };

export function parseGlob(pattern: string): Piece[] | { error: string } {
  const pieces: Piece[] = [];
  let text = '';
  const flush = () => {
    if (text !== '') pieces.push({ kind: 'text', text });
    text = '';
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next !== '*' && next !== '\\') return { error: 'a backslash in a pattern must escape `*` or `\\`' };
      text += next;
      i++;
    } else if (c === '*') {
      flush();
      const double = pattern[i + 1] === '*';
      if (double && pattern[i + 2] === '*') return { error: '`***` is ambiguous; write `**` or `\\**`' };
      pieces.push(double ? { kind: 'globstar' } : { kind: 'star' });
      if (double) i++;
    } else text += c;
  }
  flush();
  return pieces;
}

/** The literal text every match starts with: what a path-prefix index can key on. */
export function literalPrefix(pieces: Piece[]): string {
  return pieces[0]?.kind === 'text' ? pieces[0].text : '';
}

export function compileGlob(pieces: Piece[]): (s: string) => boolean {
  if (pieces.length === 0) return (s) => s === '';
  if (pieces.length === 1 && pieces[0].kind === 'text') {
    const text = pieces[0].text;
    return (s) => s === text;
  }
  if (pieces.length === 2 && pieces[0].kind === 'text' && pieces[1].kind === 'globstar') {
    const prefix = pieces[0].text;
    return (s) => s.startsWith(prefix);
  }
  if (pieces.length === 2 && pieces[0].kind === 'text' && pieces[1].kind === 'star') {
    const prefix = pieces[0].text;
    return (s) => s.startsWith(prefix) && s.indexOf('/', prefix.length) < 0;
  }
  return automaton(pieces);
}

/**
 * The pattern as a nondeterministic automaton run bit-parallel (Shift-And): state i — "the
 * first i steps are matched" — is bit i of a set of 32-bit words, and one input character
 * moves every state at once with a few word operations. A request may carry a string of a
 * megabyte, and every `like` reading it walks it whole; stepping the states one by one
 * cost 0.1–0.4 s a policy on such a string (and 39 s for ten long patterns).
 *
 * Steps are UTF-16 code units, as the input is read: a literal emoji is two steps in a row,
 * and a star cannot end inside a surrogate pair, since every literal begins a code point.
 */
function automaton(pieces: Piece[]): (s: string) => boolean {
  const STAR = -1;
  const GLOBSTAR = -2;
  const steps: number[] = [];
  for (const p of pieces) {
    if (p.kind === 'text') for (let i = 0; i < p.text.length; i++) steps.push(p.text.charCodeAt(i));
    else steps.push(p.kind === 'star' ? STAR : GLOBSTAR);
  }
  const n = steps.length;
  const words = (n >> 5) + 1;
  const bit = (i: number): [number, number] => [i >> 5, 1 << (i & 31)];
  // Per character, the states it advances; the states a star or globstar holds on any character but `/`, and those holding on `/`.
  const masks = new Map<number, Uint32Array>();
  const stars = new Uint32Array(words);
  const slash = new Uint32Array(words);
  steps.forEach((step, i) => {
    const [w, b] = bit(i);
    if (step < 0) {
      stars[w] |= b;
      if (step === GLOBSTAR) slash[w] |= b;
      return;
    }
    let m = masks.get(step);
    if (m === undefined) masks.set(step, (m = new Uint32Array(words)));
    m[w] |= b;
  });
  const none = new Uint32Array(words);
  const ascii = Array.from({ length: 128 }, (_, c) => masks.get(c) ?? none);
  const maskOf = (c: number): Uint32Array => (c < 128 ? ascii[c] : (masks.get(c) ?? none));
  const [acceptWord, acceptBit] = bit(n);
  // parseGlob never puts two stars side by side (`***` is refused), so one step of "a star may match nothing" closes a set.
  if (steps.some((step, i) => step < 0 && (steps[i + 1] ?? 0) < 0)) throw new Error('internal: adjacent stars in a glob');

  if (words === 1) {
    const starBits = stars[0] | 0;
    const slashBits = slash[0] | 0;
    const single = Int32Array.from(ascii, (m) => m[0] | 0);
    const accept = acceptBit | 0;
    return (s) => {
      let current = 1 | ((1 & starBits) << 1);
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        const m = c < 128 ? single[c] : (masks.get(c)?.[0] ?? 0) | 0;
        let next = ((current & m) << 1) | (current & (c === 47 ? slashBits : starBits));
        if (next === 0) return false;
        next |= (next & starBits) << 1;
        current = next;
      }
      return (current & accept) !== 0;
    };
  }

  return (s) => {
    let current = new Uint32Array(words);
    let next = new Uint32Array(words);
    current[0] = 1 | ((1 & stars[0]) << 1);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      const m = maskOf(c);
      const hold = c === 47 ? slash : stars;
      let carry = 0;
      let alive = 0;
      for (let w = 0; w < words; w++) {
        const advanced = current[w] & m[w];
        next[w] = (advanced << 1) | carry | (current[w] & hold[w]);
        carry = advanced >>> 31;
        alive |= next[w];
      }
      if (alive === 0) return false;
      carry = 0;
      for (let w = 0; w < words; w++) {
        const skipping = next[w] & stars[w];
        next[w] |= (skipping << 1) | carry;
        carry = skipping >>> 31;
      }
      [current, next] = [next, current];
    }
    return (current[acceptWord] & acceptBit) !== 0;
  };
}
