// Two reports written to one path at once in one process (two conversions in a library user's
// program, or the same HTML report's temporary JSON) must each land whole: a reader of the path
// sees one complete report, never a mix of both or a file cut short.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImageRecord, Report } from '../src/interfaces.js';
import { ReportWriter } from '../src/report/report-writer.js';
import { writeReport } from '../src/report/summary.js';

function summaryOf(tag: string, total: number): Omit<Report, 'images'> {
  return {
    counts: { total, converted: total, skipped: 0, failed: 0 },
    bytesIn: 0,
    bytesOut: 0,
    seconds: 1,
    imagesPerSecond: total,
    failures: [],
    source: tag,
    tool: { name: 'pixbatch', version: 'test' },
    startedAt: new Date(0).toISOString(),
    finishedAt: new Date(0).toISOString(),
  };
}

function records(tag: string, count: number): ImageRecord[] {
  return Array.from({ length: count }, (_, i) => ({ name: `${tag}/${'x'.repeat(200)}${i}.jpg`, status: 'converted' }));
}

test('two report writers finishing on one path at once each leave a whole report, with only their own records', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pixbatch-report-race-'));
  try {
    const path = join(dir, 'report.json');
    // Different sizes, so one still writes while the other renames.
    const a = await ReportWriter.open(path);
    const b = await ReportWriter.open(path);
    for (const r of records('a', 20000)) a.add(r);
    for (const r of records('b', 50)) b.add(r);
    const seen: string[] = [];
    await Promise.all([
      a.finish(summaryOf('a', 20000)).then(async () => seen.push(await readFile(path, 'utf8'))),
      b.finish(summaryOf('b', 50)).then(async () => seen.push(await readFile(path, 'utf8'))),
    ]);
    for (const text of [...seen, await readFile(path, 'utf8')]) {
      const report = JSON.parse(text) as Report;
      assert.equal(report.images.length, report.counts.total, `${report.source}: every record, no more`);
      assert.ok(report.images.every((r) => r.name.startsWith(`${report.source}/`)), `${report.source}: only its own records`);
    }
    assert.deepEqual(await readdir(dir), ['report.json'], 'no side or temporary file left behind');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('two reports written to one path at once both land whole', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pixbatch-report-race-'));
  try {
    const path = join(dir, 'report.json');
    const big = { ...summaryOf('big', 20000), images: records('big', 20000) };
    const small = { ...summaryOf('small', 50), images: records('small', 50) };
    await Promise.all([writeReport(path, big), writeReport(path, small)]);
    const report = JSON.parse(await readFile(path, 'utf8')) as Report;
    assert.equal(report.images.length, report.counts.total);
    assert.deepEqual(await readdir(dir), ['report.json'], 'no temporary file left behind');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a burst of records added in one go is all in the report, and finishing does not wait for a drain that never comes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pixbatch-report-burst-'));
  try {
    const path = join(dir, 'report.json');
    const w = await ReportWriter.open(path);
    // Thousands of records in one tick (images planned as up to date) overflow the stream many times over.
    for (const r of records('burst', 5000)) w.add(r);
    await w.finish(summaryOf('burst', 5000));
    assert.equal((JSON.parse(await readFile(path, 'utf8')) as Report).images.length, 5000);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
