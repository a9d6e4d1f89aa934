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

/** States are positions in the pattern's characters; a star is a state with a self-loop. */
function automaton(pieces: Piece[]): (s: string) => boolean {
  const steps: (string | 1 | 2)[] = []; // a character, 1 = star, 2 = globstar
  for (const p of pieces) {
    if (p.kind === 'text') steps.push(...p.text);
    else steps.push(p.kind === 'star' ? 1 : 2);
  }
  const n = steps.length;
  return (s) => {
    let current = new Uint8Array(n + 1);
    let next = new Uint8Array(n + 1);
    const close = (set: Uint8Array) => {
      // Stars may match nothing: a state at a star also stands after it.
      for (let i = 0; i < n; i++) if (set[i] && typeof steps[i] === 'number') set[i + 1] = 1;
    };
    current[0] = 1;
    close(current);
    // By code point, as the pattern's steps are: `*` must not split an emoji's surrogate pair.
    for (const c of s) {
      next.fill(0);
      let alive = false;
      for (let i = 0; i < n; i++) {
        if (!current[i]) continue;
        const step = steps[i];
        if (step === 2 || (step === 1 && c !== '/')) next[i] = 1;
        else if (step === c) next[i + 1] = 1;
        else continue;
        alive = true;
      }
      if (!alive) return false;
      close(next);
      [current, next] = [next, current];
    }
    return current[n] === 1;
  };
}
