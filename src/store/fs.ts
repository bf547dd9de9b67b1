import { randomBytes } from 'node:crypto';
import { constants, createReadStream, type Dirent } from 'node:fs';
import { access, link, mkdir, open, opendir, readFile, rename, stat, unlink, utimes, writeFile, type FileHandle } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { UsageError } from '../errors.js';
import type { ReadOptions, Store, StoreEntry, WriteOptions } from '../interfaces.js';

/** Folder (under a store's root) that holds pixbatch's own state; never listed as input. */
export const STATE_DIR = '.pixbatch';
const MANIFEST = `${STATE_DIR}/manifest.jsonl`;
const TMP_MARK = '.pixbatch-tmp-';

/** An error with a Node-style `code`, as the pipeline classifies failures by code. */
export class StoreError extends Error {
  constructor(message: string, readonly code: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

interface ManifestRecord {
  name: string;
  size: number;
  mtimeMs: number;
  metadata: Record<string, string>;
}

/**
 * A local folder as a Store. Writes go to a temporary name in the same folder and are renamed into
 * place, so a reader never sees a half-written file. Files cannot carry metadata portably, so what an
 * output records about its source lives in one append-only manifest under `.pixbatch/`; an entry only
 * counts while the file still has the size and mtime it was written with.
 */
export class FsStore implements Store {
  readonly root: string;
  readonly location: string;
  private readonly skipDirs: string[];
  private manifest?: Promise<Map<string, ManifestRecord>>;
  private manifestHandle?: Promise<FileHandle>;
  private manifestQueue: Promise<void> = Promise.resolve();

  /** `skipDirs`: absolute folders the walk leaves out (a destination inside the source). */
  constructor(root: string, options: { skipDirs?: string[] } = {}) {
    this.root = resolve(root);
    this.location = this.root;
    this.skipDirs = (options.skipDirs ?? []).map((d) => resolve(d));
  }

  /** Absolute path for a store-relative name; refuses names that would leave the root. */
  pathOf(name: string): string {
    const clean = name.replace(/\\/g, '/');
    if (clean === '' || isAbsolute(clean) || clean.split('/').some((part) => part === '..')) {
      throw new StoreError(`unsafe name "${name}": it would resolve outside ${this.root}`, 'UNSAFE_NAME');
    }
    const full = resolve(this.root, clean);
    if (full !== this.root && !full.startsWith(this.root + sep)) {
      throw new StoreError(`unsafe name "${name}": it would resolve outside ${this.root}`, 'UNSAFE_NAME');
    }
    return full;
  }

  async prepare(mode: 'source' | 'destination'): Promise<void> {
    const s = await stat(this.root).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw new UsageError(`cannot read ${mode} ${this.root}: ${err.message}`);
    });
    if (mode === 'source') {
      if (!s) throw new UsageError(`Expected an existing folder for source but ${this.root} does not exist`);
      if (!s.isDirectory()) throw new UsageError(`Expected a folder for source but ${this.root} is a file`);
      return;
    }
    if (s && !s.isDirectory()) throw new UsageError(`Expected a folder for destination but ${this.root} is a file`);
    try {
      await mkdir(this.root, { recursive: true });
      // access() trusts permission bits; a real write also catches read-only mounts and ACLs.
      await access(this.root, constants.W_OK);
      const probe = join(this.root, `${TMP_MARK}probe-${randomBytes(4).toString('hex')}`);
      await writeFile(probe, '');
      await unlink(probe);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new UsageError(`Expected a writable folder for destination but ${this.root} is not writable (${e.code ?? e.message})`);
    }
  }

  async *list(options: { abortSignal?: AbortSignal; prefix?: string } = {}): AsyncIterable<StoreEntry> {
    const start = options.prefix ? this.pathOf(options.prefix) : this.root;
    yield* this.walk(start, options.abortSignal);
  }

  private async *walk(dir: string, signal?: AbortSignal): AsyncGenerator<StoreEntry> {
    let handle;
    try {
      handle = await opendir(dir, { bufferSize: 256 });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT' && dir !== this.root) return;
      throw new StoreError(`cannot list ${dir}: ${e.message}`, e.code ?? 'READ_FAILED', { cause: err });
    }
    const subdirs: string[] = [];
    for await (const dirent of handle) {
      signal?.throwIfAborted();
      const full = join(dir, dirent.name);
      if (dirent.name.includes(TMP_MARK)) continue;
      if (dir === this.root && dirent.name === STATE_DIR) continue;
      const kind = await this.kindOf(dirent, full);
      if (kind === 'dir') {
        if (!this.skipDirs.some((s) => full === s)) subdirs.push(full);
      } else if (kind === 'file') {
        const entry = await this.entryFor(full);
        if (entry) yield entry;
      }
    }
    // Sorted so plans and shards are the same from run to run.
    subdirs.sort();
    for (const d of subdirs) yield* this.walk(d, signal);
  }

  private async kindOf(dirent: Dirent, full: string): Promise<'dir' | 'file' | 'other'> {
    if (dirent.isDirectory()) return 'dir';
    if (dirent.isFile()) return 'file';
    if (dirent.isSymbolicLink()) {
      // File links are followed; folder links are not, so a loop cannot make the walk endless.
      const s = await stat(full).catch(() => undefined);
      return s?.isFile() ? 'file' : 'other';
    }
    return 'other';
  }

  private async entryFor(full: string): Promise<StoreEntry | undefined> {
    const s = await stat(full).catch(() => undefined);
    if (!s || !s.isFile()) return undefined;
    const name = relative(this.root, full).split(sep).join('/');
    const mtimeMs = Math.floor(s.mtimeMs);
    return { name, size: s.size, mtimeMs, etag: `${s.size}-${mtimeMs}` };
  }

  async stat(name: string, _options?: ReadOptions): Promise<StoreEntry | undefined> {
    const entry = await this.entryFor(this.pathOf(name));
    if (!entry) return undefined;
    const rec = (await this.loadManifest()).get(entry.name);
    if (rec && rec.size === entry.size && rec.mtimeMs === entry.mtimeMs) entry.metadata = rec.metadata;
    return entry;
  }

  async read(name: string, options?: ReadOptions): Promise<Buffer> {
    try {
      return await readFile(this.pathOf(name), { signal: options?.abortSignal });
    } catch (err) {
      if (err instanceof StoreError) throw err;
      const e = err as NodeJS.ErrnoException;
      throw new StoreError(`cannot read ${name}: ${e.code ?? e.message}`, e.code ?? 'READ_FAILED', { cause: err });
    }
  }

  async write(name: string, data: Buffer, options: WriteOptions = {}): Promise<void> {
    const final = this.pathOf(name);
    const dir = dirname(final);
    const tmp = join(dir, `.${TMP_MARK}${randomBytes(6).toString('hex')}`);
    try {
      await mkdir(dir, { recursive: true });
      await writeFile(tmp, data, { flag: 'wx', signal: options.abortSignal });
      if (options.mtimeMs !== undefined) await utimes(tmp, new Date(), new Date(options.mtimeMs));
      if (options.ifNotExists) {
        // link() fails when the target exists, so a concurrent writer is never clobbered.
        await link(tmp, final);
        await unlink(tmp);
      } else {
        await rename(tmp, final);
      }
    } catch (err) {
      await unlink(tmp).catch(() => {});
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EEXIST') throw new StoreError(`${name} already exists`, 'EEXIST', { cause: err });
      throw new StoreError(`cannot write ${name}: ${e.code ?? e.message}`, e.code ?? 'WRITE_FAILED', { cause: err });
    }
    if (options.metadata) {
      const entry = await this.entryFor(final);
      if (entry) await this.appendManifest({ name: entry.name, size: entry.size, mtimeMs: entry.mtimeMs, metadata: options.metadata });
    }
  }

  private loadManifest(): Promise<Map<string, ManifestRecord>> {
    this.manifest ??= (async () => {
      const map = new Map<string, ManifestRecord>();
      const path = join(this.root, MANIFEST);
      try {
        await access(path);
      } catch {
        return map;
      }
      const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
      for await (const line of lines) {
        try {
          const rec = JSON.parse(line) as ManifestRecord;
          if (rec && typeof rec.name === 'string') map.set(rec.name, rec);
        } catch {
          // A line cut short by a crash is ignored: that output is simply converted again.
        }
      }
      return map;
    })();
    return this.manifest;
  }

  private appendManifest(rec: ManifestRecord): Promise<void> {
    const run = async () => {
      const map = await this.loadManifest();
      map.set(rec.name, rec);
      this.manifestHandle ??= mkdir(join(this.root, STATE_DIR), { recursive: true }).then(() => open(join(this.root, MANIFEST), 'a'));
      const fh = await this.manifestHandle;
      await fh.write(`${JSON.stringify(rec)}\n`);
    };
    this.manifestQueue = this.manifestQueue.then(run, run);
    return this.manifestQueue;
  }

  async close(): Promise<void> {
    await this.manifestQueue.catch(() => {});
    if (this.manifestHandle) {
      const fh = await this.manifestHandle.catch(() => undefined);
      this.manifestHandle = undefined;
      await fh?.close();
    }
  }
}

