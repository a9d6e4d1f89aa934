import type { JWTPayload } from 'jose';
import type { Request } from '../language/eval/activation.js';
import { accessToken, dpopChallenge } from '../tokens/dpop.js';
import type { TokenResult } from '../tokens/verify-token.js';
import type { Decision } from './decision.js';
import { routeHost } from './route-host.js';

/** An HTTP call a gateway asks about, whatever the gateway (forward-auth, Envoy ext_authz). */
export interface GatewayCall {
  method: string;
  path: string;
  query: string;
  host: string;
  /** The scheme the client used (`https`), as the gateway says. */
  scheme: string;
  /** Lower-case names. */
  headers: Readonly<Record<string, string>>;
  /** The address of the client, as far as Gavel can trust it. */
  ip: string;
  /** What Envoy says beside the HTTP request (route settings, mTLS peers, SNI): `context.envoy`. */
  envoy?: EnvoyAttributes;
}

/** The members of a CheckRequest's AttributeContext besides the request, those Envoy filled in. */
export interface EnvoyAttributes {
  context_extensions?: Record<string, string>;
  source?: EnvoyPeer;
  destination?: EnvoyPeer;
  tls_session?: { sni: string };
}

export interface EnvoyPeer {
  principal?: string;
  service?: string;
  labels?: Record<string, string>;
}

/** The entity type of a verified token's subject: `client`, `user`, or an issuer's own. */
export type SubjectType = (claims: JWTPayload) => string;

/** Without better knowledge: a token whose `sub` is its `client_id` (or that has no `sub`) is a client's own, any other a user's. */
export const defaultSubjectType: SubjectType = (claims) => (claims.sub === undefined || claims.sub === claims.client_id ? 'client' : 'user');

/**
 * The request model of a gateway call: action = method, resource = the route (path, host —
 * both as the upstream will read them — query, its params, scheme), subject =
 * the verified token's `sub` (a `client` when it is the `client_id`; `anonymous` without a
 * token), token = the verified claims, context = ip, allow-listed headers, time (and from
 * Envoy, what it says of the call besides: `envoy`).
 */
export function gatewayRequest(call: GatewayCall, claims: JWTPayload | undefined, allowHeaders: readonly string[], subjectType: SubjectType = defaultSubjectType): Request {
  const sub = typeof claims?.sub === 'string' ? claims.sub : typeof claims?.client_id === 'string' ? claims.client_id : '';
  const headers: Record<string, string> = {};
  for (const name of allowHeaders) if (call.headers[name] !== undefined) headers[name] = call.headers[name];
  return {
    subject: { type: claims === undefined ? 'anonymous' : subjectType(claims), id: sub },
    action: { name: call.method.toUpperCase() },
    resource: { type: 'route', id: call.path, properties: { path: call.path, host: routeHost(call.host, call.scheme), query: withoutAccessToken(call.query), params: queryParams(call.query), scheme: call.scheme } },
    context: { ip: call.ip, headers, time: new Date().toISOString(), ...(call.envoy === undefined ? {} : { envoy: call.envoy }) },
    ...(claims === undefined ? {} : { token: claims }),
  };
}

/** `access_token`, or a PHP/Rails-style array of it (`access_token[]`, `access_token[0]`): a name upstreams read a token under. */
const TOKEN_NAME = /^access_token(\[[^\]]*\])*$/;

/** Whether a decoded parameter name is a token's: any case; `.` and spaces as `_`, which PHP makes them. */
const isTokenName = (decoded: string): boolean => decoded.length >= 12 && TOKEN_NAME.test(decoded.toLowerCase().replace(/[. ]/g, '_'));

/** A query component decoded as a form does (`+` a space); `null` when its percent-encoding is broken. */
function decodedForm(text: string): string | null {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return null;
  }
}

/** Whether a query parameter's name, as it was sent, decodes to a token's name (any of it percent-encoded). */
function namesAccessToken(name: string): boolean {
  if (name.length < 12) return false;
  const decoded = decodedForm(name);
  return decoded !== null && isTokenName(decoded);
}

/**
 * The query with the value of an `access_token` parameter (RFC 6750 §2.3, a bearer token in
 * the URI) replaced: the query is part of the decided request, which the decision log keeps,
 * and the log never holds a token. Gavel does not take such a token as a credential. The name
 * is compared decoded, as upstreams read it: `%61ccess_token` and `access_token[]` are one too;
 * and a pair after `;` is one, as some servers split on it (Python's parse_qs before 3.10).
 */
export function withoutAccessToken(query: string): string {
  if (query.length < 13 || !/cess|%/i.test(query)) return query;
  return query.replace(/([^&;=]*)=([^&;]*)/g, (pair: string, name: string, value: string) => {
    if (namesAccessToken(name)) return `${name}=REDACTED`;
    // `a=1%3Baccess_token=…`: the value decodes to pairs, as `params` shows it; redacted alike.
    if (!/%3b/i.test(value)) return pair;
    const decoded = decodedForm(value);
    const redacted = decoded === null ? null : redactedPairs(decoded);
    return redacted === null || redacted === decoded ? pair : `${name}=${encodeURIComponent(redacted)}`;
  });
}

/**
 * The query's parameters, decoded as application/x-www-form-urlencoded (`+` a space), each
 * name with every value it was given, in order: `?tag=a&tag=b` is `{tag: ["a", "b"]}`. A list
 * always, so that a repeated parameter — which servers resolve differently, some taking the
 * first, some the last — cannot pass a condition on one of its values unseen: `resource.params
 * has "debug"` holds for `?debug=0&debug=1`. Built with fromEntries, so a parameter named
 * `__proto__` is a parameter, not the record's prototype. An `access_token` value is
 * redacted, as in `query`, and so is one after a `;` inside a value (`?a=1;access_token=…`).
 */
export function queryParams(query: string): Record<string, string[]> {
  if (query === '') return {};
  const params = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams(query)) {
    const kept = isTokenName(name) ? 'REDACTED' : value.includes(';') ? redactedPairs(value) : value;
    const values = params.get(name);
    if (values === undefined) params.set(name, [kept]);
    else values.push(kept);
  }
  return Object.fromEntries(params);
}

/** A decoded value's `;`-separated pairs with a token's value replaced. */
function redactedPairs(value: string): string {
  return value.replace(/([^;=]*)=([^;]*)/g, (pair: string, name: string) => (isTokenName(name) ? `${name}=REDACTED` : pair));
}

/** `Authorization: Bearer …` (RFC 6750 §2.1), or null when there is none. */
export function bearerToken(authorization: string | undefined): string | null {
  const m = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(authorization ?? '');
  return m === null ? null : m[1];
}

export type GatewayVerdict =
  /** Header values are ready to send (`headerValue`); reasons are text, for a header only through `headerValue`. */
  | { kind: 'allow'; headers: Record<string, string> }
  | { kind: 'unauthenticated'; challenge: string }
  /** A token was presented and could not be checked (its issuer's keys cannot be fetched): try again later. */
  | { kind: 'unavailable'; reason: string }
  | { kind: 'forbidden'; reason: string };

/** Seconds a caller whose token could not be checked is asked to wait (Retry-After): the JWKS fetch cooldown (30 s). */
export const RETRY_AFTER_S = '30';

const quote = (s: string) => `"${headerValue(s.replace(/["\\]/g, ''))}"`;

const PRINTABLE = /^[\x20-\x24\x26-\x7e]*$/;

/**
 * A text as an HTTP header value. Printable ASCII passes unchanged; every other character —
 * a reason in German, a `sub` in Chinese, a newline — and `%` itself are percent-encoded
 * as UTF-8 (RFC 3986 §2.1), and so are spaces at either end, so that `decodeURIComponent`
 * gives the text back (a lone surrogate, which UTF-8 cannot carry, as U+FFFD). Set
 * raw, such a value made Node refuse the whole answer (a 500 instead of the 200 or 403).
 */
export function headerValue(text: string): string {
  // Spaces at either end would be trimmed by the receiving parser (`admin ` arriving as `admin`).
  if (PRINTABLE.test(text) && !text.startsWith(' ') && !text.endsWith(' ')) return text;
  return text.replace(/[^\x20-\x24\x26-\x7e]+|^ +| +$/g, (run) => Array.from(Buffer.from(run, 'utf8'), (b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
}

/**
 * What a gateway should do: allow with headers for the upstream (every configured one,
 * empty when the claim is absent); deny an unauthenticated caller with an RFC 6750
 * challenge (`invalid_token` and why, when a token was presented but failed); deny a
 * verified caller with the reason (`authorization`, the header as presented, names the
 * challenge's scheme). A denied caller whose token could not be checked at all
 * is told to try again: a 401 would have well-behaved clients discard a token that may be
 * good (and sign their users out) whenever the issuer's JWKS endpoint is down.
 */
export function gatewayVerdict(d: Decision, verified: TokenResult | null, responseHeaders: Readonly<Record<string, string>>, authorization?: string): GatewayVerdict {
  const claims = verified?.ok ? verified.claims : undefined;
  if (d.decision) {
    const headers: Record<string, string> = {};
    for (const [name, claim] of Object.entries(responseHeaders)) {
      const v = claims?.[claim];
      headers[name] = typeof v === 'string' || typeof v === 'number' ? headerValue(String(v)) : '';
    }
    return { kind: 'allow', headers };
  }
  if (verified !== null && !verified.ok && verified.unavailable === true) return { kind: 'unavailable', reason: verified.reason };
  if (claims === undefined) {
    // RFC 6750 §3: the scheme "MUST be followed by one or more auth-param values".
    if (verified === null) return { kind: 'unauthenticated', challenge: 'Bearer realm="gavel"' };
    const reason = verified.ok ? '' : verified.reason;
    // RFC 9449 §7.1: a token presented with the DPoP scheme is answered with a DPoP challenge.
    if (accessToken(authorization)?.scheme === 'dpop') return { kind: 'unauthenticated', challenge: dpopChallenge({ code: !verified.ok && verified.badProof === true ? 'invalid_dpop_proof' : 'invalid_token', description: headerValue(reason) }) };
    return { kind: 'unauthenticated', challenge: `Bearer error="invalid_token", error_description=${quote(reason)}` };
  }
  return { kind: 'forbidden', reason: d.reasons[0] ?? 'denied by policy' };
}
