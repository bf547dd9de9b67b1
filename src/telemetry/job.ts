// The spans and metrics of one job, as the main thread notes them (recorder.ts posts them to the
// export thread). Loaded only when telemetry is on; loads nothing of OpenTelemetry itself.
import type { ImageRecord, WorkItem } from '../interfaces.js';
import { redact } from '../store/redact.js';
import type { ImageProbe, ImageStage, JobAttributes, JobKind, PipelineObserver } from './index.js';
import { now, processRecorder, type Recorder } from './recorder.js';
import { FLUSH_MS } from './settings.js';


/** Image names can be personal data: they are sent only when the user says so. */
const namesAllowed = () => process.env.PIXBATCH_TELEMETRY_NAMES === '1';

function jobSpanAttributes(kind: JobKind, a: JobAttributes): Record<string, string> {
  const out: Record<string, string> = { 'pixbatch.job.kind': kind };
  if (a.jobId) out['pixbatch.job.id'] = a.jobId;
  if (a.taskId) out['pixbatch.task.id'] = a.taskId;
  if (a.nodeId) out['pixbatch.node.id'] = a.nodeId;
  if (a.format) out['pixbatch.format'] = a.format;
  if (a.preset) out['pixbatch.preset'] = a.preset;
  return out;
}

/** An image whose spans are kept: each stage becomes a span under the image's. */
class Probe implements ImageProbe {
  constructor(
    readonly id: number,
    private readonly recorder: Recorder,
  ) {}

  async stage<T>(name: ImageStage, fn: () => Promise<T>): Promise<T> {
    const start = now();
    let failed = true;
    try {
      const result = await fn();
      failed = false;
      return result;
    } finally {
      this.recorder.note(['stage', this.id, name, start, now(), failed]);
    }
  }
}

/** The stage of an image whose spans are not kept: just runs it. */
const untracedStage: ImageProbe['stage'] = (_name, fn) => fn();

class JobObserver implements PipelineObserver {
  /** Images started and not recorded: a job stopped by a storage fault leaves some. */
  private readonly open = new Set<ImageProbe>();
  private readonly metricAttributes: Record<string, string>;

  constructor(
    private readonly recorder: Recorder,
    /** The job span's id, 0 when spans are off (`always_off`). */
    private readonly jobSpan: number,
    kind: JobKind,
    a: JobAttributes,
  ) {
    // Metric dimensions stay few (no ids), so charts stay cheap and readable.
    this.metricAttributes = { 'pixbatch.job.kind': kind, ...(a.format ? { 'pixbatch.format': a.format } : {}), ...(a.preset ? { 'pixbatch.preset': a.preset } : {}) };
  }

  started(item: WorkItem): ImageProbe {
    const r = this.recorder;
    r.depth++;
    const kept = this.jobSpan !== 0 && (r.sampling.images >= 1 || Math.random() < r.sampling.images);
    // An image whose spans are not kept still gets a probe of its own: `open` tells images apart by it.
    const probe: ImageProbe = kept ? new Probe(r.id(), r) : { stage: untracedStage };
    if (probe instanceof Probe) r.note(['image', probe.id, this.jobSpan, namesAllowed() ? { 'pixbatch.image.name': item.name } : {}, now()]);
    this.open.add(probe);
    return probe;
  }

  /** Ends what a stopped job left open, so the queue-depth gauge of a long-lived process goes back down. */
  close(): void {
    const t = now();
    for (const probe of this.open) if (probe instanceof Probe) this.recorder.note(['end', probe.id, {}, 'job stopped', t]);
    this.recorder.depth -= this.open.size;
    this.open.clear();
  }

  recorded(record: ImageRecord, probe?: ImageProbe): void {
    const r = this.recorder;
    r.note(['record', this.metricAttributes, record.status, record.code, record.bytesIn, record.bytesOut, record.ms === undefined ? undefined : record.ms / 1000]);
    if (!probe || !this.open.delete(probe)) return;
    r.depth--;
    if (!(probe instanceof Probe)) return;
    const attributes: Record<string, string | number> = { 'pixbatch.status': record.status };
    if (record.code) attributes['pixbatch.failure.code'] = record.code;
    if (record.bytesIn !== undefined) attributes['pixbatch.bytes.in'] = record.bytesIn;
    if (record.bytesOut !== undefined) attributes['pixbatch.bytes.out'] = record.bytesOut;
    if (record.width !== undefined) {
      attributes['pixbatch.image.width'] = record.width;
      attributes['pixbatch.image.height'] = record.height ?? 0;
    }
    // A reason names the image or output, so it goes with names only.
    const error = record.status === 'failed' ? (namesAllowed() && record.reason ? redact(record.reason) : (record.code ?? 'failed')) : undefined;
    r.note(['end', probe.id, attributes, error, now()]);
  }
}

/** What a job's span says at its end, beyond the attributes it started with. */
export type JobResultAttributes = JobAttributes & { counts?: Record<string, number>; bytesIn?: number; bytesOut?: number };

/** `withJobSpan` once telemetry is on: starts the export thread the first time, then one span per job. */
export async function runJob<T>(
  kind: JobKind,
  attributes: JobAttributes,
  run: (observer: PipelineObserver | undefined) => Promise<T>,
  describeResult?: (result: T) => JobResultAttributes,
): Promise<T> {
  const recorder = processRecorder();
  recorder.start(process.env);
  const spanId = recorder.sampling.jobs ? recorder.id() : 0;
  if (spanId) recorder.note(['job', spanId, `pixbatch ${kind}`, jobSpanAttributes(kind, attributes), now()]);
  const observer = new JobObserver(recorder, spanId, kind, attributes);
  const end: Record<string, string | number> = {};
  let error: string | undefined;
  try {
    const result = await run(observer);
    const more = describeResult?.(result);
    if (more) {
      Object.assign(end, jobSpanAttributes(kind, more));
      for (const [k, v] of Object.entries(more.counts ?? {})) end[`pixbatch.images.${k}`] = v;
      if (more.bytesIn !== undefined) end['pixbatch.bytes.in'] = more.bytesIn;
      if (more.bytesOut !== undefined) end['pixbatch.bytes.out'] = more.bytesOut;
    }
    return result;
  } catch (err) {
    // The message only: locations in it are already redacted, and a stack says nothing an operator needs.
    error = redact(err instanceof Error ? err.message : String(err));
    throw err;
  } finally {
    observer.close();
    if (spanId) recorder.note(['end', spanId, end, error, now()]);
    await recorder.flush(FLUSH_MS);
  }
}

/** Starts the export thread ahead of the first job, so the SDK loads while the process is still starting. */
export function prestartTelemetry(): void {
  processRecorder();
}
