// Running the pixbatch CLI from its sources as a user would: a child process, its exit code and
// what it printed.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CliRun {
  /** The exit code (1 when the child was ended by a signal). */
  code: number;
  /** The signal that ended the child, if one did. */
  signal?: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** What a finished child left behind, as `outputOf`, `spawnSync` or a failed `execFile` describe it. */
export interface ChildOutput {
  stdout: string | Buffer;
  stderr?: string | Buffer;
  code?: number | string | null;
  status?: number | null;
  signal?: NodeJS.Signals | string | null;
}

/**
 * The JSON value a child printed on its last non-empty line of stdout (or the whole of it). A child
 * that printed nothing or was cut short (killed, crashed, ended early) fails here with its exit code,
 * signal and the end of its stderr, instead of a bare "Unexpected end of JSON input" that hides why.
 */
export function jsonFrom<T = any>(child: ChildOutput, options: { what?: string; stream?: 'stdout' | 'stderr'; whole?: boolean } = {}): T {
  const text = String((options.stream === 'stderr' ? child.stderr : child.stdout) ?? '').trim();
  const line = options.whole ? text : (text.split('\n').at(-1) ?? '');
  try {
    return JSON.parse(line) as T;
  } catch (err) {
    const code = child.code ?? child.status;
    const how = child.signal ? `ended by ${child.signal}` : `exit code ${code ?? 'unknown'}`;
    const stderr = String(child.stderr ?? '').trim().slice(-2000);
    const printed = line ? `${JSON.stringify(line.slice(0, 200))}${line.length > 200 ? ` … (${line.length} characters)` : ''}` : 'nothing';
    throw new Error(
      `${options.what ?? 'the child process'} printed no complete JSON on ${options.stream ?? 'stdout'} (${(err as Error).message}): ${printed}; ${how}; stderr: ${stderr || '(empty)'}`,
      { cause: err },
    );
  }
}

/** The repository root. */
export const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** Waits for a child process and collects what it printed. */
export function outputOf(child: ChildProcess): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? 1, signal, stdout, stderr }));
  });
}

export interface RunOptions {
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Run as this user and group (the tests run as root on CI). */
  uid?: number;
  gid?: number;
}

/** Runs `pixbatch ARGS…` from `src/cli/main.ts` in the repository root. */
export function runPixbatch(args: string[], options: RunOptions = {}): Promise<CliRun> {
  return outputOf(
    spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src', 'cli', 'main.ts'), ...args], {
      cwd: REPO,
      env: { ...process.env, ...options.env },
      uid: options.uid,
      gid: options.gid,
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}
