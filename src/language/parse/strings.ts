/**
 * String literal escapes: `\"`, `\\`, `\/`, `\n`, `\r`, `\t`, `\0`, `\u{HEX}` and `\uHHHH`.
 * Returns the decoded text, or the offending escape so the parser can point at it.
 */
export function decodeString(raw: string): { value: string } | { error: string; at: number } {
  // Most strings have no escape: one slice instead of a string built a character at a time.
  if (!raw.includes('\\')) return { value: raw.slice(1, -1) };
  let out = '';
  const end = raw.length - 1; // raw includes both quotes
  for (let i = 1; i < end; i++) {
    const c = raw[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = raw[++i];
    switch (e) {
      case '"': case '\\': case '/': out += e; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case '0': out += '\0'; break;
      case 'u': {
        const braced = /^\{([0-9a-fA-F]{1,6})\}/.exec(raw.slice(i + 1));
        const plain = /^[0-9a-fA-F]{4}/.exec(raw.slice(i + 1));
        const hex = braced?.[1] ?? plain?.[0];
        const code = hex === undefined ? NaN : parseInt(hex, 16);
        if (!(code <= 0x10ffff)) return { error: '\\u', at: i - 1 };
        out += String.fromCodePoint(code);
        i += braced ? braced[0].length : 4;
        break;
      }
      default:
        return { error: `\\${e}`, at: i - 1 };
    }
  }
  return { value: out };
}

/** The inverse of `decodeString`: the shortest literal that decodes to `value`. */
export function encodeString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f || (code >= 0x2028 && code <= 0x2029) || (code >= 0xd800 && code <= 0xdfff)) {
      out += `\\u{${code.toString(16)}}`;
    } else out += ch;
  }
  return out + '"';
}
