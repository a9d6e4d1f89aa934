import type { Expr, Policy } from '../ast.js';

/** Every signal (or claim) a policy may read: `risk` (or `token`) read whole stands for all of them. */
export const ALL_SIGNALS = '*';

/** One access into a root: the names read, and whether only the first one's presence was asked (`risk has ip`). */
interface Access {
  names: string[];
  presence?: true;
}

/**
 * How a policy's conditions reach into one root: for each access, the member names read, at
 * most two deep (`risk.ip.reputation` → `["ip", "reputation"]`, `risk.ip` → `["ip"]`), or `[]`
 * when the root is read whole (a bare `risk`, or a key computed at run time). Targets never
 * read `risk` or `token`.
 */
function rootAccesses(policy: Policy, root: string): Access[] {
  const found: Access[] = [];
  const visit = (e: Expr): void => {
    switch (e.kind) {
      case 'attr':
      case 'has':
        // `risk has ip` asks only whether the member is there: a read of `ip`, not of all of it.
        if (e.object.kind === 'root' && e.object.root === root) found.push(e.kind === 'has' ? { names: [e.name], presence: true } : { names: [e.name] });
        else if (e.object.kind === 'attr' && e.object.object.kind === 'root' && e.object.object.root === root) found.push({ names: [e.object.name, e.name] });
        else visit(e.object);
        return;
      case 'root':
        if (e.root === root) found.push({ names: [] });
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
  return found;
}

/**
 * The `risk` members a policy's conditions read, so a server computes only the signals some
 * candidate needs: each top-level member (`risk.ip.reputation` → `ip`), and each field of
 * it as `member.field` (`ip.reputation`), or `member.*` when the member is read whole; a
 * member asked for by `has` alone (`risk has ip`) as itself.
 */
export function riskReads(policy: Policy): string[] {
  const found = new Set<string>();
  for (const { names: [member, field], presence } of rootAccesses(policy, 'risk')) {
    if (member === undefined) found.add(ALL_SIGNALS);
    else if (presence === true) found.add(member);
    else found.add(member).add(`${member}.${field ?? ALL_SIGNALS}`);
  }
  return [...found].sort();
}

/**
 * The claims of `token` a policy's conditions read (`token.scope` → `scope`), or `*` when it
 * reads the token whole: what the decision log keeps of a verified token beside `sub`,
 * `client_id` and `jti`.
 */
export function tokenReads(policy: Policy): string[] {
  return [...new Set(rootAccesses(policy, 'token').map(({ names: [claim] }) => claim ?? ALL_SIGNALS))].sort();
}

/**
 * Of the reads of a set of policies (`riskReads`), the fields each member is read for:
 * `null` when some policy reads the member whole (or `risk` itself).
 */
export function fieldsRead(reads: ReadonlySet<string>): Map<string, ReadonlySet<string> | null> {
  const out = new Map<string, Set<string> | null>();
  for (const r of reads) {
    const dot = r.indexOf('.');
    if (dot < 0) continue;
    const [member, field] = [r.slice(0, dot), r.slice(dot + 1)];
    const fields = out.get(member);
    if (field === '*' || reads.has(ALL_SIGNALS)) out.set(member, null);
    else if (fields === undefined) out.set(member, new Set([field]));
    else fields?.add(field);
  }
  return out;
}
