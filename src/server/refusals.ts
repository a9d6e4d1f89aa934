import { Counter, type Registry } from 'prom-client';

/** A minute: how often a refusal of the same kind is said in the server log at most. */
const SAY_EVERY_MS = 60_000;

/**
 * Calls refused before or instead of a decision — a malformed request, a missing client key,
 * a failure — counted for Prometheus by interface and status, and a refused client key also
 * said in the server log (at most once a minute per interface, with a count of the rest): a
 * gateway configured with a wrong key denies every call, and nothing else would show why.
 * Labels are bounded: route patterns and method paths, never what a caller sent.
 */
export class Refusals {
  readonly #http: Counter<'route' | 'code'>;
  readonly #grpc: Counter<'method' | 'code'>;
  readonly #keys: Counter<'interface'>;
  readonly #said = new Map<string, { at: number; unsaid: number }>();

  constructor(
    registry: Registry,
    private readonly warn: (message: string) => void = () => {},
  ) {
    this.#http = new Counter({ name: 'gavel_http_errors_total', help: 'HTTP answers with a 4xx or 5xx status, by route pattern and status (a deny is a 200, not counted)', labelNames: ['route', 'code'] as const, registers: [registry] });
    this.#grpc = new Counter({ name: 'gavel_grpc_errors_total', help: 'gRPC calls ended with a status other than OK, by method and status code', labelNames: ['method', 'code'] as const, registers: [registry] });
    this.#keys = new Counter({ name: 'gavel_client_key_refusals_total', help: 'Decision calls refused for a missing or wrong client key, by interface (http, grpc, envoy)', labelNames: ['interface'] as const, registers: [registry] });
  }

  /** An HTTP answer of `status` ≥ 400 on `route` (the pattern; `unmatched` when no route matched). */
  http(route: string, status: number): void {
    this.#http.inc({ route, code: String(status) });
  }

  /** A gRPC call on `method` (`/package.Service/Method`) ended with status `code`. */
  grpc(method: string, code: number): void {
    this.#grpc.inc({ method, code: String(code) });
  }

  /** A decision call without a valid client key. */
  clientKey(where: 'http' | 'grpc' | 'envoy', why: string, peer: string | null): void {
    this.#keys.inc({ interface: where });
    const now = Date.now();
    const said = this.#said.get(where);
    if (said !== undefined && now - said.at < SAY_EVERY_MS) return void said.unsaid++;
    const more = said !== undefined && said.unsaid > 0 ? `; ${said.unsaid} more in the minute before` : '';
    this.#said.set(where, { at: now, unsaid: 0 });
    this.warn(`refused a ${where} decision call from ${peer ?? 'an unknown address'}: ${why}${more}`);
  }
}
