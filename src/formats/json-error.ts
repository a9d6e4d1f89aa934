/**
 * Where JSON text first goes wrong, as an offset. `JSON.parse` in Node 20 often names the
 * bad token without its position; people fixing a request file need the line and column.
 * A small recursive-descent scan of RFC 8259 syntax, used only after `JSON.parse` failed.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const expect = (c: string) => (text[i] === c ? i++ : fail());
  const literal = (word: string) => {
    for (const c of word) expect(c);
  };
  const string = () => {
    expect('"');
    while (text[i] !== '"') {
      if (i >= text.length || text.charCodeAt(i) < 0x20) fail();
      if (text[i] === '\\') {
        i++;
        if (text[i] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail();
          i += 4;
        } else if (!'"\\/bfnrt'.includes(text[i] ?? 'x')) fail();
      }
      i++;
    }
    i++;
  };
  const number = () => {
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i));
    if (m === null) fail();
    i += m![0].length;
  };
  const value = (depth: number): void => {
    if (depth > 512) fail();
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        string();
        ws();
        expect(':');
        value(depth + 1);
        ws();
        if (text[i] === '}') return void i++;
        expect(',');
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ']') return void i++;
        expect(',');
      }
    } else if (c === '"') string();
    else if (c === 't') literal('true');
    else if (c === 'f') literal('false');
    else if (c === 'n') literal('null');
    else number();
  };
  try {
    value(0);
    ws();
    return i < text.length ? i : text.length;
  } catch (at: unknown) {
    return typeof at === 'number' ? at : 0;
  }
}

/** Where and why JSON text does not parse: 1-based line and column, and `JSON.parse`'s reason without its offset. */
export interface JsonProblem {
  line: number;
  col: number;
  message: string;
}

/**
 * JSON text as a value, or where and why it is not JSON. A leading byte order mark (Windows
 * editors write one) is not JSON, but says nothing wrong: it is dropped.
 */
export function readJson(text: string): { value: unknown } | { problem: JsonProblem } {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return { value: JSON.parse(body) };
  } catch (err: unknown) {
    return { problem: jsonProblem(body, err) };
  }
}

/** `err` (from `JSON.parse(text)`) as a located problem. */
export function jsonProblem(text: string, err: unknown): JsonProblem {
  const offset = jsonErrorOffset(text);
  const before = text.slice(0, offset);
  // Node's messages end with the offset (or a quote of the text), which line and column replace.
  const message = err instanceof Error ? err.message.split('\n')[0].replace(/, (?:\.\.\.)?".*$|\s*(?:in|after) JSON at position.*$/, '') : String(err);
  return { line: before.split('\n').length, col: offset - before.lastIndexOf('\n'), message };
}
