// `import { tuneAllocator } from 'pixbatch/allocator'`: the allocator tuning alone, light enough to
// import and call before anything else in a program (importing all of 'pixbatch' first starts
// threads that allocate, after which tuneAllocator no longer acts).
export { tuneAllocator } from './convert/pixpng.js';
