import type { PolicySet } from '../engine/policy-set.js';
import { Activation } from '../language/eval/activation.js';
import type { Client } from './registry.js';

/**
 * `openid` is minted like any scope (docs/issuer.md): a policy set with no permit whose
 * target can match the mint of `scope::"openid"` refuses every client its ID tokens. Answers
 * a warning naming the clients that ask for it, or null. A hint, read from the targets only:
 * conditions are the policies' business.
 */
export function openidWarning(set: PolicySet, registered: readonly Pick<Client, 'id' | 'scopes'>[]): string | null {
  const clients = registered.filter((c) => c.scopes.includes('openid')).map((c) => c.id);
  if (clients.length === 0) return null;
  const probe = new Activation({ subject: { type: 'user', id: '' }, action: { name: 'mint' }, resource: { type: 'scope', id: 'openid' } });
  if (set.index.lookup(probe).some((bucket) => bucket.permits.some((p) => p.matches(probe)))) return null;
  return `no policy permits minting scope::"openid", so ${clients.map((c) => `\`${c}\``).join(', ')} will get no ID tokens and no sign-in only (add a permit like the example policies' mint.sign-in)`;
}
