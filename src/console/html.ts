/*
 * HTML built by one tagged template that escapes every interpolated string. Policy text,
 * residual conditions, subject ids and logged requests are attacker-influenced: the only
 * way to put markup into a page is another `html` fragment, so forgetting to escape is not
 * something a page can do by accident.
 */
import { clip } from '../formats/clip.js';
import { visible } from '../formats/visible.js';

/** Markup that is already safe: made only by `html` (or the escaping below). */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** What a fragment may interpolate: text (escaped), numbers, fragments, lists of them; null/undefined/false render nothing. */
export type Part = string | number | Html | readonly Part[] | null | undefined | false;

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text for HTML content or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

function render(part: Part): string {
  if (part === null || part === undefined || part === false) return '';
  if (part instanceof Html) return part.text;
  if (typeof part === 'number') return String(part);
  if (typeof part === 'string') return escapeHtml(part);
  return part.map(render).join('');
}

/** The longest logged value a table cell shows whole (a subject id, a resource): ids run to a few dozen characters. */
export const CELL_CHARACTERS = 160;

/**
 * A caller's value as a table cell shows it (formats/clip.ts), its hidden characters written
 * as escapes (formats/visible.ts). Any caller may send a subject id of most of a megabyte, and
 * fifty such rows, escaped, made a page of 200 MB that stopped the server for seconds each
 * time it was opened; the decision's own page shows it whole.
 */
export const cell = (text: string): string => clip(visible(text), CELL_CHARACTERS);

export function html(strings: TemplateStringsArray, ...parts: Part[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < parts.length; i++) out += render(parts[i]!) + strings[i + 1]!;
  return new Html(out);
}

/** A URL's query string from the non-empty values, for links that keep a page's filters. */
export function query(params: Record<string, string | number | readonly string[] | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === '') continue;
    if (Array.isArray(v)) for (const x of v as readonly string[]) q.append(k, x);
    else q.append(k, String(v));
  }
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}
