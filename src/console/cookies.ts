import type { FastifyRequest } from 'fastify';
import type { TrustedProxies } from '../signals/client-address.js';
import { forwardedProto } from '../http/forwarded-proto.js';

/** The value of a cookie the request carries; `undefined` without it. */
export function cookie(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

export interface CookieOptions {
  path: string;
  /** Seconds; 0 deletes the cookie. */
  maxAge: number;
  secure: boolean;
}

/** Always HttpOnly and SameSite=Strict: the console's cookies are never for script or other sites. */
export function setCookie(name: string, value: string, o: CookieOptions): string {
  return `${name}=${value}; Path=${o.path}; Max-Age=${o.maxAge}; HttpOnly; SameSite=Strict${o.secure ? '; Secure' : ''}`;
}

/**
 * Whether the browser reached us over https: TLS here, or a trusted proxy (`--trusted-proxy`)
 * that terminated TLS says so in X-Forwarded-Proto or Forwarded. Anyone else's header is ignored.
 */
export function isHttps(request: FastifyRequest, proxies: TrustedProxies): boolean {
  if (request.protocol === 'https') return true;
  const peer = request.socket.remoteAddress;
  return peer !== undefined && proxies.trusts(peer) && forwardedProto(request.headers['x-forwarded-proto'], request.headers.forwarded) === 'https';
}
