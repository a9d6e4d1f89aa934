import { html, type Html } from './html.js';
import { page } from './layout.js';

/** The sign-in form: the admin key, posted with the login CSRF token its cookie carries too. */
/** The sign-in form; `next`, the console page to go back to once signed in (routes.ts checks it). */
export function loginPage(csrf: string, error: string | null, next: string | null = null): Html {
  return page(
    { title: 'Sign in', current: null, csrf: null },
    html`<div class="login">
<p>The console shows this server's policies, which of them affect a kind of request, its decision log with each decision's explanation, and what a candidate policy set would change. Sign in with the server's admin key (<code>admin_key</code> in the config file, or <code>GAVEL_ADMIN_KEY</code>).</p>
${error === null ? '' : html`<p class="error" role="alert">${error}</p>`}
<form method="post" action="/console/login" class="stack">
<input type="hidden" name="csrf" value="${csrf}">
${next === null ? '' : html`<input type="hidden" name="next" value="${next}">`}
<label for="key">Admin key <input type="password" id="key" name="key" autocomplete="current-password" required autofocus></label>
<p><button type="submit">Sign in</button></p>
</form>
</div>`,
  );
}

/** What /console says when the server has no admin key: nothing is shown, only how to enable it. */
export function disabledPage(): Html {
  return page(
    { title: 'The console is disabled', current: null, csrf: null },
    html`<p>This server has no admin key, so the console (like the other admin endpoints) is off.</p>
<p>To enable it, give the server a random admin key of at least 16 characters and restart it:</p>
<pre>GAVEL_ADMIN_KEY="$(openssl rand -base64 32)" gavel serve</pre>
<p>or set <code>"admin_key"</code> in the config file (<code>gavel serve --config FILE</code>). Then open <code>/console</code> again and sign in with that key. See docs/console.md.</p>`,
  );
}

/** A page for a request the console refuses (a form without its CSRF token, a bad parameter). */
export function problemPage(title: string, message: string, csrf: string | null): Html {
  return page({ title, current: null, csrf }, html`<p class="error" role="alert">${message}</p><p><a href="/console">Back to the console</a></p>`);
}
