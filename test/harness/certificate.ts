/**
 * A throw-away TLS certificate for 127.0.0.1/localhost, made with openssl, for HTTPS test servers
 * (Azurite with `--oauth basic`, the loopback token endpoint). Clients trust it through
 * `NODE_EXTRA_CA_CERTS=certPath` (read at process start, so set it for child processes) or `ca`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Certificate {
  dir: string;
  certPath: string;
  keyPath: string;
  cert: string;
  key: string;
  remove(): void;
}

export function makeCertificate(): Certificate {
  const dir = mkdtempSync(join(tmpdir(), 'pixbatch-cert-'));
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyPath, '-out', certPath],
    { stdio: 'ignore' },
  );
  return {
    dir,
    certPath,
    keyPath,
    cert: readFileSync(certPath, 'utf8'),
    key: readFileSync(keyPath, 'utf8'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
