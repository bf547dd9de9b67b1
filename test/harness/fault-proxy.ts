/**
 * A loopback HTTP proxy in front of Azurite that misbehaves like a real network, driven by a seed:
 * connection resets before the request reaches storage, resets after storage answered (the answer
 * is lost, the write happened), delays, 500/503 answers, and response bodies cut off or stalled half-way.
 *
 * @example
 * const proxy = await startFaultProxy({ target: `http://127.0.0.1:${az.port}`, seed: 7, faults: { reset: 0.03, status503: 0.05 } });
 * const endpoint = `${proxy.url}/devstoreaccount1`;   // use instead of az.blobEndpoint
 * ... proxy.counts  // how many of each fault happened
 * await proxy.stop();
 */
import { createServer, request as httpRequest, Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Random } from '../../src/generate/random.js';

export interface Faults {
  /** Drop the connection before forwarding. */
  reset?: number;
  /** Forward, let storage answer, then drop the connection (the client never hears back). */
  resetAfter?: number;
  /** Answer 503 ServerBusy without forwarding. */
  status503?: number;
  /** Answer 500 InternalError without forwarding. */
  status500?: number;
  /** Send half of a response body, then drop the connection. */
  truncate?: number;
  /** Send half of a response body, then nothing more (the connection stays open). */
  stall?: number;
  /** Wait before forwarding. */
  delay?: number;
  delayMs?: [number, number];
}

export type FaultKind = 'pass' | 'reset' | 'resetAfter' | 'status503' | 'status500' | 'truncate' | 'stall' | 'delay';

export interface FaultProxyOptions {
  /** `http://127.0.0.1:PORT` of the real service. */
  target: string;
  seed: number;
  faults?: Faults;
  /** Only requests this accepts can get a fault (default: all). */
  applies?: (req: IncomingMessage) => boolean;
}

export interface FaultProxy {
  url: string;
  counts: Record<FaultKind, number>;
  /** Bytes of stalled bodies handed to the network before they stalled: a test can wait for a download to be half-way. */
  readonly stalledBytes: number;
  /** Change the fault rates for the next requests (for example to 0 to let a setup step through). */
  setFaults(faults: Faults): void;
  stop(): Promise<void>;
}

/** Fault sequences repeatable from a seed, from the same generator `pixbatch generate` uses. */
export function seededRandom(seed: number): () => number {
  const r = new Random(seed);
  return () => r.next();
}

function storageError(res: ServerResponse, status: number, code: string): void {
  const body = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>injected fault</Message></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'x-ms-error-code': code, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const random = seededRandom(options.seed);
  let faults: Faults = options.faults ?? {};
  const counts: Record<FaultKind, number> = { pass: 0, reset: 0, resetAfter: 0, status503: 0, status500: 0, truncate: 0, stall: 0, delay: 0 };
  let stalledBytes = 0;
  const target = new URL(options.target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const sockets = new Set<Socket>();

  function choose(req: IncomingMessage): FaultKind {
    const r = random();
    if (options.applies && !options.applies(req)) return 'pass';
    let edge = 0;
    for (const kind of ['reset', 'resetAfter', 'status503', 'status500', 'truncate', 'stall', 'delay'] as const) {
      edge += faults[kind] ?? 0;
      if (r < edge) return kind;
    }
    return 'pass';
  }

  const server = createServer((req, res) => {
    const kind = choose(req);
    counts[kind]++;
    if (kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (kind === 'status503' || kind === 'status500') {
      req.resume();
      req.once('end', () => storageError(res, kind === 'status503' ? 503 : 500, kind === 'status503' ? 'ServerBusy' : 'InternalError'));
      return;
    }
    const forward = () => {
      const upstream = httpRequest(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
        (up) => {
          if (kind === 'resetAfter') {
            up.resume();
            up.once('end', () => req.socket.destroy());
            return;
          }
          res.writeHead(up.statusCode ?? 502, up.headers);
          if (kind === 'truncate' || kind === 'stall') {
            const length = Number(up.headers['content-length'] ?? 0);
            let sent = 0;
            up.on('data', (chunk: Buffer) => {
              if (sent >= length / 2) return;
              const part = chunk.subarray(0, Math.max(1, Math.floor(length / 2) - sent));
              sent += part.length;
              res.write(part, () => {
                if (kind === 'stall') stalledBytes += part.length;
              });
            });
            if (kind === 'truncate') up.once('end', () => setImmediate(() => req.socket.destroy()));
            return;
          }
          up.pipe(res);
        },
      );
      upstream.on('error', () => req.socket.destroy());
      req.pipe(upstream);
    };
    if (kind === 'delay') {
      const [lo, hi] = faults.delayMs ?? [50, 300];
      setTimeout(forward, lo + random() * (hi - lo));
    } else {
      forward();
    }
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts,
    get stalledBytes() {
      return stalledBytes;
    },
    setFaults(next: Faults) {
      faults = next;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}
