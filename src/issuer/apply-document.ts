import { readDirectoryDocument } from '../engine/directory-document.js';
import type { DirectoryChanges, Entity, Store } from '../store/store.js';
import { readRegistry, registryProblems, userRoles, type Client, type Registry, type RegistryInput, type User } from './registry.js';
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
export async function applyDocument(store: Store, json: unknown, dryRun: boolean): Promise<{ changes: DirectoryChanges } | { problems: string[] } | { busy: string }> {
  const directory = readDirectoryDocument(json);
  const read = readRegistry(typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as { [k: string]: unknown }) : {});
  const problems = [...('problems' in directory ? directory.problems : []), ...read.problems];
  if ('problems' in directory || problems.length > 0) {
    // The references too, as far as the document could be read: a user fixes it in one round, not two.
    const current = store.registry();
    return { problems: [...problems, ...referenceProblems(current, await storedSections(read.registry, current, false))] };
  }
  // The references are checked against the store as it is; if another apply changes it before
  // this one is written (password hashing waits in between), they are checked again.
  for (let attempt = 0; attempt < 5; attempt++) {
    // Applies that collided go on at different times: one of them is through on the next attempt.
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 25 + Math.random() * 100 * attempt));
    const checkedAt = store.changeMarker();
    const current = store.registry();
    const sections = await storedSections(read.registry, current, true);
    const checked = referenceProblems(current, sections);
    const users = new Set({ ...current, ...sections }.users.map((u) => u.id));
    for (const e of directory.entities ?? store.entities()) if (e.type === 'user' && users.has(e.id)) checked.push(`entities: user::${JSON.stringify(e.id)} is also in \`users\`; keep it in one place`);
    if (checked.length > 0) return { problems: checked };
    const changes = store.applyDocument(directory.entities, sections, dryRun, checkedAt);
    if (changes !== null) return { changes };
  }
  // Not the document's fault: said apart from its problems, so a caller can tell to try again.
  return { busy: 'the directory and registry kept changing while this document was checked (other applies at the same time); nothing was applied: apply it again' };
}

/**
 * The sections a document gives, as the store keeps them: secrets hashed (a password that did
 * not change keeps its stored hash), or — `hash` false, for a document with problems that will
 * not be applied — left out. Entries whose name could not be read are left out too: a
 * reference to them is reported as what it is, a name nothing has.
 */
async function storedSections(input: RegistryInput, current: Registry, hash: boolean): Promise<Partial<Registry>> {
  const named = <T>(items: T[] | undefined, name: (t: T) => string): T[] | undefined => items?.filter((t) => name(t) !== '');
  const sections: Partial<Registry> = {};
  const apis = named(input.apis, (a) => a.identifier);
  const roles = named(input.roles, (r) => r.name);
  const groups = named(input.groups, (g) => g.name);
  const clients = named(input.clients, (c) => c.id);
  const users = named(input.users, (u) => u.id);
  if (apis !== undefined) sections.apis = apis;
  if (roles !== undefined) sections.roles = roles;
  if (groups !== undefined) sections.groups = groups;
  if (clients !== undefined) sections.clients = clients.map(({ secret, ...c }): Client => ({ ...c, secretHash: secret === null || !hash ? null : hashClientSecret(secret) }));
  if (users !== undefined) {
    const before = new Map(current.users.map((u) => [u.id, u]));
    sections.users = await Promise.all(
      users.map(async ({ password, ...u }): Promise<User> => {
        const stored = before.get(u.id)?.passwordHash ?? null;
        if (password === undefined) return { ...u, passwordHash: hash ? stored : null };
        if (password === null || !hash) return { ...u, passwordHash: null };
        const same = stored !== null && (await passwordMatches(password, stored));
        return { ...u, passwordHash: same ? stored : await hashPassword(password) };
      }),
    );
  }
  return sections;
}

/** Cross-references of the registry as the sections would make it; a reference broken by what they leave out says what they remove. */
function referenceProblems(current: Registry, sections: Partial<Registry>): string[] {
  const problems = registryProblems({ ...current, ...sections });
  if (problems.length > 0) problems.push(...removals(current, sections));
  return problems;
}

const NAMES = { apis: (x: { identifier: string }) => x.identifier, clients: (x: { id: string }) => x.id, roles: (x: { name: string }) => x.name, groups: (x: { name: string }) => x.name, users: (x: { id: string }) => x.id } as const;

/**
 * For each section the document gives, what stored entries it removes by not listing them: a
 * problem naming an API or a client the document never mentions is explained by this.
 */
function removals(current: Registry, sections: Partial<Registry>): string[] {
  const notes: string[] = [];
  for (const section of Object.keys(NAMES) as (keyof typeof NAMES)[]) {
    const given = sections[section];
    if (given === undefined) continue;
    const name = NAMES[section] as (x: unknown) => string;
    const kept = new Set((given as unknown[]).map(name));
    // Dynamically registered clients are not the document's to remove (the store keeps them).
    const stored = section === 'clients' ? current.clients.filter((c) => c.attributes?.dynamic !== true) : (current[section] as unknown[]);
    const gone = stored.map(name).filter((n) => !kept.has(n));
    if (gone.length > 0) notes.push(`note: \`${section}\` replaces every stored entry of its kind, so this document removes ${gone.map((n) => `\`${n}\``).join(', ')}; list ${gone.length === 1 ? 'it' : 'them'} to keep ${gone.length === 1 ? 'it' : 'them'}`);
  }
  return notes;
}
