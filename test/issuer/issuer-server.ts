import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { gavel, ROOT, serveProcess, workspace, type Served } from '../cli/helpers.js';

export interface IssuerServer {
  dir: string;
  server: Served;
  /** A discovered openid-client configuration for a client with a secret (Basic). */
  discover(id: string, secret: string): Promise<oidc.Configuration>;
  stop(): void;
}

/**
 * `gavel apply` of a registry — a document, or `"examples"` for examples/registry.json —
 * into a scratch workspace with the example policies (and `files`), then `gavel serve` on free ports.
 */
export async function issuerServer(registry: object | 'examples', args: string[] = [], files: Record<string, string> = {}): Promise<IssuerServer> {
  const ws = workspace();
  try {
    cpSync(join(ROOT, 'examples'), join(ws.dir, 'examples'), { recursive: true });
    // More files in the workspace (a policy, a config file), by path relative to it.
    for (const [file, text] of Object.entries(files)) writeFileSync(join(ws.dir, file), text);
    const file = registry === 'examples' ? 'examples/registry.json' : 'registry.json';
    if (registry !== 'examples') writeFileSync(join(ws.dir, file), JSON.stringify(registry));
    const applied = await gavel(['apply', file], { cwd: ws.dir });
    if (applied.code !== 0) throw new Error(`gavel apply failed: ${applied.stderr}`);
    const server = await serveProcess(ws.dir, args);
    return {
      dir: ws.dir,
      server,
      discover: (id, secret) => oidc.discovery(new URL(server.url), id, undefined, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests], algorithm: 'oauth2' }),
      stop: () => {
        server.stop();
        ws.remove();
      },
    };
  } catch (err: unknown) {
    ws.remove();
    throw err;
  }
}
