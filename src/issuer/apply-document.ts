import { readDirectoryDocument } from '../engine/directory-document.js';
import type { DirectoryChanges, Entity, Store } from '../store/store.js';
import { readRegistry, registryProblems, userRoles, type Client, type Registry, type User } from './registry.js';
import { hashClientSecret, hashPassword, passwordMatches } from './secrets.js';

/**
 * Registry users as directory entities of type "user": policies see their attributes, and
 * `roles` (their own and their groups') and `groups`, whichever way a request names them.
 */
export function userEntities(registry: Pick<Registry, 'users' | 'groups'>): Entity[] {
  return registry.users.map((u) => ({ type: 'user', id: u.id, attributes: { ...u.attributes, roles: userRoles(registry, u), groups: u.groups } }));
}

/**
 * Applies a whole `gavel apply` document — entities and registry — in one transaction, or
 * nothing: every problem is reported first. Secrets are hashed here and never stored or
 * printed in the clear; a password that did not change keeps its stored hash, so applying
 * the same document twice changes nothing.
 */
export async function applyDocument(store: Store, json: unknown, dryRun: boolean): Promise<{ changes: DirectoryChanges } | { problems: string[] }> {
  const directory = readDirectoryDocument(json);
  const read = readRegistry(typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as { [k: string]: unknown }) : {});
  const problems = [...('problems' in directory ? directory.problems : []), ...('problems' in read ? read.problems : [])];
  if ('problems' in directory || 'problems' in read) return { problems };
  const input = read.registry;
  const current = store.registry();
  const sections: Partial<Registry> = {};
  if (input.apis !== undefined) sections.apis = input.apis;
  if (input.roles !== undefined) sections.roles = input.roles;
  if (input.groups !== undefined) sections.groups = input.groups;
  if (input.clients !== undefined) {
    sections.clients = input.clients.map(({ secret, ...c }): Client => ({ ...c, secretHash: secret === null ? null : hashClientSecret(secret) }));
  }
  if (input.users !== undefined) {
    const before = new Map(current.users.map((u) => [u.id, u]));
    sections.users = await Promise.all(
      input.users.map(async ({ password, ...u }): Promise<User> => {
        const stored = before.get(u.id)?.passwordHash ?? null;
        const same = password !== null && stored !== null && (await passwordMatches(password, stored));
        return { ...u, passwordHash: password === null ? null : same ? stored : await hashPassword(password) };
      }),
    );
  }
  const next: Registry = { ...current, ...sections };
  problems.push(...registryProblems(next));
  const users = new Set(next.users.map((u) => u.id));
  const entities = directory.entities ?? store.entities();
  for (const e of entities) if (e.type === 'user' && users.has(e.id)) problems.push(`entities: user::${JSON.stringify(e.id)} is also in \`users\`; keep it in one place`);
  if (problems.length > 0) return { problems };
  return { changes: store.applyDocument(directory.entities, sections, dryRun) };
}
