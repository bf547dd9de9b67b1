import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, unlink } from 'node:fs/promises';
import { once } from 'node:events';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { ImageRecord, Report } from '../interfaces.js';

/**
 * Streams one record per image to a side file while the job runs, then writes the report (summary
 * first, then `images`) under its final name in one rename: memory stays flat for millions of images.
 */
export class ReportWriter {
  private readonly linesPath: string;
  private readonly lines: WriteStream;
  private pending = Promise.resolve();

  constructor(readonly path: string) {
    this.linesPath = `${path}.records-${process.pid}.jsonl`;
    this.lines = createWriteStream(this.linesPath);
    this.lines.on('error', () => {});
  }

  static async open(path: string): Promise<ReportWriter> {
    await mkdir(dirname(path), { recursive: true });
    return new ReportWriter(path);
  }

  add(record: ImageRecord): void {
    if (!this.lines.write(`${JSON.stringify(record)}\n`)) {
      this.pending = this.pending.then(() => once(this.lines, 'drain').then(() => {}));
    }
  }

  async finish(report: Omit<Report, 'images'>): Promise<void> {
    await this.pending;
    this.lines.end();
    await once(this.lines, 'finish');
    const tmp = `${this.path}.tmp-${process.pid}`;
    const out = createWriteStream(tmp);
    const head = JSON.stringify(report, null, 2);
    out.write(`${head.slice(0, -2)},\n  "images": [`);
    let first = true;
    for await (const line of createInterface({ input: createReadStream(this.linesPath), crlfDelay: Infinity })) {
      if (!line) continue;
      if (!out.write(`${first ? '\n    ' : ',\n    '}${line}`)) await once(out, 'drain');
      first = false;
    }
    out.end(`${first ? '' : '\n  '}]\n}\n`);
    await once(out, 'finish');
    await rename(tmp, this.path);
    await unlink(this.linesPath).catch(() => {});
  }

  async abandon(): Promise<void> {
    this.lines.destroy();
    await unlink(this.linesPath).catch(() => {});
  }
}
