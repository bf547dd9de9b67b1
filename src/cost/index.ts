// What a conversion costs: before (estimate from a measured rate) and after (node time used).
export { DEFAULT_PRICES, priceLabel, findVmPrice, coresFromVmSize } from './prices.js';
export type { PriceTableData, VmPriceEntry } from './prices.js';
export { estimateCost, costOfNodeTime, nodeTimeCostSummary, estimateToCostSummary, DEFAULT_NODE_STARTUP_SECONDS } from './estimate.js';
export type { CostInput, CostEstimate } from './estimate.js';
export { formatEstimate, formatMoney } from './format.js';
export { calibrate, fromBench, FALLBACK_PER_CORE_IMAGES_PER_SECOND } from './calibrate.js';
export type { Calibration, CalibrateOptions, SampleInput } from './calibrate.js';
export { estimateJob } from './job-estimate.js';
export type { JobEstimate, JobEstimateInput } from './job-estimate.js';
