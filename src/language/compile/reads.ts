import type { Expr, Policy } from '../ast.js';

/** Every signal a policy may read: `risk` itself (a bare `risk`) stands for all of them. */
export const ALL_SIGNALS = '*';

/**
 * The top-level `risk` members a policy's conditions read (`risk.ip.reputation` → `ip`), so
 * a server computes only the signals some candidate needs. Targets never read `risk`.
 */
export function riskReads(policy: Policy): string[] {
  const found = new Set<string>();
  const visit = (e: Expr): void => {
    switch (e.kind) {
      case 'attr':
      case 'has':
        if (e.object.kind === 'root' && e.object.root === 'risk') found.add(e.name);
        else visit(e.object);
        return;
      case 'root':
        if (e.root === 'risk') found.add(ALL_SIGNALS);
        return;
      case 'list':
        return e.items.forEach(visit);
      case 'like':
        return visit(e.subject);
      case 'not':
      case 'negate':
        return visit(e.operand);
      case 'binary':
      case 'and':
      case 'or':
        visit(e.left);
        return visit(e.right);
      case 'call':
        return e.args.forEach(visit);
      case 'literal':
      case 'entity':
      case 'variable':
        return;
    }
  };
  for (const c of policy.conditions) visit(c.body);
  return [...found].sort();
}
