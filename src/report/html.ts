import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import type { Report } from '../interfaces.js';
import { buildPageModel } from './html-model.js';
import { PAGE_SCRIPT, PAGE_STYLE } from './html-page.js';

export { buildPageModel, MAX_TIMELINE_BUCKETS } from './html-model.js';
export type { ReportPageModel } from './html-model.js';

interface ChartLibrary {
  script: string;
  style: string;
}

let chartLibrary: ChartLibrary | null | undefined;

/** uPlot's browser build, read once from the installed package; null when it cannot be found (the page says so). */
function loadChartLibrary(): ChartLibrary | null {
  if (chartLibrary !== undefined) return chartLibrary;
  try {
    const require = createRequire(import.meta.url);
    const script = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
    const style = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
    // Inlined as-is: a closing tag inside it would end the <script> element early.
    chartLibrary = /<\/script/i.test(script) || /<\/style/i.test(style) ? null : { script, style };
  } catch {
    chartLibrary = null;
  }
  return chartLibrary;
}

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/**
 * JSON safe inside a <script> element: every `<` becomes `\u003c`, so no user-supplied name can close
 * the element or open a comment, and JSON.parse reads the same value back.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function cspHash(script: string): string {
  return `'sha256-${createHash('sha256').update(script, 'utf8').digest('base64')}'`;
}

/**
 * Renders a report as one self-contained HTML page that opens offline: summary, a chart of images
 * completed over time, per-task and per-node tables and every failure. The page's data is one JSON
 * blob; its Content-Security-Policy allows only its own two scripts and no network access.
 *
 * @example
 * import { readFile } from 'node:fs/promises';
 * const report = JSON.parse(await readFile('report.json', 'utf8'));
 * await writeFile('report.html', renderHtmlReport(report));
 */
export function renderHtmlReport(report: Report): string {
  const model = buildPageModel(report);
  const chart = loadChartLibrary();
  const scripts = chart ? [chart.script, PAGE_SCRIPT] : [PAGE_SCRIPT];
  const csp = [
    "default-src 'none'",
    `script-src ${scripts.map(cspHash).join(' ')}`,
    // uPlot positions its legend and cursor with inline styles.
    "style-src 'unsafe-inline'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  const subject = report.jobId ?? report.destination ?? report.finishedAt ?? '';
  const title = `pixbatch report${subject ? ` – ${subject}` : ''}`;
  const status = report.counts.failed > 0 ? `${report.counts.failed} failed` : 'no failures';
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    // The policy holds only hashes and keywords: nothing in it needs escaping in a quoted attribute.
    `<meta http-equiv="Content-Security-Policy" content="${csp}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="generator" content="pixbatch">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${chart ? chart.style : ''}${PAGE_STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeHtml(title)}</h1>`,
    `<noscript><p>This report draws its tables with JavaScript. ${escapeHtml(
      `${report.counts.converted} converted, ${report.counts.skipped} skipped, ${status}.`,
    )}</p></noscript>`,
    '<main id="app"></main>',
    `<script type="application/json" id="pixbatch-data">${jsonForScript(model)}</script>`,
    ...scripts.map((s) => `<script>${s}</script>`),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** Writes the HTML report to a local file atomically (a temporary name in the same folder, then rename). */
export async function writeHtmlReport(path: string, report: Report): Promise<void> {
  const html = renderHtmlReport(report);
  await mkdir(dirname(path), { recursive: true });
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temp, html, 'utf8');
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
