// After `tsc`: bundles the telemetry export thread into one file next to the compiled recorder, so a
// run with telemetry on loads one file in that thread instead of the SDK's few hundred modules.
import { bundleExportWorker } from '../dist/batch/bundle.js';

await bundleExportWorker();
