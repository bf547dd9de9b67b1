// The tools pixbatch is compared with, each run the way its users run it in bulk: Pillow one
// process per core (as the original worker did), ImageMagick and libvips' CLI one job per core
// under GNU parallel. Each converts a list of "source<TAB>destination" lines.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Peer {
  id: string;
  label: string;
  /** Version line shown in the report. */
  version: string;
  /** How its memory is counted in the table. */
  rssNote: string;
  command(listFile: string, jobs: number): { command: string; args: string[] };
}

const here = dirname(fileURLToPath(import.meta.url));

function firstLine(command: string, args: string[]): string | undefined {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return `${r.stdout}${r.stderr}`.split('\n').find((l) => l.trim() !== '')?.trim();
}

/** The system Python (Debian's python3-pil lives there, not in a virtualenv or pyenv). */
function systemPython(): string | undefined {
  for (const p of ['/usr/bin/python3', 'python3']) {
    if (firstLine(p, ['-c', 'import PIL; print(PIL.__version__)'])) return p;
  }
  return undefined;
}

/**
 * ImageMagick's `convert`. `/usr/bin/convert` comes first: another `convert` earlier in PATH may
 * not be ImageMagick at all, so the version line is checked.
 */
function imageMagick(): { command: string; version: string } | undefined {
  for (const c of ['/usr/bin/magick', '/usr/bin/convert', 'magick', 'convert']) {
    const v = firstLine(c, ['-version']);
    if (v && /ImageMagick/i.test(v)) return { command: c, version: v.replace(/^Version:\s*/, '').replace(/\s+https?:\S+.*$/, '') };
  }
  return undefined;
}

function parallelAvailable(): boolean {
  return firstLine('parallel', ['--version'])?.includes('GNU parallel') === true;
}

/** Peers found on this machine, and a note for each one missing. */
export function findPeers(): { peers: Peer[]; missing: string[] } {
  const peers: Peer[] = [];
  const missing: string[] = [];
  const python = systemPython();
  if (python) {
    const version = firstLine(python, ['-c', 'import PIL, zlib; print(f"Pillow {PIL.__version__} (zlib {zlib.ZLIB_VERSION})")'])!;
    peers.push({
      id: 'pillow',
      label: 'Pillow',
      version,
      rssNote: 'sum over its processes',
      command: (list, jobs) => ({ command: python, args: [join(here, 'pillow_convert.py'), String(jobs), list] }),
    });
  } else missing.push('Pillow (apt-get install python3-pil)');
  const parallel = parallelAvailable();
  if (!parallel) missing.push('GNU parallel (apt-get install parallel), needed to run ImageMagick and vips one job per core');
  const im = imageMagick();
  if (im && parallel) {
    peers.push({
      id: 'imagemagick',
      label: 'ImageMagick',
      version: im.version,
      rssNote: 'sum over parallel and its jobs',
      command: (list, jobs) => ({
        command: 'parallel',
        args: ['--will-cite', '-j', String(jobs), '--colsep', '\t', '-a', list, im.command, '{1}', '{2}'],
      }),
    });
  } else if (!im) missing.push('ImageMagick (apt-get install imagemagick)');
  const vips = firstLine('vips', ['--version']);
  if (vips && parallel) {
    peers.push({
      id: 'vips',
      label: 'vips CLI',
      version: vips,
      rssNote: 'sum over parallel and its jobs',
      command: (list, jobs) => ({
        command: 'parallel',
        args: ['--will-cite', '-j', String(jobs), '--colsep', '\t', '-a', list, 'vips', 'copy', '{1}', '{2}'],
      }),
    });
  } else if (!vips) missing.push('libvips CLI (apt-get install libvips-tools)');
  return { peers, missing };
}

export const INSTALL_HINT = 'scripts/install-bench-peers.sh installs them all';
