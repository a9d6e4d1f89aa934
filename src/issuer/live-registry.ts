import type { Api, Client, Registry, User } from './registry.js';

/** The registry indexed for the token endpoint; replaced whole when the store changes. */
export class RegistryView {
  readonly clients: ReadonlyMap<string, Client>;
  readonly users: ReadonlyMap<string, User>;
  readonly apis: ReadonlyMap<string, Api>;
  /** Which APIs define each scope. */
  readonly apisOfScope: ReadonlyMap<string, Api[]>;

  constructor(readonly registry: Registry) {
    this.clients = new Map(registry.clients.map((c) => [c.id, c]));
    this.users = new Map(registry.users.map((u) => [u.id, u]));
    this.apis = new Map(registry.apis.map((a) => [a.identifier, a]));
    const byScope = new Map<string, Api[]>();
    for (const a of registry.apis) for (const s of a.scopes) byScope.set(s, [...(byScope.get(s) ?? []), a]);
    this.apisOfScope = byScope;
  }

  #webOrigins: ReadonlySet<string> | undefined;

  /**
   * The origins of the clients' redirect URIs: the web pages that may read the token,
   * revocation and userinfo endpoints' answers from a browser (CORS), as a browser-based
   * client's own page needs to (OAuth 2.0 for Browser-Based Apps §6.3).
   */
  get webOrigins(): ReadonlySet<string> {
    return (this.#webOrigins ??= new Set(this.registry.clients.flatMap((c) => c.redirectUris.filter((u) => URL.canParse(u)).map((u) => new URL(u).origin))));
  }
}
