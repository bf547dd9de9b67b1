import { randomBytes } from 'node:crypto';
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
  private readonly unique: string;
  private readonly linesPath: string;
  private readonly lines: WriteStream;
  private pending = Promise.resolve();

  constructor(readonly path: string) {
    // Side and temporary files are this writer's own (not just this process's): two writers of one
    // path in one process would otherwise write into each other's files.
    this.unique = `${process.pid}-${randomBytes(6).toString('hex')}`;
    this.linesPath = `${path}.records-${this.unique}.jsonl`;
    this.lines = createWriteStream(this.linesPath);
    this.lines.on('error', () => {});
  }

  static async open(path: string): Promise<ReportWriter> {
    await mkdir(dirname(path), { recursive: true });
    return new ReportWriter(path);
  }

  add(record: ImageRecord): void {
    if (!this.lines.write(`${JSON.stringify(record)}\n`)) {
      // One 'drain' answers every write made before it: a burst of records waits for it once, not once each.
      this.pending = this.pending.then(() => (this.lines.writableNeedDrain ? once(this.lines, 'drain').then(() => {}) : undefined));
    }
  }

  async finish(report: Omit<Report, 'images'>): Promise<void> {
    await this.pending;
    this.lines.end();
    await once(this.lines, 'finish');
    const tmp = `${this.path}.tmp-${this.unique}`;
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
