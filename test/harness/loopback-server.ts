/**
 * Starts the HTTP or HTTPS server behind a loopback stand-in: on 127.0.0.1 and a free port (or the one
 * given), handing the handler each request once its whole body has arrived. `stop()` drops every
 * connection, so a keep-alive client cannot hold a test open, then runs `cleanup` (for example to
 * remove a throw-away certificate).
 *
 * @example
 * const tls = makeCertificate();
 * const server = await startLoopbackServer((req, res, body) => res.writeHead(200).end(body), { tls, cleanup: tls.remove });
 * ... fetch(`${server.url}/echo`, { method: 'POST', body: 'hi' }) ...
 * await server.stop();
 */
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface LoopbackServerOptions {
  /** Serve HTTPS with this certificate and key (PEM); plain HTTP without. */
  tls?: { cert: string; key: string };
  /** Hand the handler a gzip-encoded body decompressed (default: the bytes as sent). */
  gunzip?: boolean;
  /** Listen on this port (default 0: a free one). */
  port?: number;
  /** Runs once the server has closed. */
  cleanup?: () => unknown;
}

export interface LoopbackServer {
  server: Server;
  port: number;
  /** `http://127.0.0.1:PORT` or `https://…`, without a trailing slash. */
  url: string;
  stop(): Promise<void>;
}

export async function startLoopbackServer(
  handle: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void,
  options: LoopbackServerOptions = {},
): Promise<LoopbackServer> {
  const listener: RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (options.gunzip && /gzip/i.test(String(req.headers['content-encoding'] ?? ''))) body = gunzipSync(body);
      handle(req, res, body);
    });
  };
  const { tls } = options;
  const server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, listener) : createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await options.cleanup?.();
    },
  };
}
