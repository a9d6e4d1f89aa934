import type { Expr, Policy, Root } from '../ast.js';
import { constraintsOf } from '../compile/compile-target.js';
import { readPath, rootPath } from '../compile/compile-path.js';
import { Activation, type Request } from '../eval/activation.js';
import { EntityRef, isRecord, own, type Value } from '../eval/value.js';
import { emptyFacts, kindOf, pathKey, type Knowledge, type PathFacts } from './knowledge.js';

/**
 * What one concrete request says about the attributes a policy reads: each one the request
 * has is known; each one it lacks stays unknown, so that a residual names what is missing.
 */
export function requestKnowledge(policy: Policy, request: Request): Knowledge {
  const a = new Activation(request);
  const k = new Map<string, PathFacts>();
  const paths: { root: Root; names: string[] }[] = constraintsOf(policy).map((c) => ({ root: c.root, names: c.path }));
  for (const c of policy.conditions) collect(c.body, paths);
  for (const { root, names } of paths) {
    const v = read(a, root, names);
    if (v === undefined) continue;
    const f = emptyFacts();
    f.present = true;
    f.kind = kindOf(v);
    // A whole record root (`context`) is present but not a value to compare with.
    if (!(names.length === 0 && isRecord(v))) f.oneOf = [v];
    k.set(pathKey(root, names), f);
  }
  return k;
}

function read(a: Activation, root: Root, names: string[]): Value | undefined {
  if (names.length > 0) return readPath(a, root, names);
  if (root === 'action') return a.attr('action', 'name');
  const value = a.request[root];
  if (!isRecord(value)) return undefined;
  if (root !== 'subject' && root !== 'resource') return value;
  const type = own(value, 'type');
  const id = own(value, 'id');
  return typeof type === 'string' && typeof id === 'string' ? new EntityRef(type, id) : undefined;
}

/** Every attribute path an expression reads, and each attribute a `has` asks about. */
function collect(e: Expr, out: { root: Root; names: string[] }[]): void {
  const at = rootPath(e);
  if (at !== null) return void out.push(at);
  switch (e.kind) {
    case 'has': {
      const object = rootPath(e.object);
      if (object !== null) out.push(object, { root: object.root, names: object.names.concat(e.name) });
      else collect(e.object, out);
      return;
    }
    case 'attr':
      return collect(e.object, out);
    case 'like':
      return collect(e.subject, out);
    case 'not':
    case 'negate':
      return collect(e.operand, out);
    case 'binary':
    case 'and':
    case 'or':
      return collect(e.left, out), collect(e.right, out);
    case 'list':
      return e.items.forEach((x) => collect(x, out));
    case 'call':
      return e.args.forEach((x) => collect(x, out));
    default:
      return;
  }
}
