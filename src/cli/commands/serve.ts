import { heldSignals } from '../early-signals.js';
import { failure } from '../failure.js';
import { openidWarning } from '../../issuer/openid-check.js';
import { idTokenAlgProblem } from '../../issuer/authorization.js';
import { LivePolicySet } from '../../engine/live-set.js';
import { PolicyReloader, type ReloadOutcome } from '../../engine/reload.js';
import { buildApp } from '../../http/app.js';
import { Metrics } from '../../server/metrics.js';
import { ServerLog } from '../../server/server-log.js';
import { Decider } from '../../server/decider.js';
import { AttemptLimit } from '../../server/attempt-limit.js';
import { ClientKeys } from '../../server/keys.js';
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { userEntities } from '../../issuer/apply-document.js';
import { Issuer } from '../../issuer/issuer.js';
import { KeyRing } from '../../issuer/keys.js';
import { RegistryView } from '../../issuer/live-registry.js';
import { withSelfTrust } from '../../issuer/self-trust.js';
import { ReplayCache } from '../../tokens/dpop.js';
import { TrustedProxies } from '../../signals/client-address.js';
import { LiveIpLists, type IpListsReloadReport } from '../../signals/ip/live-ip-lists.js';
import { ipSignal } from '../../signals/ip-signal.js';
import { Signals } from '../../signals/signals.js';
import { Velocity } from '../../signals/velocity.js';
import { Health } from '../../grpc/health.js';
import { buildGrpcServer } from '../../grpc/server.js';
import { experimental, ServerCredentials } from '@grpc/grpc-js';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { defaultMaxConnections } from '../../server/connection-limit.js';
import { OpenConnections } from '../../server/open-connections.js';
import type { Server as TlsServer } from 'node:tls';
import { readTls, TlsReloader, tlsServerOptions, type TlsMaterial } from '../../server/tls.js';
import { DecisionLog } from '../../engine/decision-log.js';
import { revisionFiles } from '../../engine/revisions.js';
import type { PolicyFolder } from '../../engine/folder.js';
import { TreeKeeper } from '../../server/tree-keeper.js';
import { STOP_GRACE_MS, WorkerLogSink } from '../../store/sqlite/worker-log-sink.js';
import { DecisionsDropped, type Store } from '../../store/store.js';
import { missingSecret } from '../issuer-secret.js';
import { Directory, DirectoryBuilder, LiveDirectory } from '../../engine/directory.js';
import { ConfigError, loadConfig, unknownVariables, type Config } from '../../config.js';
import { createTokenVerifier } from '../../tokens/verify-token.js';
import { COMMON, flags } from '../args.js';
import { Exit, UsageError, writeLine, type CliIo } from '../io.js';
import { NewDatabase, openStore } from '../new-database.js';
import { diagnosticLines, loadSet, printDiagnostics } from '../load.js';
import type { JWTPayload } from 'jose';
import { defaultSubjectType } from '../../engine/gateway.js';
import { count } from '../../formats/count.js';

export const serveHelp = `Usage: gavel serve [--config FILE] [--policies DIR] [--db FILE] [--http HOST:PORT] [--grpc HOST:PORT]
                   [--ip-list NAME=FILE]... [--trusted-proxy CIDR]... [--no-watch]

Serves decisions over HTTP for the policies in DIR (default ./policies):
  POST /access/v1/evaluation, /access/v1/evaluations   OpenID AuthZEN 1.0
  GET  /.well-known/authzen-configuration
  POST /v1/decide[?explain=true], /v1/decide/batch    Gavel's native API
  POST /access/v1/search/{subject,resource,action}    AuthZEN search
  ANY  /v1/forward-auth                                nginx auth_request, Caddy, Traefik
  ANY  /v1/forward-auth/envoy/…                        Envoy's HTTP ext_authz service
  GET  /healthz, /readyz, /metrics
  admin (with an admin key): /v1/decisions, /v1/apply, /v1/reload, /v1/policies, /v1/affects, /v1/whatif
  GET  /console                                       the web console (docs/console.md), with an admin key
  the token issuer: /oauth2/token, /oauth2/authorize, /oauth2/jwks, … (docs/issuer.md)
gRPC: gavel.v1.DecisionService, Envoy ext_authz Authorization/Check, grpc.health.v1
Prints the address it listens on (port 0 picks a free one). Policy files are watched: a
valid change is swapped in atomically; an invalid one is rejected, reported (stderr,
/readyz, /metrics) and the previous revision keeps serving. SIGHUP reloads at once.
SIGTERM or SIGINT stops accepting, finishes requests in flight and exits 0.
See docs/api.md.

Exit codes: 0 stopped by a signal, 1 the policies or an IP list are invalid, or a stop could not\nwrite every decision to the decision log, 2 usage error.

Options:
  -c, --config FILE      JSON config file (also GAVEL_CONFIG): trusted token issuers,
                         forward-auth headers; see docs/configuration.md
  -p, --policies DIR     policies folder (default ./policies; also GAVEL_POLICIES)
      --db FILE          SQLite database, created and migrated on start: the decision log,
                         the directory, the issuer's registry and keys (default
                         ./data/gavel.db; also GAVEL_DB)
      --http HOST:PORT   where to listen (default 127.0.0.1:8181; also GAVEL_HTTP)
      --grpc HOST:PORT   gRPC: gavel.v1, Envoy ext_authz, health (default 127.0.0.1:9191;
                         also GAVEL_GRPC)
      --no-watch         do not reload when policy or IP list files change (SIGHUP still does)
      --ip-list NAME=FILE  an IP reputation list policies see as risk.ip (repeatable;
                         .csv: scored "cidr,score,label", else one IP or CIDR a line);
                         see docs/signals.md
      --trusted-proxy CIDR  a proxy whose X-Forwarded-For names the client (repeatable)
  -h, --help             show this help`;

/** Of a stop's time, what the decision log keeps for itself at most, once requests in flight are done or cut. */
const LOG_FLUSH_MS = 5_000;

/**
 * Signals, from the moment `serve` starts: a stop (SIGTERM, SIGINT) asked for while starting
 * is honoured once the server is up; one asked for while stopping is only said — the stop
 * under way finishes the requests in flight and writes the decision log, which the default
 * action of a second signal (exit at once) would lose; SIGHUP reloads once serving and is
 * ignored before and after (its default action would end the process).
 */
class ServeSignals {
  readonly stopped: Promise<string>;
  #stop: (signal: string) => void = () => {};
  #stopping = false;
  #stoppedAt = 0;
  #done = false;
  #reload: (() => void) | null = null;
  readonly #handlers: [NodeJS.Signals, () => void][];
  /** Text until the configuration says otherwise. */
  #log: ServerLog;

  constructor(io: CliIo) {
    this.#log = new ServerLog(io);
    this.stopped = new Promise((resolve) => (this.#stop = resolve));
    const stop = (signal: NodeJS.Signals) => () => {
      if (!this.#stopping) return void ((this.#stopping = true), (this.#stoppedAt = Date.now()), this.#stop(signal));
      // Ctrl-C under `npm start` reaches Gavel twice at once (from the terminal and from npm): only a later one is news.
      if (!this.#done && Date.now() - this.#stoppedAt > 500) this.#log.error(`${signal} again: already stopping — finishing the requests in flight (within stop_timeout_seconds) and writing the decision log (SIGKILL ends at once, and loses them)`);
    };
    this.#handlers = [
      ['SIGTERM', stop('SIGTERM')],
      ['SIGINT', stop('SIGINT')],
      ['SIGHUP', () => (this.#stopping ? undefined : this.#reload?.())],
    ];
    for (const [signal, handler] of this.#handlers) process.on(signal, handler);
    // What arrived while the CLI loaded: a stop is honoured once the server is up (as one
    // during the start is); a reload then is moot, the start reads the folder as it is.
    for (const signal of heldSignals()) if (signal !== 'SIGHUP') stop(signal)();
  }

  /** The server's log, in its configured format. */
  tellTo(log: ServerLog): void {
    this.#log = log;
  }

  get log(): ServerLog {
    return this.#log;
  }

  /** Serving now: SIGHUP runs `reload`. */
  serving(reload: () => void): void {
    this.#reload = reload;
  }

  /**
   * Serving is over. After a stop the handlers stay, ignoring signals, until the process
   * exits: a signal in between would otherwise end it with the signal's status, not 0.
   */
  dispose(): void {
    this.#done = true;
    if (!this.#stopping) for (const [signal, handler] of this.#handlers) process.off(signal, handler);
  }
}

export async function serve(argv: string[], io: CliIo): Promise<number> {
  const signals = new ServeSignals(io);
  try {
    return await serveUntilStopped(argv, io, signals);
  } catch (err: unknown) {
    // A start that fails once the configuration is read is said in its format (text: by `gavel`, as for every command).
    if (signals.log.format !== 'json') throw err;
    const { message, exit } = failure(err);
    return signals.log.error(`cannot start: ${message}`), exit;
  } finally {
    signals.dispose();
  }
}

async function serveUntilStopped(argv: string[], io: CliIo, osSignals: ServeSignals): Promise<number> {
  const { values } = flags({ args: argv, strict: true, options: {
    ...COMMON,
    http: { type: 'string' },
    grpc: { type: 'string' },
    db: { type: 'string' },
    config: { type: 'string', short: 'c' },
    'no-watch': { type: 'boolean' },
    'trusted-proxy': { type: 'string', multiple: true },
    'ip-list': { type: 'string', multiple: true },
  } });
  if (values.help) return writeLine(io.stdout, serveHelp), Exit.ok;
  let config: Config;
  try {
    config = loadConfig({
      cwd: io.cwd,
      env: process.env,
      flags: { policies: values.policies, http: values.http, grpc: values.grpc, db: values.db, config: values.config, noWatch: values['no-watch'], trustedProxies: values['trusted-proxy'], ipLists: values['ip-list'] },
    });
  } catch (err: unknown) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
  const say = new ServerLog(io, config.logFormat);
  osSignals.tellTo(say);
  for (const problem of unknownVariables(process.env)) say.warn(problem);
  // TLS files are checked before anything is made: a start they stop leaves nothing behind.
  let tls: TlsMaterial | null = null;
  if (config.tls !== null) {
    const read = readTls(config.tls);
    if ('problem' in read) throw new UsageError(`tls: ${read.problem}`);
    tls = read.material;
    warnExpiry(say, tls, config.tls.certFile);
  }
  const dir = config.policies;
  const result = await loadSet(dir);
  if (result.set === null) {
    // Named as the operator gave the folder: the flag as typed, else (config file, GAVEL_POLICIES) from here.
    const label = values.policies ?? (relative(io.cwd, dir) || '.');
    if (say.format === 'json') say.error('cannot start: the policies are invalid', { details: diagnosticLines(result, label) });
    else printDiagnostics(io, result, label);
    return Exit.failed;
  }
  // Reloads in a worker thread: parsing and building a million-prefix list would stop requests for a second or two.
  const opened = await LiveIpLists.open(config.ipLists, { onReload: (report) => reportLists(say, report), offThread: true });
  if (!opened.ok) {
    if (say.format === 'json') say.error('cannot start: an IP list is invalid', { details: opened.errors });
    else for (const e of opened.errors) say.error(e);
    return Exit.failed;
  }
  const ipLists = opened.lists;
  if (config.watch) await ipLists.watch();
  const velocity = new Velocity(config.velocityMaxKeys);
  const signals = new Signals([ipSignal(() => ipLists.current)], velocity);
  const proxies = new TrustedProxies(config.trustedProxies, config.clientAddressHeader);
  // A start that fails (an address in use, keys that cannot be opened) leaves no new database behind.
  const made = new NewDatabase(config.db);
  const store = openStore(config.db, made);
  // The issuer's signing keys, sealed in the store with the issuer secret.
  let keys: KeyRing;
  let secret: string;
  try {
    secret = config.issuer.secret ?? issuerSecret(config.db, store, made);
    keys = await KeyRing.open(store, secret, { alg: config.issuer.signingAlg, idTokenAlg: config.issuer.idTokenSigningAlg });
  } catch (err: unknown) {
    store.close();
    made.discard();
    if (err instanceof UsageError) throw err;
    throw new UsageError(`the token issuer cannot start: ${err instanceof Error ? err.message : String(err)}`);
  }
  const { enabled, retentionDays, maxRows, maxMegabytes, keepRequests, tokenClaims } = config.decisionLog;
  // The writes run on a worker thread with its own connection; the request thread only queues.
  // (An in-memory database is one connection's own: its log stays on this thread.)
  const sink =
    enabled && config.db !== ':memory:'
      ? new WorkerLogSink(
          config.db,
          { days: retentionDays, maxRows, maxBytes: maxMegabytes * 1024 * 1024 },
          (err) => say.error(logTrouble(err)),
          (err) => say.error(`cannot delete decisions past the log's retention (will retry): ${err.message}`),
          undefined,
          (since) => say.info(`writing the decision log again (it could not be written since ${since.toISOString()})`),
        )
      : null;
  const log = enabled ? new DecisionLog(sink ?? store, { keepRequests, tokenClaims }, (err) => say.error(logTrouble(err))) : null;
  // Retention: the writer thread keeps the log within retention_days, max_rows and max_megabytes as it writes.
  // Without it (the log off, or an in-memory database), decisions past them are pruned here, on start and hourly.
  const prune = () => store.whenFree(() => store.pruneDecisions(new Date(Date.now() - retentionDays * 86_400_000).toISOString(), maxRows));
  if (sink === null) prune();
  const pruning = sink === null ? setInterval(prune, 3_600_000).unref() : undefined;
  // Expired tokens, codes and refresh tokens leave the store a slice at a time (a few
  // milliseconds of the request thread), every 10 s, and sooner while more wait; so do the
  // sealed successors of refresh tokens rotated longer ago than the grace window.
  const SWEEP = 500;
  let sweepFailing = false;
  const sweepGrants = () => {
    let more = false;
    try {
      const now = Math.floor(Date.now() / 1000);
      // Only while no other connection holds the write lock (a `gavel apply`, an operator's
      // sqlite3): waiting for it here stopped every request for the 5 s lock timeout.
      const swept = store.whenFree(() => Math.max(issuer.forgetSuccessors(now, SWEEP), store.deleteExpiredGrants(now, SWEEP)));
      more = swept !== null && swept >= SWEEP;
      sweepFailing = false;
    } catch (err: unknown) {
      if (!sweepFailing) say.error(`cannot delete expired tokens (will retry): ${err instanceof Error ? err.message : String(err)}`);
      sweepFailing = true;
    }
    sweeping = setTimeout(sweepGrants, more ? 200 : 10_000).unref();
  };
  let sweeping = setTimeout(sweepGrants, 10_000).unref();
  // The directory — entities, and the registry's users as entities of type "user" — and the
  // registry, refreshed when another process (`gavel apply`, `gavel keys rotate`) writes the database.
  let registry = new RegistryView(store.registry());
  const directory = new LiveDirectory(new Directory([...store.entities(), ...userEntities(registry.registry)]));
  let marker = store.changeMarker();
  // Read again a page of entities per turn of the event loop, requests answered from the
  // directory before in between: 100,000 entities read and indexed at once held every request
  // for about a third of a second. One refresh at a time; a change during one makes one more.
  // A refresh asked for during one starts after it (callers meanwhile share it): the one under
  // way may have read the store before the change its caller — an admin apply — waits to see.
  let refreshing: Promise<void> | null = null;
  let nextRefresh: Promise<void> | null = null;
  const refresh = (): Promise<void> => {
    if (refreshing !== null) {
      nextRefresh ??= refreshing
        .catch(() => {})
        .then(() => {
          nextRefresh = null;
          return refresh();
        });
      return nextRefresh;
    }
    refreshing = reread().finally(() => {
      refreshing = null;
    });
    return refreshing;
  };
  const reread = async () => {
    // What this process wrote itself (an admin apply) is read here, not again by the poll; a
    // read that fails leaves the marker as it was, so the poll tries again.
    const seen = store.changeMarker();
    const next = new DirectoryBuilder();
    for (const page of store.entityPages()) {
      next.add(page);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    // Read last, in the same turn as the swap: a client registered while the pages were read is kept.
    const read = store.registry();
    next.add(userEntities(read));
    directory.swap(new Directory(next));
    registry = new RegistryView(read);
    marker = seen;
    const r = registry.registry;
    // The directory holds the registry's users as entities too: counted once, as users.
    warnOpenid();
    say.info(`directory and registry reloaded (${count(directory.current.size - r.users.length, 'entity', 'entities')}, ${count(r.apis.length, 'API')}, ${count(r.clients.length, 'client')}, ${count(r.users.length, 'user')})`);
    // A key added by `gavel keys rotate` signs from now on.
    keys.refresh(store, secret).then(
      (added) => added && say.info(`signing with ${keys.signingKids}`),
      (err: unknown) => say.error(`cannot read the signing keys again: ${err instanceof Error ? err.message : String(err)}`),
    );
  };
  // Before an unknown client is refused: what another process applied since the last poll.
  const freshen = async (): Promise<boolean> => {
    if (store.changeMarker() === marker) return false;
    await refresh();
    return true;
  };
  let revocations = store.revocationMarker();
  let fileSaid: string | null = null;
  const watchingDb = setInterval(() => {
    if (unsaved.size > 0) retryRevisions();
    // Said once, as /readyz says it until it is resolved (a restart, or the file put back).
    const fileProblem = store.fileProblem();
    if (fileProblem !== fileSaid && fileProblem !== null) say.error(fileProblem);
    fileSaid = fileProblem;
    // A token revoked by another process sharing the store is refused here too within a second.
    const revoked = store.revocationMarker();
    if (revoked !== revocations) {
      try {
        issuer.revocationsChanged();
        revocations = revoked;
      } catch (err: unknown) {
        say.error(`cannot read the revoked tokens again (will retry): ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (refreshing === null && store.changeMarker() !== marker) refresh().catch((err: unknown) => say.error(`cannot read the directory and registry again (will retry): ${err instanceof Error ? err.message : String(err)}`));
  }, 1000).unref();
  // Each revision served is stored once (its files), for `gavel explain` and `gavel diff REVISION`.
  // One that cannot be stored (a full disk, a lock held elsewhere) is tried again every second until it is:
  // without it, its decisions could not be explained by the policies that made them.
  const unsaved = new Map<string, Record<string, string>>();
  const saveRevision = (revision: string, folder: PolicyFolder) => {
    const files = revisionFiles(folder);
    try {
      // Not waiting for another connection's lock on the request thread: tried again every second until stored.
      if (store.whenFree(() => store.savePolicyRevision({ id: revision, savedAt: new Date().toISOString(), files })) === null) throw new Error('another connection holds the database\'s write lock');
    } catch (err: unknown) {
      unsaved.set(revision, files);
      say.error(`cannot store policy revision ${revision} (will retry): ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const retryRevisions = () => {
    for (const [revision, files] of unsaved) {
      try {
        if (store.whenFree(() => store.savePolicyRevision({ id: revision, savedAt: new Date().toISOString(), files })) === null) return;
      } catch {
        return;
      }
      unsaved.delete(revision);
      say.info(`stored policy revision ${revision}`);
    }
  };
  saveRevision(result.set.revision, result.folder);
  const live = new LivePolicySet(result.set);
  // Policies that mint no `openid` leave every OpenID client without ID tokens, and a client may
  // ask for an ID token algorithm this server does not sign with: said at start, and again when
  // what they say changes (a reload, an apply) — not after every registration.
  let warned = '';
  const warnOpenid = () => {
    const warnings: string[] = [];
    const warning = openidWarning(live.current, registry.registry.clients);
    if (warning !== null) warnings.push(warning);
    // `gavel apply` checks a client's ID token algorithm against every algorithm, not this server's keys.
    for (const c of registry.registry.clients) {
      if (idTokenAlgProblem(c, issuer.idTokenAlgs) !== null) warnings.push(`client \`${c.id}\` asks for ${c.idTokenAlg} ID tokens, and this issuer signs with ${issuer.idTokenAlgs.join(', ')}: its sign-ins are refused (set issuer.id_token_signing_alg or issuer.signing_alg to ${c.idTokenAlg}, or change the client)`);
    }
    const said = warnings.join('\n');
    if (said === warned) return;
    warned = said;
    for (const w of warnings) say.warn(`${w}`);
  };
  // An empty folder is a valid policy set that denies everything: said, as gavel check says it, at start and after each reload.
  const warnEmpty = () => {
    if (live.current.policies.length === 0) say.warn(`no policies in ${dir}: every request is denied`);
  };
  // The log is not being written when its writes fail, and when they go to a file (or journal) no longer the database's.
  const metrics = new Metrics(live, () => (log?.depth ?? 0) + (sink?.depth ?? 0), () => (log?.dropped ?? 0) + (sink?.dropped ?? 0), () => sink?.failing != null || (log !== null && store.fileProblem() !== null), (message) => say.warn(message));
  metrics.collectProcessMetrics();
  // With the admin APIs on (affects, the console, what-if), the set's syntax trees are kept for partial evaluation.
  const trees = config.adminKey === null ? null : new TreeKeeper(live);
  trees?.refresh();
  // Whether the last change was rejected: its fix is said, even when it restores the revision serving.
  let rejected = false;
  const reloader = new PolicyReloader(dir, live, (outcome) => {
    metrics.reloaded(outcome);
    if (outcome.result === 'applied') trees?.refresh();
    report(say, outcome, live.current.revision);
    if (outcome.result === 'unchanged' && rejected) say.info(`the rejected policy change is undone; serving revision ${outcome.revision}`);
    rejected = outcome.result === 'rejected';
    if (outcome.result === 'applied') warnEmpty(), warnOpenid();
  }, undefined, (set, folder) => saveRevision(set.revision, folder));
  if (config.watch) reloader.watch();
  const admin = { key: config.adminKey, store, reload: () => reloader.reload(), applied: refresh, policies: live };
  metrics.watchSignals(config.ipLists.length > 0 ? ipLists : null, velocity);
  const decider = new Decider(metrics, log, directory, signals);
  const issuer = new Issuer({ keys, registry: () => registry, decider, policies: live, store, velocity, secret, softwareStatementKeys: config.issuer.softwareStatementKeys, refreshGrace: config.issuer.refreshGraceSeconds, refreshTtl: config.issuer.refreshTtlSeconds, acceptTokenEndpointAudience: config.issuer.acceptTokenEndpointAudience, requirePushedAuthorizationRequests: config.issuer.requirePushedAuthorizationRequests, registered: () => (registry = new RegistryView(store.registry())), freshen });
  // Gavel trusts the tokens its own issuer mints, for every registered API, with no configuration.
  // A trusted issuer's JWKS that cannot be fetched is said on stderr (once a minute while it
  // lasts, and when it is fetched again) and shown in /metrics: gateways see only 503s and denials.
  const jwksFailing = new Map<string, number>();
  const onJwksFetch = (url: URL, failure: string | null): void => {
    metrics.jwksFetched(url, failure);
    const since = jwksFailing.get(url.href);
    if (failure === null) {
      if (since !== undefined) say.info(`the keys at ${url.href} were fetched again`);
      jwksFailing.delete(url.href);
    } else if (since === undefined || Date.now() - since >= 60_000) {
      jwksFailing.set(url.href, Date.now());
      say.warn(`cannot fetch a trusted issuer's keys from ${url.href}: ${failure} (tokens needing them are refused with 503 until they can be fetched)`);
    }
  };
  const verifyToken = withSelfTrust(issuer, createTokenVerifier(config.trustedIssuers, { onJwksFetch }), (audience) => registry.apis.has(audience));
  const replay = new ReplayCache();
  // Whose a gateway call's token is. Gavel's own: by its registry (a user and a client never
  // share an id), since an exchanged client token's `sub` is no longer its `client_id`. Another
  // issuer's user or client: its `subject_type` or `client_subject_type`, so that its ids can be
  // kept apart from the directory's users and Gavel's clients.
  const typesByIssuer = new Map(config.trustedIssuers.map((i) => [i.issuer, { user: i.subjectType ?? 'user', client: i.clientSubjectType ?? 'client' }]));
  const subjectType = (claims: JWTPayload): string => {
    if (claims.iss === issuer.url && typeof claims.sub === 'string') {
      if (registry.users.has(claims.sub)) return 'user';
      if (registry.clients.has(claims.sub)) return 'client';
    }
    const types = typesByIssuer.get(String(claims.iss));
    return defaultSubjectType(claims) === 'client' ? (types?.client ?? 'client') : (types?.user ?? 'user');
  };
  const forwardAuth = { verifyToken, replay, subjectType, ...config.forwardAuth };
  const clientKeys = new ClientKeys(config.clientKeys);
  // Search page tokens are MACed with a key derived from the issuer secret: they outlive a restart, and
  // servers sharing the secret (behind one load balancer) accept each other's.
  const searchPageKey = createHmac('sha256', secret).update('gavel search page tokens').digest();
  // The console signs in with the admin key and reads the same store; without a key it says how to enable it.
  const consoleOptions = { key: config.adminKey, store: enabled ? store : null };
  /** Set when the stop begins (buildApp's `stopping`). */
  let stopping = false;
  const app = buildApp({ baseUrl: () => issuer.url || null, policies: live, metrics, reload: reloader.status, forwardAuth, log, logFailing: () => (sink?.failing == null ? null : { ...sink.failing, queued: (log?.depth ?? 0) + sink.depth, dropped: (log?.dropped ?? 0) + sink.dropped }), store, directory, admin, decider, clientKeys, proxies, untrustedForwarder: untrustedForwarders(proxies, say), ipLists: config.ipLists.length > 0 ? ipLists : null, issuer, searchPageKey, console: consoleOptions, registrations: new AttemptLimit(config.issuer.registrationsPerHour, 3_600_000), serverLog: say, tls, stopping: () => stopping });
  const tlsReloader =
    config.tls === null || tls === null
      ? null
      : new TlsReloader(config.tls, tls, {
          changed: (m) => {
            (app.server as unknown as TlsServer).setSecureContext(tlsServerOptions(m));
            say.info(`TLS: serving the changed certificate \`${config.tls!.certFile}\` (valid until ${new Date(m.notAfter).toISOString()})`);
            warnExpiry(say, m, config.tls!.certFile);
            metrics.tlsCertificate(m.notAfter);
          },
          rejected: (problem) => say.error(`TLS: the changed files are not used, the previous certificate keeps serving: ${problem}`),
        });
  if (tlsReloader !== null && config.tls !== null) {
    tlsReloader.start(config.tls.reloadSeconds * 1000);
    metrics.tlsCertificate(tlsReloader.current.notAfter);
  }
  const health = new Health(() => store.ping(), say);
  const grpc = buildGrpcServer({ policies: live, decider, gateway: forwardAuth, health, clientKeys, proxies, envoyProxies: new TrustedProxies(config.envoyTrustedProxies, config.clientAddressHeader), serverLog: say });
  // Each listener holds so many connections, past which a new one is closed as it arrives
  // (connection-limit.ts). gRPC's listener is Gavel's own, handing connections to grpc-js:
  // grpc-js has no such bound.
  const maxConnections = config.maxConnections ?? defaultMaxConnections();
  app.server.maxConnections = maxConnections;
  const httpOpen = OpenConnections.ofHttp(app.server);
  app.server.on('drop', () => metrics.connectionDropped('http'));
  const grpcConnections = grpc.createConnectionInjector(grpcCredentials(tlsReloader));
  const grpcOpen = new OpenConnections();
  const grpcListener = createNetServer((socket) => {
    if (grpcOpen.add(socket)) grpcConnections.injectConnection(socket);
  });
  grpcListener.maxConnections = maxConnections;
  grpcListener.on('drop', () => metrics.connectionDropped('grpc'));
  /** Stops everything started: after SIGTERM, or when a port cannot be bound (so the process exits). */
  const shutdown = async () => {
    stopping = true;
    reloader.close();
    ipLists.close();
    // close() stops accepting and waits for requests in flight; then every answered decision is
    // written. Not for ever (stop_timeout_seconds): connections still open past their share (a
    // client that never finishes its request) are cut, and the log gets the rest — so a stop
    // ends before the SIGKILL an orchestrator sends after its grace period.
    const stopMs = config.stopTimeoutSeconds * 1000;
    const until = Date.now() + stopMs;
    // The log's share: up to LOG_FLUSH_MS, and never less than what a writer asked to stop is given.
    const requestsMs = stopMs - Math.max(STOP_GRACE_MS, Math.min(LOG_FLUSH_MS, stopMs / 3));
    const cut = setTimeout(() => {
      say.error(`requests still in flight after ${requestsMs / 1000} s; closing their connections`);
      app.server.closeAllConnections();
      httpOpen.closeAll();
      grpc.forceShutdown();
      // grpc-js lets go of sessions, not of a connection that never sent its preface.
      grpcOpen.closeAll();
    }, requestsMs);
    // Watchers of gRPC health hear NOT_SERVING and their streams end: a stop would wait on them.
    health.stop();
    if (grpcListener.listening) grpcListener.close();
    const closed = Promise.all([app.close(), new Promise<void>((resolve) => grpc.tryShutdown(() => resolve()))]);
    httpOpen.closeUnused();
    grpcOpen.closeUnused();
    await closed;
    clearTimeout(cut);
    trees?.close();
    tlsReloader?.stop();
    clearInterval(pruning);
    clearTimeout(sweeping);
    clearInterval(watchingDb);
    log?.close();
    // What the writer had not written when it stopped, and what it never accepted (restarting).
    const lost = ((await sink?.close(Math.max(until - Date.now(), 0))) ?? 0) + (log?.depth ?? 0);
    if (lost > 0) say.error(`${lost} decisions could not be written to the decision log`);
    store.close();
    return lost;
  };
  let grpcPort: number;
  try {
    await app.listen({ host: config.http.host, port: config.http.port }).catch((err: unknown) => {
      throw new UsageError(`cannot listen on ${config.http.host}:${config.http.port}: ${listenProblem(err, 'http')}`);
    });
    grpcPort = await new Promise<number>((resolve, reject) => {
      grpcListener.once('error', reject);
      grpcListener.listen({ host: config.grpc.host, port: config.grpc.port }, () => {
        grpcListener.off('error', reject);
        resolve((grpcListener.address() as AddressInfo).port);
      });
    }).catch((err: unknown) => {
      // Gavel's own HTTP listener may be the one there.
      const own = config.grpc.port !== 0 && config.grpc.port === (app.server.address() as AddressInfo | null)?.port && (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
      throw new UsageError(`cannot listen for gRPC on ${config.grpc.host}:${config.grpc.port}: ${own ? 'EADDRINUSE (Gavel\'s HTTP listener is on that port: give HTTP and gRPC different ports, with --http and --grpc)' : listenProblem(err, 'grpc')}`);
    });
  } catch (err: unknown) {
    await shutdown();
    made.discard();
    throw err;
  }
  const bound = app.server.address();
  const where = typeof bound === 'object' && bound !== null ? `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}` : String(bound);
  const scheme = tls === null ? 'http' : 'https';
  issuer.url = config.issuer.url ?? `${scheme}://${where}`;
  say.info(`serving ${result.set.policies.length} policies (revision ${result.set.revision}) on ${scheme}://${where} and grpc://${config.grpc.host}:${grpcPort}${tls === null ? '' : ` (TLS${tls.ca === null ? '' : ', client certificates required'})`}`);
  warnEmpty();
  warnOpenid();
  // A wildcard address is where Gavel listens, not where clients reach it: tokens naming it
  // as their issuer would be trusted by no outside verifier.
  if (config.issuer.url === null && typeof bound === 'object' && bound !== null && (bound.address === '0.0.0.0' || bound.address === '::')) {
    say.warn(`the token issuer's URL is ${issuer.url}, a wildcard address; set issuer.url (or GAVEL_ISSUER_URL) to the URL clients use`);
  }
  osSignals.serving(() => void Promise.all([reloader.reload(), ipLists.reload()]));
  await osSignals.stopped;
  // A stop that lost answered decisions is not a clean one: a supervisor must be able to tell.
  // Asked before the store is closed: writes since a file problem went where no one reads them.
  const fileProblem = store.fileProblem();
  const lost = await shutdown();
  if (fileProblem !== null) say.info(`stopped (exit 1): ${fileProblem}`);
  else say.info(lost > 0 ? `stopped, with ${lost} decisions not written to the decision log (exit 1)` : 'stopped');
  return lost > 0 || fileProblem !== null ? Exit.failed : Exit.ok;
}

/**
 * Without a configured issuer secret, one is made on first start and kept beside the
 * database (mode 0600), so signing keys survive restarts; an in-memory database gets a
 * throwaway one. Production sets GAVEL_ISSUER_SECRET from a secret store instead.
 */
function issuerSecret(db: string, store: Store, made: NewDatabase): string {
  if (db === ':memory:') return randomBytes(32).toString('base64url');
  const file = join(dirname(db), 'issuer.secret');
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new UsageError(`cannot read the issuer secret \`${file}\`: ${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (code ?? String(err))}`);
    // Keys sealed with a lost secret cannot be opened by a new one: say so, and leave no new secret behind.
    if (store.signingKeys().length > 0) throw new UsageError(missingSecret(file, db));
    const secret = randomBytes(32).toString('base64url');
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    made.remember(file);
    return secret;
  }
  // An emptied or truncated file must not seal new keys with next to nothing.
  if (text.length < 32) throw new UsageError(`the issuer secret \`${file}\` holds ${text.length === 0 ? 'nothing' : 'fewer than 32 characters'}: restore the secret it held (the signing keys are sealed with it), or set GAVEL_ISSUER_SECRET`);
  return text;
}

/** Why a listener could not bind, and what to do: the error's code alone said little. */
function listenProblem(err: unknown, listener: 'http' | 'grpc'): string {
  const code = (err as NodeJS.ErrnoException).code;
  const choose = `choose another address with --${listener} HOST:PORT, GAVEL_${listener.toUpperCase()} or \`${listener}\` in the config file`;
  switch (code) {
    case 'EADDRINUSE':
      return `EADDRINUSE (another process listens there: ${choose})`;
    case 'EADDRNOTAVAIL':
      return `EADDRNOTAVAIL (no network interface of this machine has that address: ${choose})`;
    case 'EACCES':
      return `EACCES (ports below 1024 need privileges: ${choose})`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${code} (the host name does not resolve: ${choose})`;
    default:
      return code ?? (err instanceof Error ? err.message : String(err));
  }
}

/** gRPC's credentials: plain, or TLS from the reloader (a client CA: client certificates required). */
function grpcCredentials(tls: TlsReloader | null): ServerCredentials {
  if (tls === null) return ServerCredentials.createInsecure();
  const mutual = tls.current.ca !== null;
  return experimental.createCertificateProviderServerCredentials(tls, mutual ? tls : null, mutual);
}

/** A certificate that has expired, or will within two weeks, is said at start and at each change. */
function warnExpiry(say: ServerLog, m: TlsMaterial, file: string): void {
  const days = (m.notAfter - Date.now()) / 86_400_000;
  if (days < 0) say.warn(`TLS: the certificate \`${file}\` expired on ${new Date(m.notAfter).toISOString()}: clients will refuse it`);
  else if (days < 14) say.warn(`TLS: the certificate \`${file}\` expires in ${Math.floor(days)} days (${new Date(m.notAfter).toISOString()})`);
}

function reportLists(say: ServerLog, report: IpListsReloadReport): void {
  if (report.applied.length > 0) say.info(`reloaded IP lists ${report.applied.join(', ')}`);
  for (const r of report.rejected) say.error(`rejected a change to IP list ${r.name}; its previous version keeps serving:`, { details: r.errors });
}

function report(say: ServerLog, outcome: ReloadOutcome, serving: string): void {
  if (outcome.result === 'applied') say.info(`reloaded policies (revision ${outcome.revision})`);
  if (outcome.result === 'rejected') say.error(`rejected a policy change; still serving revision ${serving}:`, { details: outcome.errors });
}


/** Peers warned about an hour at most: a scan from many addresses must not flood the log. */
const WARNED_FORWARDERS = 16;

/** Where a gateway of one's own sits: loopback, private and link-local networks. */
const LOCAL_NETWORKS = new TrustedProxies(['127.0.0.0/8', '::1/128', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7', 'fe80::/10']);

/**
 * A warning, once per peer, for a peer that forwards a client address Gavel does not believe:
 * behind an untrusted gateway every client has the gateway's address, so one abusive client
 * trips address-based signals (the example `risk.probing`) for all of them. At most
 * WARNED_FORWARDERS peers an hour, then a count of those left unsaid. Only a peer on a local
 * network gets the hint to trust it: one on the internet sending the header is more likely
 * a client trying its luck, and trusting it would let it choose its address.
 */
export function untrustedForwarders(proxies: TrustedProxies, say: ServerLog): (peer: string) => void {
  const header = proxies.header === 'forwarded' ? 'Forwarded' : 'X-Forwarded-For';
  let warned = new Set<string>();
  let windowStart = Date.now();
  let unsaid = 0;
  return (peer) => {
    if (Date.now() - windowStart >= 3_600_000) {
      if (unsaid > 0) say.warn(`in the last hour ${unsaid} more requests came with ${header} from peers that are not trusted proxies (not named: at most ${WARNED_FORWARDERS} peers are, an hour)`);
      [warned, windowStart, unsaid] = [new Set(), Date.now(), 0];
    }
    if (warned.has(peer)) return;
    if (warned.size >= WARNED_FORWARDERS) return void unsaid++;
    warned.add(peer);
    const hint = LOCAL_NETWORKS.trusts(peer) ? `; if it is your gateway, add --trusted-proxy ${peer.includes(':') ? `${peer}/128` : `${peer}/32`} (or trusted_proxies in the config file)` : '';
    say.warn(`${peer} sends ${header}, which is ignored: it is not a trusted proxy, so every client it forwards is taken to be ${peer} (risk signals by address included)${hint}`);
  };
}

/** A decision log's trouble for the server log: a failed write is retried; dropped decisions are not. */
function logTrouble(err: unknown): string {
  if (err instanceof DecisionsDropped) return `decision log: ${err.message}`;
  return `cannot write the decision log (will retry): ${err instanceof Error ? err.message : String(err)}`;
}
