import type { FastifyRequest } from 'fastify';
import type { Origin } from '../server/decider.js';
import type { TrustedProxies } from '../signals/client-address.js';

export type OriginOf = (request: FastifyRequest) => Origin;

/**
 * Where an HTTP call came from: the socket's peer, or the address a trusted proxy forwarded.
 * `untrusted` hears of a peer that forwards an address it is not trusted for: the header is
 * ignored, so every client behind that peer shares its address (and its risk signals).
 */
export function originOf(proxies: TrustedProxies, untrusted: (peer: string) => void = () => {}): OriginOf {
  return (request) => {
    const peer = request.socket.remoteAddress;
    if (peer === undefined) return { address: null };
    const forwarded = request.headers[proxies.header];
    // The peer, canonical (an IPv4-mapped address as plain IPv4).
    const own = proxies.clientAddress(peer, []);
    if (forwarded === undefined) return { address: own };
    if (!proxies.trusts(own)) {
      untrusted(own);
      return { address: own };
    }
    return { address: proxies.clientAddress(peer, Array.isArray(forwarded) ? forwarded : [forwarded]) };
  };
}
