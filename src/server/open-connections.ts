import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';

/**
 * A listener's open connections, for a stop. Node counts an HTTP connection as busy from the
 * moment it is accepted (its headers timeout runs from then), and grpc-js waits for a
 * connection that never sent its preface, so a connection that sends nothing held a stop
 * until its time was up — on gRPC for ever. On a stop, connections that have sent nothing are
 * closed at once, as Node closes idle keep-alive ones, and any accepted after it began are
 * closed as they arrive; when the stop's time is up, every one left is.
 */
export class OpenConnections {
  readonly #sockets = new Set<Socket>();
  #stopping = false;

  /** `onStop`: what else the listener does once, when the stop begins. */
  constructor(private readonly onStop: () => void = () => {}) {}

  /**
   * Tracks an HTTP(S) server's connections. Whether one has begun a request is its
   * `bytesRead`: no listener on every request (the hot path) is needed to tell.
   */
  static ofHttp(server: Server): OpenConnections {
    const open = new OpenConnections(() => {
      // A stop waits for every connection to close, and Node's close() closes only those idle
      // at that moment: one whose answer was being written then is kept alive after it (its
      // headers said so), and the stop waited its whole time (20 s). Each such connection is
      // ended once its answer is written — end(), not destroy(): what the kernel still holds
      // for a slow reader is delivered. Answers begun after the stop say `Connection: close`
      // (buildApp's `stopping`), and Node ends those connections itself.
      for (const socket of open.#sockets) {
        const http = socket as Socket & { _httpMessage?: ServerResponse | null };
        const answer = http._httpMessage;
        // A pipelined request answered next has its own answer on the socket, which says `Connection: close`.
        if (answer != null && !answer.writableFinished) answer.once('finish', () => http._httpMessage == null && socket.end());
      }
    });
    // Over TLS, the socket that carries requests is the one after the handshake; its
    // `bytesRead` counts what was sent through it, not the handshake. The TCP socket under it
    // is tracked too: one that never completes a handshake is closed when the time is up (one
    // that sent no byte at once) — Node's closeAllConnections knows only HTTP connections.
    if (server instanceof TlsServer) server.on('secureConnection', (socket: Socket) => open.add(socket));
    server.on('connection', (socket: Socket) => open.add(socket));
    return open;
  }

  /** Tracks a connection; `false` (and it is closed) once the stop has begun. */
  add(socket: Socket): boolean {
    if (this.#stopping) {
      socket.destroy();
      return false;
    }
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    return true;
  }

  /** The stop begins: closes every connection that has sent nothing; one that sent part of a request is in flight and stays. */
  closeUnused(): void {
    this.#stop();
    for (const socket of this.#sockets) if (socket.bytesRead === 0) socket.destroy();
  }

  /** The stop's time is up: closes every connection left. */
  closeAll(): void {
    this.#stop();
    for (const socket of this.#sockets) socket.destroy();
  }

  #stop(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.onStop();
  }
}
