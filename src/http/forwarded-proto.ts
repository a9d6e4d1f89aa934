/**
 * The scheme proxies say the client used, or `null` when they say none that Gavel knows.
 * `https` only when every value says so: a proxy that appends its hop (`X-Forwarded-Proto:
 * https, http`; two header lines, which Node joins the same way) leaves what the client
 * itself sent on the left, so a client speaking plain HTTP could prefix `https` — and pass a
 * policy requiring `resource.scheme == "https"`. A chain that ends TLS and then appends
 * `http` hops is read as http: such proxies should set the header, not append to it.
 * Values are case-insensitive (`HTTPS`). RFC 7239's `Forwarded: for=…;proto=https` is read
 * the same way, over its elements. Whether the proxies are believed is the caller's to decide.
 */
export function forwardedProto(xForwardedProto: string | string[] | undefined, forwarded?: string | string[]): 'https' | 'http' | null {
  const values = (v: string | string[] | undefined): string[] => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).flatMap((line) => line.split(',')));
  const x = values(xForwardedProto).map((v) => v.trim().toLowerCase());
  if (x.length > 0) return agreed(x);
  const protos = values(forwarded).flatMap((element) => {
    for (const pair of element.split(';')) {
      const at = pair.indexOf('=');
      if (at >= 0 && pair.slice(0, at).trim().toLowerCase() === 'proto') return [pair.slice(at + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase()];
    }
    return [];
  });
  return protos.length > 0 ? agreed(protos) : null;
}

/** `https` when all say it, `http` when each says one of the two, else `null`. */
function agreed(schemes: readonly string[]): 'https' | 'http' | null {
  if (schemes.some((s) => s !== 'https' && s !== 'http')) return null;
  return schemes.every((s) => s === 'https') ? 'https' : 'http';
}
