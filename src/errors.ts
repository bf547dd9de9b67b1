/** Bad usage or configuration: the CLI prints the message as one line and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A job-level failure (storage unreachable, credential refused, service error): exit code 3. */
export class JobError extends Error {
  override name = 'JobError';
  constructor(message: string, readonly code?: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export const EXIT_OK = 0;
export const EXIT_SOME_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_JOB_FAILED = 3;

/** The exit code the CLI uses for an error that ended the run. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return EXIT_USAGE;
  return EXIT_JOB_FAILED;
}

/**
 * One error shape for bad options, after sharp's:
 * "Expected integer between 1 and 100 for quality but received 120 of type number".
 */
export function invalidOption(name: string, expected: string, received: unknown): UsageError {
  // Flags arrive as strings, so their type says nothing; library callers get the type too.
  const shown = typeof received === 'string' ? `"${received}"` : `${String(received)} of type ${typeof received}`;
  return new UsageError(`Expected ${expected} for ${name} but received ${shown}`);
}
