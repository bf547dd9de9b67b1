// `import { tuneAllocator, capYoungGeneration } from 'pixbatch/allocator'`: the memory settings the
// `pixbatch` command makes for itself, light enough to import and call before anything else in a
// program (importing all of 'pixbatch' first starts threads that allocate, after which
// tuneAllocator no longer acts).
export { tuneAllocator } from './convert/pixpng.js';
export { capYoungGeneration } from './young-generation.js';
