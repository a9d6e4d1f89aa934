/**
 * What the HTTP parser refuses before any route runs — oversize headers, malformed framing,
 * a URL whose percent-encoding is broken — is answered like every other error: a JSON
 * `{error, message}` with the right status. Over a real socket: `inject` skips the parser.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildPolicySet } from '../../src/index.js';
import { LivePolicySet } from '../../src/engine/live-set.js';
import { buildApp } from '../../src/http/app.js';

let app: FastifyInstance;
let port = 0;

beforeAll(async () => {
  const live = new LivePolicySet(buildPolicySet([{ file: 'app.gavel', text: 'permit (action == "GET", resource);\n' }]).set!);
  app = buildApp({ policies: live });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  port = typeof address === 'object' && address !== null ? address.port : 0;
});

afterAll(async () => {
  await app.close();
});

/** Sends raw bytes, answers the status line and the body. */
function raw(request: string): Promise<{ status: number; body: string; head: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.on('end', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), body: text.slice(text.indexOf('\r\n\r\n') + 4), head: text.slice(0, text.indexOf('\r\n\r\n')) }));
    socket.on('error', reject);
    socket.end(request);
  });
}

/** Sends raw bytes at once, answers the status line of every answer on the connection. */
async function statuses(request: string): Promise<string[]> {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString()));
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.write(request);
  await closed;
  return text.match(/HTTP\/1\.1 \d{3}/g) ?? [];
}

const get = (path: string, headers = ''): Promise<{ status: number; body: string; head: string }> => raw(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers}\r\n`);

describe('errors before routing', () => {
  test('headers up to 64 KiB pass (a browser\'s cookies, forwarded by a gateway); beyond, 431 with a JSON body', async () => {
    const cookie = `Cookie: ${'a=' + 'x'.repeat(40_000)}\r\n`;
    expect((await get('/healthz', cookie)).status).toBe(200);
    const over = await get('/healthz', `Cookie: ${'a=' + 'x'.repeat(70_000)}\r\n`);
    expect(over.status).toBe(431);
    expect(JSON.parse(over.body)).toEqual({ error: 'invalid_request', message: 'the request headers are larger than 64 KiB' });
  });

  test('a malformed Content-Length is a 400 saying what is wrong', async () => {
    const r = await raw('POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}');
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toEqual({ error: 'invalid_request', message: expect.stringMatching(/^the request is not valid HTTP\/1\.1: .*Content-Length/i) });
  });

  test('a malformed request pipelined behind others is answered after them, in order', async () => {
    const r = await statuses('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nPOST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n');
    expect(r).toEqual(['HTTP/1.1 200', 'HTTP/1.1 400']);
    const decide = '{"subject":{"type":"user","id":"a"},"action":{"name":"GET"},"resource":{"type":"doc","id":"1"}}';
    const three = await statuses(
      `POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${decide.length}\r\n\r\n${decide}` +
        'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
    );
    expect(three).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 400']);
  });

  test('a client that closes its side in the middle of a body is let go: the connection closes at once', async () => {
    for (const path of ['/v1/decide', '/healthz']) {
      const socket = connect(port, '127.0.0.1');
      const closed = new Promise<string>((resolve) => socket.on('close', () => resolve('closed')));
      socket.on('error', () => undefined);
      await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
      socket.end(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`);
      // Waiting for an answer to a request whose body never comes kept such connections open for ever.
      expect(await Promise.race([closed, new Promise((r) => setTimeout(() => r('still open'), 3_000))]), path).toBe('closed');
    }
  });

  test('a request not received in time (a body trickled a byte at a time) is a 408 echoing its X-Request-ID, and its connection closes', async () => {
    const live = new LivePolicySet(buildPolicySet([{ file: 'app.gavel', text: 'permit;\n' }]).set!);
    const slow = buildApp({ policies: live, requestTimeout: { ms: 1_000, checkMs: 200 } });
    await slow.listen({ host: '127.0.0.1', port: 0 });
    try {
      const socket = connect((slow.server.address() as { port: number }).port, '127.0.0.1');
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      socket.write('POST /v1/decide HTTP/1.1\r\nHost: x\r\nX-Request-ID: slow-1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
      const trickle = setInterval(() => socket.write(' '), 100);
      await closed;
      clearInterval(trickle);
      expect(text).toMatch(/^HTTP\/1\.1 408 /);
      // Its headers were read: the caller's id comes back, as on every other answer (AuthZEN 1.0).
      expect(text).toMatch(/\r\nX-Request-ID: slow-1\r\n/);
      expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).toEqual({ error: 'invalid_request', message: 'the request was not received within 1 s' });
    } finally {
      await slow.close();
    }
  });

  test('a malformed request after a complete answer on a kept-alive connection is still answered', async () => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    for (let waited = 0; !text.includes('\r\n\r\n{') && waited < 5_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    socket.write('POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n');
    await ended;
    expect(text.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 400']);
  });

  test('a URL with a broken percent-encoding is a 400 in the usual shape', async () => {
    for (const path of ['/%', '/v1/decisions/%ZZ']) {
      const r = await get(path);
      expect(r.status, path).toBe(400);
      expect(JSON.parse(r.body), path).toEqual({ error: 'invalid_request', message: `the URL is not valid: ${path} has a broken percent-encoding` });
    }
    // With the caller's request id, as every answer (AuthZEN 1.0, Request Identification).
    expect((await get('/access/v1/evaluation%zz', 'X-Request-ID: rid-pct\r\n')).head).toMatch(/\r\nx-request-id: rid-pct(\r\n|$)/i);
  });
});
