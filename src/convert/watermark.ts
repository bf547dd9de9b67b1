import sharp, { type Sharp } from 'sharp';
import type { ConversionSpec } from '../interfaces.js';

type Watermark = NonNullable<ConversionSpec['watermark']>;

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/** SVG holding the watermark text, sized to the image so it reads the same at any resolution. */
export function watermarkSvg(text: string, width: number, height: number, wm: Watermark): Buffer {
  const fontSize = Math.max(10, Math.round(Math.min(width, height) / 16));
  const margin = Math.round(fontSize * 0.6);
  const [x, anchor] = wm.position.endsWith('left')
    ? [margin, 'start']
    : wm.position.endsWith('right')
      ? [width - margin, 'end']
      : [Math.round(width / 2), 'middle'];
  const y = wm.position.startsWith('top') ? margin + fontSize : wm.position.startsWith('bottom') ? height - margin : Math.round(height / 2 + fontSize / 3);
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
      `<text x="${x}" y="${y}" text-anchor="${anchor}" font-family="DejaVu Sans, sans-serif" font-size="${fontSize}" ` +
      `fill="white" fill-opacity="${wm.opacity}" stroke="black" stroke-opacity="${wm.opacity * 0.6}" stroke-width="${Math.max(1, fontSize / 24)}">` +
      `${escapeXml(text)}</text></svg>`,
  );
}

/**
 * Draws the watermark over the transformed image. The transformed size is only known after
 * rotation and resizing, so the pixels are materialised once here (watermarked runs only).
 */
export async function applyWatermark(img: Sharp, wm: Watermark): Promise<Sharp> {
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  const raw = { width: info.width, height: info.height, channels: info.channels };
  return sharp(data, { raw }).composite([{ input: watermarkSvg(wm.text, info.width, info.height, wm), top: 0, left: 0 }]);
}
