/** A redirect URI a browser may be sent to with a code: https, or http on loopback (RFC 8252 §7.3); no fragment. */
export function safeRedirect(uri: string): boolean {
  if (!URL.canParse(uri) || uri.includes('#')) return false;
  const u = new URL(uri);
  return u.protocol === 'https:' || (u.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname));
}
