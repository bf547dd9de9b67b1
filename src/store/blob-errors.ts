/**
 * Blob Storage failures as one-line messages (which credential was tried, what the service said)
 * and as a yes/no for "worth retrying", so the pipeline's per-image retry can use it.
 */
import { JobError } from '../errors.js';
import { redact } from './redact.js';
import { isTransient, TRANSIENT_CODES, type ErrorLike } from '../engine/retry.js';

export { isTransient };

/** A storage failure with a redacted one-line message. `code` is `EEXIST`/`ENOENT` or the service's error code. */
export class StorageError extends JobError {
  override name = 'StorageError';
  constructor(
    message: string,
    code: string | undefined,
    readonly statusCode: number | undefined,
    readonly transient: boolean,
    options?: { cause?: unknown },
  ) {
    super(redact(message), code, options);
  }
}

/** The service's error code (`ContainerNotFound`, `AuthorizationPermissionMismatch`, ...) or the network code. */
export function errorCodeOf(err: unknown): string | undefined {
  const e = err as ErrorLike | undefined;
  if (!e || typeof e !== 'object') return undefined;
  if (typeof e.details?.errorCode === 'string') return e.details.errorCode;
  if (typeof e.code === 'string') return e.code;
  return undefined;
}

export function statusOf(err: unknown): number | undefined {
  const s = (err as ErrorLike | undefined)?.statusCode;
  return typeof s === 'number' && s > 0 ? s : undefined;
}

function firstLine(text: string | undefined): string {
  return (text ?? '').split(/\r?\n/).map((l) => l.trim()).find(Boolean) ?? '';
}

/** What the credential chain's managed-identity step said (the step that matters on a Batch node), else its first step. */
function chainReason(err: unknown): string {
  const errors = ((err as { errors?: unknown[] }).errors ?? []).filter((x): x is Error => x instanceof Error);
  const mi = errors.find((x) => /ManagedIdentityCredential/.test(x.message));
  const chosen = mi ?? errors[0];
  const text = chosen ? chosen.message : (err as Error | undefined)?.message;
  return firstLine(text?.replace(/\s+/g, ' ')).slice(0, 300);
}

export interface FailureContext {
  /** What was being done: "list", "read photos/a.jpg", "create container". */
  operation: string;
  /** Redacted location. */
  location: string;
  /** How the credential was chosen (ResolvedCredential.description). */
  credential: string;
  container: string;
  /** Environment credentials that were skipped, appended as a hint. */
  skipped?: string[];
}

/**
 * One redacted line saying what failed, which way of authenticating was tried, and what to check:
 * 403 (refused), 404 (no such container/blob/account), no credential, or unreachable.
 */
export function describeFailure(err: unknown, ctx: FailureContext): StorageError {
  const status = statusOf(err);
  const code = errorCodeOf(err);
  const e = err as ErrorLike | undefined;
  const name = e?.name ?? '';
  const hint = ctx.skipped?.length ? ` (skipped: ${ctx.skipped.join('; ')})` : '';
  const using = `using ${ctx.credential}${hint}`;
  const what = `${ctx.operation} ${ctx.location}`;
  let message: string;
  const chain = ((err as { errors?: unknown[] })?.errors ?? []) as ErrorLike[];
  if (name === 'AggregateAuthenticationError' && chain.some((x) => x?.name === 'AuthenticationError' || /Authentication failed/i.test(x?.message ?? ''))) {
    // A source was there (an identity endpoint answered) but refused: say that, not "no credential".
    message = `${what} failed: could not get a token (${using}): ${chainReason(err)}`;
    return new StorageError(message, 'TOKEN_FAILED', undefined, false);
  }
  if (name === 'CredentialUnavailableError' || name === 'AggregateAuthenticationError') {
    message =
      `${what} failed: no credential (${using}): set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or ` +
      `AZURE_STORAGE_SAS_TOKEN, or add a SAS to the URL, or run with a managed identity or "az login" (${chainReason(err)})`;
    return new StorageError(message, 'NO_CREDENTIAL', undefined, false);
  }
  if (name === 'AuthenticationError') {
    message = `${what} failed: could not get a token (${using}): ${firstLine(e?.message).slice(0, 300)}`;
    return new StorageError(message, 'TOKEN_FAILED', undefined, false);
  }
  if (status === 401 || status === 403) {
    message = `${what} failed: ${status} ${code ?? 'Forbidden'}, access refused ${using}: the credential is wrong, expired or lacks permission (${firstLine(e?.message).slice(0, 200)})`;
  } else if (status === 404) {
    const missing =
      code === 'ContainerNotFound'
        ? `container "${ctx.container}" does not exist`
        : code === 'BlobNotFound'
          ? 'blob does not exist'
          : code === 'ResourceNotFound' || code === 'AccountNotFound'
            ? 'account or resource not found'
            : 'not found';
    message = `${what} failed: 404 ${code ?? 'NotFound'}, ${missing} (${using})`;
  } else if (status) {
    message = `${what} failed: ${status} ${code ?? ''} ${firstLine(e?.message).slice(0, 200)} (${using})`.replace(/\s+/g, ' ');
  } else if (code && TRANSIENT_CODES.has(code)) {
    message = `${what} failed: cannot reach the storage endpoint (${code}: ${firstLine(e?.message).slice(0, 200)})`;
  } else {
    message = `${what} failed: ${firstLine(e?.message ?? String(err)).slice(0, 300)} (${using})`;
  }
  return new StorageError(message, code, status, isTransient(err));
}
