/**
 * The engine benchmark's workload: the same rules in three policy languages, a seeded
 * request mix and a plain-JS reference of the rules' meaning.
 *
 * Five rules per resource type `t<k>` (so N policies cover N/5 types):
 *   1. viewer or editor may read/list when their department equals the resource's and the
 *      token has scope `t<k>:read`;
 *   2. an editor may update/delete what they own (resource.owner == subject.id) with `t<k>:write`;
 *   3. an admin may do anything with `t<k>:admin`;
 *   4. forbid everything when `context.risk_score > 80`;
 *   5. forbid create/update/delete unless `context.ip` is inside 10.0.0.0/8.
 */

export const ACTIONS = ['read', 'list', 'create', 'update', 'delete'] as const;
export type Action = (typeof ACTIONS)[number];
export const ROLES = ['viewer', 'editor', 'admin', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

/** An AuthZEN-shaped request, as Gavel takes it; peers convert it to their own input. */
export interface BenchRequest {
  subject: { type: 'user'; id: string; properties: { role: Role; department: string } };
  action: { name: Action };
  resource: { type: string; id: string; properties: { department: string; owner: string } };
  context: { risk_score: number; ip: string };
  /** Space-delimited, as in a JWT. */
  token: { scope: string };
}

/** One engine under test: `prepare` converts a request outside the timed region. */
export interface Engine<P> {
  readonly name: string;
  prepare(request: BenchRequest): P;
  decide(prepared: P): boolean;
}

export const SIZES = [10, 100, 1_000, 10_000] as const;
export const MIX_SIZE = 1_000;
export const MIX_SEED = 0x6a7e1;

/** `xs[i]`, or a RangeError: an index past the end is a bug here, never a value. */
export function item<T>(xs: readonly T[], i: number): T {
  const x = xs[i];
  if (x === undefined) throw new RangeError(`index ${i} out of 0..${xs.length - 1}`);
  return x;
}

function shuffle<T>(xs: T[], int: (n: number) => number): void {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = int(i + 1);
    const x = item(xs, i);
    xs[i] = item(xs, j);
    xs[j] = x;
  }
}

export function typeCount(policies: number): number {
  if (policies % 5 !== 0 || policies <= 0) throw new Error(`policy count must be a positive multiple of 5, got ${policies}`);
  return policies / 5;
}

// ---------------------------------------------------------------------------------------
// Policies in the three syntaxes.

export function gavelPolicies(policies: number): string {
  const out: string[] = [];
  for (let k = 0; k < typeCount(policies); k++) {
    const t = `t${k}`;
    out.push(
      `permit (action in ["read", "list"], resource.type == "${t}") when { subject.role in ["viewer", "editor"] && subject.department == resource.department && token.scope contains "${t}:read" };`,
      `permit (action in ["update", "delete"], resource.type == "${t}") when { subject.role == "editor" && resource.owner == subject.id && token.scope contains "${t}:write" };`,
      `permit (action, resource.type == "${t}") when { subject.role == "admin" && token.scope contains "${t}:admin" };`,
      `forbid (action, resource.type == "${t}") when { context.risk_score > 80 };`,
      `forbid (action in ["create", "update", "delete"], resource.type == "${t}") unless { context.ip in cidr("10.0.0.0/8") };`,
    );
  }
  return out.join('\n') + '\n';
}

/**
 * Cedar: the resource type is the entity type (`resource is t7`), actions are `Action::"read"`,
 * the owner is an entity reference compared with `principal`, token scopes are a set in the
 * context and the address an `ipaddr` extension value.
 */
export function cedarPolicies(policies: number): string {
  const out: string[] = [];
  for (let k = 0; k < typeCount(policies); k++) {
    const t = `t${k}`;
    out.push(
      `permit (principal, action in [Action::"read", Action::"list"], resource is ${t}) when { ["viewer", "editor"].contains(principal.role) && principal.department == resource.department && context.scopes.contains("${t}:read") };`,
      `permit (principal, action in [Action::"update", Action::"delete"], resource is ${t}) when { principal.role == "editor" && resource.owner == principal && context.scopes.contains("${t}:write") };`,
      `permit (principal, action, resource is ${t}) when { principal.role == "admin" && context.scopes.contains("${t}:admin") };`,
      `forbid (principal, action, resource is ${t}) when { context.risk_score > 80 };`,
      `forbid (principal, action in [Action::"create", Action::"update", Action::"delete"], resource is ${t}) unless { context.ip.isInRange(ip("10.0.0.0/8")) };`,
    );
  }
  return out.join('\n') + '\n';
}

/**
 * casbin ABAC: one policy line per rule, `p, <type>, <action regex>, <rule>, <allow|deny>`;
 * the matcher selects by type and action and `eval()`s the line's rule; deny overrides.
 */
export const CASBIN_MODEL = `
[request_definition]
r = sub, obj, act, ctx, tok

[policy_definition]
p = obj, act, rule, eft

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = r.obj.type == p.obj && regexMatch(r.act, p.act) && eval(p.rule)
`;

export function casbinPolicies(policies: number): string {
  const out: string[] = [];
  for (let k = 0; k < typeCount(policies); k++) {
    const t = `t${k}`;
    out.push(
      `p, ${t}, ^(read|list)$, (r.sub.role == 'viewer' || r.sub.role == 'editor') && r.sub.department == r.obj.department && r.tok.scopes.includes('${t}:read'), allow`,
      `p, ${t}, ^(update|delete)$, r.sub.role == 'editor' && r.obj.owner == r.sub.id && r.tok.scopes.includes('${t}:write'), allow`,
      `p, ${t}, .*, r.sub.role == 'admin' && r.tok.scopes.includes('${t}:admin'), allow`,
      `p, ${t}, .*, r.ctx.risk_score > 80, deny`,
      `p, ${t}, ^(create|update|delete)$, !ipMatch(r.ctx.ip, '10.0.0.0/8'), deny`,
    );
  }
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------
// The reference: the rules' meaning in plain JS, written independently of every engine.

/** Whether a dotted-quad IPv4 address lies in 10.0.0.0/8. Anything else is outside. */
export function inTenSlash8(ip: string): boolean {
  const parts = ip.split('.');
  if (parts.length !== 4) return false;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return false;
  }
  return Number(parts[0]) === 10;
}

export function reference(r: BenchRequest, policies: number): boolean {
  const m = /^t(\d+)$/.exec(r.resource.type);
  if (m === null || Number(m[1]) >= typeCount(policies)) return false; // no policy applies
  const t = r.resource.type;
  const scopes = new Set(r.token.scope.split(' ').filter((s) => s !== ''));
  const action = r.action.name;
  const { role, department } = r.subject.properties;
  const res = r.resource.properties;
  // Forbids first: any satisfied forbid denies.
  if (r.context.risk_score > 80) return false;
  if ((action === 'create' || action === 'update' || action === 'delete') && !inTenSlash8(r.context.ip)) return false;
  if ((action === 'read' || action === 'list') && (role === 'viewer' || role === 'editor') && department === res.department && scopes.has(`${t}:read`)) return true;
  if ((action === 'update' || action === 'delete') && role === 'editor' && res.owner === r.subject.id && scopes.has(`${t}:write`)) return true;
  if (role === 'admin' && scopes.has(`${t}:admin`)) return true;
  return false;
}

// ---------------------------------------------------------------------------------------
// The request mix.

/** mulberry32: a small, fast, seedable PRNG; deterministic across platforms. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DEPARTMENTS = ['d0', 'd1', 'd2', 'd3', 'd4'];
const USERS = 40;
const INSIDE_EDGES = ['10.0.0.0', '10.0.0.1', '10.255.255.255'];
const OUTSIDE_EDGES = ['9.255.255.255', '11.0.0.0', '100.10.0.1', '110.0.0.1', '192.168.10.10', '172.16.0.10'];

/**
 * Draws 1,000 requests with a seeded PRNG, keeping the first 500 the reference allows and
 * the first 500 it denies, then shuffles them together with the same PRNG. Each candidate
 * is biased (half the time) towards satisfying one permit, so allows are common enough;
 * denies come from every cause: wrong role, department, owner, missing or near-miss scope,
 * a scope for another type, risk above 80, an address outside 10/8, an unknown type.
 */
export function requestMix(policies: number, size = MIX_SIZE, seed = MIX_SEED): BenchRequest[] {
  const types = typeCount(policies);
  const rand = prng(seed);
  const int = (n: number): number => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => item(xs, int(xs.length));
  const chance = (p: number): boolean => rand() < p;

  const candidate = (): BenchRequest => {
    // ~2% of requests name a type no policy mentions.
    const k = chance(0.02) ? types + int(3) : int(types);
    const t = `t${k}`;
    const action = pick(ACTIONS);
    const role = pick(ROLES);
    const subjectId = `u${int(USERS)}`;
    const department = pick(DEPARTMENTS);
    const aimed = chance(0.5); // aim at an allow
    const resDepartment = aimed || chance(0.3) ? department : pick(DEPARTMENTS);
    const owner = aimed || chance(0.3) ? subjectId : `u${int(USERS)}`;

    const scopes: string[] = [];
    const wanted = role === 'admin' ? 'admin' : action === 'read' || action === 'list' ? 'read' : 'write';
    if (aimed || chance(0.25)) scopes.push(`${t}:${wanted}`);
    if (chance(0.5)) scopes.push(`${t}:${pick(['read', 'write', 'admin'])}`);
    // Scopes of other types, including prefixes of this one (t1 vs t12) and near misses.
    for (let n = int(3); n > 0; n--) scopes.push(`t${int(Math.max(types, 2))}:${pick(['read', 'write', 'admin'])}`);
    if (chance(0.15)) scopes.push(pick([`${t}:${wanted}x`, `x${t}:${wanted}`, `${t}:${wanted}:all`, `${t}${int(10)}:${wanted}`, `${t.toUpperCase()}:${wanted}`]));
    if (chance(0.1)) scopes.push('openid', 'profile');
    shuffle(scopes, int);

    // Risk: mostly low, ~15% above 80, with the boundary 80/81 present.
    const risk = chance(0.15) ? 81 + int(20) : chance(0.05) ? pick([80, 81]) : int(81);
    // Address: ~60% inside 10/8, a few on the edges on both sides.
    const ip = chance(0.6)
      ? chance(0.1)
        ? pick(INSIDE_EDGES)
        : `10.${int(256)}.${int(256)}.${int(256)}`
      : chance(0.3)
        ? pick(OUTSIDE_EDGES)
        : `${pick([11, 100, 172, 192, 203])}.${int(256)}.${int(256)}.${1 + int(254)}`;

    return {
      subject: { type: 'user', id: subjectId, properties: { role, department } },
      action: { name: action },
      resource: { type: t, id: `r${int(10_000)}`, properties: { department: resDepartment, owner } },
      context: { risk_score: risk, ip },
      token: { scope: scopes.join(' ') },
    };
  };

  const allows: BenchRequest[] = [];
  const denies: BenchRequest[] = [];
  const half = size / 2;
  for (let tries = 0; allows.length < half || denies.length < half; tries++) {
    if (tries > size * 1000) throw new Error('request mix: the generator cannot reach half allows');
    const r = candidate();
    const bucket = reference(r, policies) ? allows : denies;
    if (bucket.length < half) bucket.push(r);
  }
  const mix = [...allows, ...denies];
  shuffle(mix, int);
  return mix;
}

/** A one-line description of how the mix spreads, printed with the results. */
export function describeMix(mix: readonly BenchRequest[], policies: number): string {
  const count = (f: (r: BenchRequest) => boolean): number => mix.filter(f).length;
  const by = <K extends string>(keys: readonly K[], f: (r: BenchRequest) => K): string =>
    keys.map((k) => `${k} ${count((r) => f(r) === k)}`).join(', ');
  const known = (r: BenchRequest): boolean => Number(r.resource.type.slice(1)) < typeCount(policies);
  const types = new Set(mix.filter(known).map((r) => r.resource.type)).size;
  return [
    `allow ${count((r) => reference(r, policies))} / deny ${count((r) => !reference(r, policies))}`,
    `${types} of ${typeCount(policies)} resource types, ${count((r) => !known(r))} requests for an unknown type`,
    `actions: ${by(ACTIONS, (r) => r.action.name)}`,
    `roles: ${by(ROLES, (r) => r.subject.properties.role)}`,
    `risk > 80: ${count((r) => r.context.risk_score > 80)}`,
    `ip in 10/8: ${count((r) => inTenSlash8(r.context.ip))}, outside: ${count((r) => !inTenSlash8(r.context.ip))}`,
  ].join('; ');
}
