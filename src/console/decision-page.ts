import type { WhyNot } from '../engine/why-not.js';
import type { DecisionRecord } from '../store/store.js';
import { html, type Html } from './html.js';
import { page } from './layout.js';
import { REQUEST_NOT_KEPT } from '../engine/explain-logged.js';
import { visible, visibleJson } from '../formats/visible.js';

function list(xs: readonly string[]): Html {
  return xs.length === 0 ? html`<span class="muted">none</span>` : html`${xs.map((x) => html`<code>${x}</code> `)}`;
}

function record(r: DecisionRecord): Html {
  return html`<dl class="record">
<dt>Id</dt><dd><code>${r.id}</code></dd>
${r.request_id === undefined ? '' : html`<dt>Request id</dt><dd><code>${visible(r.request_id)}</code> <span class="muted">(the caller's)</span></dd>`}
<dt>Time</dt><dd>${r.at}</dd>
<dt>Via</dt><dd>${r.via}</dd>
<dt>Subject</dt><dd>${visible(r.subject.type)}/${visible(r.subject.id)}</dd>
<dt>Action</dt><dd><code>${visible(r.action)}</code></dd>
<dt>Resource</dt><dd>${visible(r.resource.type)}/${visible(r.resource.id)}</dd>
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
${w.overridden.length === 0 ? '' : html`<h3>Permits that would allow, overridden by the forbids above</h3><ul id="overridden">${w.overridden.map((o) => html`<li><code>${o.id}</code> <span class="muted">(${o.location})</span></li>`)}</ul>`}
${permits.length === 0 ? (w.overridden.length === 0 ? html`<p>No permit's target matches this request: no policy was written for it.</p>` : '') : html`<h3>Permits whose target matched</h3>${forbids.length === 0 ? '' : html`<p class="muted">Each allows only once every forbid above stops applying.</p>`}<ul id="permits">${permits}</ul>`}`;
}

/** Against which revision the logged request was decided again, and what the live policies say of it when they differ. */
export interface Redecided {
  /** The revision the explanation used: the record's own when stored, else the live one. */
  revision: string;
  /** Whether that is the record's own revision, rebuilt from the store. */
  stored: boolean;
  /** The live set's verdict, when the live revision is not the one explained with. */
  live: { revision: string; decision: boolean } | null;
}

function explanation(r: DecisionRecord, w: WhyNot, with_: Redecided): Html {
  const now = w.decision.decision;
  const revisionNote = with_.stored
    ? html`<p class="muted">Evaluated against revision <code>${with_.revision}</code>, the one that made this decision (kept in the store).</p>`
    : html`<p class="notice">Revision <code>${r.revision}</code>, which made this decision, is not stored: evaluated against the live revision <code>${with_.revision}</code>, so policies may have changed since.</p>`;
  // What the policies serving now would answer: a reader of an old decision wants to know whether it still stands.
  const live = with_.live;
  const liveNote =
    live !== null
      ? live.decision === r.decision
        ? html`<p class="muted" id="live-verdict">The live policies (revision <code>${live.revision}</code>) decide it the same way.</p>`
        : html`<p class="notice" id="live-verdict">The live policies (revision <code>${live.revision}</code>) now <strong>${live.decision ? 'allow' : 'deny'}</strong> this request.</p>`
      : now === r.decision
        ? ''
        : html`<p class="notice" id="live-verdict">The live policies now <strong>${now ? 'allow' : 'deny'}</strong> this request.</p>`;
  const body = now ? html`<p>Revision <code>${with_.revision}</code> allows this request, determined by ${list(w.decision.determining)}.</p>` : whyDenied(w);
  return html`<h2>${r.decision ? 'How was this decided?' : 'Why was this denied?'}</h2>${revisionNote}${liveNote}<section id="explanation">${body}</section>`;
}

/** `shell.revision` is the live one, as on every page; `redecided` says what the explanation was made against. */
export function decisionPage(r: DecisionRecord, w: WhyNot | null, shell: { csrf: string; revision: string }, redecided?: Redecided): Html {
  if (w === null) {
    return page(
      { title: `Decision ${r.id}`, current: 'decisions', ...shell },
      html`${record(r)}
<p class="notice" id="not-kept">${REQUEST_NOT_KEPT}</p>`,
    );
  }
  return page(
    { title: `Decision ${r.id}`, current: 'decisions', ...shell },
    html`${record(r)}${explanation(r, w, redecided ?? { revision: shell.revision, stored: r.revision === shell.revision, live: null })}
<h2>The request as decided</h2>
<p class="muted">With the directory's attributes and the risk signals policies read; of a token its identity and the verified claims policies read, never the token.</p>
<pre id="request">${visibleJson(JSON.stringify(r.request, null, 2))}</pre>`,
  );
}
