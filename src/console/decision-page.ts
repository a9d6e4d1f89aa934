import type { WhyNot } from '../engine/why-not.js';
import type { DecisionRecord } from '../store/store.js';
import { html, type Html } from './html.js';
import { page } from './layout.js';
import { REQUEST_NOT_KEPT } from '../engine/explain-logged.js';

function list(xs: readonly string[]): Html {
  return xs.length === 0 ? html`<span class="muted">none</span>` : html`${xs.map((x) => html`<code>${x}</code> `)}`;
}

function record(r: DecisionRecord): Html {
  return html`<dl class="record">
<dt>Id</dt><dd><code>${r.id}</code></dd>
${r.request_id === undefined ? '' : html`<dt>Request id</dt><dd><code>${r.request_id}</code> <span class="muted">(the caller's)</span></dd>`}
<dt>Time</dt><dd>${r.at}</dd>
<dt>Via</dt><dd>${r.via}</dd>
<dt>Subject</dt><dd>${r.subject.type}/${r.subject.id}</dd>
<dt>Action</dt><dd><code>${r.action}</code></dd>
<dt>Resource</dt><dd>${r.resource.type}/${r.resource.id}</dd>
<dt>Decision</dt><dd class="${r.decision ? 'allow' : 'deny'}" id="decision">${r.decision ? 'allow' : 'deny'}</dd>
<dt>Determining policies</dt><dd>${list(r.determining)}</dd>
<dt>Reasons</dt><dd>${r.reasons.length === 0 ? html`<span class="muted">none</span>` : html`<ul>${r.reasons.map((x) => html`<li>${x}</li>`)}</ul>`}</dd>
${r.errors.length === 0 ? '' : html`<dt>Errors in</dt><dd>${list(r.errors)}</dd>`}
<dt>Revision</dt><dd><code>${r.revision}</code></dd>
<dt>Latency</dt><dd>${r.latencyUs} µs</dd>
</dl>`;
}

function whyDenied(w: WhyNot): Html {
  const forbids = w.forbids.map(
    (f) =>
      html`<li><code>${f.id}</code> <span class="muted">(${f.location})</span>${f.reason === null ? '' : html`<br>reason: ${f.reason}`}${f.error === null ? '' : html`<br>failed closed: <code>${f.error}</code>`}<br>${f.stops === null ? 'stops applying: never, for a request its target matches (it has no conditions)' : html`stops applying when: <code class="stops">${f.stops}</code>`}</li>`,
  );
  const permits = w.permits.map(
    (p) => html`<li><code>${p.id}</code> <span class="muted">(${p.location})</span>
${p.failed === null ? '' : html`<br>${p.failed.part === 'unless' ? 'unless held' : 'when failed'}: <code>${p.failed.condition}</code> <span class="muted">(${p.failed.location})</span>`}
${p.error === null ? '' : html`<br>error: <code>${p.error}</code>`}
<br>would allow when: <code class="needs">${p.needs}</code></li>`,
  );
  return html`${forbids.length === 0 ? html`<p>No forbid fired.</p>` : html`<h3>Forbids that fired</h3><ul id="forbids">${forbids}</ul>`}
${permits.length === 0 ? html`<p>No permit's target matches this request: no policy was written for it.</p>` : html`<h3>Permits whose target matched</h3>${forbids.length === 0 ? '' : html`<p class="muted">Each allows only once every forbid above stops applying.</p>`}<ul id="permits">${permits}</ul>`}`;
}

/** Re-deciding the logged request with the live set: the same answer, or a note that it changed. */
function explanation(r: DecisionRecord, w: WhyNot, liveRevision: string): Html {
  const now = w.decision.decision;
  const revisionNote =
    r.revision === liveRevision
      ? html`<p class="muted">Evaluated against revision <code>${liveRevision}</code>, the one that made this decision (kept in the store).</p>`
      : html`<p class="notice">Revision <code>${r.revision}</code>, which made this decision, is not stored: evaluated against the live revision <code>${liveRevision}</code>, so policies may have changed since.</p>`;
  const changed = now === r.decision ? '' : html`<p class="notice">The live policies now <strong>${now ? 'allow' : 'deny'}</strong> this request.</p>`;
  const body = now
    ? html`<p>The live policies allow this request, determined by ${list(w.decision.determining)}.</p>`
    : whyDenied(w);
  return html`<h2>${r.decision ? 'How was this decided?' : 'Why was this denied?'}</h2>${revisionNote}${changed}<section id="explanation">${body}</section>`;
}

export function decisionPage(r: DecisionRecord, w: WhyNot | null, shell: { csrf: string; revision: string }): Html {
  if (w === null) {
    return page(
      { title: `Decision ${r.id}`, current: 'decisions', ...shell },
      html`${record(r)}
<p class="notice" id="not-kept">${REQUEST_NOT_KEPT}</p>`,
    );
  }
  return page(
    { title: `Decision ${r.id}`, current: 'decisions', ...shell },
    html`${record(r)}${explanation(r, w, shell.revision)}
<h2>The request as decided</h2>
<p class="muted">With the directory's attributes and the risk signals policies read; of a token its identity and the verified claims policies read, never the token.</p>
<pre id="request">${JSON.stringify(r.request, null, 2)}</pre>`,
  );
}
