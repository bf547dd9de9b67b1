import { readFile } from 'node:fs/promises';
import { basename, extname, resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { Report } from '../interfaces.js';
import { isRemoteLocation, openStore } from '../store/index.js';

/** Splits `az://c/jobs/report.json` or an https URL (keeping a SAS query) into a store location and a name. */
export function splitRemote(location: string): { store: string; name: string } {
  const url = new URL(location);
  const slash = url.pathname.lastIndexOf('/');
  const name = decodeURIComponent(url.pathname.slice(slash + 1));
  if (!name) throw new UsageError(`Expected a report file name at the end of ${url.origin}${url.pathname} but it ends with /`);
  url.pathname = url.pathname.slice(0, slash);
  return { store: url.toString(), name };
}

async function readReportText(location: string): Promise<string> {
  if (isRemoteLocation(location)) {
    const { store: where, name } = splitRemote(location);
    const store = await openStore(where, 'source');
    try {
      return (await store.read(name)).toString('utf8');
    } finally {
      await store.close?.();
    }
  }
  try {
    return await readFile(location, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR') throw new UsageError(`Expected a JSON report file but ${location} ${code === 'ENOENT' ? 'does not exist' : 'is a folder'}`);
    throw err;
  }
}

/**
 * Checks that parsed JSON is a pixbatch report (from `--report`) or summary (from `--json`) and fills
 * what a summary leaves out, so the page can always be drawn.
 */
export function asReport(value: unknown, from: string): Report {
  const wrong = (what: string) => new UsageError(`Expected a pixbatch JSON report (from --report or --json) but ${from} ${what}`);
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw wrong('is not a JSON object');
  const r = value as Partial<Report>;
  const c = r.counts as unknown as Record<string, unknown> | undefined;
  if (!c || typeof c !== 'object') throw wrong('has no "counts"');
  for (const k of ['total', 'converted', 'skipped', 'failed']) {
    if (typeof c[k] !== 'number') throw wrong(`has no number at counts.${k}`);
  }
  if (r.images !== undefined && !Array.isArray(r.images)) throw wrong('has "images" that is not a list');
  if (r.failures !== undefined && !Array.isArray(r.failures)) throw wrong('has "failures" that is not a list');
  const number = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  return {
    ...r,
    tool: r.tool ?? { name: 'pixbatch', version: '' },
    startedAt: r.startedAt ?? '',
    finishedAt: r.finishedAt ?? '',
    counts: r.counts!,
    bytesIn: number(r.bytesIn),
    bytesOut: number(r.bytesOut),
    seconds: number(r.seconds),
    imagesPerSecond: number(r.imagesPerSecond),
    failures: r.failures ?? [],
    images: (r.images ?? []).filter((i) => i && typeof i === 'object' && typeof i.name === 'string'),
  };
}

/** Where the page goes when `--out` is not given: beside a local report, or in the current folder for a remote one. */
export function defaultHtmlPath(location: string): string {
  const file = isRemoteLocation(location) ? basename(new URL(location).pathname) : location;
  const ext = extname(file);
  return `${ext ? file.slice(0, -ext.length) : file}.html`;
}

/** Registers the `report` command. */
export function registerReport(program: Command): void {
  program
    .command('report')
    .description('Render a JSON report written earlier (by --report or --json) as one self-contained HTML page.')
    .argument('<json-file>', 'report file: a local path, https://ACCOUNT.blob.core.windows.net/CONTAINER/PATH or az://CONTAINER/PATH')
    .option('-o, --out <file>', 'HTML file to write (default: the report name with .html)')
    .addHelpText('after', '\nExample:\n  pixbatch convert photos png --report run.json\n  pixbatch report run.json --out run.html\n')
    .action(async (jsonFile: string, opts: { out?: string }) => {
      const text = await readReportText(jsonFile);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        throw new UsageError(`Expected a JSON report but ${jsonFile} is not JSON (${(err as Error).message})`);
      }
      const out = opts.out ?? defaultHtmlPath(jsonFile);
      if (!isRemoteLocation(jsonFile) && resolve(out) === resolve(jsonFile)) {
        throw new UsageError(`Expected --out to differ from the report itself but both are ${out}`);
      }
      const { writeHtmlReport } = await import('../report/html.js');
      await writeHtmlReport(out, asReport(parsed, jsonFile));
      process.stdout.write(`${out}\n`);
    });
}
