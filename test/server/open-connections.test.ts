import { createServer } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, test } from 'vitest';
import { OpenConnections } from '../../src/server/open-connections.js';

describe('a stop and an answer still being written', () => {
  test.each([
    { note: 'kept alive', headers: {} },
    { note: 'to be closed', headers: { connection: 'close' } },
  ])('an answer (%s) begun before the stop reaches a slow reader whole, and its connection is closed after it', async ({ headers }) => {
    const size = 8 << 20;
    const server = createServer((_request, response) => {
      // Begun after the stop starts, as a slow handler's answer would be.
      setTimeout(() => response.writeHead(200, { 'content-length': size, ...headers }).end(Buffer.alloc(size, 120)), 300);
    });
    const open = OpenConnections.ofHttp(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const socket = connect(port, '127.0.0.1');
    socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
    socket.pause();
    let received = 0;
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const stopped = new Promise<void>((resolve) => {
      setTimeout(() => {
        server.close(() => resolve());
        open.closeUnused();
      }, 100);
    });
    // The reader starts a second after the answer was written into its socket.
    await new Promise((resolve) => setTimeout(resolve, 1300));
    socket.on('data', (d: Buffer) => (received += d.length));
    socket.resume();
    await closed;
    await stopped;
    expect(received).toBeGreaterThan(size);
  }, 20_000);
});
