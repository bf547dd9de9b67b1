// Memory against job size: pixbatch's peak RSS converting 1,000 and then 10,000 images (800x600,
// default preset and concurrency). It should stay flat: the plan is streamed and only the images
// in flight are held. `npm run bench -- --only rss`.
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runMeasured } from './process-tree.js';

export interface RssPoint {
  images: number;
  seconds: number;
  imagesPerSecond: number;
  peakRss: number;
}

export async function runRssScaling(o: { root: string; pixbatch: string[]; counts: number[]; env: Record<string, string>; log: (line: string) => void }): Promise<RssPoint[]> {
  const { generate } = await import('../src/generate/generate.js');
  const points: RssPoint[] = [];
  for (const count of o.counts) {
    const source = join(o.root, 'corpus', `rss-800x600-${count}`);
    const marker = join(source, '.complete.json');
    if (!existsSync(marker)) {
      await rm(source, { recursive: true, force: true });
      const t = performance.now();
      await generate({ destination: source, count, size: '800x600', seed: 7 });
      await writeFile(marker, '{}');
      o.log(`generated ${count} images in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
    const out = join(o.root, 'out', `rss-${count}`);
    await rm(out, { recursive: true, force: true });
    const [command, ...args] = o.pixbatch;
    const r = await runMeasured(command!, [...args, 'convert', source, out, '--json', '--quiet'], { env: { ...process.env, ...o.env } });
    if (r.code !== 0) throw new Error(`pixbatch exited ${r.code}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
    const summary = JSON.parse(r.stdout) as { counts: { converted: number } };
    if (summary.counts.converted !== count) throw new Error(`converted ${summary.counts.converted} of ${count}`);
    await rm(out, { recursive: true, force: true });
    points.push({ images: count, seconds: r.seconds, imagesPerSecond: count / r.seconds, peakRss: r.peakTreeRss });
    o.log(`  ${String(count).padStart(6)} images: ${r.seconds.toFixed(1)} s, ${(count / r.seconds).toFixed(1)} images/s, peak RSS ${(r.peakTreeRss / 2 ** 20).toFixed(0)} MiB`);
  }
  const first = points[0];
  const last = points[points.length - 1];
  if (first && last && first !== last) o.log(`  peak RSS ${last.images} vs ${first.images} images: ${((last.peakRss / first.peakRss - 1) * 100).toFixed(1)}%`);
  return points;
}
