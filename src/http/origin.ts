import type { FastifyRequest } from 'fastify';
import type { Origin } from '../server/decider.js';
import type { TrustedProxies } from '../signals/client-address.js';

export type OriginOf = (request: FastifyRequest) => Origin;

/** Where an HTTP call came from: the socket's peer, or the address a trusted proxy forwarded. */
export function originOf(proxies: TrustedProxies): OriginOf {
  return (request) => {
    const peer = request.socket.remoteAddress;
    if (peer === undefined) return { address: null };
    const forwarded = request.headers[proxies.header];
    return { address: proxies.clientAddress(peer, forwarded === undefined ? [] : Array.isArray(forwarded) ? forwarded : [forwarded]) };
  };
}
