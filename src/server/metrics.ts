import { readdirSync } from 'node:fs';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { Counter, Gauge, Registry } from 'prom-client';
import { DecisionTallies } from './decision-tallies.js';
import { Refusals } from './refusals.js';
import type { LivePolicySet } from '../engine/live-set.js';
import type { ReloadOutcome } from '../engine/reload.js';
import type { IpListStatus, LiveIpLists } from '../signals/ip/live-ip-lists.js';
import type { Velocity } from '../signals/velocity.js';
import type { Interface } from './interfaces.js';

export type { Interface } from './interfaces.js';

/**
 * Prometheus metrics of one server, in a registry of its own (never prom-client's global
 * one), so two apps in one process — tests, say — do not share counters.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly tallies = new DecisionTallies(this.registry);
  /** Calls refused or failed instead of decided; `warn` (set by the server) hears of refused client keys. */
  readonly refusals: Refusals;
  private readonly reloads = new Counter({
    name: 'gavel_policy_reloads_total',
    help: 'Policy reload attempts, by result (applied, unchanged, rejected)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  /** 0 while the policies folder holds a change that was rejected (the previous revision serves): alert on it staying 0. */
  private readonly reloadOk = new Gauge({
    name: 'gavel_policy_reload_ok',
    help: '1 when the last policy reload was applied or changed nothing; 0 while a rejected change waits (the previous revision serves)',
    registers: [this.registry],
  });
  private readonly lastApplied = new Gauge({
    name: 'gavel_policy_last_applied_timestamp_seconds',
    help: 'When the active policy revision was applied (Unix time)',
    registers: [this.registry],
  });

  /** 1 while a trusted issuer's JWKS was fetched at its last try, 0 while it cannot be (tokens it signs may be refused). */
  private readonly jwksOk = new Gauge({
    name: 'gavel_jwks_fetch_ok',
    help: "1 when a trusted issuer's JWKS was fetched at the last try; 0 while it cannot be fetched (its tokens are refused once no copy is fresh enough)",
    labelNames: ['url'] as const,
    registers: [this.registry],
  });

  /**
   * When the served TLS certificate expires, for an alert before it does. Registered at the
   * first certificate: a gauge without labels is exported as 0 until set, and an expiry of 0
   * would fire every "expires soon" alert on a server without TLS.
   */
  private tlsNotAfter: Gauge | null = null;

  /**
   * The process's own metrics, read only when scraped — nothing on the request path (prom-client's
   * default set watches every garbage collection and wakes a timer every 10 ms):
   * `process_resident_memory_bytes`, `nodejs_heap_used_bytes`, `process_open_fds` (Linux), and
   * `gavel_event_loop_utilization`, the share of the time since the last scrape the request
   * thread was busy (near 1: saturated or stalled).
   */
  collectProcessMetrics(): void {
    const registers = [this.registry];
    new Gauge({ name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes', registers, collect() { this.set(process.memoryUsage.rss()); } });
    new Gauge({ name: 'nodejs_heap_used_bytes', help: 'JavaScript heap in use, in bytes', registers, collect() { this.set(process.memoryUsage().heapUsed); } });
    // The names every Prometheus client library exports: restarts (`changes(process_start_time_seconds[1h])`) and CPU.
    new Gauge({ name: 'process_start_time_seconds', help: 'Start time of the process since the Unix epoch, in seconds', registers }).set(Math.round(performance.timeOrigin / 1000));
    new Counter({
      name: 'process_cpu_seconds_total',
      help: 'User and system CPU time the process has spent, in seconds (all its threads)',
      registers,
      collect() {
        const { user, system } = process.cpuUsage();
        this.reset();
        this.inc((user + system) / 1e6);
      },
    });
    if (process.platform === 'linux') {
      new Gauge({ name: 'process_open_fds', help: 'Open file descriptors (sockets included)', registers, collect() { this.set(readdirSync('/proc/self/fd').length); } });
    }
    let last: EventLoopUtilization = performance.eventLoopUtilization();
    new Gauge({
      name: 'gavel_event_loop_utilization',
      help: 'Share of the time since the last scrape the request thread was busy (0 to 1)',
      registers,
      collect() {
        const now = performance.eventLoopUtilization();
        this.set(performance.eventLoopUtilization(now, last).utilization);
        last = now;
      },
    });
  }

  /** The TLS certificate now served: its expiry (ms since the epoch). */
  tlsCertificate(notAfterMs: number): void {
    this.tlsNotAfter ??= new Gauge({
      name: 'gavel_tls_certificate_expiry_timestamp_seconds',
      help: 'When the TLS certificate being served expires (Unix time); absent without TLS',
      registers: [this.registry],
    });
    this.tlsNotAfter.set(notAfterMs / 1000);
  }

  private readonly dropped = new Counter({
    name: 'gavel_connections_dropped_total',
    help: 'Connections closed as they arrived because the listener held max_connections already, by listener (http, grpc)',
    labelNames: ['listener'] as const,
    registers: [this.registry],
  });

  /** A connection a listener closed on arrival: it held its max_connections. */
  connectionDropped(listener: 'http' | 'grpc'): void {
    this.dropped.inc({ listener });
  }

  /** A remote JWKS fetch's outcome (`url` is configured, so the label's values are bounded). */
  jwksFetched(url: URL, failure: string | null): void {
    this.jwksOk.set({ url: url.href }, failure === null ? 1 : 0);
  }

  constructor(live: LivePolicySet, logDepth: () => number = () => 0, logDropped: () => number = () => 0, logFailing: () => boolean = () => false, warn: (message: string) => void = () => {}) {
    const registry = this.registry;
    this.refusals = new Refusals(registry, warn);
    this.reloadOk.set(1);
    this.lastApplied.set(Date.now() / 1000);
    new Gauge({
      name: 'gavel_decision_log_queue',
      help: 'Decisions answered but not yet written to the decision log',
      registers: [registry],
      collect() {
        this.set(logDepth());
      },
    });
    new Gauge({
      name: 'gavel_decision_log_ok',
      help: '1 while the decision log is written; 0 while writes fail (a full disk, a lock held elsewhere) and decisions wait in memory, or the database file or its journal was removed or replaced while serving',
      registers: [registry],
      collect() {
        this.set(logFailing() ? 0 : 1);
      },
    });
    new Counter({
      name: 'gavel_decision_log_dropped_total',
      help: 'Decisions answered but given up unwritten: the log could not be written for longer than its queues hold, or its writer stopped',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(logDropped());
      },
    });
    new Gauge({
      name: 'gavel_policy_revision_info',
      help: 'The active policy revision (value 1, revision as a label)',
      labelNames: ['revision'] as const,
      registers: [registry],
      collect() {
        this.reset();
        this.set({ revision: live.current.revision }, 1);
      },
    });
    new Gauge({
      name: 'gavel_policies',
      help: 'Policies in the active set',
      registers: [registry],
      collect() {
        this.set(live.current.policies.length);
      },
    });
  }

  /** Counts one decision that took `seconds`. */
  decided(where: Interface, allowed: boolean, seconds: number): void {
    this.tallies.decided(where, allowed, seconds);
  }

  /** Gauges of the IP lists (prefixes, whether the last load of each worked, failures) and velocity keys. */
  watchSignals(lists: LiveIpLists | null, velocity: Velocity | null): void {
    const registry = this.registry;
    if (lists !== null) {
      const perList: [name: string, help: string, value: (l: IpListStatus) => number][] = [
        ['gavel_ip_list_prefixes', 'Prefixes in each IP list version serving now', (l) => l.prefixes],
        ['gavel_ip_list_ok', '1 when the last load of the IP list worked; 0 when its file is broken and the previous version serves', (l) => (l.error === undefined ? 1 : 0)],
      ];
      for (const [name, help, value] of perList) {
        new Gauge({
          name,
          help,
          labelNames: ['list'] as const,
          registers: [registry],
          collect() {
            for (const l of lists.status().lists) this.set({ list: l.name }, value(l));
          },
        });
      }
      new Counter({
        name: 'gavel_ip_list_reload_failures_total',
        help: 'Rejected reloads of each IP list since start',
        labelNames: ['list'] as const,
        registers: [registry],
        collect() {
          this.reset();
          for (const l of lists.status().lists) this.inc({ list: l.name }, l.failures);
        },
      });
    }
    if (velocity !== null) {
      new Gauge({
        name: 'gavel_velocity_keys',
        help: 'Keys the velocity counters hold, by dimension (bounded by velocity.max_keys)',
        labelNames: ['dimension'] as const,
        registers: [registry],
        collect() {
          for (const [dimension, n] of Object.entries(velocity.size)) this.set({ dimension }, n);
        },
      });
    }
  }

  reloaded(outcome: ReloadOutcome): void {
    this.reloads.inc({ result: outcome.result });
    this.reloadOk.set(outcome.result === 'rejected' ? 0 : 1);
    if (outcome.result === 'applied') this.lastApplied.set(outcome.at.getTime() / 1000);
  }
}
