// @ts-check
/**
 * The issuer benchmark's peer: node-oidc-provider configured as Gavel's issuer is for the
 * benchmark — one client with client_secret_basic and the client_credentials grant, one API
 * (a resource indicator) whose access tokens are ES256-signed JWTs — served by its own
 * node:http server (provider.callback()). Plain JavaScript run by plain `node`, like
 * `gavel serve` (no TypeScript loader in a measured server).
 *
 * Usage: node oidc-provider-server.mjs SETUP.json, where SETUP.json is written by the
 * benchmark: {clientId, clientSecret, resource, scopes: string[], jwk: EC P-256 private JWK}.
 * Binds 127.0.0.1 on a port the OS picks, prints `oidc-provider: listening on URL`, stops on
 * SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const setupFile = process.argv[2];
if (setupFile === undefined) throw new Error('usage: node oidc-provider-server.mjs SETUP.json');
/** @type {{clientId: string, clientSecret: string, resource: string, scopes: string[], jwk: Record<string, unknown>}} */
const setup = JSON.parse(readFileSync(setupFile, 'utf8'));
const scope = setup.scopes.join(' ');

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
const bound = server.address();
const url = `http://127.0.0.1:${typeof bound === 'object' && bound !== null ? bound.port : 0}`;

const provider = new Provider(url, {
  clients: [
    {
      client_id: setup.clientId,
      client_secret: setup.clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      // Its default, RS256, has no key here: ES256 is the only signing key.
      id_token_signed_response_alg: 'ES256',
      scope,
    },
  ],
  scopes: setup.scopes,
  jwks: { keys: [{ ...setup.jwk, alg: 'ES256', use: 'sig' }] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => setup.resource,
      // The one API this benchmark knows; any other resource indicator is invalid_target.
      getResourceServerInfo: (_ctx, resourceIndicator) => {
        if (resourceIndicator !== setup.resource) throw new Provider.errors.InvalidTarget();
        return { scope, audience: setup.resource, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } };
      },
    },
  },
});
server.on('request', provider.callback());
console.log(`oidc-provider: listening on ${url}`);
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
