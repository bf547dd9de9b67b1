// A PNG encoder several times faster than libpng+zlib on photographs: @napi-rs/image's "fast"
// compression (Rust `png` + `fdeflate`: one fixed filter, run-length of zeros and a Huffman table
// tuned for filtered image rows). sharp still decodes and transforms; only raw 8-bit pixels come
// here. It is loaded lazily and is optional: when its prebuilt binary is missing for a platform,
// pixbatch encodes with libpng instead.

/** The subset of @napi-rs/image used here. */
interface FastPngBinding {
  Transformer: {
    new (input: Uint8Array): { png(options?: { compressionType?: number; filterType?: number }): Promise<Buffer> };
    fromRgbaPixels(input: Uint8Array, width: number, height: number): { png(options?: { compressionType?: number; filterType?: number }): Promise<Buffer> };
  };
  CompressionType: { Fast: number };
  FilterType: { Paeth: number };
}

let loading: Promise<FastPngBinding | undefined> | undefined;

/** The native encoder, or undefined when it cannot be loaded on this platform. */
export function loadFastPng(): Promise<FastPngBinding | undefined> {
  loading ??= import('@napi-rs/image').then(
    (m) => m as unknown as FastPngBinding,
    () => undefined,
  );
  return loading;
}

/**
 * Encodes raw 8-bit RGB or RGBA pixels (as sharp's `.raw()` gives them) as a PNG of the same colour
 * type and bit depth. Returns undefined for layouts it cannot keep exactly (the binding widens grey
 * to RGB) or when the encoder is unavailable, so the caller uses libpng.
 *
 * @example
 * const { data, info } = await sharp('a.jpg').raw().toBuffer({ resolveWithObject: true });
 * const png = await encodePngFast(data, info.width, info.height, info.channels);
 */
export async function encodePngFast(raw: Buffer, width: number, height: number, channels: number): Promise<Buffer | undefined> {
  if (raw.length !== width * height * channels) return undefined; // not 8 bits per sample
  const binding = await loadFastPng();
  if (!binding) return undefined;
  const options = { compressionType: binding.CompressionType.Fast, filterType: binding.FilterType.Paeth };
  if (channels === 4) return binding.Transformer.fromRgbaPixels(raw, width, height).png(options);
  if (channels !== 3) return undefined;
  // The binding takes RGB pixels only inside an encoded image: a PPM header in front of the rows
  // is the cheapest one (the rows are copied once, never re-encoded).
  const header = Buffer.from(`P6\n${width} ${height}\n255\n`, 'latin1');
  const pnm = Buffer.allocUnsafe(header.length + raw.length);
  header.copy(pnm, 0);
  raw.copy(pnm, header.length);
  return new binding.Transformer(pnm).png(options);
}
