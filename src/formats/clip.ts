/**
 * A caller's text where only its start is wanted — a table cell, a reason sent back in a
 * header: whole up to `max` characters, else its start and its length. Callers may send
 * values of most of a megabyte.
 */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length.toLocaleString('en-US')} characters)`;
}
