/** A redirect URI a browser may be sent to with a code: https, or http on loopback (RFC 8252 §7.3); no fragment. */
export function safeRedirect(uri: string): boolean {
  // The registered text is what requests must match exactly: spaces or control characters the
  // URL parser would trim, a scheme without `//`, user info and wildcards are refused, not normalised.
  if (!URL.canParse(uri) || uri.includes('#') || /[\s\x00-\x1f\x7f*]/.test(uri)) return false;
  const u = new URL(uri);
  if (!uri.toLowerCase().startsWith(`${u.protocol}//`) || u.hostname === '' || u.username !== '' || u.password !== '') return false;
  return u.protocol === 'https:' || (u.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname));
}

/**
 * Whether `given` is one of a client's registered redirect URIs: the same string, except that a
 * loopback IP literal's port is any port (RFC 8252 §7.3: "MUST allow any port to be specified at
 * the time of the request for loopback IP redirect URIs" — a native app binds whatever port is
 * free). `localhost` is not treated so: §8.3 advises against it, and its resolution may not be loopback.
 */
export function registeredRedirect(registered: readonly string[], given: string): boolean {
  if (registered.includes(given)) return true;
  const portless = loopbackWithoutPort(given);
  return portless !== null && registered.some((r) => loopbackWithoutPort(r) === portless);
}

function loopbackWithoutPort(uri: string): string | null {
  if (!uri.startsWith('http://') || !URL.canParse(uri)) return null;
  const u = new URL(uri);
  if (u.hostname !== '127.0.0.1' && u.hostname !== '[::1]') return null;
  // The URL parser normalises; what is compared must still be the text as sent but for the port.
  const authority = uri.slice('http://'.length).split(/[/?#]/, 1)[0]!;
  const host = authority.replace(/:\d*$/, '');
  if (host !== u.hostname) return null;
  return `http://${host}${uri.slice('http://'.length + authority.length)}`;
}
