import { parseCidr, parseIp, type Cidr } from '../language/eval/ip.js';

/** Which header a trusted proxy states the client's address in. */
export type AddressHeader = 'x-forwarded-for' | 'forwarded';

/**
 * Who really called: the socket's peer, unless that peer is a trusted proxy, in which case
 * the address it forwarded. Only one header is read (configured; X-Forwarded-For by
 * default): with both honoured, a client could send a `Forwarded` its proxy passes on
 * untouched while appending to X-Forwarded-For, and pick its own address.
 *
 * The hops are walked from the right — the entry the nearest proxy appended — skipping
 * trusted proxies; the first untrusted address is the client. Everything left of it was
 * written by that client and is never believed.
 */
export class TrustedProxies {
  private readonly ranges: Cidr[];

  constructor(
    cidrs: readonly string[],
    readonly header: AddressHeader = 'x-forwarded-for',
  ) {
    this.ranges = cidrs.map((text) => {
      const c = parseCidr(text);
      if ('error' in c) throw new Error(c.error);
      return c;
    });
  }

  /** Problems with a list of trusted proxy CIDRs, each naming the entry. */
  static problems(cidrs: readonly string[], where: string): string[] {
    return cidrs.flatMap((text, i) => {
      const c = parseCidr(text);
      return 'error' in c ? [`${where}[${i}]: ${c.error}`] : [];
    });
  }

  trusts(address: string): boolean {
    const ip = parseIp(address);
    return ip !== null && this.ranges.some((r) => r.contains(ip));
  }

  /**
   * The client's address, from the socket peer and the header values the peer sent (every
   * occurrence, in order). Addresses come back canonical: an IPv4-mapped IPv6 peer
   * (`::ffff:127.0.0.2`, as a dual-stack socket reports it) as plain IPv4.
   */
  clientAddress(peer: string, headerValues: readonly string[]): string {
    // A link-local peer comes with its zone (`fe80::1%eth0`): the interface is not part of the
    // address, and with it the peer matched no range, had no reputation and counted apart.
    const canonicalPeer = canonical(withoutZone(peer)) ?? peer;
    if (this.ranges.length === 0 || !this.trusts(canonicalPeer)) return canonicalPeer;
    const hops = this.header === 'forwarded' ? forwardedFor(headerValues) : headerValues.flatMap((v) => v.split(','));
    let client = canonicalPeer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const address = canonical(stripPort(hops[i].trim()));
      // An unparseable hop (`unknown`, an obfuscated Forwarded identifier, garbage) ends the
      // walk: the last address we could vouch for is the best answer.
      if (address === null) break;
      client = address;
      if (!this.trusts(address)) break;
    }
    return client;
  }
}

/** A socket or header address as `parseIp` prints it; `null` if it is not one. */
export function canonical(address: string): string | null {
  return parseIp(address)?.toString() ?? null;
}

/** `fe80::1%eth0` → `fe80::1`: a socket's IPv6 peer without its zone id. */
function withoutZone(address: string): string {
  const at = address.indexOf('%');
  return at > 0 && address.includes(':') ? address.slice(0, at) : address;
}

/** `[2001:db8::1]:443` → `2001:db8::1`; `1.2.3.4:80` → `1.2.3.4`; a bare IPv6 stays. */
function stripPort(hop: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hop);
  if (bracketed !== null) return bracketed[1];
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(hop);
  return v4 === null ? hop : v4[1];
}

/** The `for=` values of RFC 7239 `Forwarded` headers, in order, quotes removed. */
function forwardedFor(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const element of values.flatMap((v) => v.split(','))) {
    const pair = element.split(';').find((p) => p.trim().toLowerCase().startsWith('for='));
    // An element without `for=` is a hop that did not say: it cannot be vouched for.
    out.push(pair === undefined ? '' : pair.trim().slice(4).replace(/^"(.*)"$/, '$1'));
  }
  return out;
}
