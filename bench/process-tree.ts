// Runs a command and measures it the way the benchmark reports it: wall time, CPU time and peak
// memory of its whole process tree (GNU parallel's and Pillow's children included), read from /proc.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface TreeRun {
  code: number | null;
  seconds: number;
  /** Largest sum of RSS over the processes alive at one sample (bytes). */
  peakTreeRss: number;
  /** Largest high-water mark (VmHWM) of any one process in the tree (bytes). */
  peakProcessRss: number;
  /**
   * CPU seconds (user + system) of the whole tree, every thread included. Steadier than wall time on a
   * shared machine: another tenant's load stretches the wall clock far more than the CPU a run needs.
   */
  cpuSeconds: number;
  stdout: string;
  stderr: string;
}

const SAMPLE_MS = 50;

/**
 * The fields of /proc/PID/stat after the command name, which may hold spaces and parentheses: index 0
 * is field 3 (state), index 1 the parent pid, 13 and 14 cutime and cstime.
 */
function statFields(pid: string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Parent pid of every process, read from /proc/PID/stat. */
function parents(): Map<number, number> {
  const map = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      map.set(Number(entry), Number(statFields(entry)[1]));
    } catch {
      // The process ended between readdir and read.
    }
  }
  return map;
}

function descendants(root: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const [pid, ppid] of parents()) {
    const list = byParent.get(ppid) ?? [];
    list.push(pid);
    byParent.set(ppid, list);
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(byParent.get(out[i]!) ?? []));
  return out;
}

function memoryOf(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds (user + system) of this process's children that have ended and been waited for
 * (`cutime` + `cstime` of /proc/self/stat, in clock ticks of 1/100 s). A child's own waited-for
 * children are included, so the difference around one run is the whole tree's CPU.
 */
function childrenCpuSeconds(): number {
  const fields = statFields('self');
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

/** Runs `command args` to completion, sampling the process tree's memory every 50 ms. */
export function runMeasured(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<TreeRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    // Runs never overlap in the benchmark, so the children's CPU grows by this run's alone.
    const cpuBefore = childrenCpuSeconds();
    const child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-20_000)));
    let peakTreeRss = 0;
    let peakProcessRss = 0;
    const sample = () => {
      if (child.pid === undefined) return;
      let sum = 0;
      for (const pid of descendants(child.pid)) {
        const m = memoryOf(pid);
        if (!m) continue;
        sum += m.rss;
        peakProcessRss = Math.max(peakProcessRss, m.hwm);
      }
      peakTreeRss = Math.max(peakTreeRss, sum);
    };
    const timer = setInterval(sample, SAMPLE_MS);
    child.on('error', (err) => {
      clearInterval(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearInterval(timer);
      // 'close' comes after the child was waited for, so its CPU is in cutime/cstime by now.
      resolve({ code, seconds: (performance.now() - started) / 1000, cpuSeconds: childrenCpuSeconds() - cpuBefore, peakTreeRss, peakProcessRss, stdout, stderr });
    });
  });
}
