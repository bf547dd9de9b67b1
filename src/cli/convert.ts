import type { Command } from 'commander';
import type { ConversionSpec, ImageRecord, Summary } from '../interfaces.js';
import { UsageError } from '../errors.js';
import { exitCodeOf } from '../report/summary.js';
import { progressReporter } from './progress.js';
import { addBatchOptions, addConversionOptions, collect, conversionOptionsFrom, type BatchFlags, type ConvertFlags } from './conversion-flags.js';
import { runConvertOnPool } from './batch.js';
import { printSummary } from './summary-text.js';

function printDryRunLine(record: ImageRecord): void {
  const what =
    record.status === 'planned'
      ? `convert  ${record.name} -> ${record.output}`
      : record.status === 'skipped'
        ? `skip     ${record.name} (${record.reason})`
        : `fail     ${record.name}: ${record.reason}`;
  process.stdout.write(`${what}\n`);
}

/** Registers the `convert` command. */
export function registerConvert(program: Command): void {
  const cmd = program
    .command('convert')
    .description('Convert every image under SOURCE into DESTINATION (folders or Blob Storage), keeping the folder structure.')
    .argument('<source>', 'folder, https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX or az://CONTAINER/PREFIX')
    .argument('<destination>', 'folder or Blob Storage location; created if missing');
  addConversionOptions(cmd)
    .option('-c, --concurrency <n>', 'images converting at once (default: cores + 1)')
    .option('--io-concurrency <n>', 'reads and writes in flight (default: 4 x concurrency, at least 8)')
    .option('--dry-run', 'list what would be done and convert nothing')
    .option('--json', 'print one JSON summary on stdout at the end')
    .option('--report <file>', 'write the summary plus one record per image as JSON')
    .option('--html-report <file>', 'write a self-contained HTML report (summary, chart, failures)')
    .option(
      '--notify <url|mailto:address>',
      'when the job ends, POST the JSON summary to this URL (signed with PIXBATCH_WEBHOOK_SECRET) or mail it to mailto:ADDRESS through Azure Communication Services (repeatable; default: notify.to of the config file)',
      collect,
    )
    .option('-q, --quiet', 'no progress and no summary text');
  addBatchOptions(cmd, 'convert')
    .option('--config <file>', 'config file for conversion defaults, Batch settings, prices and telemetry (default: pixbatch.config.json, or PIXBATCH_CONFIG)')
    .option('--nodes <n>', 'with --dry-run: estimate the job on a pool of this many nodes (default: the config\'s pool)')
    .option('--vm-size <size>', 'with --dry-run: VM size of that pool (default: the config\'s, else Standard_D2s_v3)')
    .addHelpText(
      'after',
      `
Exit codes: 0 all converted or skipped, 1 some images failed (the rest are done),
            2 bad usage or configuration, 3 the job stopped (storage or credential failure).

Examples:
  pixbatch convert ./photos ./png
  pixbatch convert ./photos ./webp --to webp --quality 80 --resize 1600x1600
  pixbatch convert ./photos ./png --preset fast --json > summary.json
  pixbatch convert ./photos ./png --dry-run
  pixbatch convert ./scans ./jpeg --from png,webp --to jpeg --background white`,
    )
    .action(async (source: string, destination: string, flags: ConvertFlags & BatchFlags & EstimateFlags) => {
      // Before anything runs: this run reports, and Batch tasks are given, what the config file's telemetry section says.
      await (await import('../config/telemetry.js')).applyTelemetryConfig(flags);
      if (flags.pool && !flags.dryRun) {
        process.exitCode = await runConvertOnPool(source, destination, flags);
        return;
      }
      // A config file may have just turned telemetry on: start its thread before the engine loads.
      if (!flags.dryRun) await (await import('../telemetry/index.js')).prestartTelemetry();
      const { convert } = await import('../engine/local.js');
      const quiet = flags.quiet === true;
      const sampleNames: string[] = [];
      const onDryRunRecord = (r: ImageRecord) => {
        if (r.status === 'planned' && sampleNames.length < 8) sampleNames.push(r.name);
        if (!flags.json && !quiet) printDryRunLine(r);
      };
      const progress = await progressReporter({ quiet: quiet || flags.dryRun === true });
      const abort = new AbortController();
      const onSigint = () => {
        abort.abort(new Error('interrupted'));
        process.stderr.write('\npixbatch: interrupted; finished outputs are kept and no partial file is left. Re-run the same command to do the rest.\n');
      };
      process.once('SIGINT', onSigint);
      let summary: Summary;
      try {
        summary = await convert({
          ...(await conversionOptionsFrom(flags)),
          ...(await (await import('../config/notify.js')).notifySettings(flags)),
          source,
          destination,
          signal: abort.signal,
          onProgress: (e) => progress.update(e),
          onRecord: flags.dryRun ? onDryRunRecord : undefined,
        });
      } catch (err) {
        progress.stop();
        if (abort.signal.aborted) {
          process.exitCode = 130;
          return;
        }
        throw err;
      } finally {
        process.off('SIGINT', onSigint);
      }
      progress.stop();
      let estimateText: string | undefined;
      if (flags.dryRun && summary.counts.converted > 0) {
        const estimate = await estimateForDryRun(source, summary, sampleNames, flags);
        summary = { ...summary, cost: estimate.cost };
        estimateText = estimate.text;
      }
      if (flags.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      if (estimateText && !quiet) (flags.json ? process.stderr : process.stdout).write(`${estimateText}\n`);
      if (!quiet) printSummary(summary, flags.json ? process.stderr : process.stdout);
      if (!quiet && !flags.dryRun && summary.spec && summary.counts.converted > 0) await noteSlowPngEncoder(summary.spec);
      process.exitCode = exitCodeOf(summary);
    });
}

/** Says so when PNGs that pixbatch's own encoder would have written went through libpng, and why. */
async function noteSlowPngEncoder(spec: ConversionSpec): Promise<void> {
  const [{ usesFastPng, PNG_PRESETS }, { pixpngStatus }] = await Promise.all([import('../convert/encode.js'), import('../convert/pixpng.js')]);
  if (!usesFastPng(spec) || PNG_PRESETS[spec.preset].pixpngLevel === undefined) return;
  const status = pixpngStatus();
  if (status.loaded) return;
  process.stderr.write(
    `pixbatch: note: PNGs were encoded without pixbatch's own encoder (several times faster), which is unavailable: ${status.reason}\n`,
  );
}

interface EstimateFlags {
  config?: string;
  nodes?: string;
  vmSize?: string;
}

/**
 * What the planned work would take on a Batch pool: a quick calibration on a few of the planned
 * images, then node time and cost for the configured (or given) pool, shards as `--pool` would cut them.
 */
async function estimateForDryRun(source: string, summary: Summary, sampleNames: string[], flags: ConvertFlags & BatchFlags & EstimateFlags) {
  const [{ estimateJob }, { loadConfig }, { openStore }, { autoShardSize, coresOfVmSize, parseShardSize }] = await Promise.all([
    import('../cost/index.js'),
    import('../config/index.js'),
    import('../store/index.js'),
    import('../batch/shards.js'),
  ]);
  const nodesFlag = flags.nodes === undefined ? undefined : Number(flags.nodes);
  if (nodesFlag !== undefined && (!Number.isInteger(nodesFlag) || nodesFlag < 1)) {
    throw new UsageError(`Expected a whole number of nodes above 0 for nodes but received "${flags.nodes}"`);
  }
  const config = await loadConfig({ flags: { config: flags.config, vmSize: flags.vmSize } });
  const nodes = nodesFlag ?? (config.batch.dedicatedNodes + config.batch.spotNodes || config.batch.maxNodes || 10);
  const images = summary.counts.converted;
  const shardSize = parseShardSize(flags.shardSize);
  const perShard =
    shardSize === 'auto' ? autoShardSize(images, summary.bytesIn, { nodes, cores: coresOfVmSize(config.batch.vmSize), slotsPerNode: 1 }) : shardSize;
  const store = await openStore(source, 'source');
  try {
    return await estimateJob({
      images,
      bytesIn: summary.bytesIn,
      spec: summary.spec!,
      config,
      nodes,
      shards: flags.roundRobin ? nodes : Math.ceil(images / perShard),
      sampleFrom: { store, names: sampleNames },
    });
  } finally {
    await store.close?.();
  }
}
