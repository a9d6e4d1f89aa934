import { ALL_SIGNALS } from '../language/compile/reads.js';
import type { Value } from '../language/eval/value.js';
import type { Velocity, VelocityKeys } from './velocity.js';

/** Who and where a request comes from: what signals are computed about. */
export interface Observed {
  /** The client's address, after trusted proxies; `null` when unknown. */
  address: string | null;
  /** `type/id` of the subject. */
  subject: string | null;
  /** The OAuth client: the verified token's `client_id` (or `azp`). */
  client: string | null;
}

/**
 * One member of the `risk` root. `read` runs at most once per request, and only when a
 * policy reads its member; it may throw, which leaves the member absent (so a forbid that
 * reads it fails closed) and puts the message on the decision.
 */
export interface SignalProvider {
  readonly name: string;
  read(observed: Observed): Value;
}

/** A request's `risk` root and what happened while computing it. */
export interface RiskRoot {
  /** The object policies read: its members are computed on first read. */
  readonly root: Record<string, Value>;
  /** `risk.NAME: message` for each provider that failed. */
  readonly errors: string[];
  /** The members computed so far, for the decision log. */
  computed(): Record<string, Value>;
}

export function velocityKeys(observed: Observed): VelocityKeys {
  return { address: observed.address, subject: observed.subject, client: observed.client };
}

/** The velocity counters as a signal: every `risk.velocity.*` name, 0 when nothing happened. */
export function velocityProvider(velocity: Velocity): SignalProvider {
  return { name: 'velocity', read: (observed) => velocity.read(velocityKeys(observed)) };
}

/**
 * The signals a server computes. `root` builds a request's lazy `risk`: each member a
 * getter that computes once. Getters are not enumerable, so serialising a request (the
 * decision log) never computes what no policy read.
 */
export class Signals {
  private readonly providers: ReadonlyMap<string, SignalProvider>;

  constructor(
    providers: readonly SignalProvider[],
    /** Fed with what the decision interfaces observe (denials); `null`: not kept. */
    readonly velocity: Velocity | null = null,
  ) {
    this.providers = new Map([...providers, ...(velocity === null ? [] : [velocityProvider(velocity)])].map((p) => [p.name, p]));
  }

  /** Counts what a decision tells about its caller: a deny, for now. */
  observe(allowed: boolean, observed: Observed): void {
    if (!allowed) this.velocity?.record('denials', velocityKeys(observed));
  }

  /** The `risk` root for a request, with the members `wanted` by the policies (`*`: all). */
  root(observed: Observed, wanted: ReadonlySet<string>): RiskRoot {
    const root: Record<string, Value> = {};
    const values: Record<string, Value> = {};
    const errors: string[] = [];
    for (const [name, provider] of this.providers) {
      if (!wanted.has(name) && !wanted.has(ALL_SIGNALS)) continue;
      let done = false;
      Object.defineProperty(root, name, {
        enumerable: false,
        get: () => {
          if (!done) {
            done = true;
            try {
              values[name] = provider.read(observed);
            } catch (err: unknown) {
              errors.push(`risk.${name}: ${err instanceof Error ? err.message : String(err)}`);
            }
          }
          return values[name];
        },
      });
    }
    return { root, errors, computed: () => ({ ...values }) };
  }
}
