/**
 * Characters that change how text reads without showing themselves: controls (C0, DEL, C1),
 * Unicode format characters (Cf — bidi overrides and isolates such as U+202E, zero-width
 * spaces and joiners, the byte order mark), the other default-ignorable code points (variation
 * selectors, the combining grapheme joiner, Hangul fillers: `alice\uFE0F` shows as `alice`) and
 * the line and paragraph separators.
 */
const HIDDEN = /[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\u2028\u2029]/u;
const HIDDEN_ALL = /[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\u2028\u2029]/gu;

const unit = (code: number): string => `\\u${code.toString(16).toUpperCase().padStart(4, '0')}`;
/** As JSON writes it: one `\uXXXX` per UTF-16 unit, so a tag character beyond U+FFFF is a surrogate pair. */
const escape = (c: string): string => (c.length === 1 ? unit(c.charCodeAt(0)) : unit(c.charCodeAt(0)) + unit(c.charCodeAt(1)));

/**
 * A caller's text as an audit view shows it: each hidden character written as its escape
 * (`\u202E`). Any caller of the decision APIs chooses the subject and resource ids that are
 * logged; `\u202Eecila` would otherwise read as `alice` in a table, and a newline in an id
 * would print a log line of its own.
 */
export function visible(text: string): string {
  return HIDDEN.test(text) ? text.replace(HIDDEN_ALL, escape) : text;
}

const HIDDEN_IN_JSON = /[\p{Cf}\p{Default_Ignorable_Code_Point}\u2028\u2029]/u;
const HIDDEN_IN_JSON_ALL = /[\p{Cf}\p{Default_Ignorable_Code_Point}\u2028\u2029]/gu;

/**
 * JSON text (pretty-printed: its own newlines stay) with the hidden characters JSON.stringify
 * leaves as they are — format characters, U+2028, U+2029; it escapes controls itself —
 * escaped too. They occur only inside strings, where `\uXXXX` is the same value, so the text
 * still parses to what it did.
 */
export function visibleJson(json: string): string {
  return HIDDEN_IN_JSON.test(json) ? json.replace(HIDDEN_IN_JSON_ALL, escape) : json;
}
