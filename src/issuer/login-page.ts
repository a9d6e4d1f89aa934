/** Text for HTML: the five characters that matter, escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface LoginPage {
  tx: string;
  csrf: string;
  client: string;
  scopes: string[];
  audience: string;
  error: string | null;
  username: string;
}

/** The login and consent page: one form, server-rendered, no script. */
export function loginPage(p: LoginPage): string {
  const scopes = p.scopes.map((s) => `<li><code>${escapeHtml(s)}</code></li>`).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in — Gavel</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 28rem; margin: 3rem auto; padding: 0 1rem; color: #222; }
label { display: block; margin-top: 1rem; }
input[type=text], input[type=password] { width: 100%; padding: .5rem; font-size: 1rem; box-sizing: border-box; }
.error { color: #a40000; }
button { margin-top: 1.5rem; padding: .5rem 1.25rem; font-size: 1rem; margin-right: .5rem; }
</style>
</head>
<body>
<h1>Sign in</h1>
<p><strong>${escapeHtml(p.client)}</strong> asks to access <code>${escapeHtml(p.audience)}</code> on your behalf, with:</p>
<ul>${scopes}</ul>
${p.error === null ? '' : `<p class="error" role="alert">${escapeHtml(p.error)}</p>`}
<form method="post" action="authorize">
<input type="hidden" name="tx" value="${escapeHtml(p.tx)}">
<input type="hidden" name="csrf" value="${escapeHtml(p.csrf)}">
<label for="username">User</label>
<input type="text" id="username" name="username" autocomplete="username" value="${escapeHtml(p.username)}" required>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit" name="decision" value="allow">Sign in and allow</button>
<button type="submit" name="decision" value="deny" formnovalidate>Deny</button>
</form>
</body>
</html>`;
}

/** An error the browser is shown because redirecting it could not be trusted (unknown client, bad redirect_uri). */
export function errorPage(message: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Cannot sign in — Gavel</title></head><body><h1>Cannot sign in</h1><p>${escapeHtml(message)}</p></body></html>`;
}

/** The script a form_post answer runs: its SHA-256 is the only script the page's CSP allows. */
export const FORM_POST_SCRIPT = 'document.forms[0].submit();';

/**
 * OAuth 2.0 Form Post Response Mode §2: the answer to the client as a form the browser posts
 * to its redirect URI at once (a button without JavaScript), so the code never appears in a URL.
 */
export function formPostPage(to: string, params: Record<string, string>): string {
  const inputs = Object.entries(params)
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Back to the application — Gavel</title></head><body><form method="post" action="${escapeHtml(to)}">${inputs}<noscript><p>Continue to the application:</p><button type="submit">Continue</button></noscript></form><script>${FORM_POST_SCRIPT}</script></body></html>`;
}
