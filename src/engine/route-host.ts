/**
 * The host a gateway asks about, as servers compare hosts: in lower case (RFC 3986 §3.2.2:
 * the host is case-insensitive), without the trailing dot of an absolute DNS name, and
 * without the scheme's default port (RFC 3986 §6.2.3, RFC 9110 §4.2.3: `:80` on http,
 * `:443` on https, and an empty port, name the same origin as none); a port is written
 * without leading zeros. nginx's `$host` already is so; Caddy, Traefik and Envoy pass the
 * `Host` the client wrote, and a forbid on `resource.host == "internal.example.com"` was
 * passed by `INTERNAL.example.com`, `internal.example.com.` and `internal.example.com:80`.
 */
export function routeHost(raw: string, scheme: string): string {
  const host = raw.trim().toLowerCase();
  // A name or an IPv4 address, or an IPv6 literal in brackets; then the port, if any.
  const m = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d*))?$/.exec(host);
  // Not a host a server would accept (`a:b:c`, `[::1`): left as written, for policies to see and deny.
  if (m === null) return host;
  const name = !m[1].startsWith('[') && m[1].endsWith('.') ? m[1].slice(0, -1) : m[1];
  const port = m[2] === undefined || m[2] === '' ? null : String(Number(m[2]));
  const standard = scheme === 'https' ? '443' : scheme === 'http' ? '80' : null;
  return port === null || port === standard ? name : `${name}:${port}`;
}
