/**
 * Starts a real Azurite blob service for tests and benchmarks: in memory, on a free loopback port,
 * `--skipApiVersionCheck`; optionally HTTPS with a throw-away certificate and `--oauth basic`
 * (bearer tokens need TLS). Reused by the Batch tests.
 *
 * @example
 * const az = await startAzurite();                 // or startAzurite({ https: true, oauth: true })
 * process.env.AZURE_STORAGE_CONNECTION_STRING = az.connectionString;
 * const url = `${az.blobEndpoint}/images`;         // http://127.0.0.1:PORT/devstoreaccount1/images
 * ...
 * await az.stop();                                 // kills the process and removes its temp dir
 *
 * With `https`, clients must trust `az.certPath`: pass `NODE_EXTRA_CA_CERTS=az.certPath` to child
 * processes, or use `az.cert` as a `ca` in this process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { createRequire } from 'node:module';
import { makeCertificate, type Certificate } from './certificate.js';

export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteOptions {
  /** Serve HTTPS with a certificate made for this run. */
  https?: boolean;
  /** `--oauth basic`: accept bearer tokens (implies https). */
  oauth?: boolean;
  /** Cap on in-memory blob data, in MB (default 512). */
  memoryLimitMb?: number;
}

export interface Azurite {
  /** Path-style service endpoint: `http(s)://127.0.0.1:PORT/devstoreaccount1`. */
  blobEndpoint: string;
  /** `DefaultEndpointsProtocol=...;AccountName=...;AccountKey=...;BlobEndpoint=...;` */
  connectionString: string;
  accountName: string;
  accountKey: string;
  port: number;
  /** PEM certificate (https only): trust it with NODE_EXTRA_CA_CERTS=certPath or as `ca`. */
  certPath?: string;
  cert?: string;
  stop(): Promise<void>;
}

// If the test process ends without stop() (a crash, an uncaught error), Azurite and its folder go with it.
const running = new Map<ChildProcess, () => void>();
process.once('exit', () => {
  for (const [child, cleanup] of running) {
    child.kill('SIGKILL');
    cleanup();
  }
});

function azuriteMain(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'blob', 'main.js');
}

export async function startAzurite(options: AzuriteOptions = {}): Promise<Azurite> {
  const https = options.https || options.oauth;
  const workDir = mkdtempSync(join(tmpdir(), 'pixbatch-azurite-'));
  let cert: Certificate | undefined;
  const args = [
    azuriteMain(),
    '--inMemoryPersistence',
    '--skipApiVersionCheck',
    '--disableTelemetry',
    '--silent',
    '--blobHost', '127.0.0.1',
    '--blobPort', '0',
    '--extentMemoryLimit', String(options.memoryLimitMb ?? 512),
  ];
  if (https) {
    cert = makeCertificate();
    args.push('--cert', cert.certPath, '--key', cert.keyPath);
  }
  if (options.oauth) args.push('--oauth', 'basic');
  const child = spawn(process.execPath, args, { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'] });
  const cleanup = () => {
    running.delete(child);
    cert?.remove();
    rmSync(workDir, { recursive: true, force: true });
  };
  running.set(child, cleanup);
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`Azurite did not start within 30 s: ${out}`)), 30_000);
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        const m = /successfully listens on https?:\/\/[^:]+:(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          child.stdout!.off('data', onData);
          child.stdout!.resume();
          resolve(Number(m[1]));
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`Azurite exited with ${code}: ${out}`));
      });
    });
  } catch (err) {
    child.kill('SIGKILL');
    cleanup();
    throw err;
  }
  child.stderr!.resume();
  const protocol = https ? 'https' : 'http';
  const blobEndpoint = `${protocol}://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  return {
    blobEndpoint,
    connectionString: `DefaultEndpointsProtocol=${protocol};AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobEndpoint};`,
    accountName: AZURITE_ACCOUNT,
    accountKey: AZURITE_KEY,
    port,
    certPath: cert?.certPath,
    cert: cert?.cert,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      cleanup();
    },
  };
}
