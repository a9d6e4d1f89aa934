/**
 * The path a gateway asks about, as the upstream will serve it. Gateways pass the raw request
 * target on (nginx's `$request_uri`, Caddy's and Traefik's `X-Forwarded-Uri`, Envoy's `:path`),
 * and upstreams resolve it before routing: a decision on `/invoices/../customers/1` as
 * written would allow, under a permit for `/invoices/**`, what the upstream serves as
 * `/customers/1`; `/%61dmin` would miss a forbid on `/admin/**`.
 *
 * So Gavel decides on the path normalised as RFC 3986 does — percent-encoded unreserved
 * characters decoded (§6.2.2.2), other percent-encodings upper-cased (§6.2.2.1), dot segments
 * removed (§5.2.4) — and with empty segments merged (`//`), as nginx and Envoy's
 * `merge_slashes` do. What servers read differently is refused rather than guessed: an
 * encoded slash or backslash (Apache refuses `%2F` by default; others decode it), a raw
 * backslash, a dot segment with parameters (`..;x`, which Tomcat reads as `..`), and an empty
 * segment together with a dot segment (merged first or not, they resolve differently).
 */
export function routePath(raw: string): { path: string } | { problem: string } {
  if (!raw.startsWith('/')) return { problem: 'the path does not start with /' };
  if (/%2f|%5c|\\/i.test(raw)) return { problem: 'the path holds an encoded slash or a backslash, which servers read differently' };
  const text = raw.includes('%') ? raw.replace(/%([0-9A-Fa-f]{2})/g, unreserved) : raw;
  const parts = text.split('/');
  const kept: string[] = [];
  let empty = false;
  let dots = false;
  for (const [i, part] of parts.entries()) {
    if (part === '') {
      empty ||= i > 0 && i < parts.length - 1;
      continue;
    }
    if (part === '.' || part === '..') {
      dots = true;
      if (part === '..') kept.pop();
      continue;
    }
    if (part.startsWith('.;') || part.startsWith('..;')) return { problem: `the path holds a dot segment with parameters (${part.slice(0, 40)}), which some servers read as a dot segment` };
    kept.push(part);
  }
  // `/a//../b` is `/a/b` to a server that does not merge slashes (RFC 3986, Node's URL) and
  // `/b` to one that does (nginx): which one the upstream is, Gavel cannot tell.
  if (empty && dots) return { problem: 'the path holds both an empty segment (//) and a dot segment, which servers resolve differently' };
  const last = parts[parts.length - 1];
  const trailing = kept.length > 0 && (last === '' || last === '.' || last === '..');
  return { path: `/${kept.join('/')}${trailing ? '/' : ''}` };
}

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

function unreserved(_match: string, hex: string): string {
  const c = String.fromCharCode(parseInt(hex, 16));
  return UNRESERVED.test(c) ? c : `%${hex.toUpperCase()}`;
}
