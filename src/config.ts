/**
 * Configuration: flags over GAVEL_* environment variables over a JSON config file over
 * defaults, into one typed, validated Config. Every problem is reported with where it is
 * (`gavel.json: trusted_issuers[0].audiences: …`); nothing starts on a bad config.
 */
import { LOG_FORMATS, type LogFormat } from './server/server-log.js';
import type { TlsFiles } from './server/tls.js';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { JSONWebKeySet } from 'jose';
import { TrustedProxies, type AddressHeader } from './signals/client-address.js';
import { IP_LIST_FORMATS, type IpListFormat } from './signals/ip/list-format.js';
import { IP_LIST_NAME, type IpListConfig } from './signals/ip/list-config.js';
import { isLifetime, issuerProblems, type Algorithm, type TrustedIssuer } from './tokens/trusted-issuer.js';
import { readJson } from './formats/json-error.js';
import { suggest } from './language/check/suggest.js';
import { whyUnreadable } from './formats/file-error.js';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from './issuer/keys.js';

export interface Config {
  policies: string;
  /** The SQLite database file (created and migrated on start). */
  db: string;
  /** The bearer key of admin endpoints; `null` disables them. */
  adminKey: string | null;
  http: { host: string; port: number };
  grpc: { host: string; port: number };
  watch: boolean;
  trustedIssuers: TrustedIssuer[];
  forwardAuth: {
    /** Request headers passed to policies as `context.headers` (lower-case names). */
    headers: string[];
    /** Response headers on allow, each from a claim of the verified token (`"X-Gavel-Subject": "sub"`). */
    responseHeaders: Record<string, string>;
  };
  /** Keys callers of the decision interfaces must present, by client name; none: open to any caller. */
  clientKeys: Record<string, string>;
  /** Peers whose forwarded-for header names the client (CIDRs). */
  trustedProxies: string[];
  /**
   * Envoy's downstream peers (the `source` of a CheckRequest) whose X-Forwarded-For is
   * believed: a different hop from `trustedProxies` (Gavel's own callers), so trusting an
   * ingress does not let every pod behind an Envoy sidecar choose its address.
   */
  envoyTrustedProxies: string[];
  /** The header trusted proxies state the client in. */
  clientAddressHeader: AddressHeader;
  /** Named IP reputation lists (docs/signals.md); paths absolute. */
  ipLists: IpListConfig[];
  /** Keys each velocity dimension keeps at most. */
  velocityMaxKeys: number;
  /**
   * Seconds a stop (SIGTERM) takes at most: requests in flight get all but the last 5 (a third
   * of it, if less, but never under 3), the decision log the rest. Below Kubernetes' default grace period (30 s), so
   * the log is flushed before a SIGKILL could come.
   */
  stopTimeoutSeconds: number;
  /** How the server's own lines (started, reloaded, warnings, failures) are written: text for people, JSON lines for log collectors. */
  logFormat: LogFormat;
  /** Connections each listener (HTTP, gRPC) holds at most; `null`: derived from the process's open-file limit (server/connection-limit.ts). */
  maxConnections: number | null;
  /** TLS on both listeners (paths absolute), and how often its files are read again; `null`: plain HTTP and gRPC. */
  tls: (TlsFiles & { reloadSeconds: number }) | null;
  issuer: {
    /** The issuer identifier; default: the address the server listens on. */
    url: string | null;
    /** Seals signing keys at rest; default: a random one kept in `issuer.secret` beside the database. */
    secret: string | null;
    /** Keys whose software statements admit dynamic client registration (RFC 7591); none: registration is off. */
    softwareStatementKeys: JSONWebKeySet | null;
    /** The algorithm new signing keys use. */
    signingAlg: SigningAlgorithm;
    /** The ID tokens' signing algorithm: RS256, OpenID Connect's default, unless set. */
    idTokenSigningAlg: SigningAlgorithm;
    /** Dynamic registrations (attempts, answered or refused) an address may make an hour. */
    registrationsPerHour: number;
    /** Seconds a rotated refresh token may be presented again and get the same successor (a lost response, several tabs). */
    refreshGraceSeconds: number;
    /** `issuer.accept_token_endpoint_audience`: client assertions may name the token endpoint's URL as `aud`. */
    acceptTokenEndpointAudience: boolean;
    /** `issuer.require_pushed_authorization_requests`: /oauth2/authorize takes only a request_uri from the PAR endpoint (RFC 9126 §5). */
    requirePushedAuthorizationRequests: boolean;
    /** Lifetime of a refresh token family, in seconds: successors keep the first one's expiry. */
    refreshTtlSeconds: number;
  };
  decisionLog: {
    enabled: boolean;
    /** Decisions older than this are pruned (hourly). */
    retentionDays: number;
    /** Beyond this many rows, the oldest are pruned. */
    maxRows: number;
    /** Beyond this many megabytes (MiB) of records, the oldest are pruned. */
    maxMegabytes: number;
    /** Whether a record keeps the request as decided (for explain and what-if); off: the outcome only. */
    keepRequests: boolean;
    /** Of a verified token in a kept request: its identity and the claims policies read, or all claims. */
    tokenClaims: 'read' | 'all';
  };
}

export interface ConfigInputs {
  cwd: string;
  /** Flags given on the command line; unset ones are undefined. */
  flags: { policies?: string; http?: string; grpc?: string; config?: string; noWatch?: boolean; db?: string; trustedProxies?: string[]; ipLists?: string[] };
  env: NodeJS.ProcessEnv;
}

export class ConfigError extends Error {}

const DEFAULTS = { policies: 'policies', http: '127.0.0.1:8181', grpc: '127.0.0.1:9191', db: 'data/gavel.db' };

type Json = { [k: string]: unknown };
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** Keys an object of the file may hold: a misspelt one (`token_type`) is an error, never a setting quietly left out. */
function onlyKeys(value: Json, keys: readonly string[], where: string, problems: string[]): void {
  // `$comment` (and any `$` key) is a note, as at the top level and in schema.json.
  for (const k of Object.keys(value)) if (!keys.includes(k) && !k.startsWith('$')) problems.push(`${where}: unknown key \`${k}\`; keys are ${keys.join(', ')}`);
}

export function parseAddress(text: string, where: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (m === null || port > 65535) throw new ConfigError(`${where}: \`${text}\` is not HOST:PORT (for example 127.0.0.1:8181)`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

/** The environment variables configuration reads. */
const VARIABLES = ['GAVEL_CONFIG', 'GAVEL_POLICIES', 'GAVEL_DB', 'GAVEL_HTTP', 'GAVEL_GRPC', 'GAVEL_CLIENT_KEYS', 'GAVEL_ADMIN_KEY', 'GAVEL_ISSUER_URL', 'GAVEL_ISSUER_SECRET', 'GAVEL_LOG_FORMAT'] as const;

/**
 * `GAVEL_*` variables Gavel does not read, each with what to do: a misspelt one would be a
 * setting quietly left out. Said, not refused: Kubernetes sets `GAVEL_SERVICE_HOST`,
 * `GAVEL_PORT_…` and the like in every pod beside a Service named gavel or gavel-… (those are not said).
 */
/** Kubernetes' variables for a Service named gavel or gavel-…: `GAVEL_SERVICE_HOST`, `GAVEL_GRPC_SERVICE_PORT_GRPC`, `GAVEL_HTTP_PORT_8181_TCP_ADDR`, `GAVEL_PORT`. */
function serviceLink(name: string): boolean {
  return /^GAVEL(_[A-Z0-9_]+?)?_(SERVICE_(HOST|PORT(_[A-Z0-9_]+)?)|PORT(_\d+_(TCP|UDP|SCTP)(_(ADDR|PORT|PROTO))?)?)$/.test(name);
}

export function unknownVariables(env: NodeJS.ProcessEnv): string[] {
  const known: readonly string[] = VARIABLES;
  return Object.keys(env)
    .filter((name) => name.startsWith('GAVEL_') && !known.includes(name) && !serviceLink(name))
    .sort()
    .map((name) => {
      const near = suggest(name, known);
      return `${name} is not a variable Gavel reads; it is ignored${near === null ? ` (Gavel reads ${known.join(', ')})` : `: did you mean ${near}?`}`;
    });
}

export function loadConfig(inputs: ConfigInputs): Config {
  const { cwd, flags, env } = inputs;
  // Set but empty is a mistake (a secret store that handed over nothing), never "unset": an
  // empty GAVEL_CLIENT_KEYS turned client keys off, an empty GAVEL_POLICIES served the current folder.
  const blank = VARIABLES.filter((name) => env[name] !== undefined && env[name]!.trim() === '');
  if (blank.length > 0) throw new ConfigError(blank.map((name) => `${name} is set but empty: unset it, or give it a value`).join('\n'));
  const file = flags.config ?? env.GAVEL_CONFIG;
  const problems: string[] = [];
  // Unknown keys are reported with every other problem of the file, not before them.
  const fromFile = file === undefined ? {} : readConfigFile(resolve(cwd, file), file, problems);
  const base = file === undefined ? cwd : dirname(resolve(cwd, file));
  const where = file ?? 'config';

  // The file's values are checked even where a flag or a variable overrides them: a file that is wrong is said to be.
  const inFile = { policies: stringAt(fromFile, 'policies', where, problems), db: stringAt(fromFile, 'db', where, problems), http: stringAt(fromFile, 'http', where, problems), grpc: stringAt(fromFile, 'grpc', where, problems) };
  const policies = flags.policies ?? env.GAVEL_POLICIES ?? inFile.policies;
  const db = flags.db ?? env.GAVEL_DB ?? inFile.db;
  const http = flags.http ?? env.GAVEL_HTTP ?? inFile.http ?? DEFAULTS.http;
  if (fromFile.watch !== undefined && typeof fromFile.watch !== 'boolean') problems.push(`${where}: watch: expected true or false`);
  const watch = !(flags.noWatch ?? false) && fromFile.watch !== false;
  const trustedIssuers = issuersAt(fromFile.trusted_issuers, base, `${where}: trusted_issuers`, problems);
  const forwardAuth = forwardAuthAt(fromFile.forward_auth, `${where}: forward_auth`, problems);
  // The file's keys are checked even when the environment replaces them: once it stops supplying them, the file's are served.
  const fileClientKeys = clientKeysAt(fromFile.client_keys, `${where}: client_keys`, problems);
  const clientKeys = env.GAVEL_CLIENT_KEYS !== undefined ? clientKeysFromEnv(env.GAVEL_CLIENT_KEYS, problems) : fileClientKeys;
  const signals = signalsAt(fromFile, flags, cwd, base, where, problems);
  const issuer = issuerAt(fromFile.issuer, env, base, `${where}: issuer`, problems);
  const decisionLog = decisionLogAt(fromFile.decision_log, `${where}: decision_log`, problems);
  const stopTimeout = fromFile.stop_timeout_seconds;
  if (stopTimeout !== undefined && (typeof stopTimeout !== 'number' || !Number.isInteger(stopTimeout) || stopTimeout < 5 || stopTimeout > 3600)) problems.push(`${where}: stop_timeout_seconds: expected a whole number of seconds from 5 to 3600`);
  const stopTimeoutSeconds = typeof stopTimeout === 'number' && Number.isInteger(stopTimeout) && stopTimeout >= 5 && stopTimeout <= 3600 ? stopTimeout : 25;
  const tls = tlsAt(fromFile.tls, base, `${where}: tls`, problems);
  const maxConnections = fromFile.max_connections;
  const connectionsOk = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 16 && v <= 1_000_000;
  if (maxConnections !== undefined && !connectionsOk(maxConnections)) problems.push(`${where}: max_connections: expected a whole number from 16 to 1000000 (connections each listener holds at most)`);
  const logFormat = logFormatAt(env.GAVEL_LOG_FORMAT ?? fromFile.log_format, env.GAVEL_LOG_FORMAT !== undefined ? 'GAVEL_LOG_FORMAT' : `${where}: log_format`, problems);
  if (env.GAVEL_LOG_FORMAT !== undefined && fromFile.log_format !== undefined) logFormatAt(fromFile.log_format, `${where}: log_format`, problems);
  // Both are checked, the file's too when the environment overrides it: once it stops supplying one, the file's is served.
  // A key with whitespace (a trailing newline from `kubectl create secret --from-file`) could never be presented.
  const adminKeyProblem = (key: unknown, named: string): void => {
    if (key !== undefined && (typeof key !== 'string' || key.length < 16 || /\s/.test(key))) problems.push(`${named}: use a random string of at least 16 characters, without spaces or line breaks${typeof key === 'string' && /\s$/.test(key) ? ' (this one ends in whitespace: a file written with a final newline?)' : ''}`);
  };
  adminKeyProblem(env.GAVEL_ADMIN_KEY, 'GAVEL_ADMIN_KEY');
  adminKeyProblem(fromFile.admin_key, `${where}: admin_key`);
  let address = { host: '127.0.0.1', port: 8181 };
  try {
    address = parseAddress(http, flags.http !== undefined ? '--http' : env.GAVEL_HTTP !== undefined ? 'GAVEL_HTTP' : `${where}: http`);
  } catch (err: unknown) {
    problems.push((err as Error).message);
  }
  const grpcText = flags.grpc ?? env.GAVEL_GRPC ?? inFile.grpc ?? DEFAULTS.grpc;
  // An address in the file is checked even where a flag or a variable overrides it: it is
  // what the server listens on once the override goes.
  for (const [key, overridden] of [['http', (flags.http ?? env.GAVEL_HTTP) !== undefined], ['grpc', (flags.grpc ?? env.GAVEL_GRPC) !== undefined]] as const) {
    const text = inFile[key];
    if (!overridden || text === undefined) continue;
    try {
      parseAddress(text, `${where}: ${key}`);
    } catch (err: unknown) {
      problems.push((err as Error).message);
    }
  }
  let grpc = { host: '127.0.0.1', port: 9191 };
  try {
    grpc = parseAddress(grpcText, flags.grpc !== undefined ? '--grpc' : env.GAVEL_GRPC !== undefined ? 'GAVEL_GRPC' : `${where}: grpc`);
  } catch (err: unknown) {
    problems.push((err as Error).message);
  }
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  const fromCwd = (flag: string | undefined, envValue: string | undefined) => (file === undefined || flag !== undefined || envValue !== undefined ? cwd : base);
  return {
    policies: resolve(fromCwd(flags.policies, env.GAVEL_POLICIES), policies ?? DEFAULTS.policies),
    db: db === ':memory:' ? db : resolve(fromCwd(flags.db, env.GAVEL_DB), db ?? DEFAULTS.db),
    http: address,
    grpc,
    adminKey: env.GAVEL_ADMIN_KEY ?? (typeof fromFile.admin_key === 'string' ? fromFile.admin_key : null),
    watch,
    trustedIssuers,
    forwardAuth,
    clientKeys,
    ...signals,
    stopTimeoutSeconds,
    logFormat,
    tls,
    maxConnections: connectionsOk(maxConnections) ? maxConnections : null,
    issuer,
    decisionLog,
  };
}

function tlsAt(value: unknown, base: string, where: string, problems: string[]): Config['tls'] {
  if (value === undefined) return null;
  if (!isObject(value)) return problems.push(`${where}: expected an object with cert_file and key_file`), null;
  onlyKeys(value, ['cert_file', 'key_file', 'client_ca_file', 'reload_seconds'], where, problems);
  const file = (key: string, required: boolean): string | null => {
    const v = value[key];
    if (v === undefined) return required ? (problems.push(`${where}.${key}: required (a PEM file)`), null) : null;
    if (typeof v !== 'string' || v === '') return problems.push(`${where}.${key}: expected the path of a PEM file`), null;
    return resolve(base, v);
  };
  const certFile = file('cert_file', true);
  const keyFile = file('key_file', true);
  const clientCaFile = file('client_ca_file', false);
  const reload = value.reload_seconds;
  if (reload !== undefined && (typeof reload !== 'number' || !Number.isInteger(reload) || reload < 1 || reload > 86_400)) problems.push(`${where}.reload_seconds: expected a whole number of seconds from 1 to 86400`);
  if (certFile === null || keyFile === null) return null;
  return { certFile, keyFile, clientCaFile, reloadSeconds: typeof reload === 'number' && Number.isInteger(reload) && reload >= 1 && reload <= 86_400 ? reload : 60 };
}

function logFormatAt(value: unknown, where: string, problems: string[]): LogFormat {
  if (value === undefined) return 'text';
  if ((LOG_FORMATS as readonly unknown[]).includes(value)) return value as LogFormat;
  problems.push(`${where}: expected ${LOG_FORMATS.map((f) => `"${f}"`).join(' or ')}${typeof value === 'string' ? ` (\`${value}\` given)` : ''}`);
  return 'text';
}

function readConfigFile(path: string, shown: string, problems: string[]): Json {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err: unknown) {
    throw new ConfigError(`cannot read config file \`${shown}\`: ${whyUnreadable(err)}`);
  }
  const read = readJson(text);
  if ('problem' in read) {
    // A YAML file (Kubernetes habits) is told what the format is, not only where JSON broke.
    const yaml = /\.ya?ml$/i.test(shown) ? ' (config files are JSON; YAML is not read)' : '';
    throw new ConfigError(`${shown}:${read.problem.line}:${read.problem.col}: not valid JSON: ${read.problem.message}${yaml}`);
  }
  const json = read.value;
  if (!isObject(json)) throw new ConfigError(`${shown}: a config file is a JSON object`);
  onlyKeys(json, ['policies', 'db', 'http', 'grpc', 'watch', 'admin_key', 'trusted_issuers', 'forward_auth', 'client_keys', 'decision_log', 'trusted_proxies', 'envoy_trusted_proxies', 'client_address_header', 'ip_lists', 'velocity', 'issuer', 'stop_timeout_seconds', 'log_format', 'tls', 'max_connections'], shown, problems);
  return json;
}

/**
 * What a command working on the server's files takes from its config file: `db` and
 * `policies`, resolved against the file's folder as `gavel serve` resolves them. Only
 * these are read and checked — the file's other settings, and the environment's, are the
 * server's: a bad `GAVEL_HTTP` must not stop `gavel log`.
 */
export function configuredPaths(cwd: string, file: string): { db: string; policies: string } {
  const problems: string[] = [];
  const json = readConfigFile(resolve(cwd, file), file, []);
  const db = stringAt(json, 'db', file, problems);
  const policies = stringAt(json, 'policies', file, problems);
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  // As loadConfig: with a config file, paths — the defaults too — are relative to its folder.
  const base = dirname(resolve(cwd, file));
  return { db: db === ':memory:' ? db : resolve(base, db ?? DEFAULTS.db), policies: resolve(base, policies ?? DEFAULTS.policies) };
}

function stringAt(json: Json, key: string, where: string, problems: string[]): string | undefined {
  const v = json[key];
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  problems.push(`${where}: ${key}: expected a string`);
  return undefined;
}

function issuersAt(value: unknown, base: string, where: string, problems: string[]): TrustedIssuer[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return problems.push(`${where}: expected a list`), [];
  const out: TrustedIssuer[] = [];
  // Every entry whose fields can be read is checked as a whole, even one whose keys cannot be: every problem is said at once.
  const checked: TrustedIssuer[] = [];
  const labels: string[] = [];
  value.forEach((item, i) => {
    const at = `${where}[${i}]`;
    if (!isObject(item)) return void problems.push(`${at}: expected an object`);
    onlyKeys(item, ['issuer', 'audiences', 'algorithms', 'jwks_uri', 'jwks_file', 'token_types', 'subject_type', 'client_subject_type', 'max_lifetime_seconds'], at, problems);
    const { issuer, audiences, algorithms, jwks_uri: uri, jwks_file: file, token_types: types, subject_type: subjectType, client_subject_type: clientSubjectType, max_lifetime_seconds: maxLifetime } = item;
    if (maxLifetime !== undefined && !isLifetime(maxLifetime)) problems.push(`${at}.max_lifetime_seconds: expected a whole number of seconds above 0, for example 86400`);
    for (const [key, type, example] of [['subject_type', subjectType, 'partner_user'], ['client_subject_type', clientSubjectType, 'partner_client']] as const) {
      if (type !== undefined && !(typeof type === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(type) && type !== 'anonymous')) {
        problems.push(`${at}.${key}: an entity type name (letters, digits, \`_\`; not \`anonymous\`), for example "${example}"`);
      }
    }
    if (types !== undefined && !(isStrings(types) && types.length > 0)) problems.push(`${at}.token_types: expected a non-empty list of strings (for example ["at+jwt"])`);
    if (typeof issuer !== 'string') problems.push(`${at}.issuer: expected a string`);
    if (!isStrings(audiences)) problems.push(`${at}.audiences: expected a list of strings`);
    if (algorithms !== undefined && !isStrings(algorithms)) problems.push(`${at}.algorithms: expected a list of strings`);
    const oneSource = (uri === undefined) !== (file === undefined);
    if (!oneSource) problems.push(`${at}: give exactly one of jwks_uri and jwks_file`);
    let jwks: JSONWebKeySet | URL | null = null;
    if (!oneSource) {
      // Said above.
    } else if (typeof uri === 'string') {
      try {
        jwks = new URL(uri);
        // Credentials in the URL could never be sent (fetch refuses them), and the URL is shown in /metrics and the log.
        if (jwks.username !== '' || jwks.password !== '') {
          problems.push(`${at}.jwks_uri: a URL with a user name or password cannot be fetched, and would be shown in /metrics and the server log; serve the JWKS without credentials, or use jwks_file`);
          jwks = null;
        }
      } catch {
        problems.push(`${at}.jwks_uri: \`${uri}\` is not a URL`);
      }
    } else if (typeof file === 'string') {
      try {
        const parsed: unknown = JSON.parse(readFileSync(resolve(base, file), 'utf8'));
        if (isObject(parsed) && Array.isArray(parsed.keys)) jwks = parsed as unknown as JSONWebKeySet;
        else problems.push(`${at}.jwks_file: \`${file}\` is not a JWKS document ({"keys": [...]})`);
      } catch (err: unknown) {
        problems.push(`${at}.jwks_file: cannot read \`${file}\`: ${(err as Error).message}`);
      }
    } else problems.push(`${at}: jwks_uri and jwks_file are strings`);
    if (typeof issuer === 'string' && isStrings(audiences)) {
      const entry: TrustedIssuer = {
        issuer,
        audiences,
        jwks: jwks ?? { keys: [] },
        ...(isStrings(algorithms) ? { algorithms: algorithms as Algorithm[] } : {}),
        ...(isStrings(types) && types.length > 0 ? { tokenTypes: types } : {}),
        ...(typeof subjectType === 'string' ? { subjectType } : {}),
        ...(typeof clientSubjectType === 'string' ? { clientSubjectType } : {}),
        ...(isLifetime(maxLifetime) ? { maxLifetimeSeconds: maxLifetime } : {}),
      };
      checked.push(entry);
      labels.push(at);
      if (jwks !== null) out.push(entry);
    }
  });
  problems.push(...issuerProblems(checked, labels));
  return out;
}

/**
 * Headers that carry credentials: never copied into a request's `context.headers`. Named ones,
 * and any whose name says so — the JWTs identity-aware proxies pass on (`cf-access-jwt-assertion`,
 * `x-goog-iap-jwt-assertion`, `x-amzn-oidc-data`, `x-ms-token-aad-id-token`), session ids, keys.
 */
const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'dpop', 'x-gavel-client-key', 'x-amzn-oidc-data']);
const SECRET_HEADER_WORDS = /token|secret|passw|jwt|assertion|authori[sz]ation|api[-_]?key|auth[-_]?key|bearer|cookie|session|credential|signature/;
const carriesCredentials = (header: string): boolean => SECRET_HEADERS.has(header) || SECRET_HEADER_WORDS.test(header);

function forwardAuthAt(value: unknown, where: string, problems: string[]): Config['forwardAuth'] {
  const out: Config['forwardAuth'] = { headers: [], responseHeaders: { 'X-Gavel-Subject': 'sub' } };
  if (value === undefined) return out;
  if (!isObject(value)) return problems.push(`${where}: expected an object`), out;
  onlyKeys(value, ['headers', 'response_headers'], where, problems);
  if (value.headers !== undefined) {
    if (!isStrings(value.headers)) problems.push(`${where}.headers: expected a list of header names`);
    else {
      out.headers = value.headers.map((h) => h.toLowerCase());
      // These carry credentials: copied into `context.headers` they would reach policies and the decision log whole.
      const secret = out.headers.filter(carriesCredentials);
      if (secret.length > 0) problems.push(`${where}.headers: ${secret.map((h) => `\`${h}\``).join(', ')} carr${secret.length > 1 ? 'y' : 'ies'} credentials, which would be stored in the decision log; the verified token's claims are the \`token\` root`);
    }
  }
  if (value.response_headers !== undefined) {
    const rh = value.response_headers;
    if (!isObject(rh) || !Object.values(rh).every((v) => typeof v === 'string')) problems.push(`${where}.response_headers: expected an object of header name to claim name`);
    else {
      // Each name is sent on every allow: one that is no HTTP header name failed each of them (a 500).
      const bad = Object.keys(rh).filter((name) => !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name));
      if (bad.length > 0) problems.push(`${where}.response_headers: ${bad.map((n) => JSON.stringify(n)).join(', ')} is not an HTTP header name (letters, digits and !#$%&'*+.^_\`|~-, no spaces)`);
      else out.responseHeaders = rh as Record<string, string>;
    }
  }
  return out;
}

const KEY_NAME = /^[A-Za-z0-9._-]{1,64}$/;

function checkKey(name: string, key: unknown, where: string, problems: string[]): key is string {
  if (!KEY_NAME.test(name)) return problems.push(`${where}: client name \`${name}\` may hold only letters, digits, \`.\`, \`_\` and \`-\``), false;
  if (typeof key !== 'string' || key.length < 16 || /\s/.test(key)) return problems.push(`${where}.${name}: use a random string of at least 16 characters, without spaces`), false;
  return true;
}

function clientKeysAt(value: unknown, where: string, problems: string[]): Record<string, string> {
  if (value === undefined) return {};
  if (!isObject(value)) return problems.push(`${where}: expected an object of client name to key`), {};
  const out: Record<string, string> = {};
  for (const [name, key] of Object.entries(value)) if (checkKey(name, key, where, problems)) out[name] = key;
  const seen = new Map<string, string>();
  for (const [name, key] of Object.entries(out)) {
    if (seen.has(key)) problems.push(`${where}: clients \`${seen.get(key)}\` and \`${name}\` share a key; give each its own`);
    seen.set(key, name);
  }
  return out;
}

/** `GAVEL_CLIENT_KEYS=nginx=KEY1,app=KEY2`: a secret store fills it, the config file stays free of secrets. */
function clientKeysFromEnv(text: string, problems: string[]): Record<string, string> {
  const entries: [string, string][] = [];
  for (const part of text.split(',').filter((p) => p.trim() !== '')) {
    const at = part.indexOf('=');
    if (at <= 0) {
      problems.push('GAVEL_CLIENT_KEYS: expected NAME=KEY pairs separated by commas');
      return {};
    }
    const name = part.slice(0, at).trim();
    if (entries.some(([n]) => n === name)) problems.push(`GAVEL_CLIENT_KEYS: client \`${name}\` is named twice`);
    entries.push([name, part.slice(at + 1).trim()]);
  }
  // `,` alone would mean no keys — anyone may call — when keys were meant.
  if (entries.length === 0) problems.push('GAVEL_CLIENT_KEYS: holds no NAME=KEY pair; unset it to use the config file\'s keys');
  return clientKeysAt(Object.fromEntries(entries), 'GAVEL_CLIENT_KEYS', problems);
}

function decisionLogAt(value: unknown, where: string, problems: string[]): Config['decisionLog'] {
  const out: Config['decisionLog'] = { enabled: true, retentionDays: 30, maxRows: 1_000_000, maxMegabytes: 8_192, keepRequests: true, tokenClaims: 'read' };
  if (value === undefined) return out;
  if (!isObject(value)) return problems.push(`${where}: expected an object`), out;
  onlyKeys(value, ['enabled', 'retention_days', 'max_rows', 'max_megabytes', 'keep_requests', 'token_claims'], where, problems);
  if (value.enabled !== undefined) {
    if (typeof value.enabled === 'boolean') out.enabled = value.enabled;
    else problems.push(`${where}.enabled: expected true or false`);
  }
  if (value.token_claims !== undefined) {
    if (value.token_claims === 'read' || value.token_claims === 'all') out.tokenClaims = value.token_claims;
    else problems.push(`${where}.token_claims: expected "read" or "all"`);
  }
  if (value.keep_requests !== undefined) {
    if (typeof value.keep_requests === 'boolean') out.keepRequests = value.keep_requests;
    else problems.push(`${where}.keep_requests: expected true or false`);
  }
  const positive = (key: 'retention_days' | 'max_rows' | 'max_megabytes', max: number): number | undefined => {
    const v = value[key];
    if (v === undefined) return undefined;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= max) return v;
    problems.push(`${where}.${key}: expected a whole number from 1 to ${max}`);
    return undefined;
  };
  out.retentionDays = positive('retention_days', 36_500) ?? out.retentionDays;
  out.maxRows = positive('max_rows', 1_000_000_000) ?? out.maxRows;
  out.maxMegabytes = positive('max_megabytes', 1_048_576) ?? out.maxMegabytes;
  return out;
}

function signalsAt(
  json: Json,
  flags: ConfigInputs['flags'],
  cwd: string,
  base: string,
  where: string,
  problems: string[],
): Pick<Config, 'trustedProxies' | 'envoyTrustedProxies' | 'clientAddressHeader' | 'ipLists' | 'velocityMaxKeys'> {
  // Flags add to the file: a list or proxy given on the command line is one more.
  let trustedProxies: string[] = [];
  if (json.trusted_proxies !== undefined && !isStrings(json.trusted_proxies)) problems.push(`${where}: trusted_proxies: expected a list of CIDR ranges`);
  else trustedProxies = json.trusted_proxies ?? [];
  problems.push(...TrustedProxies.problems(trustedProxies, `${where}: trusted_proxies`), ...TrustedProxies.problems(flags.trustedProxies ?? [], '--trusted-proxy'));
  trustedProxies = [...trustedProxies, ...(flags.trustedProxies ?? [])];
  let envoyTrustedProxies: string[] = [];
  if (json.envoy_trusted_proxies !== undefined && !isStrings(json.envoy_trusted_proxies)) problems.push(`${where}: envoy_trusted_proxies: expected a list of CIDR ranges`);
  else envoyTrustedProxies = json.envoy_trusted_proxies ?? [];
  problems.push(...TrustedProxies.problems(envoyTrustedProxies, `${where}: envoy_trusted_proxies`));

  const header = json.client_address_header ?? 'x-forwarded-for';
  if (header !== 'x-forwarded-for' && header !== 'forwarded') problems.push(`${where}: client_address_header: expected "x-forwarded-for" or "forwarded"`);

  const ipLists: IpListConfig[] = [];
  // Where each list was given, for what is wrong with it.
  const origins: string[] = [];
  const lists = json.ip_lists;
  if (lists !== undefined && !isObject(lists)) problems.push(`${where}: ip_lists: expected an object of list name to file (or to {"path", "format"})`);
  for (const [name, entry] of Object.entries(isObject(lists) ? lists : {})) {
    const at = `${where}: ip_lists.${name}`;
    const path = typeof entry === 'string' ? entry : isObject(entry) && typeof entry.path === 'string' ? entry.path : null;
    const format = isObject(entry) ? entry.format : undefined;
    if (isObject(entry)) onlyKeys(entry, ['path', 'format'], at, problems);
    if (path === null) problems.push(`${at}: expected a file path, or {"path": FILE, "format": "plain" | "scored"}`);
    else if (format !== undefined && !IP_LIST_FORMATS.includes(format as IpListFormat)) problems.push(`${at}.format: expected ${IP_LIST_FORMATS.map((f) => `"${f}"`).join(' or ')}`);
    else {
      ipLists.push({ name, path: resolve(base, path), ...(format === undefined ? {} : { format: format as IpListFormat }) });
      origins.push(at);
    }
  }
  for (const flag of flags.ipLists ?? []) {
    const eq = flag.indexOf('=');
    if (eq <= 0 || eq === flag.length - 1) problems.push(`--ip-list: \`${flag}\` is not NAME=PATH`);
    else {
      ipLists.push({ name: flag.slice(0, eq), path: resolve(cwd, flag.slice(eq + 1)) });
      origins.push(`--ip-list ${flag.slice(0, eq)}`);
    }
  }
  const seen = new Set<string>();
  ipLists.forEach((l, i) => {
    if (!IP_LIST_NAME.test(l.name)) problems.push(`${origins[i]}: \`${l.name}\` is not a list name: a name is lower-case letters, digits, \`.\`, \`_\` and \`-\`, starting with a letter or digit`);
    if (seen.has(l.name)) problems.push(`${origins[i]}: a list named \`${l.name}\` is given already`);
    seen.add(l.name);
  });

  let velocityMaxKeys = 100_000;
  const velocity = json.velocity;
  if (velocity !== undefined) {
    const max = isObject(velocity) ? velocity.max_keys : undefined;
    if (!isObject(velocity) || Object.keys(velocity).some((k) => k !== 'max_keys' && !k.startsWith('$'))) problems.push(`${where}: velocity: expected {"max_keys": N}`);
    else if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 10_000_000) problems.push(`${where}: velocity.max_keys: expected a whole number from 1 to 10000000`);
    else velocityMaxKeys = max;
  }
  return { trustedProxies, envoyTrustedProxies, clientAddressHeader: header === 'forwarded' ? 'forwarded' : 'x-forwarded-for', ipLists, velocityMaxKeys };
}

/** Dynamic registrations one client address may attempt an hour, unless `issuer.registrations_per_hour` says otherwise. */
export const DEFAULT_REGISTRATIONS_PER_HOUR = 20;
/** `issuer.refresh_grace_seconds` and `issuer.refresh_token_ttl_seconds` unless set. */
export const DEFAULT_REFRESH_GRACE_SECONDS = 10;
export const DEFAULT_REFRESH_TTL_SECONDS = 30 * 86_400;

/** A whole number of seconds in [min, max] at `where`, or `fallback` when absent. */
function seconds(value: unknown, where: string, min: number, max: number, fallback: number, problems: string[]): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
  problems.push(`${where}: expected a whole number of seconds from ${min} to ${max}`);
  return fallback;
}

function issuerAt(value: unknown, env: NodeJS.ProcessEnv, base: string, where: string, problems: string[]): Config['issuer'] {
  const out: Config['issuer'] = {
    url: null,
    secret: null,
    softwareStatementKeys: null,
    signingAlg: 'ES256',
    idTokenSigningAlg: 'RS256',
    registrationsPerHour: DEFAULT_REGISTRATIONS_PER_HOUR,
    refreshGraceSeconds: DEFAULT_REFRESH_GRACE_SECONDS,
    refreshTtlSeconds: DEFAULT_REFRESH_TTL_SECONDS,
    acceptTokenEndpointAudience: false,
    requirePushedAuthorizationRequests: false,
  };
  if (value !== undefined && !isObject(value)) return problems.push(`${where}: expected an object`), out;
  const json = isObject(value) ? value : {};
  onlyKeys(json, ['url', 'secret', 'software_statement_jwks_file', 'signing_alg', 'id_token_signing_alg', 'registrations_per_hour', 'refresh_grace_seconds', 'refresh_token_ttl_seconds', 'accept_token_endpoint_audience', 'require_pushed_authorization_requests'], where, problems);
  const endpointAudience = json.accept_token_endpoint_audience;
  if (endpointAudience !== undefined) {
    if (typeof endpointAudience === 'boolean') out.acceptTokenEndpointAudience = endpointAudience;
    else problems.push(`${where}.accept_token_endpoint_audience: expected true or false`);
  }
  const requirePar = json.require_pushed_authorization_requests;
  if (requirePar !== undefined) {
    if (typeof requirePar === 'boolean') out.requirePushedAuthorizationRequests = requirePar;
    else problems.push(`${where}.require_pushed_authorization_requests: expected true or false`);
  }
  const perHour = json.registrations_per_hour;
  if (perHour !== undefined) {
    if (typeof perHour !== 'number' || !Number.isInteger(perHour) || perHour < 1 || perHour > 100_000) problems.push(`${where}.registrations_per_hour: expected a whole number from 1 to 100000`);
    else out.registrationsPerHour = perHour;
  }
  // The grace window is how long a rotated token's successor is kept sealed in the store: short on purpose.
  out.refreshGraceSeconds = seconds(json.refresh_grace_seconds, `${where}.refresh_grace_seconds`, 0, 300, DEFAULT_REFRESH_GRACE_SECONDS, problems);
  out.refreshTtlSeconds = seconds(json.refresh_token_ttl_seconds, `${where}.refresh_token_ttl_seconds`, 60, 366 * 86_400, DEFAULT_REFRESH_TTL_SECONDS, problems);
  for (const [key, field] of [['signing_alg', 'signingAlg'], ['id_token_signing_alg', 'idTokenSigningAlg']] as const) {
    const alg = json[key];
    if (alg === undefined) continue;
    if (SIGNING_ALGORITHMS.includes(alg as SigningAlgorithm)) out[field] = alg as SigningAlgorithm;
    else problems.push(`${where}.${key}: expected ${SIGNING_ALGORITHMS.map((a) => `"${a}"`).join(', ')}`);
  }
  const file = json.software_statement_jwks_file;
  if (file !== undefined) {
    try {
      const parsed: unknown = typeof file === 'string' ? JSON.parse(readFileSync(resolve(base, file), 'utf8')) : null;
      if (isObject(parsed) && Array.isArray(parsed.keys)) out.softwareStatementKeys = parsed as unknown as JSONWebKeySet;
      else problems.push(`${where}.software_statement_jwks_file: expected the path of a JWKS document ({"keys": [...]})`);
    } catch (err: unknown) {
      problems.push(`${where}.software_statement_jwks_file: cannot read \`${String(file)}\`: ${(err as Error).message}`);
    }
  }
  // The file's values are checked even when the environment overrides them, as every other setting is.
  const urlOk = (url: unknown): url is string => typeof url === 'string' && /^https?:\/\/[^?#]+$/.test(url) && !url.endsWith('/');
  const secretOk = (secret: unknown): secret is string => typeof secret === 'string' && secret.length >= 32;
  if (env.GAVEL_ISSUER_URL !== undefined && !urlOk(env.GAVEL_ISSUER_URL)) problems.push('GAVEL_ISSUER_URL: an http(s) URL without a trailing slash, query or fragment');
  if (json.url !== undefined && !urlOk(json.url)) problems.push(`${where}.url: an http(s) URL without a trailing slash, query or fragment`);
  const url = env.GAVEL_ISSUER_URL ?? json.url;
  if (urlOk(url)) out.url = url;
  if (env.GAVEL_ISSUER_SECRET !== undefined && !secretOk(env.GAVEL_ISSUER_SECRET)) problems.push('GAVEL_ISSUER_SECRET: use a random string of at least 32 characters');
  if (json.secret !== undefined && !secretOk(json.secret)) problems.push(`${where}.secret: use a random string of at least 32 characters`);
  const secret = env.GAVEL_ISSUER_SECRET ?? json.secret;
  if (secretOk(secret)) out.secret = secret;
  return out;
}
