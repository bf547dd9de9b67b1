// The values the conversion options take, apart from their validation (options.ts): the command
// line lists them in its help without loading the image library.
import type { Fit, InputFormat, OutputFormat, OverwritePolicy, Preset, WatermarkPosition } from './interfaces.js';

export const OUTPUT_FORMATS: readonly OutputFormat[] = ['png', 'jpeg', 'webp', 'avif', 'tiff'];
/** Source formats `from` selects by name; `any` is every format the installed sharp reads. */
export const INPUT_FORMATS: readonly InputFormat[] = ['jpeg', 'png', 'webp', 'tiff', 'gif', 'avif', 'heif', 'any'];
export const PRESETS: readonly Preset[] = ['fast', 'balanced', 'small'];
export const FITS: readonly Fit[] = ['cover', 'contain', 'inside'];
export const OVERWRITE_POLICIES: readonly OverwritePolicy[] = ['if-newer', 'always', 'never'];
export const WATERMARK_POSITIONS: readonly WatermarkPosition[] = ['center', 'top-left', 'top-right', 'bottom-left', 'bottom-right'];
