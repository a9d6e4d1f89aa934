import type { WhatIfExample, WhatIfReport } from '../engine/whatif.js';
import { cell, html, type Html } from './html.js';
import { page } from './layout.js';
import { decisionHref } from './decisions-page.js';

export interface WhatIfForm {
  /** A policies folder on the server, as `gavel whatif --candidate` takes it. */
  candidate: string;
  /** How many of the newest logged decisions to replay. */
  limit: number;
  since: string;
}

/** What a submitted form came to: nothing asked yet, a report, or why there is none. */
export type WhatIfResult = { kind: 'none' } | { kind: 'report'; report: WhatIfReport } | { kind: 'problem'; message: string; diagnostics: string[] };

/** A deny no policy determined is the default deny: said so rather than left blank. */
function determining(ids: readonly string[]): Html {
  return ids.length === 0 ? html`<span class="muted">none (default deny)</span>` : html`${ids.map((p) => html`<code>${p}</code> `)}`;
}

function example(e: WhatIfExample): Html {
  return html`<tr>
<td><a href="${decisionHref(e.id)}">${e.at.replace('T', ' ').replace('Z', '')}</a></td>
<td>${e.via}</td><td>${cell(e.subject)}</td><td><code>${cell(e.action)}</code></td><td>${cell(e.resource)}</td>
<td class="${e.before}">${e.before}</td><td class="${e.after}">${e.after}</td>
<td>${determining(e.determiningBefore)}</td>
<td>${determining(e.determiningAfter)}${e.reasonsAfter.length > 0 ? html`<div class="muted">${e.reasonsAfter.join('; ')}</div>` : ''}</td>
</tr>`;
}

function report(r: WhatIfReport): Html {
  const examples = [...r.examples.allow_to_deny, ...r.examples.deny_to_allow];
  return html`<section id="whatif-report">
<p id="summary"><strong>${r.changed}</strong> of ${r.replayed} replayed decisions would change:
<span class="deny">${r.allow_to_deny} allow → deny</span>, <span class="allow">${r.deny_to_allow} deny → allow</span>${r.with_errors > 0 ? html`; ${r.with_errors} replays hit a policy error (fail closed)` : ''}.
${r.not_known > 0 ? html` ${r.not_known} more were decided through what the log did not keep (<code>${r.not_known_reads.join(', ')}</code>): their records lack it, so changed or not, they are not counted here.` : ''}
Candidate revision <code>${r.candidate.revision}</code> (${r.candidate.policies} policies)${r.window.oldest === null ? '' : html`; logged from ${r.window.oldest} to ${r.window.newest}`}.${r.without_request > 0 ? html` ${r.without_request} decisions were logged without their request (<code>decision_log.keep_requests</code> was off) and are not replayed.` : ''}</p>
${
  r.policies.length === 0
    ? html`<p>No decision would change.</p>`
    : html`<h2>By determining policy</h2>
<table id="whatif-policies"><thead><tr><th>Policy</th><th>Side</th><th>allow → deny</th><th>deny → allow</th></tr></thead><tbody>
${r.policies.map((p) => html`<tr><td><code>${p.policy}</code></td><td>${p.side === 'candidate' ? 'decides in the candidate' : 'decided when logged'}</td><td>${p.allow_to_deny}</td><td>${p.deny_to_allow}</td></tr>`)}
</tbody></table>
<h2>Examples</h2>
<table id="whatif-examples"><thead><tr><th>Time</th><th>Via</th><th>Subject</th><th>Action</th><th>Resource</th><th>Logged</th><th>Candidate</th><th>Determining then</th><th>Determining now</th></tr></thead><tbody>${examples.map(example)}</tbody></table>`
}
</section>`;
}

export function whatIfPage(f: WhatIfForm, result: WhatIfResult, shell: { csrf: string; revision: string }): Html {
  const body =
    result.kind === 'none'
      ? ''
      : result.kind === 'problem'
        ? html`<div class="notice" id="whatif-problem"><p>${result.message}</p>${result.diagnostics.length > 0 ? html`<pre>${result.diagnostics.join('\n')}</pre>` : ''}</div>`
        : report(result.report);
  return page(
    { title: 'What-if', current: 'whatif', ...shell },
    html`<p class="muted">Replays logged decisions against a candidate policy set — a folder on this server, as <code>gavel whatif --candidate</code> takes it — and shows which would change. The live set is not touched.</p>
<form method="post" action="/console/whatif" class="filters">
<input type="hidden" name="csrf" value="${shell.csrf}">
<label>Candidate policies folder<input type="text" name="candidate" value="${f.candidate}" placeholder="/srv/policies-next" required></label>
<label>Newest decisions<input type="number" name="limit" value="${String(f.limit)}" min="1" max="200000"></label>
<label>Since (UTC)<input type="text" name="since" value="${f.since}" placeholder="2026-01-31T14:00:00Z or 7d"></label>
<button type="submit">Replay</button>
</form>
${body}`,
  );
}
