#!/usr/bin/env node
// Builds pixbatch's own PNG encoder (native/pixpng.c -> build/Release/pixpng.node) with node-gyp at
// install time. The encoder is optional: without a C compiler, python3, make or the Node headers,
// pixbatch encodes PNGs with libpng instead, so this script prints one line saying which it will be
// and always exits 0 — a missing compiler must never fail `npm install`.
// PIXBATCH_SKIP_NATIVE=1 skips the build.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addon = join(root, 'build', 'Release', 'pixpng.node');
const logFile = join(root, 'build', 'pixpng-build.log');
// A hung toolchain (or a header download with no network) must not hang the install.
const TIMEOUT_MS = 5 * 60 * 1000;

function say(line) {
  console.log(`pixbatch: ${line}`);
}

function unavailable(reason) {
  say(`fast PNG encoder unavailable (${reason}); PNGs will be encoded with libpng`);
  process.exit(0);
}

/** node-gyp's CLI: the one npm names while it runs scripts, else the one shipped inside the npm next to this Node. */
function findNodeGyp() {
  const prefix = dirname(dirname(process.execPath));
  const candidates = [
    process.env.npm_config_node_gyp,
    join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    // Windows keeps npm next to node.exe.
    join(dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((p) => p && existsSync(p));
}

/**
 * The `--nodedir` to build against: headers on this machine, so node-gyp never downloads them.
 * Returns '' when node-gyp's own header cache already holds this version (it then needs no flag),
 * and undefined when no headers are to be found without a download.
 */
function findNodeDir() {
  const given = process.env.npm_config_nodedir;
  if (given && existsSync(join(given, 'include', 'node', 'node_api.h'))) return given;
  const prefix = dirname(dirname(process.execPath));
  if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) return prefix;
  const version = process.version.slice(1);
  const devdirs = [
    process.env.npm_config_devdir,
    join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'node-gyp'),
    join(homedir(), '.node-gyp'),
  ];
  for (const dir of devdirs) {
    if (dir && existsSync(join(dir, version, 'include', 'node', 'node_api.h'))) return '';
  }
  return undefined;
}

/** The one line of the build's output that says why it failed. */
function reasonOf(output, status, error) {
  if (error?.code === 'ETIMEDOUT') return `the build took more than ${TIMEOUT_MS / 60000} minutes`;
  if (error) return error.message;
  const lines = output.split('\n').map((l) => l.trim());
  const pick =
    lines.find((l) => /\berror:/i.test(l) && !l.startsWith('gyp')) ??
    lines.find((l) => /command not found|No such file or directory/.test(l)) ??
    lines.find((l) => l.startsWith('gyp ERR! stack Error:'))?.replace('gyp ERR! stack Error: ', '') ??
    lines.find((l) => l.startsWith('gyp: ')) ??
    `node-gyp exited with code ${status}`;
  return pick.length > 160 ? `${pick.slice(0, 157)}...` : pick;
}

function main() {
  if (process.env.PIXBATCH_SKIP_NATIVE === '1') unavailable('PIXBATCH_SKIP_NATIVE=1');

  if (!existsSync(join(root, 'binding.gyp'))) unavailable('binding.gyp is missing from this copy of pixbatch');
  const nodeGyp = findNodeGyp();
  if (!nodeGyp) unavailable('node-gyp not found');
  const nodeDir = findNodeDir();
  if (nodeDir === undefined) unavailable(`Node ${process.version} headers not found on this machine`);

  const args = [nodeGyp, 'rebuild', ...(nodeDir ? [`--nodedir=${nodeDir}`] : [])];
  const result = spawnSync(process.execPath, args, {
    cwd: root,
    encoding: 'utf8',
    timeout: TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  // `rebuild` empties build/ first, so the log is written afterwards.
  try {
    mkdirSync(dirname(logFile), { recursive: true });
    writeFileSync(logFile, `$ ${[process.execPath, ...args].join(' ')}\n${output}`);
  } catch {
    // A read-only install still gets its one line below.
  }
  const shownLog = relative(process.cwd(), logFile) || logFile;
  if (result.status !== 0 || result.error || !existsSync(addon)) {
    unavailable(`${reasonOf(output, result.status, result.error)}; see ${shownLog}`);
  }
  try {
    // A build that does not load would only fail later, image by image: check it now.
    createRequire(import.meta.url)(addon);
  } catch (err) {
    unavailable(`built but does not load: ${err.message.split('\n')[0]}`);
  }
  say(`built the fast PNG encoder (${relative(root, addon)})`);
}

try {
  main();
} catch (err) {
  unavailable(err instanceof Error ? err.message : String(err));
}
