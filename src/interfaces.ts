// The types that cross module borders live here, and only here.

/** Output formats pixbatch writes. */
export type OutputFormat = 'png' | 'jpeg' | 'webp' | 'avif' | 'tiff';
/** Source formats `--from` names; `any` is every format the installed sharp reads. */
export type InputFormat = 'jpeg' | 'png' | 'webp' | 'tiff' | 'gif' | 'avif' | 'heif' | 'any';
export type Preset = 'fast' | 'balanced' | 'small';
export type Fit = 'cover' | 'contain' | 'inside';
export type OverwritePolicy = 'if-newer' | 'always' | 'never';
export type WatermarkPosition = 'center' | 'top-left' | 'top-right' | 'bottom-left' | 'bottom-right';

/** What to do to each image. Everything that changes the output bytes is here (it is hashed into the spec id). */
export interface ConversionSpec {
  to: OutputFormat;
  /** 1-100, lossy formats only. */
  quality?: number;
  /** 0-9, PNG only; overrides the preset's level. */
  pngCompression?: number;
  preset: Preset;
  resize?: { width?: number; height?: number; fit: Fit };
  watermark?: { text: string; position: WatermarkPosition; opacity: number };
  keepMetadata: boolean;
  /** JPEG only: the colour (`#RRGGBB`) transparent pixels are flattened onto. */
  background?: string;
}

/** One object in a store, as listing or stat sees it. */
export interface StoreEntry {
  /** Path relative to the store's root, always with `/` separators. */
  name: string;
  size: number;
  /** Modification time in ms since the epoch. */
  mtimeMs: number;
  /** A version tag: the blob etag, or for files `size-mtime`. */
  etag: string;
  /** Metadata recorded on the object (blob metadata; empty for files). */
  metadata?: Record<string, string>;
}

export interface ReadOptions {
  abortSignal?: AbortSignal;
}

export interface WriteOptions {
  abortSignal?: AbortSignal;
  contentType?: string;
  /** Recorded with the object (blob metadata); the file store ignores it. */
  metadata?: Record<string, string>;
  /** Fail with code `EEXIST` rather than replace an existing object. */
  ifNotExists?: boolean;
  /** Modification time to give the written file (file store), so up-to-date checks can compare. */
  mtimeMs?: number;
}

/**
 * A place images are read from or written to. Implementations: the file system and Azure Blob Storage.
 * Writes are atomic: a reader never sees a half-written object under its final name.
 */
export interface Store {
  /** Human-readable location with any secret redacted. */
  readonly location: string;
  /** Lists every object under the root (recursively), paging as it goes. */
  list(options?: { abortSignal?: AbortSignal; prefix?: string }): AsyncIterable<StoreEntry>;
  /** Entry for one name, or undefined when it does not exist. */
  stat(name: string, options?: ReadOptions): Promise<StoreEntry | undefined>;
  read(name: string, options?: ReadOptions): Promise<Buffer>;
  write(name: string, data: Buffer, options?: WriteOptions): Promise<void>;
  /** Checks the location is usable (exists / can be created / is writable) before a job starts. */
  prepare?(mode: 'source' | 'destination'): Promise<void>;
  close?(): Promise<void>;
}

/** Stable failure codes, one per kind of bad input or fault. */
export type FailureCode =
  | 'EMPTY_FILE'
  | 'NOT_AN_IMAGE'
  /** An image whose format or compression the installed sharp cannot decode (HEIC photos, HEVC, with the prebuilt sharp). */
  | 'UNSUPPORTED_FORMAT'
  | 'CORRUPT_IMAGE'
  | 'TOO_LARGE'
  | 'UNSAFE_NAME'
  | 'READ_FAILED'
  | 'WRITE_FAILED'
  | 'CONVERT_FAILED'
  | 'EXISTS'
  /** The Batch task that held the image failed (or the job ended) before the image had a result. */
  | 'TASK_FAILED';

export interface Failure {
  name: string;
  code: FailureCode;
  message: string;
}

export type ImageStatus = 'converted' | 'skipped' | 'failed' | 'planned';

/** One record per image, in `--report` files and Batch results. */
export interface ImageRecord {
  name: string;
  output?: string;
  status: ImageStatus;
  /** Why it was skipped (up-to-date, exists) or failed. */
  reason?: string;
  code?: FailureCode;
  bytesIn?: number;
  bytesOut?: number;
  ms?: number;
  width?: number;
  height?: number;
  /** Completion time, ms since the epoch. */
  at?: number;
  /** Batch task or worker that did it. */
  task?: string;
  node?: string;
}

export interface Counts {
  total: number;
  converted: number;
  skipped: number;
  failed: number;
}

/** What `--json` prints and `convert()` returns. */
export interface Summary {
  counts: Counts;
  bytesIn: number;
  bytesOut: number;
  seconds: number;
  imagesPerSecond: number;
  failures: Failure[];
  source?: string;
  destination?: string;
  spec?: ConversionSpec;
  dryRun?: boolean;
  /** Filled when known: Batch node time and its price. */
  cost?: CostSummary;
  /** Batch job id when the job ran on a pool. */
  jobId?: string;
  /** Why the job stopped early (storage or credential failure), when it did. */
  error?: string;
}

export interface CostSummary {
  currency: string;
  nodeSeconds?: number;
  compute?: number;
  transactions?: number;
  storagePerMonth?: number;
  total?: number;
  notes?: string[];
}

/** `--report FILE`: the summary plus one record per image. */
export interface Report extends Summary {
  tool: { name: 'pixbatch'; version: string };
  startedAt: string;
  finishedAt: string;
  images: ImageRecord[];
}

/** One unit of planned work. */
export interface WorkItem {
  /** Source name relative to the source root. */
  name: string;
  /** Destination name relative to the destination root. */
  output: string;
  size: number;
  etag: string;
  mtimeMs: number;
}

/** What a listing that runs ahead of the work has counted so far; `complete` once it has ended. */
export interface ListingCount {
  count: number;
  bytes: number;
  complete: boolean;
}

export interface ProgressEvent {
  done: number;
  /** Images found so far; still growing while `listing` is true. */
  total: number;
  listing?: boolean;
  converted: number;
  skipped: number;
  failed: number;
  bytesIn: number;
  bytesOut: number;
  elapsedMs: number;
  last?: ImageRecord;
}
