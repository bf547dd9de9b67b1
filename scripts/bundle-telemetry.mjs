// After `tsc`: bundles the telemetry export thread next to the compiled recorder (an entry and the
// chunks it loads, each exporter in its own), so a run with telemetry on loads a few files in that
// thread instead of the SDK's few hundred modules.
import { bundleExportWorker } from '../dist/batch/bundle.js';

await bundleExportWorker();
