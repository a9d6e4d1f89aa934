import type { Expr } from '../language/ast.js';
import { rootPath } from '../language/compile/compile-path.js';
import type { PolicySet } from './policy-set.js';

/**
 * The action names a policy set names: in targets (`action == "x"`, `action in [...]`) and
 * in conditions (`action == "x"`, `"x" == action`, `action in [...]`, also through
 * `action.name`). These are the candidates of an action search: an action no policy names
 * (one a permit allows only through `action like "…"` or an unconstrained `action`) cannot
 * be found by enumeration, and is not. Sorted, each once.
 */
export function actionNames(set: PolicySet): string[] {
  const names = new Set<string>();
  for (const p of set.policies) {
    // Most targets say it in their index keys, without re-parsing the policy.
    for (const a of p.keys.actions ?? []) names.add(a);
    for (const c of p.ast.conditions) collect(c.body, names);
  }
  return [...names].sort();
}

function isAction(e: Expr): boolean {
  const at = rootPath(e);
  return at !== null && at.root === 'action' && (at.names.length === 0 || (at.names.length === 1 && at.names[0] === 'name'));
}

function strings(e: Expr): string[] {
  if (e.kind === 'literal') return typeof e.value === 'string' ? [e.value] : [];
  if (e.kind === 'list') return e.items.flatMap((x) => (x.kind === 'literal' && typeof x.value === 'string' ? [x.value] : []));
  return [];
}

function collect(e: Expr, out: Set<string>): void {
  switch (e.kind) {
    case 'binary':
      if ((e.op === '==' || e.op === '!=') && isAction(e.left)) strings(e.right).forEach((s) => out.add(s));
      else if ((e.op === '==' || e.op === '!=') && isAction(e.right)) strings(e.left).forEach((s) => out.add(s));
      else if (e.op === 'in' && isAction(e.left) && e.right.kind === 'list') strings(e.right).forEach((s) => out.add(s));
      collect(e.left, out);
      collect(e.right, out);
      return;
    case 'and':
    case 'or':
      collect(e.left, out);
      collect(e.right, out);
      return;
    case 'not':
    case 'negate':
      return collect(e.operand, out);
    case 'call':
      return e.args.forEach((x) => collect(x, out));
    default:
      return;
  }
}
