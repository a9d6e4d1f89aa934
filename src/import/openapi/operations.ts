/**
 * An OpenAPI 3 document → its operations with the security each one requires, the base
 * path it is served under and where it is written. Only what route policies need is read;
 * everything else in the document is ignored, and structural problems are collected with
 * their locations rather than stopping at the first.
 */
import type { Located, Spec, SpecPath, SpecProblem } from './read-spec.js';

/** The HTTP methods an OpenAPI path item may hold, in the order the specification lists them. */
export const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

export type SchemeKind = 'oauth2' | 'openIdConnect' | 'apiKey' | 'http' | 'mutualTLS';

/** One scheme of a security requirement; `scopes` only matter for OAuth2 and OpenID Connect. */
export interface SchemeUse {
  name: string;
  kind: SchemeKind;
  scopes: string[];
}

/**
 * Where an operation's security comes from: `none` when neither the operation nor the
 * document declares any, otherwise the alternatives (any one suffices), each a list of
 * schemes that are all required. `[]` alternatives (`security: []`) and an empty
 * alternative (`{}`) mean no authentication.
 */
export type Security = { kind: 'none' } | { kind: 'declared'; alternatives: SchemeUse[][] };

export interface ApiOperation {
  method: string;
  /** The path template as written under `paths`. */
  path: string;
  basePath: string;
  operationId: string | null;
  tags: string[];
  security: Security;
  where: Located;
}

export interface ApiDocument {
  title: string;
  version: string;
  openapi: string;
  operations: ApiOperation[];
}

const KINDS: readonly string[] = ['oauth2', 'openIdConnect', 'apiKey', 'http', 'mutualTLS'];

export function readOperations(spec: Spec, basePathFlag: string | null): ApiDocument | { problems: SpecProblem[] } {
  const problems: SpecProblem[] = [];
  const problem = (path: SpecPath, message: string) => problems.push({ ...spec.locate(path), message });
  const doc = spec.value;
  if (!isObject(doc)) return { problems: [{ ...spec.locate([]), message: 'not an OpenAPI document: expected an object at the top' }] };
  if (typeof doc.swagger === 'string') return { problems: [{ ...spec.locate(['swagger']), message: `Swagger ${doc.swagger} is not supported; convert the document to OpenAPI 3` }] };
  if (typeof doc.openapi !== 'string' || !/^3\.\d+(\.\d+)?/.test(doc.openapi)) {
    const found = doc.openapi === undefined ? 'has no `openapi` version' : `has \`openapi: ${String(doc.openapi)}\``;
    return { problems: [{ ...spec.locate(['openapi']), message: `not an OpenAPI 3 document: it ${found}` }] };
  }
  const info = isObject(doc.info) ? doc.info : {};
  const schemes = readSchemes(doc, problem);
  const docSecurity = readSecurity(doc.security, ['security'], schemes, problem);
  const docBase = basePathFlag ?? basePath(doc.servers, ['servers'], '', problem);
  const operations: ApiOperation[] = [];
  const paths = doc.paths ?? {};
  if (!isObject(paths)) problem(['paths'], '`paths` is not an object');
  else {
    for (const [path, item] of Object.entries(paths)) {
      const at: SpecPath = ['paths', path];
      if (!path.startsWith('/')) problem(at, `path \`${path}\` does not start with \`/\``);
      if (!isObject(item)) {
        problem(at, `path item \`${path}\` is not an object`);
        continue;
      }
      if (item.$ref !== undefined) {
        problem([...at, '$ref'], `path item \`${path}\` is a \`$ref\`; references are not followed: inline the path item`);
        continue;
      }
      const itemBase = basePathFlag ?? basePath(item.servers, [...at, 'servers'], docBase, problem);
      for (const method of METHODS) {
        const op = item[method];
        if (op === undefined) continue;
        const opAt = [...at, method];
        if (!isObject(op)) {
          problem(opAt, `operation \`${method} ${path}\` is not an object`);
          continue;
        }
        const declared = op.security === undefined ? docSecurity : readSecurity(op.security, [...opAt, 'security'], schemes, problem);
        operations.push({
          method: method.toUpperCase(),
          path,
          basePath: basePathFlag ?? basePath(op.servers, [...opAt, 'servers'], itemBase, problem),
          operationId: typeof op.operationId === 'string' && op.operationId !== '' ? op.operationId : null,
          tags: Array.isArray(op.tags) ? op.tags.filter((t): t is string => typeof t === 'string') : [],
          security: declared ?? { kind: 'none' },
          where: spec.locate(opAt),
        });
      }
    }
  }
  if (problems.length > 0) return { problems };
  return { title: str(info.title) ?? 'untitled', version: str(info.version) ?? '', openapi: doc.openapi, operations };
}

type Report = (path: SpecPath, message: string) => void;

function readSchemes(doc: Record<string, unknown>, problem: Report): Map<string, SchemeKind> {
  const found = new Map<string, SchemeKind>();
  const components = isObject(doc.components) ? doc.components : {};
  const schemes = components.securitySchemes ?? {};
  if (!isObject(schemes)) {
    problem(['components', 'securitySchemes'], '`securitySchemes` is not an object');
    return found;
  }
  for (const [name, scheme] of Object.entries(schemes)) {
    const at = ['components', 'securitySchemes', name];
    const type = isObject(scheme) ? scheme.type : undefined;
    if (isObject(scheme) && scheme.$ref !== undefined) problem(at, `security scheme \`${name}\` is a \`$ref\`; references are not followed: inline the scheme`);
    else if (typeof type !== 'string' || !KINDS.includes(type)) problem([...at, 'type'], `security scheme \`${name}\` has no known \`type\` (${KINDS.join(', ')})`);
    else found.set(name, type as SchemeKind);
  }
  return found;
}

/** `undefined` when `value` is absent: the caller falls back to the document's default. */
function readSecurity(value: unknown, at: SpecPath, schemes: Map<string, SchemeKind>, problem: Report): Security | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) {
    problem(at, '`security` is not a list of requirements');
    return { kind: 'declared', alternatives: [] };
  }
  const alternatives = value.map((requirement, n) => {
    if (!isObject(requirement)) {
      problem([...at, n], 'a security requirement is not an object');
      return [];
    }
    return Object.entries(requirement).flatMap(([name, scopes]): SchemeUse[] => {
      const kind = schemes.get(name);
      if (kind === undefined) problem([...at, n, name], `security scheme \`${name}\` is not declared in \`components.securitySchemes\``);
      else if (!Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string')) problem([...at, n, name], `the scopes of \`${name}\` are not a list of strings`);
      else return [{ name, kind, scopes: scopes as string[] }];
      return [];
    });
  });
  return { kind: 'declared', alternatives };
}

/**
 * The path part of the servers' URLs, which a gateway sees in front of every route. All
 * servers must agree on it; `--base-path` decides otherwise. A server variable in the
 * path takes its default, as clients do when they do not choose.
 */
function basePath(servers: unknown, at: SpecPath, inherited: string, problem: Report): string {
  if (servers === undefined) return inherited;
  if (!Array.isArray(servers)) {
    problem(at, '`servers` is not a list');
    return inherited;
  }
  if (servers.length === 0) return inherited;
  const paths = new Set<string>();
  servers.forEach((server, n) => {
    const url = isObject(server) ? server.url : undefined;
    if (typeof url !== 'string') return problem([...at, n], 'a server has no `url`');
    const variables = isObject(server) && isObject(server.variables) ? server.variables : {};
    const filled = url.replace(/\{([^}]*)\}/g, (whole, name: string) => {
      const v = variables[name];
      return isObject(v) && typeof v.default === 'string' ? v.default : whole;
    });
    const path = urlPath(filled);
    if (path === null) return problem([...at, n, 'url'], `server url \`${url}\` is relative to the document; give --base-path`);
    paths.add(path);
  });
  if (paths.size > 1) problem(at, `the servers have different base paths (${[...paths].map((p) => `\`${p || '/'}\``).join(', ')}); choose one with --base-path`);
  return paths.size === 1 ? [...paths][0] : inherited;
}

/** `https://h/v1/` → `/v1`, `/v1` → `/v1`, `/` → ``; `null` for a relative URL such as `v1`. */
function urlPath(url: string): string | null {
  let path: string;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    const rest = url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '');
    path = rest === '' ? '/' : rest;
  } else if (url.startsWith('/')) path = url;
  else return null;
  return path.replace(/[?#].*$/, '').replace(/\/+$/, '');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null;
}
