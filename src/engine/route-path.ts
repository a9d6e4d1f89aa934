import { isUtf8 } from 'node:buffer';

/**
 * The path a gateway asks about, as the upstream will serve it. Gateways pass the raw request
 * target on (nginx's `$request_uri`, Caddy's and Traefik's `X-Forwarded-Uri`, Envoy's `:path`),
 * and upstreams resolve it before routing: a decision on `/invoices/../customers/1` as
 * written would allow, under a permit for `/invoices/**`, what the upstream serves as
 * `/customers/1`; `/%61dmin` would miss a forbid on `/admin/**`.
 *
 * So Gavel decides on the path normalised as RFC 3986 does — percent-encoded unreserved
 * characters decoded (§6.2.2.2), other percent-encodings of ASCII upper-cased (§6.2.2.1), dot
 * segments removed (§5.2.4) — with empty segments merged (`//`), as nginx and Envoy's
 * `merge_slashes` do; percent-encoded UTF-8 is decoded to its characters, so `/é` and
 * `/%C3%A9` are one path; and a segment's parameters (`;jsessionid=…`, which Tomcat and Jetty
 * drop before routing) are left out, so `/admin;x/secret` meets a forbid on `/admin/**`.
 *
 * What servers read differently is refused rather than guessed: an encoded slash or
 * backslash (Apache refuses `%2F` by default; others decode it), a raw backslash, `#` (nginx
 * and Node end the path there; others do not), a percent-encoded `%` before hex digits
 * (decoded twice by some), `%` not followed by two hex digits (IIS reads `%u002e` as `.`),
 * percent-encoded bytes that are not UTF-8 (an overlong `%C0%AE` is `.` to some decoders), a
 * segment that parameters reduce to nothing or to a dot segment (`..;x`), and an empty
 * segment together with a dot segment (merged first or not, they resolve differently).
 */
export function routePath(raw: string): { path: string } | { problem: string } {
  if (!raw.startsWith('/')) return { problem: 'the path does not start with /' };
  if (/[\\#]/.test(raw)) return { problem: 'the path holds a backslash or #, which servers read differently' };
  let text = raw;
  if (raw.includes('%')) {
    const decoded = decodePercents(raw);
    if (typeof decoded !== 'string') return decoded;
    text = decoded;
  }
  const parts = text.split('/');
  const kept: string[] = [];
  let empty = false;
  let dots = false;
  for (const [i, whole] of parts.entries()) {
    const at = whole.indexOf(';');
    const part = at < 0 ? whole : whole.slice(0, at);
    if (at >= 0 && (part === '' || part === '.' || part === '..')) return { problem: `the path holds a segment that its parameters reduce to ${part === '' ? 'nothing' : 'a dot segment'} (${whole.slice(0, 40)}), which servers resolve differently` };
    if (part === '') {
      empty ||= i > 0 && i < parts.length - 1;
      continue;
    }
    if (part === '.' || part === '..') {
      dots = true;
      if (part === '..') kept.pop();
      continue;
    }
    kept.push(part);
  }
  // `/a//../b` is `/a/b` to a server that does not merge slashes (RFC 3986, Node's URL) and
  // `/b` to one that does (nginx): which one the upstream is, Gavel cannot tell.
  if (empty && dots) return { problem: 'the path holds both an empty segment (//) and a dot segment, which servers resolve differently' };
  const last = parts[parts.length - 1]!;
  const lastPart = last.includes(';') ? last.slice(0, last.indexOf(';')) : last;
  const trailing = kept.length > 0 && (lastPart === '' || lastPart === '.' || lastPart === '..');
  return { path: `/${kept.join('/')}${trailing ? '/' : ''}` };
}

const HEX = /^[0-9A-Fa-f]{2}$/;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/** One pass over the `%XX` escapes: decoded where that is unambiguous, kept (upper-cased) otherwise, or the problem. */
function decodePercents(raw: string): string | { problem: string } {
  let out = '';
  let i = 0;
  while (i < raw.length) {
    const c = raw[i]!;
    if (c !== '%') {
      out += c;
      i++;
      continue;
    }
    // A run of escapes: its bytes, so that a character encoded in several (UTF-8) decodes whole.
    const bytes: number[] = [];
    while (i < raw.length && raw[i] === '%') {
      const hex = raw.slice(i + 1, i + 3);
      if (!HEX.test(hex)) return { problem: 'the path holds a % not followed by two hex digits, which servers read differently' };
      bytes.push(parseInt(hex, 16));
      i += 3;
    }
    for (let b = 0; b < bytes.length; ) {
      const byte = bytes[b]!;
      if (byte >= 0x80) {
        let end = b;
        while (end < bytes.length && bytes[end]! >= 0x80) end++;
        const run = Buffer.from(bytes.slice(b, end));
        if (!isUtf8(run)) return { problem: 'the path holds percent-encoded bytes that are not UTF-8, which servers decode differently' };
        out += run.toString('utf8');
        b = end;
        continue;
      }
      const ch = String.fromCharCode(byte);
      if (ch === '/' || ch === '\\') return { problem: 'the path holds an encoded slash or backslash, which servers read differently' };
      // `%25` then hex: a server that decodes twice reads another character there.
      if (ch === '%' && (HEX.test(`${String.fromCharCode(bytes[b + 1] ?? 0)}${String.fromCharCode(bytes[b + 2] ?? 0)}`) || HEX.test(raw.slice(i, i + 2)))) {
        return { problem: 'the path holds a percent-encoded % before hex digits, which servers that decode twice read differently' };
      }
      out += UNRESERVED.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
      b++;
    }
  }
  return out;
}
