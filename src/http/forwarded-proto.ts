/**
 * The scheme a proxy says the client used, or `null` when it says none that Gavel knows.
 * Each proxy on the way appends its own hop (`X-Forwarded-Proto: https, http`; two header
 * lines, which Node joins the same way), so the first value is the one the client spoke to;
 * values are case-insensitive (`HTTPS`). RFC 7239's `Forwarded: for=…;proto=https` says it
 * in its first element. Whether the proxy is believed is the caller's to decide.
 */
export function forwardedProto(xForwardedProto: string | string[] | undefined, forwarded?: string | string[]): 'https' | 'http' | null {
  const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v)?.split(',')[0];
  const x = first(xForwardedProto)?.trim().toLowerCase();
  if (x === 'https' || x === 'http') return x;
  if (x !== undefined) return null;
  const element = first(forwarded);
  if (element === undefined) return null;
  for (const pair of element.split(';')) {
    const at = pair.indexOf('=');
    if (at < 0 || pair.slice(0, at).trim().toLowerCase() !== 'proto') continue;
    const value = pair.slice(at + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
    return value === 'https' || value === 'http' ? value : null;
  }
  return null;
}
