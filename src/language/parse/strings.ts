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

/**
 * Characters a literal shows as escapes: controls, format characters (zero-width ones, bidi
 * overrides, the soft hyphen, the BOM), separators other than the space, lone surrogates,
 * private-use and unassigned code points, variation selectors, and the letters and marks
 * that show as nothing (the combining grapheme joiner, Hangul fillers, the braille blank).
 * Written raw they are invisible or change how the text around them is displayed —
 * `"admin\u200b"` would read as `"admin"`, and U+202E reverses what follows ("Trojan
 * Source", CVE-2021-42574) — so `gavel fmt` must not undo an author's escape.
 */
const SHOWN_ESCAPED = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\p{Cn}\p{Variation_Selector}\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0]|(?! )\p{Zs}/u;

/** The inverse of `decodeString`: the shortest literal that decodes to `value` and shows every character it holds. */
export function encodeString(value: string): string {
  let out = '"';
  for (const ch of value) {
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (SHOWN_ESCAPED.test(ch)) out += `\\u{${ch.codePointAt(0)!.toString(16)}}`;
    else out += ch;
  }
  return out + '"';
}

/**
 * Bidirectional controls: raw in a string or comment they make a policy display as other
 * text than it is (rustc refuses the same set by default). Each must be written as an escape.
 */
export const BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069]/;
