import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { experimental } from '@grpc/grpc-js';
import { whyUnreadable } from '../formats/file-error.js';

/**
 * TLS for both listeners (HTTP and gRPC) from PEM files, and their rotation: cert-manager,
 * Vault agents and Kubernetes secrets replace the files in place (a secret by swapping a
 * symlink, which file watchers miss), so the files are read again every interval and a
 * changed, valid pair is served from the next handshake on. A pair that does not make a
 * secure context — a key that is not the certificate's, a file half-written — is said and
 * the previous one kept: a rotation gone wrong must not take the server off the network.
 */

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** Callers must present a certificate this CA issued (mutual TLS); `null`: no client certificates. */
  clientCaFile: string | null;
}

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca: Buffer | null;
  /** When the server's certificate expires (ms since the epoch). */
  notAfter: number;
}

/** The files read and checked together, or what is wrong with them (which file, and why). */
export function readTls(files: TlsFiles): { material: TlsMaterial } | { problem: string } {
  const read = (file: string): Buffer | string => {
    try {
      return readFileSync(file);
    } catch (err: unknown) {
      return `cannot read \`${file}\`: ${whyUnreadable(err)}`;
    }
  };
  const cert = read(files.certFile);
  if (typeof cert === 'string') return { problem: cert };
  const key = read(files.keyFile);
  if (typeof key === 'string') return { problem: key };
  const ca = files.clientCaFile === null ? null : read(files.clientCaFile);
  if (typeof ca === 'string') return { problem: ca };
  let notAfter: number;
  try {
    notAfter = Date.parse(new X509Certificate(cert).validTo);
  } catch (err: unknown) {
    return { problem: `\`${files.certFile}\` is not a PEM certificate: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (ca !== null) {
    try {
      new X509Certificate(ca);
    } catch (err: unknown) {
      return { problem: `\`${files.clientCaFile}\` is not a PEM certificate: ${err instanceof Error ? err.message : String(err)}` };
    }
  }
  try {
    // What a handshake would do with them: a key that is not the certificate's fails here ("key values mismatch").
    createSecureContext({ cert, key, ...(ca === null ? {} : { ca }) });
  } catch (err: unknown) {
    return { problem: `\`${files.certFile}\` with \`${files.keyFile}\`: ${err instanceof Error ? err.message : String(err)}` };
  }
  return { material: { cert, key, ca, notAfter } };
}

/** The options of Node's TLS servers for this material: TLS 1.2 at least; with a client CA, a certificate is required. */
export function tlsServerOptions(m: TlsMaterial): { cert: Buffer; key: Buffer; ca?: Buffer; requestCert: boolean; rejectUnauthorized: boolean; minVersion: 'TLSv1.2' } {
  return { cert: m.cert, key: m.key, ...(m.ca === null ? {} : { ca: m.ca }), requestCert: m.ca !== null, rejectUnauthorized: m.ca !== null, minVersion: 'TLSv1.2' };
}

const fingerprint = (m: TlsMaterial): string => createHash('sha256').update(m.cert).update(m.key).update(m.ca ?? '').digest('hex');

/**
 * The served material, read again every `intervalMs`. Told to HTTP through `onChange` (a new
 * secure context for the server) and to grpc-js as its CertificateProvider.
 */
type CertificateProvider = experimental.CertificateProvider;
type IdentityCertificateUpdateListener = experimental.IdentityCertificateUpdateListener;
type CaCertificateUpdateListener = experimental.CaCertificateUpdateListener;

export class TlsReloader implements CertificateProvider {
  #current: TlsMaterial;
  #print: string;
  /** The problem last said, so that one lasting many intervals is said once. */
  #said: string | null = null;
  #timer: NodeJS.Timeout | null = null;
  readonly #identity = new Set<IdentityCertificateUpdateListener>();
  readonly #ca = new Set<CaCertificateUpdateListener>();

  constructor(
    private readonly files: TlsFiles,
    first: TlsMaterial,
    private readonly events: { changed: (m: TlsMaterial) => void; rejected: (problem: string) => void },
  ) {
    this.#current = first;
    this.#print = fingerprint(first);
  }

  get current(): TlsMaterial {
    return this.#current;
  }

  start(intervalMs: number): void {
    this.#timer = setInterval(() => this.check(), intervalMs).unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Reads the files; a change is served when valid, said when not (once per different content). */
  check(): void {
    const read = readTls(this.files);
    if ('problem' in read) {
      if (this.#said !== read.problem) this.events.rejected(read.problem);
      this.#said = read.problem;
      return;
    }
    this.#said = null;
    const print = fingerprint(read.material);
    if (print === this.#print) return;
    this.#current = read.material;
    this.#print = print;
    this.events.changed(read.material);
    for (const listener of this.#identity) listener({ certificate: read.material.cert, privateKey: read.material.key });
    if (read.material.ca !== null) for (const listener of this.#ca) listener({ caCertificate: read.material.ca });
  }

  // The current material is given after the call returns, as grpc-js's own providers do: its
  // server adds its watcher after the listener, and an answer given at once would reach no one
  // (every connection was then dropped as "credentials not loaded").
  addIdentityCertificateListener(listener: IdentityCertificateUpdateListener): void {
    this.#identity.add(listener);
    queueMicrotask(() => this.#identity.has(listener) && listener({ certificate: this.#current.cert, privateKey: this.#current.key }));
  }

  removeIdentityCertificateListener(listener: IdentityCertificateUpdateListener): void {
    this.#identity.delete(listener);
  }

  addCaCertificateListener(listener: CaCertificateUpdateListener): void {
    this.#ca.add(listener);
    queueMicrotask(() => this.#ca.has(listener) && listener(this.#current.ca === null ? null : { caCertificate: this.#current.ca }));
  }

  removeCaCertificateListener(listener: CaCertificateUpdateListener): void {
    this.#ca.delete(listener);
  }
}
