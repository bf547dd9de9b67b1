// The index label drawn on each generated picture. A built-in 5x7 bitmap font keeps the pixels the
// same on every machine (text rendered through fonts would depend on what fonts are installed).

const GLYPH_WIDTH = 5;
const GLYPH_HEIGHT = 7;

const GLYPHS: Record<string, readonly string[]> = {
  '0': ['.###.', '#...#', '#..##', '#.#.#', '##..#', '#...#', '.###.'],
  '1': ['..#..', '.##..', '..#..', '..#..', '..#..', '..#..', '.###.'],
  '2': ['.###.', '#...#', '....#', '...#.', '..#..', '.#...', '#####'],
  '3': ['####.', '....#', '....#', '.###.', '....#', '....#', '####.'],
  '4': ['...#.', '..##.', '.#.#.', '#..#.', '#####', '...#.', '...#.'],
  '5': ['#####', '#....', '####.', '....#', '....#', '#...#', '.###.'],
  '6': ['..##.', '.#...', '#....', '####.', '#...#', '#...#', '.###.'],
  '7': ['#####', '....#', '...#.', '..#..', '.#...', '.#...', '.#...'],
  '8': ['.###.', '#...#', '#...#', '.###.', '#...#', '#...#', '.###.'],
  '9': ['.###.', '#...#', '#...#', '.####', '....#', '...#.', '.##..'],
  '#': ['.#.#.', '.#.#.', '#####', '.#.#.', '#####', '.#.#.', '.#.#.'],
  '-': ['.....', '.....', '.....', '#####', '.....', '.....', '.....'],
  ' ': ['.....', '.....', '.....', '.....', '.....', '.....', '.....'],
};

/** Width and height in pixels of `text` drawn at `scale` (one glyph pixel = scale x scale image pixels). */
export function labelSize(text: string, scale: number): { width: number; height: number } {
  return { width: (text.length * (GLYPH_WIDTH + 1) - 1) * scale, height: GLYPH_HEIGHT * scale };
}

/**
 * Draws `text` into a packed RGB buffer at (x, y), on a dark box with a margin of one glyph pixel.
 * Characters without a glyph are drawn as spaces; anything outside the picture is clipped.
 */
export function drawLabel(
  pixels: Buffer,
  width: number,
  height: number,
  text: string,
  x: number,
  y: number,
  scale: number,
): void {
  const size = labelSize(text, scale);
  fillRect(pixels, width, height, x - scale, y - scale, size.width + 2 * scale, size.height + 2 * scale, [24, 24, 28]);
  for (let c = 0; c < text.length; c++) {
    const glyph = GLYPHS[text[c]!] ?? GLYPHS[' ']!;
    const gx = x + c * (GLYPH_WIDTH + 1) * scale;
    for (let row = 0; row < GLYPH_HEIGHT; row++) {
      const line = glyph[row]!;
      for (let col = 0; col < GLYPH_WIDTH; col++) {
        if (line[col] === '#') fillRect(pixels, width, height, gx + col * scale, y + row * scale, scale, scale, [250, 250, 245]);
      }
    }
  }
}

/** Fills a rectangle of a packed RGB buffer with one colour, clipped to the picture. */
export function fillRect(
  pixels: Buffer,
  width: number,
  height: number,
  x: number,
  y: number,
  w: number,
  h: number,
  rgb: readonly [number, number, number],
): void {
  const x0 = Math.max(0, x);
  const y0 = Math.max(0, y);
  const x1 = Math.min(width, x + w);
  const y1 = Math.min(height, y + h);
  for (let yy = y0; yy < y1; yy++) {
    let i = (yy * width + x0) * 3;
    for (let xx = x0; xx < x1; xx++, i += 3) {
      pixels[i] = rgb[0];
      pixels[i + 1] = rgb[1];
      pixels[i + 2] = rgb[2];
    }
  }
}
