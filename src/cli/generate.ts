import type { Command } from 'commander';
import { redact } from '../store/redact.js';


interface GenerateFlags {
  count: string;
  size?: string;
  seed?: string;
  corrupt?: string;
  quality?: string;
  concurrency?: string;
  ioConcurrency?: string;
  json?: boolean;
  quiet?: boolean;
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
    .option('--json', 'print a JSON summary on stdout')
    .option('-q, --quiet', 'print no progress on stderr')
    .addHelpText(
      'after',
      '\nExamples:\n  pixbatch generate photos --count 1000 --size 800x600 --seed 7 --corrupt 3\n  pixbatch generate az://images/test --count 100000',
    )
    .action(async (destination: string, flags: GenerateFlags) => {
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
        count: flags.count,
        size: flags.size,
        seed: flags.seed,
        corrupt: flags.corrupt,
        quality: flags.quality,
        concurrency: flags.concurrency,
        ioConcurrency: flags.ioConcurrency,
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
