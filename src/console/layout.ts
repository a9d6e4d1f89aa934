import type { FastifyReply } from 'fastify';
import { html, type Html, type Part } from './html.js';

/** The pages of the navigation bar; `href: null` keeps a slot for a page still to come. */
export const NAV = [
  { id: 'policies', label: 'Policies', href: '/console/policies' },
  { id: 'affects', label: 'Affects', href: '/console/affects' },
  { id: 'decisions', label: 'Decisions', href: '/console/decisions' },
  { id: 'whatif', label: 'What-if', href: '/console/whatif' },
] as const satisfies readonly { id: string; label: string; href: string | null }[];

export type PageId = (typeof NAV)[number]['id'];

export interface Shell {
  title: string;
  /** The page in the navigation bar; `null` outside the signed-in pages. */
  current: PageId | null;
  /** The session's CSRF token, for the sign-out form; `null` when signed out. */
  csrf: string | null;
  /** The policy revision served now, shown in the header. */
  revision?: string;
}

function nav(s: Shell): Html {
  if (s.csrf === null) return html``;
  const items = NAV.map((n) => (n.href === null ? null : html`<a href="${n.href}"${n.id === s.current ? html` aria-current="page"` : ''}>${n.label}</a>`));
  return html`<nav>${items}<form method="post" action="/console/logout" class="logout"><input type="hidden" name="csrf" value="${s.csrf}"><button type="submit">Sign out</button></form></nav>`;
}

/** A whole page: no script anywhere, styles from /console/style.css (the CSP allows nothing else). */
export function page(s: Shell, body: Part): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${s.title} — Gavel console</title>
<link rel="stylesheet" href="/console/style.css">
</head>
<body>
<header><a class="brand" href="/console">Gavel console</a>${s.revision === undefined ? '' : html`<span class="revision">revision <code>${s.revision}</code></span>`}</header>
${nav(s)}
<main>
<h1>${s.title}</h1>
${body}
</main>
</body>
</html>`;
}

/**
 * Every console response: no framing (clickjacking), no script, forms posting only here,
 * nothing cached or leaked in a Referer (queries name subjects and policies).
 */
export function secureHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    .header('x-frame-options', 'DENY')
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store');
}

export function sendPage(reply: FastifyReply, status: number, body: Html): FastifyReply {
  return secureHeaders(reply).status(status).header('content-type', 'text/html; charset=utf-8').send(body.text);
}

/** The console's only stylesheet, served from /console/style.css. */
export const STYLE = `
body { font-family: system-ui, sans-serif; margin: 0; color: #1d1d1f; background: #fafafa; }
header { background: #1f2a44; color: #fff; padding: .6rem 1.25rem; display: flex; gap: 1rem; align-items: baseline; }
header a.brand { color: #fff; font-weight: 600; text-decoration: none; }
header .revision { color: #c8d0e0; font-size: .85rem; }
nav { display: flex; gap: .25rem; padding: .4rem 1.25rem; background: #e9edf5; align-items: center; }
nav a { padding: .3rem .7rem; border-radius: .3rem; text-decoration: none; color: #1f2a44; }
nav a[aria-current=page] { background: #1f2a44; color: #fff; }
nav form.logout { margin-left: auto; }
main { padding: 1rem 1.25rem 3rem; max-width: 90rem; }
h1 { font-size: 1.4rem; margin: .4rem 0 1rem; }
h2 { font-size: 1.1rem; margin-top: 1.6rem; }
table { border-collapse: collapse; width: 100%; background: #fff; font-size: .9rem; }
th, td { text-align: left; vertical-align: top; padding: .35rem .5rem; border-bottom: 1px solid #e2e2e2; }
th { background: #f0f2f6; font-weight: 600; }
code, pre { font-family: ui-monospace, monospace; font-size: .85rem; }
pre { background: #fff; border: 1px solid #e2e2e2; padding: .75rem; overflow: auto; max-height: 40rem; }
.filters { display: flex; flex-wrap: wrap; gap: .75rem; align-items: end; margin-bottom: 1rem; }
.filters label, form.stack label { display: flex; flex-direction: column; font-size: .85rem; gap: .2rem; }
input, select, textarea, button { font: inherit; padding: .3rem .45rem; }
button { cursor: pointer; }
textarea { width: 100%; box-sizing: border-box; }
.muted { color: #666; }
.error { color: #a40000; }
.notice { background: #fff7e0; border: 1px solid #f0d070; padding: .5rem .75rem; }
.status-applies { color: #0a6b2b; font-weight: 600; }
.status-may-apply { color: #8a5a00; font-weight: 600; }
.status-does-not-apply { color: #666; }
.allow { color: #0a6b2b; font-weight: 600; }
.deny { color: #a40000; font-weight: 600; }
.tag { display: inline-block; background: #e9edf5; border-radius: .25rem; padding: 0 .35rem; margin: 0 .2rem .2rem 0; font-size: .8rem; }
.pager { margin-top: .75rem; display: flex; gap: 1rem; }
dl.record { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; }
dl.record dt { font-weight: 600; }
dl.record dd { margin: 0; }
.login { max-width: 26rem; }
.login input[type=password] { width: 100%; box-sizing: border-box; }
`;
