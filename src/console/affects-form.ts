import type { Effect } from '../language/ast.js';
import type { AffectsQuery } from '../engine/affects-query.js';

/*
 * The affects form, as query parameters (a GET form: a question is a link that can be
 * bookmarked, and the CSV export is the same link): rows of `path` / `op` / `value`, a
 * free-text box of facts one per line, and the filters. Each filled row becomes one fact
 * in the policy language, so the result is exactly what `gavel affects --where` answers.
 */

export const OPERATORS = ['==', '!=', 'in', 'like', 'contains', '<', '<=', '>', '>=', 'has', 'lacks'] as const;
export type Operator = (typeof OPERATORS)[number];

export interface FactRow {
  path: string;
  op: Operator;
  value: string;
}

export interface AffectsForm {
  rows: FactRow[];
  /** The free-text box, as typed. */
  text: string;
  tag: string;
  owner: string;
  effect?: Effect;
  all: boolean;
}

const isOperator = (s: string): s is Operator => (OPERATORS as readonly string[]).includes(s);
const LITERAL = /^(-?\d+(\.\d+)?|true|false|null|".*"|\[.*\])$/s;

/** A value as typed: a literal of the language stays as it is; anything else is a string (quoted). */
function literal(value: string, op: Operator): string {
  const v = value.trim();
  if (op === 'like' && !v.startsWith('"')) return JSON.stringify(v);
  return LITERAL.test(v) ? v : JSON.stringify(v);
}

/** The fact a row says, in the policy language. */
export function factOf(r: FactRow): string {
  const path = r.path.trim();
  if (r.op === 'has') return `${path} has ${r.value.trim()}`;
  if (r.op === 'lacks') return `!(${path} has ${r.value.trim()})`;
  return `${path} ${r.op} ${literal(r.value, r.op)}`;
}

/** Reads the form from the query string; parameters it does not know are ignored. */
export function readAffectsForm(params: URLSearchParams): AffectsForm {
  const paths = params.getAll('path');
  const ops = params.getAll('op');
  const values = params.getAll('value');
  const rows: FactRow[] = [];
  for (let i = 0; i < paths.length && i < 64; i++) {
    const op = ops[i] ?? '==';
    const path = paths[i] ?? '';
    if (path.trim() === '' || !isOperator(op)) continue;
    rows.push({ path, op, value: values[i] ?? '' });
  }
  const effect = params.get('effect');
  return {
    rows,
    text: params.get('facts') ?? '',
    tag: params.get('tag') ?? '',
    owner: params.get('owner') ?? '',
    ...(effect === 'permit' || effect === 'forbid' ? { effect } : {}),
    all: params.get('all') === 'on',
  };
}

/** The facts in order: the rows', then the box's lines. */
export function factsOf(f: AffectsForm): string[] {
  const typed = f.text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  return [...f.rows.map(factOf), ...typed];
}

export function queryOf(f: AffectsForm): AffectsQuery {
  const words = (s: string) => s.split(/[\s,]+/).filter((w) => w !== '');
  return { where: factsOf(f), tags: words(f.tag), owners: words(f.owner), effect: f.effect, all: f.all };
}

/** The form's query string, for links (the CSV export). */
export function formParams(f: AffectsForm): URLSearchParams {
  const p = new URLSearchParams();
  for (const r of f.rows) p.append('path', r.path), p.append('op', r.op), p.append('value', r.value);
  if (f.text !== '') p.set('facts', f.text);
  if (f.tag !== '') p.set('tag', f.tag);
  if (f.owner !== '') p.set('owner', f.owner);
  if (f.effect !== undefined) p.set('effect', f.effect);
  if (f.all) p.set('all', 'on');
  return p;
}
