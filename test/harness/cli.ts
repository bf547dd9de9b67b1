// Running the pixbatch CLI from its sources as a user would: a child process, its exit code and
// what it printed.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CliRun {
  /** The exit code (1 when the child was ended by a signal). */
  code: number;
  stdout: string;
  stderr: string;
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
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
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
