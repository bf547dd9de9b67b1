import { Option, type Command } from 'commander';
import { invalidOption } from '../errors.js';
import type { GenerateOptions } from '../generate/generate.js';
import { redact } from '../store/redact.js';


interface GenerateFlags {
  count: string;
  size?: string;
  seed?: string;
  corrupt?: string;
  quality?: string;
  concurrency?: string;
  ioConcurrency?: string;
  range?: string;
  pool?: string;
  batchAccountUrl?: string;
  shardSize?: string;
  jobId?: string;
  wait: boolean;
  pollInterval: string;
  json?: boolean;
  quiet?: boolean;
}

/** What the files are, as both a local run and the Batch tasks take it. */
function corpusOf(flags: GenerateFlags): Pick<GenerateOptions, 'count' | 'size' | 'seed' | 'corrupt' | 'quality'> {
  return { count: flags.count, size: flags.size, seed: flags.seed, corrupt: flags.corrupt, quality: flags.quality };
}

/** `START:END`, the files a Batch task writes (0-based, end excluded). */
function parseRange(value: string | undefined): { start: number; end: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+):(\d+)$/.exec(value);
  if (!m) throw invalidOption('range', 'START:END with whole numbers', value);
  return { start: Number(m[1]), end: Number(m[2]) };
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Registers the `generate` command. */
export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('Write deterministic photo-like JPEGs (and optionally broken files) for demos, tests and benchmarks, into a folder or Blob Storage.')
    .argument('<destination>', 'folder, az://CONTAINER/PREFIX or https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX (created when missing)')
    .requiredOption('--count <n>', 'number of images')
    .option('--size <WxH>', 'image size', '800x600')
    .option('--seed <s>', 'seed: the same seed writes the same bytes', '1')
    .option('--corrupt <k>', 'also write K broken files (truncated JPEG, zero bytes, text named .jpg)', '0')
    .option('--quality <q>', 'JPEG quality 1-100', '82')
    .option('-c, --concurrency <n>', 'images encoded at once (default: cores)')
    .option('--io-concurrency <n>', 'files written or uploaded at once (default: 4 per core, at least 8)')
    .option('--pool <id>', 'write the corpus with tasks on this Azure Batch pool (destination in Blob Storage)')
    .option('--batch-account-url <url>', 'Batch account endpoint, https://ACCOUNT.REGION.batch.azure.com (AZURE_BATCH_ENDPOINT)')
    .option('--shard-size <n|auto>', 'files per Batch task with --pool; auto gives each task slot about four tasks', 'auto')
    .option('--job-id <id>', 'Batch job id with --pool (default: pixbatch-DATE-TIME-RANDOM)')
    .option('--no-wait', 'with --pool: submit the job and return')
    .addOption(new Option('--poll-interval <seconds>', 'seconds between looks at the job').default('5').hideHelp())
    .addOption(new Option('--range <start:end>', 'only the files numbered START to END-1 (what one Batch task writes)').hideHelp())
    .option('--json', 'print a JSON summary on stdout')
    .option('-q, --quiet', 'print no progress on stderr')
    .addHelpText(
      'after',
      '\nExamples:\n  pixbatch generate photos --count 1000 --size 800x600 --seed 7 --corrupt 3\n  pixbatch generate az://images/test --count 100000\n' +
        '  pixbatch generate https://ACCOUNT.blob.core.windows.net/images --count 1000000 --pool pixbatch',
    )
    .action(async (destination: string, flags: GenerateFlags) => {
      if (flags.pool !== undefined) return generateOnPool(destination, flags);
      const err = process.stderr;
      const { generate } = await import('../generate/generate.js');
      const progress = !flags.quiet;
      const tty = err.isTTY === true;
      let lastShown = 0;
      // Ctrl-C finishes the files being written, so no temporary file is left behind.
      const abort = new AbortController();
      const onSigint = () => abort.abort(new Error('interrupted'));
      process.once('SIGINT', onSigint);
      const running = generate({
        destination,
        ...corpusOf(flags),
        concurrency: flags.concurrency,
        ioConcurrency: flags.ioConcurrency,
        range: parseRange(flags.range),
        signal: abort.signal,
        onProgress: ({ done, total }) => {
          if (!progress) return;
          const now = Date.now();
          // A terminal gets one line rewritten in place; a log gets a line every few seconds.
          if (tty && (now - lastShown >= 100 || done === total)) {
            err.write(`\rgenerating ${done}/${total}`);
            lastShown = now;
          } else if (!tty && now - lastShown >= 5000 && done < total) {
            if (lastShown !== 0) err.write(`generating ${done}/${total}\n`);
            lastShown = now;
          }
        },
      });
      let result: Awaited<typeof running>;
      try {
        result = await running;
      } catch (error) {
        if (!abort.signal.aborted) throw error;
        if (progress) err.write(`${tty ? '\r\x1b[K' : ''}pixbatch: interrupted; the files written so far are whole.\n`);
        process.exitCode = 130;
        return;
      } finally {
        process.off('SIGINT', onSigint);
      }
      const total = result.images + result.broken;
      // A location may carry a SAS token; it is never echoed.
      const shown = redact(destination);
      if (progress) {
        if (tty) err.write('\r\x1b[K');
        const broken = result.broken ? ` and ${result.broken} broken files` : '';
        err.write(
          `generated ${result.images} images${broken} (${megabytes(result.bytes)}) in ${result.seconds.toFixed(1)} s ` +
            `(${(total / Math.max(result.seconds, 1e-9)).toFixed(0)} files/s) into ${shown}\n`,
        );
      }
      if (flags.json) {
        const seconds = Math.round(result.seconds * 1000) / 1000;
        process.stdout.write(
          `${JSON.stringify({
            destination: shown,
            images: result.images,
            corrupt: result.corrupt,
            bytes: result.bytes,
            seconds,
            imagesPerSecond: Math.round((total / Math.max(result.seconds, 1e-9)) * 10) / 10,
          })}\n`,
        );
      }
    });
}

/** `generate --pool`: submit the tasks, then watch them unless `--no-wait`. Exit 3 when a task failed. */
async function generateOnPool(destination: string, flags: GenerateFlags): Promise<void> {
  for (const flag of ['range', 'concurrency', 'ioConcurrency'] as const) {
    if (flags[flag] !== undefined) throw invalidOption(flag === 'ioConcurrency' ? 'io-concurrency' : flag, 'no value with --pool (each task uses its node\'s cores)', flags[flag]);
  }
  const pollSeconds = Number(flags.pollInterval);
  if (!(pollSeconds > 0)) throw invalidOption('poll-interval', 'a number of seconds above 0', flags.pollInterval);
  const { generateOnBatch } = await import('../generate/on-batch.js');
  const err = process.stderr;
  const abort = new AbortController();
  const onSigint = () => abort.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  let shown = '';
  try {
    const result = await generateOnBatch({
      destination,
      ...corpusOf(flags),
      pool: flags.pool!,
      batchAccountUrl: flags.batchAccountUrl,
      shardSize: flags.shardSize,
      jobId: flags.jobId,
      wait: flags.wait,
      pollMs: pollSeconds * 1000,
      signal: abort.signal,
      onStatus: (line) => flags.quiet || err.write(`${line}\n`),
      onProgress: ({ tasksCompleted, tasks }) => {
        const line = `generating: ${tasksCompleted}/${tasks} tasks completed`;
        if (!flags.quiet && line !== shown) err.write(`${line}\n`);
        shown = line;
      },
    });
    if (flags.json) process.stdout.write(`${JSON.stringify({ destination: redact(destination), ...result })}\n`);
    if (result.failedTasks.length) {
      if (!flags.quiet) err.write(`pixbatch: ${result.failedTasks.length} task(s) failed: ${result.failedTasks.slice(0, 5).join(', ')}\n`);
      process.exitCode = 3;
    } else if (!flags.quiet && result.finished) {
      err.write(`generated ${result.files} files with ${result.tasks} task(s) of job ${result.jobId} into ${redact(destination)}\n`);
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}
