// @ts-check
/**
 * The transport ceiling of the HTTP benchmark: fastify's hello world, answering a JSON POST on
 * Gavel's route with a small JSON object, so that it parses the same bodies Gavel does and
 * decides nothing. Plain JavaScript run by plain `node`, like `gavel serve` (no TypeScript
 * loader in a measured server). Prints its address; stops on SIGTERM.
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.post('/access/v1/evaluation', async () => ({ hello: 'world' }));
await app.listen({ host: '127.0.0.1', port: 0 });
const bound = app.server.address();
console.log(`hello: listening on http://127.0.0.1:${typeof bound === 'object' && bound !== null ? bound.port : 0}`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
