import type { Effect } from '../language/ast.js';
import { filterInventory, type InventoryRow } from '../engine/inventory.js';
import { html, query, type Html } from './html.js';
import { page } from './layout.js';

export const POLICIES_PER_PAGE = 100;

export interface PoliciesQuery {
  /** Words every listed policy's id, description or tags contain (case-insensitive). */
  q: string;
  tag?: string;
  owner?: string;
  effect?: Effect;
  /** 0-based. */
  page: number;
}

/** Rows matching the filters and every word of the search. */
export function searchPolicies(rows: readonly InventoryRow[], q: PoliciesQuery): InventoryRow[] {
  const words = q.q.toLowerCase().split(/\s+/).filter((w) => w !== '');
  const filtered = filterInventory(rows, { tag: q.tag, owner: q.owner, effect: q.effect });
  if (words.length === 0) return filtered;
  return filtered.filter((r) => {
    const text = `${r.id} ${r.description ?? ''} ${r.tags.join(' ')}`.toLowerCase();
    return words.every((w) => text.includes(w));
  });
}

function distinct(rows: readonly InventoryRow[], of: (r: InventoryRow) => readonly string[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) for (const v of of(r)) seen.add(v);
  return [...seen].sort();
}

function select(name: string, label: string, values: readonly string[], chosen: string | undefined): Html {
  const options = values.map((v) => html`<option value="${v}"${v === chosen ? html` selected` : ''}>${v}</option>`);
  return html`<label>${label}<select name="${name}"><option value="">any</option>${options}</select></label>`;
}

function row(r: InventoryRow): Html {
  return html`<tr>
<td><code>${r.id}</code>${r.description === null ? '' : html`<div class="muted">${r.description}</div>`}</td>
<td class="${r.effect === 'permit' ? 'allow' : 'deny'}">${r.effect}</td>
<td>${r.tags.map((t) => html`<span class="tag">${t}</span>`)}</td>
<td>${r.owner ?? html`<span class="muted">—</span>`}</td>
<td><code>${r.file}:${r.line}</code></td>
<td><code>${r.target === '' ? '(any request)' : r.target}</code></td>
</tr>`;
}

export function policiesPage(all: readonly InventoryRow[], q: PoliciesQuery, shell: { csrf: string; revision: string }): Html {
  const matches = searchPolicies(all, q);
  // A page past the end (an old link, the set since shrunk) shows the last page, not an empty one.
  const lastPage = Math.max(0, Math.ceil(matches.length / POLICIES_PER_PAGE) - 1);
  const pageNumber = Math.min(q.page, lastPage);
  const start = pageNumber * POLICIES_PER_PAGE;
  const shown = matches.slice(start, start + POLICIES_PER_PAGE);
  const keep = { q: q.q, tag: q.tag, owner: q.owner, effect: q.effect };
  const pager = html`<div class="pager">${pageNumber > 0 ? html`<a href="/console/policies${query({ ...keep, page: pageNumber - 1 })}">← previous</a>` : ''}${start + POLICIES_PER_PAGE < matches.length ? html`<a href="/console/policies${query({ ...keep, page: pageNumber + 1 })}">next →</a>` : ''}</div>`;
  return page(
    { title: 'Policies', current: 'policies', ...shell },
    html`<p class="muted">Every policy the server decides with now. Search matches ids, descriptions and tags; filters combine.</p>
<form method="get" action="/console/policies" class="filters">
<label>Search<input type="search" name="q" value="${q.q}" placeholder="e.g. invoice"></label>
${select('tag', 'Tag', distinct(all, (r) => r.tags), q.tag)}
${select('owner', 'Owner', distinct(all, (r) => (r.owner === null ? [] : [r.owner])), q.owner)}
${select('effect', 'Effect', ['permit', 'forbid'], q.effect)}
<button type="submit">Filter</button> <a href="/console/policies">clear</a>
</form>
<p id="count">${matches.length} of ${all.length} policies${matches.length > POLICIES_PER_PAGE ? html`, showing ${start + 1}–${start + shown.length}` : ''}</p>
${shown.length === 0 ? html`<p>No policy matches.</p>` : html`<table id="policies"><thead><tr><th>ID</th><th>Effect</th><th>Tags</th><th>Owner</th><th>Location</th><th>Target</th></tr></thead><tbody>${shown.map(row)}</tbody></table>`}
${pager}`,
  );
}
