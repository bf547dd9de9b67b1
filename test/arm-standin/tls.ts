// A throw-away certificate for 127.0.0.1, made with the openssl command line: the Azure pipeline
// sends bearer tokens only over TLS, so the stand-in must speak HTTPS even on loopback.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function makeCertificate(dir: string): { key: string; cert: string; certPath: string } {
  const keyPath = join(dir, 'arm-standin-key.pem');
  const certPath = join(dir, 'arm-standin-cert.pem');
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8'), certPath };
}
