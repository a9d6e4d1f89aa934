/**
 * Whether a string is well-formed UTF-16: no lone surrogate. One with a lone surrogate cannot
 * be stored as UTF-8 (SQLite writes U+FFFD for it), so two such ids read back as one and a
 * request naming the id as sent never matches what was stored.
 */
export function wellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The problem to report for a name that is not well-formed. */
export const NOT_WELL_FORMED = 'holds a lone UTF-16 surrogate (an escape like \\ud800 without its pair), which cannot be stored';
