/**
 * Secrets never reach output: SAS signatures, account keys, bearer tokens and the values of the
 * secret-bearing environment variables are replaced before any text is printed, logged or saved.
 */

const MASK = 'REDACTED';

// `sig=` in a URL, a SAS token or a connection string (also percent-encoded, as in nested URLs).
const SIG = /((?:^|[?&;\s"'(])sig=)[^&;\s"'<>)]+/gi;
const SIG_ENCODED = /((?:%3F|%26|[?&])sig%3D)(?:(?!%26)[^&\s"'<>])+/gi;
const ACCOUNT_KEY = /((?:^|[;\s"'])AccountKey=)[^;\s"']+/gi;
// Real tokens are long; the length keeps prose such as "Bearer token authentication" intact.
const BEARER = /(\bBearer\s+)[A-Za-z0-9\-_.~+/]{16,}=*/g;
const SECRET_ENV = ['AZURE_STORAGE_KEY', 'AZURE_STORAGE_SAS_TOKEN', 'AZURE_STORAGE_CONNECTION_STRING', 'AZURE_CLIENT_SECRET'];

const registered = new Set<string>();

/** Remembers a secret that has no recognisable shape (an account key given in code) so `redact` masks it too. */
export function registerSecret(value: string | undefined): void {
  // Very short values would mask ordinary words; real keys and signatures are long.
  if (value && value.length >= 8) registered.add(value);
}

function secretValues(): string[] {
  const values = [...registered];
  for (const name of SECRET_ENV) {
    const v = process.env[name];
    if (!v || v.length < 8) continue;
    if (name === 'AZURE_STORAGE_CONNECTION_STRING') {
      const key = /AccountKey=([^;]+)/i.exec(v)?.[1];
      const sig = /sig=([^&;]+)/i.exec(v)?.[1];
      for (const s of [key, sig]) if (s && s.length >= 8) values.push(s, encodeURIComponent(s));
    } else if (name === 'AZURE_STORAGE_SAS_TOKEN') {
      const sig = /sig=([^&;]+)/i.exec(v)?.[1];
      if (sig && sig.length >= 8) values.push(sig, decodeSafe(sig));
    } else {
      values.push(v, encodeURIComponent(v));
    }
  }
  return values.filter((v) => v.length >= 8).sort((a, b) => b.length - a.length);
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * The text with SAS signatures, account keys, bearer tokens and known secret values masked.
 *
 * @example
 * redact('https://a.blob.core.windows.net/c?sv=2024&sig=abc%2Fdef'); // '...?sv=2024&sig=REDACTED'
 * redact('AccountName=a;AccountKey=c2VjcmV0;');                      // 'AccountName=a;AccountKey=REDACTED;'
 */
export function redact(text: string): string {
  if (typeof text !== 'string' || text === '') return text;
  let out = text
    .replace(SIG, `$1${MASK}`)
    .replace(SIG_ENCODED, `$1${MASK}`)
    .replace(ACCOUNT_KEY, `$1${MASK}`)
    .replace(BEARER, `$1${MASK}`);
  for (const v of secretValues()) if (out.includes(v)) out = out.split(v).join(MASK);
  return out;
}

/** A deep copy of a JSON-like value with every string redacted (for `--json` output and reports). */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v)) as T;
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v);
    return out as T;
  }
  return value;
}
