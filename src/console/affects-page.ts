import type { AffectsRow } from '../engine/affects.js';
import type { AffectsAnswer } from '../engine/affects-query.js';
import { html, type Html } from './html.js';
import { page } from './layout.js';
import { factsOf, formParams, OPERATORS, type AffectsForm, type FactRow } from './affects-form.js';

const STATUS_TEXT: Record<AffectsRow['status'], string> = { applies: 'applies', 'may-apply': 'may apply', 'does-not-apply': 'does not apply' };
const BLANK_ROWS = 3;
/** Rows shown at most: a page of 10,000 rows helps nobody and takes long to render; the CSV has them all. */
export const MAX_ROWS = 500;

function factRow(r: FactRow): Html {
  const ops = OPERATORS.map((o) => html`<option value="${o}"${o === r.op ? html` selected` : ''}>${o === 'lacks' ? 'has no' : o}</option>`);
  return html`<tr>
<td><input type="text" name="path" value="${r.path}" placeholder="resource.type" aria-label="attribute path"></td>
<td><select name="op" aria-label="operator">${ops}</select></td>
<td><input type="text" name="value" value="${r.value}" placeholder="patient_record" aria-label="value"></td>
</tr>`;
}

function form(f: AffectsForm): Html {
  const rows = [...f.rows, ...Array.from({ length: BLANK_ROWS }, (): FactRow => ({ path: '', op: '==', value: '' }))];
  return html`<form method="get" action="/console/affects" class="stack">
<p class="muted">Describe the requests you ask about: each fact holds on every one of them; what no fact fixes stays unknown. A value is taken as a string unless it is a number, <code>true</code>, <code>false</code>, a <code>"quoted"</code> string or a <code>[list]</code>.</p>
<table class="facts"><thead><tr><th>Attribute</th><th>Operator</th><th>Value</th></tr></thead><tbody>${rows.map(factRow)}</tbody></table>
<label>More facts, one per line, in the policy language<textarea name="facts" rows="3" placeholder='subject.country != "US"'>${f.text}</textarea></label>
<div class="filters">
<label>Tags (any of)<input type="text" name="tag" value="${f.tag}" placeholder="hipaa"></label>
<label>Owners (any of)<input type="text" name="owner" value="${f.owner}"></label>
<label>Effect<select name="effect"><option value="">any</option>${(['permit', 'forbid'] as const).map((e) => html`<option value="${e}"${f.effect === e ? html` selected` : ''}>${e}</option>`)}</select></label>
<label><span><input type="checkbox" name="all" value="on"${f.all ? html` checked` : ''}> show policies that do not apply</span></label>
<button type="submit">Ask</button>
</div>
</form>`;
}

function detail(r: AffectsRow): Html {
  switch (r.status) {
    case 'applies':
      return r.reason === null ? html`` : html`reason: ${r.reason}`;
    case 'may-apply': {
      const errs = r.may_error && r.effect === 'forbid' && r.condition !== null ? html` <span class="muted">(or on an error: fails closed)</span>` : '';
      return r.condition === null ? html`only if evaluating it errors (fail closed)` : html`when <code class="residual">${r.condition}</code>${errs}`;
    }
    case 'does-not-apply':
      return r.because === null ? html`` : html`${r.because_part === 'unless' ? 'unless held' : 'fails'}: <code>${r.because}</code>`;
  }
}

function results(rows: readonly AffectsRow[], csv: string): Html {
  if (rows.length === 0) return html`<p>No policy applies or may apply.</p>`;
  const more = rows.length > MAX_ROWS ? html`<p class="notice">Showing the first ${MAX_ROWS} of ${rows.length} rows; <a href="${csv}">the CSV export</a> has them all.</p>` : '';
  const body = rows.slice(0, MAX_ROWS).map(
    (r) => html`<tr data-id="${r.id}">
<td class="status-${r.status}">${STATUS_TEXT[r.status]}</td>
<td>${r.effect}</td>
<td><code>${r.id}</code></td>
<td>${r.tags.map((t) => html`<span class="tag">${t}</span>`)}</td>
<td>${r.owner ?? ''}</td>
<td><code>${r.location}</code></td>
<td>${detail(r)}</td>
</tr>`,
  );
  return html`<table id="affects"><thead><tr><th>Status</th><th>Effect</th><th>ID</th><th>Tags</th><th>Owner</th><th>Location</th><th>Condition / reason</th></tr></thead><tbody>${body}</tbody></table>${more}`;
}

/** The form, and when it was submitted with facts, the answer. */
export function affectsPage(f: AffectsForm, answer: AffectsAnswer | null, shell: { csrf: string; revision: string }): Html {
  const facts = factsOf(f);
  let out: Html = html``;
  if (answer?.kind === 'bad-facts') {
    out = html`<div class="error" role="alert"><p>A fact is not valid (<code>where#N</code> is the N-th fact below):</p><ul>${answer.diagnostics.map((d) => html`<li><code>${d}</code></li>`)}</ul></div>
<ol>${facts.map((x) => html`<li><code>${x}</code></li>`)}</ol>`;
  } else if (answer?.kind === 'rows') {
    const counts = (s: AffectsRow['status']) => answer.rows.filter((r) => r.status === s).length;
    const csv = `/console/affects.csv?${formParams(f).toString()}`;
    out = html`<h2>Policies affecting requests where</h2>
<ul class="facts">${facts.map((x) => html`<li><code>${x}</code></li>`)}</ul>
<p id="summary">${counts('applies')} apply, ${counts('may-apply')} may apply${f.all ? html`, ${counts('does-not-apply')} do not apply` : ''} · <a href="${csv}" download>export as CSV</a></p>
${results(answer.rows, csv)}`;
  }
  return page({ title: 'Which policies affect…', current: 'affects', ...shell }, html`${form(f)}${out}`);
}
