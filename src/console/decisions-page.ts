import type { DecisionRecord } from '../store/store.js';
import { cell, html, query, type Html } from './html.js';
import { page } from './layout.js';
import { timeInput } from '../formats/time-input.js';
import type { DecisionFilter, DecisionPage } from './decisions.js';

export const DECISIONS_PER_PAGE = 50;

/** The filter form's fields as typed (re-shown as they were, even when one is invalid). */
export interface DecisionsForm {
  /** `allow`, `deny`, or empty for both; anything else is an error to show. */
  decision: string;
  subject: string;
  policy: string;
  since: string;
}

/** The filter the form asks for; a `since` that is neither a time nor an age is an error to show, not a crash. */
export function filterOf(f: DecisionsForm): { filter: DecisionFilter } | { error: string } {
  const filter: DecisionFilter = {};
  // As the API refuses it: a filter that cannot match must not show the whole log as if it had.
  if (f.decision !== '' && f.decision !== 'allow' && f.decision !== 'deny') return { error: `decision \`${f.decision}\` is neither allow nor deny` };
  if (f.decision !== '') filter.decision = f.decision === 'allow';
  if (f.subject.trim() !== '') filter.subjectId = f.subject.trim();
  if (f.policy.trim() !== '') filter.policy = f.policy.trim();
  if (f.since.trim() !== '') {
    const at = timeInput(f.since.trim());
    if ('problem' in at) return { error: `${at.problem}: write a time such as 2026-01-31 or 2026-01-31T14:00:00Z, or an age such as 2h` };
    filter.since = at.iso;
  }
  return { filter };
}

/** The decision page's link. */
export function decisionHref(id: string): string {
  return `/console/decisions/${encodeURIComponent(id)}`;
}

function row(r: DecisionRecord): Html {
  return html`<tr>
<td><a href="${decisionHref(r.id)}">${r.at.replace('T', ' ').replace('Z', '')}</a></td>
<td class="${r.decision ? 'allow' : 'deny'}">${r.decision ? 'allow' : 'deny'}</td>
<td>${cell(r.subject.type)}/<strong>${cell(r.subject.id)}</strong></td>
<td><code>${cell(r.action)}</code></td>
<td>${cell(r.resource.type)}/${cell(r.resource.id)}</td>
<td>${r.determining.map((p) => html`<code>${p}</code> `)}</td>
<td>${r.via}</td>
</tr>`;
}

export function decisionsPage(f: DecisionsForm, result: { page: DecisionPage } | { error: string } | { disabled: true }, shell: { csrf: string; revision: string }): Html {
  const form = html`<form method="get" action="/console/decisions" class="filters">
<label>Decision<select name="decision"><option value="">any</option>${(['allow', 'deny'] as const).map((d) => html`<option value="${d}"${f.decision === d ? html` selected` : ''}>${d}</option>`)}</select></label>
<label>Subject id<input type="text" name="subject" value="${f.subject}"></label>
<label>Determining policy<input type="text" name="policy" value="${f.policy}"></label>
<label>Since (UTC)<input type="text" name="since" value="${f.since}" placeholder="2026-01-31T14:00:00Z or 2h"></label>
<button type="submit">Filter</button> <a href="/console/decisions">clear</a>
</form>`;
  let body: Html;
  if ('disabled' in result) body = html`<p class="notice">This server keeps no decision log (<code>decision_log.enabled</code> is off, or it has no store).</p>`;
  else if ('error' in result) body = html`<p class="error" role="alert">${result.error}</p>`;
  else {
    const { records, older } = result.page;
    const keep = { decision: f.decision, subject: f.subject, policy: f.policy, since: f.since };
    body = html`${records.length === 0 ? html`<p>No decision matches.</p>` : html`<table id="decisions"><thead><tr><th>Time (UTC)</th><th>Decision</th><th>Subject</th><th>Action</th><th>Resource</th><th>Determining</th><th>Via</th></tr></thead><tbody>${records.map(row)}</tbody></table>`}
<div class="pager">${older === null ? '' : html`<a href="/console/decisions${query({ ...keep, older })}" rel="next">older →</a>`}</div>`;
  }
  return page({ title: 'Decisions', current: 'decisions', ...shell }, html`<p class="muted">The decision log, newest first. Open a decision for its request and, for a deny, why it was denied.</p>${form}${body}`);
}
