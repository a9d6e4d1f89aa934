import { ALL_SIGNALS, fieldsRead } from '../language/compile/reads.js';
import { LazyRoot } from '../language/eval/activation.js';
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
  /**
   * `fields`: the member's fields some policy reads, which is all a provider needs to
   * compute (and all the decision log then keeps); `null` when a policy reads it whole.
   */
  read(observed: Observed, fields: ReadonlySet<string> | null): Value;
}

/**
 * A request's `risk` root: each member computed on first read, at most once, only if the
 * policies want it; a provider that throws leaves the member absent and says why.
 */
export class RiskRoot extends LazyRoot {
  /** `risk.NAME: message` for each provider that failed. */
  readonly errors: string[] = [];
  /** Members read so far (a failed one as `undefined`); made on the first read. */
  private values: Record<string, Value | undefined> | null = null;

  constructor(
    private readonly providers: ReadonlyMap<string, SignalProvider>,
    private readonly observed: Observed,
    private readonly wanted: ReadonlySet<string>,
    private readonly fields: ReadonlyMap<string, ReadonlySet<string> | null>,
  ) {
    super();
  }

  member(name: string): Value | undefined {
    const values = (this.values ??= {});
    if (Object.hasOwn(values, name)) return values[name];
    values[name] = undefined;
    const provider = this.providers.get(name);
    if (provider === undefined || !(this.wanted.has(name) || this.wanted.has(ALL_SIGNALS))) return undefined;
    try {
      values[name] = provider.read(this.observed, this.fields.get(name) ?? null);
    } catch (err: unknown) {
      this.errors.push(`risk.${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
    return values[name];
  }

  all(): Record<string, Value> {
    for (const name of this.providers.keys()) this.member(name);
    return this.computed();
  }

  /** The members computed so far, for the decision log. */
  computed(): Record<string, Value> {
    const out: Record<string, Value> = {};
    for (const [name, value] of Object.entries(this.values ?? {})) if (value !== undefined) out[name] = value;
    return out;
  }
}

export function velocityKeys(observed: Observed): VelocityKeys {
  return { address: observed.address, subject: observed.subject, client: observed.client };
}

/** The velocity counters as a signal: every `risk.velocity.*` name, 0 when nothing happened. */
export function velocityProvider(velocity: Velocity): SignalProvider {
  return { name: 'velocity', read: (observed, fields) => velocity.read(velocityKeys(observed), fields) };
}

/** The signals a server computes; `root` builds a request's lazy `risk`. */
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

  /** Per policy set's reads (a set made once per revision), the fields read of each member. */
  private readonly fieldsOf = new WeakMap<ReadonlySet<string>, ReadonlyMap<string, ReadonlySet<string> | null>>();

  /** The `risk` root for a request, with the members `wanted` by the policies (`*`: all). */
  root(observed: Observed, wanted: ReadonlySet<string>): RiskRoot {
    let fields = this.fieldsOf.get(wanted);
    if (fields === undefined) this.fieldsOf.set(wanted, (fields = fieldsRead(wanted)));
    return new RiskRoot(this.providers, observed, wanted, fields);
  }
}
