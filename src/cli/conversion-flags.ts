// The flags every command that runs a conversion shares (`convert`, `convert --pool`,
// `batch schedule create`), declared once with their parsing into library options.
import { Option, type Command } from 'commander';
import type { ConvertOptions } from '../options.js';
import { FITS, INPUT_FORMATS, OUTPUT_FORMATS, OVERWRITE_POLICIES, PRESETS, WATERMARK_POSITIONS } from '../option-values.js';
import { locateConfigFile } from '../config/locate.js';

/** Commander's argument parser for a repeatable flag: every value, in order. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

/** What a conversion does to each image and which images it takes. */
export interface ConvertFlags {
  to?: string;
  quality?: string;
  pngCompression?: string;
  preset?: string;
  resize?: string;
  fit?: string;
  watermark?: string;
  watermarkPosition?: string;
  watermarkOpacity?: string;
  keepMetadata?: boolean;
  background?: string;
  from?: string[];
  include?: string[];
  exclude?: string[];
  overwrite?: string;
  concurrency?: string;
  ioConcurrency?: string;
  maxPixels?: string;
  dryRun?: boolean;
  json?: boolean;
  report?: string;
  htmlReport?: string;
  notify?: string[];
  quiet?: boolean;
  /** The config file whose `convert` section gives defaults for `--from` and `--background`. */
  config?: string;
}

/** The conversion flags, shared by `convert` and the Batch commands that take a conversion. */
export function addConversionOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--to <format>', 'output format').choices([...OUTPUT_FORMATS, 'jpg']).default('png'))
    .option('--quality <1-100>', 'quality for lossy formats (jpeg, webp, avif, tiff)')
    .option('--png-compression <0-9>', 'zlib level for PNG (overrides the preset)')
    .addOption(new Option('--preset <name>', 'speed/size trade-off (see README for measured figures)').choices([...PRESETS]).default('balanced'))
    .option('--resize <WxH>', 'resize to fit WxH (W or xH keeps the aspect ratio)')
    .addOption(new Option('--fit <mode>', 'how --resize fits the box').choices([...FITS]).default('inside'))
    .option('--watermark <text>', 'draw this text on every image')
    .addOption(new Option('--watermark-position <pos>', 'where the watermark goes').choices([...WATERMARK_POSITIONS]).default('bottom-right'))
    .option('--watermark-opacity <0-1>', 'watermark opacity', '0.5')
    .option('--keep-metadata', 'keep EXIF/ICC/XMP metadata (stripped by default)')
    .option('--background <colour>', 'with --to jpeg: the colour transparent pixels are flattened onto (default white)')
    .option('--from <format>', `source formats to take: ${INPUT_FORMATS.join(', ')} (repeatable or a comma list; default jpeg; any = all sharp reads)`, collect)
    .option('--include <glob>', 'only names matching this glob, case-insensitive (repeatable; default: the --from formats); with --from, both must match', collect)
    .option('--exclude <glob>', 'leave out names matching this glob (repeatable)', collect)
    .addOption(new Option('--overwrite <policy>', 'existing outputs: if-newer skips up-to-date ones').choices([...OVERWRITE_POLICIES]).default('if-newer'))
    .option('--max-pixels <n>', 'refuse images larger than this many pixels, from the header (default 100000000)');
}

/**
 * Library options from parsed flags, with `convert.from` and `convert.background` from the config
 * file where the command line has none; values stay strings so validation speaks in one voice.
 */
export async function conversionOptionsFrom(flags: ConvertFlags): Promise<Omit<ConvertOptions, 'source' | 'destination'>> {
  const defaults = await conversionDefaults(flags.config);
  const toJpeg = flags.to === 'jpeg' || flags.to === 'jpg';
  return {
    from: flags.from ?? defaults.from,
    // Only a JPEG has no alpha; a file-wide default must not make other formats fail.
    background: flags.background ?? (toJpeg ? defaults.background : undefined),
    to: flags.to,
    quality: flags.quality,
    pngCompression: flags.pngCompression,
    preset: flags.preset,
    resize: flags.resize,
    fit: flags.fit,
    watermark: flags.watermark,
    watermarkPosition: flags.watermarkPosition,
    watermarkOpacity: flags.watermarkOpacity,
    keepMetadata: flags.keepMetadata,
    include: flags.include,
    exclude: flags.exclude,
    overwrite: flags.overwrite,
    concurrency: flags.concurrency,
    ioConcurrency: flags.ioConcurrency,
    maxPixels: flags.maxPixels,
    dryRun: flags.dryRun,
    report: flags.report,
    htmlReport: flags.htmlReport,
    notify: flags.notify,
  };
}

/** The config file's `convert` section; the schema (and its validator) loads only when there is a file. */
async function conversionDefaults(config: string | undefined): Promise<{ from?: string[]; background?: string }> {
  const file = await locateConfigFile({ config });
  if (!file) return {};
  const { readConfigFile } = await import('../config/load.js');
  return (await readConfigFile(file)).convert ?? {};
}

/** Where and how a conversion runs on Azure Batch. */
export interface BatchFlags {
  pool?: string;
  batchAccountUrl?: string;
  shardSize?: string;
  roundRobin?: boolean;
  maxTaskRetries?: string;
  maxTaskTime?: string;
  identityResourceId?: string;
  identityClientId?: string;
  /** `convert --pool` only: a schedule never waits and names its own jobs. */
  wait?: boolean;
  jobId?: string;
  pollInterval?: string;
}

/**
 * The Batch flags: on `convert` they move the run to a pool (`--pool` optional, and the run can be
 * left or re-attached to); on `batch schedule create` every run is on the pool, so `--pool` is required.
 */
export function addBatchOptions(cmd: Command, use: 'convert' | 'schedule'): Command {
  if (use === 'convert') cmd.option('--pool <id>', 'run on this Azure Batch pool instead of this machine (both locations in Blob Storage)');
  else cmd.requiredOption('--pool <id>', 'the Azure Batch pool that runs each job');
  cmd
    .option('--batch-account-url <url>', 'Batch account endpoint, https://ACCOUNT.REGION.batch.azure.com (AZURE_BATCH_ENDPOINT)')
    .option('--shard-size <n|auto>', 'images per Batch task; auto aims at a few minutes of work per task', 'auto')
    .option('--round-robin', "one task per node, task i taking images i, i+N, … (the original scripts' assignment)")
    .option('--max-task-retries <n>', 'retries of a failed task (storage or node trouble; -1 forever)', '3')
    .option('--max-task-time <duration>', 'longest one task may run, ISO 8601 (PT1H) or minutes', 'PT1H')
    .option('--identity-resource-id <id>', "user-assigned identity that downloads the bundle (default: the pool's)")
    .option('--identity-client-id <id>', "client id the tasks sign in with (default: the pool's identity)");
  if (use === 'convert') {
    cmd
      .option('--no-wait', 'submit the job and return; re-attach with pixbatch batch status JOB_ID --wait')
      .option('--job-id <id>', 'Batch job id (default: pixbatch-DATE-TIME-RANDOM)')
      .addOption(new Option('--poll-interval <seconds>', 'seconds between looks at the job').default('5').hideHelp());
  }
  return cmd;
}

/** The Batch flags both commands pass on as they are; the account and identity defaults are each command's own. */
export function batchOptionsFrom(flags: BatchFlags) {
  return {
    pool: flags.pool!,
    batchAccountUrl: flags.batchAccountUrl,
    shardSize: flags.shardSize,
    roundRobin: flags.roundRobin,
    maxTaskRetries: flags.maxTaskRetries,
    maxTaskTime: flags.maxTaskTime,
    identityResourceId: flags.identityResourceId,
    identityClientId: flags.identityClientId,
  };
}
