// pixpng: a PNG encoder for 8-bit pixels, tuned for throughput.
//
// What it does, per image:
//   1. filters every row with the PNG filter whose residuals have the smallest sum of absolute
//      values (None, Sub, Up, Average, Paeth: the heuristic libpng and Pillow use), and computes
//      the zlib Adler-32 of the filtered stream on the way;
//   2. compresses the filtered stream with its own deflate, 256 KiB at a time: a hash-table
//      string matcher (one candidate per hash for the fast levels, hash chains with lazy
//      matching above) that takes a match only when it codes in fewer bits than its literals;
//      each chunk is one block, written with dynamic, fixed or stored codes, whichever is
//      smallest;
//   3. writes signature, IHDR, one IDAT chunk, and IEND.
//
// The work runs on libuv's thread pool (napi async work), so several images encode at once.
// Exposed to JavaScript as `encode(pixels, width, height, channels, level) -> Promise<Buffer>`.
// The pixels are read in place while the promise is pending: the caller must not transfer or
// detach their ArrayBuffer until it settles (a reference keeps the Buffer itself alive).
//
// Defining PIXPNG_STANDALONE leaves out the Node-API glue, so that a C program can #include this
// file and call pixpng_init() and encode_png() directly (for fuzzing under sanitizers).

#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE // open_memstream, for counting malloc arenas
#endif
#ifndef PIXPNG_STANDALONE
#define NAPI_VERSION 8
#include <node_api.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#if defined(__GLIBC__) && !defined(PIXPNG_STANDALONE)
#include <malloc.h>
#include <stdio.h>
#endif

// ---------------------------------------------------------------------------------------------
// Checksums

static uint32_t crc_table[8][256];

static void crc_init(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    crc_table[0][n] = c;
  }
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = crc_table[0][n];
    for (int k = 1; k < 8; k++) {
      c = crc_table[0][c & 0xff] ^ (c >> 8);
      crc_table[k][n] = c;
    }
  }
}

// CRC-32 by tables, eight bytes at a time, on the running (inverted) state.
static uint32_t crc32_tables(uint32_t crc, const uint8_t *p, size_t n) {
  while (n >= 8) {
    uint32_t a, b;
    memcpy(&a, p, 4);
    memcpy(&b, p + 4, 4);
    a ^= crc;
    crc = crc_table[7][a & 0xff] ^ crc_table[6][(a >> 8) & 0xff] ^ crc_table[5][(a >> 16) & 0xff] ^ crc_table[4][a >> 24] ^
          crc_table[3][b & 0xff] ^ crc_table[2][(b >> 8) & 0xff] ^ crc_table[1][(b >> 16) & 0xff] ^ crc_table[0][b >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return crc;
}

static uint32_t adler32_update(uint32_t adler, const uint8_t *p, size_t n) {
  uint32_t a = adler & 0xffff, b = adler >> 16;
  while (n > 0) {
    size_t k = n < 5552 ? n : 5552;
    n -= k;
    while (k >= 32) {
      uint32_t s = 0, w = 0;
      for (int i = 0; i < 32; i++) {
        s += p[i];
        w += (uint32_t)(32 - i) * p[i];
      }
      b += a * 32 + w;
      a += s;
      p += 32;
      k -= 32;
    }
    while (k--) {
      a += *p++;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return (b << 16) | a;
}

// ---------------------------------------------------------------------------------------------
// Row filters

static inline uint8_t paeth_pred(int a, int b, int c) {
  int pa = abs(b - c), pb = abs(a - c), pc = abs(a + b - 2 * c);
  return (uint8_t)((pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c));
}

static inline uint32_t absb(uint8_t v) { return (uint32_t)abs((int)(int8_t)v); }

// Scratch for one row: the current and previous rows with PAD zero bytes before them (so that
// the "left" pixel of the first one reads as 0), and one candidate output per filter type.
#define PAD 16
typedef struct {
  uint8_t *cur, *prev; // each PAD + len + PAD bytes; cur/prev point PAD bytes in
  uint8_t *cand[5];
} rowscratch;

// Scratch of ROWSCRATCH_SIZE(stride) zeroed bytes laid out as two rows (current and previous,
// alternating) and five candidates, each with its padding.
#define ROWSCRATCH_SIZE(stride) (7 * ((stride) + 2 * PAD))
static void rowscratch_init(rowscratch *rs, uint8_t *rows[2], uint8_t *scratch, size_t stride) {
  rows[0] = scratch + PAD;
  rows[1] = scratch + (stride + 2 * PAD) + PAD;
  for (int f = 0; f < 5; f++) rs->cand[f] = scratch + (2 + f) * (stride + 2 * PAD) + PAD;
}

#if defined(__x86_64__) || defined(__i386__)
#define PIXPNG_X86 1
#include <immintrin.h>

// One kernel, written once for 128-bit (SSE2) and 256-bit (AVX2) vectors: the filtered bytes of
// every selected filter type go to s->cand[f] and the sums of their absolute values to cost[f].
// Returns how many bytes it did (a multiple of the vector width); the caller does the rest.
#define FILTER_KERNEL(NAME, ATTR, V, W, LOAD, STORE, ZERO, SET1, SUB8, MIN8, SAD, ADD64, AVG8, AND, XOR, OR, ANDNOT, UNLO, UNHI, PACKUS, SUB16, ADD16, MAX16, GT16) \
  ATTR static size_t NAME(rowscratch *s, size_t len, int bpp, int mask, uint64_t *cost) {                                      \
    const uint8_t *cur = s->cur, *prev = s->prev;                                                                               \
    V acc0 = ZERO(), acc1 = ZERO(), acc2 = ZERO(), acc3 = ZERO(), acc4 = ZERO(), z = ZERO(), one = SET1(1);                   \
    size_t i = 0;                                                                                                               \
    for (; i + W <= len; i += W) {                                                                                              \
      V x = LOAD((const V *)(cur + i)), a = LOAD((const V *)(cur + i - bpp));                                                   \
      V b = LOAD((const V *)(prev + i)), c = LOAD((const V *)(prev + i - bpp));                                                 \
      if (mask & 1) {                                                                                                           \
        STORE((V *)(s->cand[0] + i), x);                                                                                        \
        acc0 = ADD64(acc0, SAD(MIN8(x, SUB8(z, x)), z));                                                                        \
      }                                                                                                                         \
      if (mask & 2) {                                                                                                           \
        V r = SUB8(x, a);                                                                                                       \
        STORE((V *)(s->cand[1] + i), r);                                                                                        \
        acc1 = ADD64(acc1, SAD(MIN8(r, SUB8(z, r)), z));                                                                        \
      }                                                                                                                         \
      if (mask & 4) {                                                                                                           \
        V r = SUB8(x, b);                                                                                                       \
        STORE((V *)(s->cand[2] + i), r);                                                                                        \
        acc2 = ADD64(acc2, SAD(MIN8(r, SUB8(z, r)), z));                                                                        \
      }                                                                                                                         \
      if (mask & 8) {                                                                                                           \
        V r = SUB8(x, SUB8(AVG8(a, b), AND(XOR(a, b), one)));                                                                   \
        STORE((V *)(s->cand[3] + i), r);                                                                                        \
        acc3 = ADD64(acc3, SAD(MIN8(r, SUB8(z, r)), z));                                                                        \
      }                                                                                                                         \
      if (mask & 16) {                                                                                                          \
        /* Paeth in 16-bit lanes: pa = |b - c|, pb = |a - c|, pc = |a + b - 2c|. */                                             \
        V pred[2];                                                                                                              \
        for (int h = 0; h < 2; h++) {                                                                                           \
          V a16 = h ? UNHI(a, z) : UNLO(a, z), b16 = h ? UNHI(b, z) : UNLO(b, z), c16 = h ? UNHI(c, z) : UNLO(c, z);            \
          V pav = SUB16(b16, c16), pbv = SUB16(a16, c16), pcv = ADD16(pav, pbv);                                                \
          V pa = MAX16(pav, SUB16(z, pav)), pb = MAX16(pbv, SUB16(z, pbv)), pc = MAX16(pcv, SUB16(z, pcv));                     \
          V not_a = OR(GT16(pa, pb), GT16(pa, pc)), use_c = GT16(pb, pc);                                                       \
          V bc = OR(AND(use_c, c16), ANDNOT(use_c, b16));                                                                       \
          pred[h] = OR(AND(not_a, bc), ANDNOT(not_a, a16));                                                                     \
        }                                                                                                                       \
        V r = SUB8(x, PACKUS(pred[0], pred[1]));                                                                                \
        STORE((V *)(s->cand[4] + i), r);                                                                                        \
        acc4 = ADD64(acc4, SAD(MIN8(r, SUB8(z, r)), z));                                                                        \
      }                                                                                                                         \
    }                                                                                                                           \
    V accs[5] = {acc0, acc1, acc2, acc3, acc4};                                                                                 \
    for (int f = 0; f < 5; f++) {                                                                                               \
      uint64_t t[W / 8];                                                                                                        \
      STORE((V *)t, accs[f]);                                                                                                   \
      for (int k = 0; k < W / 8; k++) cost[f] += t[k];                                                                          \
    }                                                                                                                           \
    return i;                                                                                                                   \
  }

FILTER_KERNEL(filter_sse2, , __m128i, 16, _mm_loadu_si128, _mm_storeu_si128, _mm_setzero_si128, _mm_set1_epi8, _mm_sub_epi8, _mm_min_epu8,
              _mm_sad_epu8, _mm_add_epi64, _mm_avg_epu8, _mm_and_si128, _mm_xor_si128, _mm_or_si128, _mm_andnot_si128, _mm_unpacklo_epi8,
              _mm_unpackhi_epi8, _mm_packus_epi16, _mm_sub_epi16, _mm_add_epi16, _mm_max_epi16, _mm_cmpgt_epi16)
FILTER_KERNEL(filter_avx2, __attribute__((target("avx2"))), __m256i, 32, _mm256_loadu_si256, _mm256_storeu_si256, _mm256_setzero_si256,
              _mm256_set1_epi8, _mm256_sub_epi8, _mm256_min_epu8, _mm256_sad_epu8, _mm256_add_epi64, _mm256_avg_epu8, _mm256_and_si256,
              _mm256_xor_si256, _mm256_or_si256, _mm256_andnot_si256, _mm256_unpacklo_epi8, _mm256_unpackhi_epi8, _mm256_packus_epi16,
              _mm256_sub_epi16, _mm256_add_epi16, _mm256_max_epi16, _mm256_cmpgt_epi16)

// Adler-32 over 32-byte blocks: sums with SAD, position-weighted sums with multiply-add.
__attribute__((target("avx2"))) static uint32_t adler32_avx2(uint32_t adler, const uint8_t *p, size_t n) {
  uint64_t a = adler & 0xffff, b = adler >> 16;
  const __m256i weights = _mm256_setr_epi8(32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6,
                                           5, 4, 3, 2, 1);
  const __m256i ones = _mm256_set1_epi16(1), z = _mm256_setzero_si256();
  while (n >= 32) {
    size_t k = n < 5536 ? n & ~(size_t)31 : 5536; // 173 blocks: the sums stay within 32 bits
    n -= k;
    b += a * k;
    __m256i vs1 = z, vs1acc = z, vs2 = z;
    for (size_t i = 0; i < k; i += 32) {
      __m256i x = _mm256_loadu_si256((const __m256i *)(p + i));
      vs1acc = _mm256_add_epi32(vs1acc, vs1);
      vs1 = _mm256_add_epi32(vs1, _mm256_sad_epu8(x, z));
      vs2 = _mm256_add_epi32(vs2, _mm256_madd_epi16(_mm256_maddubs_epi16(x, weights), ones));
    }
    p += k;
    uint32_t t1[8], t2[8], t3[8];
    _mm256_storeu_si256((__m256i *)t1, vs1);
    _mm256_storeu_si256((__m256i *)t2, vs1acc);
    _mm256_storeu_si256((__m256i *)t3, vs2);
    uint64_t s1 = 0, s1acc = 0, s2 = 0;
    for (int i = 0; i < 8; i++) s1 += t1[i], s1acc += t2[i], s2 += t3[i];
    a += s1;
    b += 32 * s1acc + s2;
    a %= 65521;
    b %= 65521;
  }
  return adler32_update((uint32_t)(b << 16 | a), p, n);
}

// CRC-32 by carry-less multiplication (Intel's "Fast CRC Computation for Generic Polynomials Using
// PCLMULQDQ"; constants for the reflected polynomial 0xedb88320): four 128-bit lanes folded 64
// bytes at a time, folded to one lane, then Barrett-reduced. Takes n >= 64, a multiple of 16,
// and the running (inverted) state.
__attribute__((target("pclmul,sse4.1"))) static uint32_t crc32_pclmul(uint32_t crc, const uint8_t *p, size_t n) {
  const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596, 0x0154442bd4), k3k4 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);
  const __m128i k5 = _mm_set_epi64x(0, 0x0163cd6124), poly = _mm_set_epi64x(0x01f7011641, 0x01db710641);
  const __m128i low32 = _mm_setr_epi32(~0, 0, ~0, 0);
  __m128i x1 = _mm_loadu_si128((const __m128i *)p), x2 = _mm_loadu_si128((const __m128i *)(p + 16));
  __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 32)), x4 = _mm_loadu_si128((const __m128i *)(p + 48));
  x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)crc));
  p += 64, n -= 64;
  for (; n >= 64; p += 64, n -= 64) {
    __m128i x5 = _mm_clmulepi64_si128(x1, k1k2, 0x00), x6 = _mm_clmulepi64_si128(x2, k1k2, 0x00);
    __m128i x7 = _mm_clmulepi64_si128(x3, k1k2, 0x00), x8 = _mm_clmulepi64_si128(x4, k1k2, 0x00);
    x1 = _mm_clmulepi64_si128(x1, k1k2, 0x11), x2 = _mm_clmulepi64_si128(x2, k1k2, 0x11);
    x3 = _mm_clmulepi64_si128(x3, k1k2, 0x11), x4 = _mm_clmulepi64_si128(x4, k1k2, 0x11);
    x1 = _mm_xor_si128(_mm_xor_si128(x1, x5), _mm_loadu_si128((const __m128i *)p));
    x2 = _mm_xor_si128(_mm_xor_si128(x2, x6), _mm_loadu_si128((const __m128i *)(p + 16)));
    x3 = _mm_xor_si128(_mm_xor_si128(x3, x7), _mm_loadu_si128((const __m128i *)(p + 32)));
    x4 = _mm_xor_si128(_mm_xor_si128(x4, x8), _mm_loadu_si128((const __m128i *)(p + 48)));
  }
  // Four lanes into one, then any further 16-byte blocks.
  const __m128i more[3] = {x2, x3, x4};
  for (int i = 0; i < 3; i++)
    x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k3k4, 0x11), _mm_clmulepi64_si128(x1, k3k4, 0x00)), more[i]);
  for (; n >= 16; p += 16, n -= 16)
    x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k3k4, 0x11), _mm_clmulepi64_si128(x1, k3k4, 0x00)),
                       _mm_loadu_si128((const __m128i *)p));
  // 128 bits to 64, then Barrett reduction to 32.
  x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), _mm_clmulepi64_si128(x1, k3k4, 0x10));
  x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, low32), k5, 0x00), _mm_srli_si128(x1, 4));
  __m128i x2r = _mm_clmulepi64_si128(_mm_and_si128(x1, low32), poly, 0x10);
  x2r = _mm_clmulepi64_si128(_mm_and_si128(x2r, low32), poly, 0x00);
  return (uint32_t)_mm_extract_epi32(_mm_xor_si128(x1, x2r), 1);
}

static int have_avx2, have_pclmul;
#endif

// The zlib/PNG CRC-32 of p[0..n), continuing from `crc` (0 to start).
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n) {
  crc = ~crc;
#ifdef PIXPNG_X86
  if (have_pclmul && n >= 64) {
    size_t k = n & ~(size_t)15;
    crc = crc32_pclmul(crc, p, k);
    p += k, n -= k;
  }
#endif
  return ~crc32_tables(crc, p, n);
}

// Filters one row of `len` bytes (`bpp` bytes per pixel, rows in `s`) into out[0] (filter type)
// and out[1..len]. `mask` selects the filter types tried (bit f for type f).
static void filter_row(rowscratch *s, size_t len, int bpp, uint8_t *out, int mask) {
  const uint8_t *cur = s->cur, *prev = s->prev;
  uint64_t cost[5] = {0, 0, 0, 0, 0};
  size_t i = 0;
#ifdef PIXPNG_X86
  i = have_avx2 ? filter_avx2(s, len, bpp, mask, cost) : filter_sse2(s, len, bpp, mask, cost);
#endif
  for (; i < len; i++) {
    uint8_t x = cur[i], a = cur[i - bpp], b = prev[i], c = prev[i - bpp];
    uint8_t r[5] = {x, (uint8_t)(x - a), (uint8_t)(x - b), (uint8_t)(x - ((a + b) >> 1)), (uint8_t)(x - paeth_pred(a, b, c))};
    for (int f = 0; f < 5; f++) {
      s->cand[f][i] = r[f];
      cost[f] += absb(r[f]);
    }
  }
  int best = -1;
  uint64_t bc = UINT64_MAX;
  for (int f = 0; f < 5; f++)
    if ((mask >> f & 1) && cost[f] < bc) best = f, bc = cost[f];
  out[0] = (uint8_t)best;
  memcpy(out + 1, s->cand[best], len);
}

static uint32_t adler32(uint32_t adler, const uint8_t *p, size_t n) {
#ifdef PIXPNG_X86
  if (have_avx2) return adler32_avx2(adler, p, n);
#endif
  return adler32_update(adler, p, n);
}

// ---------------------------------------------------------------------------------------------
// Deflate: tables

static const uint16_t len_base[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t dist_base[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
static const uint8_t clen_order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

static uint8_t len_code[259];     // match length -> length code index 0..28
static uint8_t fixed_ll_len[288], fixed_d_len[30];

static void tables_init(void) {
  for (int c = 0; c < 29; c++) {
    int end = c == 28 ? 259 : len_base[c + 1];
    if (c == 27) end = 258; // 258 has its own code (28)
    for (int l = len_base[c]; l < end && l <= 258; l++) len_code[l] = (uint8_t)c;
  }
  len_code[258] = 28;
  for (int i = 0; i < 288; i++) fixed_ll_len[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
  for (int i = 0; i < 30; i++) fixed_d_len[i] = 5;
}

// Distance code of a distance (1..32768), without a branch: past the first four, each power of
// two holds two codes, told apart by the bit below the leading one.
static inline int dcode(uint32_t dist) {
  uint32_t d = dist - 1;
  uint32_t n = 31 - (uint32_t)__builtin_clz(d | 1);
  uint32_t code = 2 * n + ((d >> (n - (n > 0))) & 1);
  return (int)(d < 4 ? d : code);
}

// ---------------------------------------------------------------------------------------------
// Huffman code construction (lengths limited to `limit` bits)

typedef struct {
  uint32_t key;
  uint16_t sym;
} symfreq;

static int cmp_symfreq(const void *x, const void *y) {
  const symfreq *a = x, *b = y;
  if (a->key != b->key) return a->key < b->key ? -1 : 1;
  return a->sym < b->sym ? -1 : a->sym > b->sym;
}

// Moffat & Katajainen's in-place minimum-redundancy code lengths; A sorted by ascending key.
static void min_redundancy(symfreq *A, int n) {
  int root, leaf, next, avbl, used, dpth;
  if (n == 0) return;
  if (n == 1) {
    A[0].key = 1;
    return;
  }
  A[0].key += A[1].key;
  root = 0;
  leaf = 2;
  for (next = 1; next < n - 1; next++) {
    if (leaf >= n || A[root].key < A[leaf].key) {
      A[next].key = A[root].key;
      A[root++].key = (uint32_t)next;
    } else A[next].key = A[leaf++].key;
    if (leaf >= n || (root < next && A[root].key < A[leaf].key)) {
      A[next].key += A[root].key;
      A[root++].key = (uint32_t)next;
    } else A[next].key += A[leaf++].key;
  }
  A[n - 2].key = 0;
  for (next = n - 3; next >= 0; next--) A[next].key = A[A[next].key].key + 1;
  avbl = 1;
  used = dpth = 0;
  root = n - 2;
  next = n - 1;
  while (avbl > 0) {
    while (root >= 0 && (int)A[root].key == dpth) {
      used++;
      root--;
    }
    while (avbl > used) {
      A[next--].key = (uint32_t)dpth;
      avbl--;
    }
    avbl = 2 * used;
    dpth++;
    used = 0;
  }
}

// Code lengths for `n` symbols with frequencies `freq`, at most `limit` bits; at least two codes
// are given lengths when fewer are used (deflate decoders expect a complete or one-code tree).
static void build_lengths(const uint32_t *freq, int n, int limit, uint8_t *lens) {
  symfreq A[320];
  int m = 0;
  memset(lens, 0, (size_t)n);
  for (int i = 0; i < n; i++)
    if (freq[i]) A[m++] = (symfreq){freq[i], (uint16_t)i};
  for (int i = 0; m < 2 && i < n; i++)
    if (!freq[i]) A[m++] = (symfreq){1, (uint16_t)i};
  qsort(A, (size_t)m, sizeof A[0], cmp_symfreq);
  min_redundancy(A, m);
  int count[33] = {0};
  for (int i = 0; i < m; i++) count[A[i].key > 32 ? 32 : A[i].key]++;
  // Fold lengths over the limit back in, then restore the Kraft sum (as miniz does).
  for (int i = limit + 1; i <= 32; i++) count[limit] += count[i], count[i] = 0;
  uint32_t total = 0;
  for (int i = limit; i > 0; i--) total += (uint32_t)count[i] << (limit - i);
  while (total != (1u << limit)) {
    count[limit]--;
    for (int i = limit - 1; i > 0; i--)
      if (count[i]) {
        count[i]--;
        count[i + 1] += 2;
        break;
      }
    total--;
  }
  // Longest codes to the least frequent symbols (A is ascending).
  int j = m;
  for (int len = 1; len <= limit; len++)
    for (int k = count[len]; k > 0; k--) lens[A[--j].sym] = (uint8_t)len;
}

static void build_codes(const uint8_t *lens, int n, uint16_t *codes) {
  int count[16] = {0}, next[16];
  for (int i = 0; i < n; i++) count[lens[i]]++;
  count[0] = 0;
  int code = 0;
  for (int b = 1; b < 16; b++) {
    code = (code + count[b - 1]) << 1;
    next[b] = code;
  }
  for (int i = 0; i < n; i++) {
    int l = lens[i];
    if (!l) {
      codes[i] = 0;
      continue;
    }
    uint32_t c = (uint32_t)next[l]++, r = 0;
    for (int k = 0; k < l; k++) r = (r << 1) | ((c >> k) & 1);
    codes[i] = (uint16_t)r;
  }
}

static inline uint32_t load32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static inline uint64_t load64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Bit output. The writer stores 8 bytes at a time and keeps at most 7 bits pending after a flush,
// so up to 56 bits can be added between flushes. The buffer needs 8 bytes of slack.

typedef struct {
  uint8_t *buf;
  size_t pos;
  uint64_t bits;
  unsigned n;
} bitwriter;

static inline void bw_add(bitwriter *w, uint64_t v, unsigned nb) {
  w->bits |= v << w->n;
  w->n += nb;
}

// Writes out the whole bytes of the accumulator; it must hold at most 63 bits.
static inline void bw_flush(bitwriter *w) {
  memcpy(w->buf + w->pos, &w->bits, 8);
  w->pos += w->n >> 3;
  w->bits >>= w->n & 56;
  w->n &= 7;
}

static inline void bw_put(bitwriter *w, uint64_t v, unsigned nb) {
  bw_add(w, v, nb);
  bw_flush(w);
}

static void bw_align(bitwriter *w) {
  bw_flush(w);
  if (w->n) {
    w->pos++;
    w->bits = 0;
    w->n = 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Sequences and blocks. The matcher produces sequences (a run of literals, then a match); the
// literals are read back from the input when the block is written.

typedef struct {
  uint32_t lit;  // literals before the match
  uint16_t len;  // match length, 0 for none
  uint16_t dist; // match distance
  uint8_t dc;    // distance code
} seq;

#define SEQ_MAX (1 << 15)

typedef struct {
  const uint8_t *in; // in[pos - base] is stream byte pos
  size_t base;
  seq *seqs;
  size_t nseq;
  uint32_t len_freq[29], d_freq[30];
  uint32_t lit_cost; // average bits per literal in the last block, in 1/16 bits
  int literal;       // blocks hold literals only (one sequence without a match)
  bitwriter w;
} blockstate;

// Whether a match pays for itself against the literals it replaces: its length and distance codes
// cost about 13 bits plus the distance's extra bits. Short matches far away in photographs'
// noise cost more than the literals.
static inline int worth(const blockstate *b, uint32_t len, uint32_t dc) {
  return len * b->lit_cost > (13u + dist_extra[dc]) * 16u;
}

static inline void emit(blockstate *b, uint32_t lit, uint32_t len, uint32_t dist, uint32_t dc) {
  b->seqs[b->nseq++] = (seq){lit, (uint16_t)len, (uint16_t)dist, (uint8_t)dc};
  if (len) {
    b->len_freq[len_code[len]]++;
    b->d_freq[dc]++;
  }
}

static uint64_t block_bits(const uint32_t *ll_freq, const uint32_t *d_freq, const uint8_t *ll_len, const uint8_t *d_len) {
  uint64_t bits = 0;
  for (int i = 0; i < 257; i++) bits += (uint64_t)ll_freq[i] * ll_len[i];
  for (int i = 0; i < 29; i++) bits += (uint64_t)ll_freq[257 + i] * (ll_len[257 + i] + len_extra[i]);
  for (int i = 0; i < 30; i++) bits += (uint64_t)d_freq[i] * (d_len[i] + dist_extra[i]);
  return bits;
}

// Four literal codes of at most 14 bits (entries of `lit`: code | length << 16) are joined off the
// accumulator's dependency chain, then added with one shift.
#define STEP4(W, Q)                                                                                                    \
  do {                                                                                                                 \
    uint32_t e0 = lit[(Q)[0]], e1 = lit[(Q)[1]], e2 = lit[(Q)[2]], e3 = lit[(Q)[3]];                                   \
    unsigned n0 = e0 >> 16, n01 = n0 + (e1 >> 16), n2 = e2 >> 16, n23 = n2 + (e3 >> 16);                               \
    uint64_t v01 = (e0 & 0xffff) | (uint64_t)(e1 & 0xffff) << n0, v23 = (e2 & 0xffff) | (uint64_t)(e3 & 0xffff) << n2; \
    bw_add(&(W), v01 | v23 << n01, n01 + n23);                                                                         \
    bw_flush(&(W));                                                                                                    \
  } while (0)

static void write_seqs(blockstate *b, const uint8_t *p, const uint8_t *ll_len, const uint16_t *ll_code, const uint8_t *d_len, const uint16_t *d_code) {
  uint32_t lit[256];
  for (int i = 0; i < 256; i++) lit[i] = ll_code[i] | (uint32_t)ll_len[i] << 16;
  // Length and distance codes with their extra bits, ready to add.
  uint32_t lenv[259];
  uint8_t lenn[259];
  for (int l = 3; l <= 258; l++) {
    int c = len_code[l];
    lenv[l] = ll_code[257 + c] | (uint32_t)(l - len_base[c]) << ll_len[257 + c];
    lenn[l] = (uint8_t)(ll_len[257 + c] + len_extra[c]);
  }
  bitwriter w = b->w;
  int four = 1;
  for (int i = 0; i < 256; i++) four &= ll_len[i] <= 14;
  for (size_t s = 0; s < b->nseq; s++) {
    const seq q = b->seqs[s];
    uint32_t k = 0;
    if (four)
      for (; k + 4 <= q.lit; k += 4) STEP4(w, p + k);
    for (; k + 3 <= q.lit; k += 3) {
      uint32_t e0 = lit[p[k]], e1 = lit[p[k + 1]], e2 = lit[p[k + 2]];
      bw_add(&w, e0 & 0xffff, e0 >> 16);
      bw_add(&w, e1 & 0xffff, e1 >> 16);
      bw_add(&w, e2 & 0xffff, e2 >> 16);
      bw_flush(&w);
    }
    for (; k < q.lit; k++) {
      uint32_t e = lit[p[k]];
      bw_add(&w, e & 0xffff, e >> 16);
    }
    bw_flush(&w);
    p += q.lit;
    if (q.len) {
      int dc = q.dc;
      bw_add(&w, lenv[q.len], lenn[q.len]);
      bw_add(&w, d_code[dc] | (uint64_t)(q.dist - dist_base[dc]) << d_len[dc], d_len[dc] + dist_extra[dc]);
      bw_flush(&w);
      p += q.len;
    }
  }
  bw_put(&w, ll_code[256], ll_len[256]);
  b->w = w;
}

// A literal-only block's bytes, with codes of at most 14 bits. The two halves are coded at once,
// each into its own bit buffer, which gives the CPU two independent chains of shifts and adds;
// then the second half's bits are appended to the first's.
static void write_literals(blockstate *b, const uint8_t *p, size_t n, const uint8_t *ll_len, const uint16_t *ll_code) {
  uint32_t lit[256];
  for (int i = 0; i < 256; i++) lit[i] = ll_code[i] | (uint32_t)ll_len[i] << 16;
  bitwriter w = b->w;
  size_t h = (n / 2) & ~(size_t)3, k = 0;
  uint8_t *tmp = h ? malloc(2 * (n - h) + 64) : NULL;
  if (tmp) {
    bitwriter w2 = {tmp, 0, 0, 0};
    const uint8_t *p2 = p + h;
    for (; k < h; k += 4) {
      STEP4(w, p + k);
      STEP4(w2, p2 + k);
    }
    for (; k + 4 <= n - h; k += 4) STEP4(w2, p2 + k);
    for (; k < n - h; k++) bw_put(&w2, lit[p2[k]] & 0xffff, lit[p2[k]] >> 16);
    for (size_t i = 0; i < w2.pos; i += 7) {
      size_t m = w2.pos - i < 7 ? w2.pos - i : 7;
      bw_put(&w, load64(tmp + i) & ((1ull << (8 * m)) - 1), (unsigned)(8 * m));
    }
    bw_put(&w, w2.bits & ((1u << w2.n) - 1), w2.n);
    free(tmp);
  } else {
    for (; k + 4 <= n; k += 4) STEP4(w, p + k);
    for (; k < n; k++) bw_put(&w, lit[p[k]] & 0xffff, lit[p[k]] >> 16);
  }
  bw_put(&w, ll_code[256], ll_len[256]);
  b->w = w;
}

// Writes the pending sequences, which cover stream bytes [start, end), as one block: dynamic,
// fixed or stored, whichever is smallest.
static void flush_block(blockstate *b, size_t start, size_t end, int last) {
  const uint8_t *p = b->in + (start - b->base);
  uint32_t ll_freq[286] = {0};
  if (b->literal) {
    // Counts from half the bytes (64 of every 128) are as good for photographs' residuals; every
    // byte value gets a code, so those not seen can still be written.
    uint32_t f[4][256];
    memset(f, 0, sizeof f);
    size_t n = end - start, k = 0;
    for (; k + 128 <= n; k += 128)
      for (size_t i = 0; i < 64; i += 4) f[0][p[k + i]]++, f[1][p[k + i + 1]]++, f[2][p[k + i + 2]]++, f[3][p[k + i + 3]]++;
    for (; k < n; k++) f[0][p[k]]++;
    for (int i = 0; i < 256; i++) ll_freq[i] = 2 * (f[0][i] + f[1][i] + f[2][i] + f[3][i]) + 1;
  } else {
    // Literal counts, four tables to keep increments of equal bytes apart.
    uint32_t f[4][256];
    memset(f, 0, sizeof f);
    const uint8_t *q = p;
    for (size_t s = 0; s < b->nseq; s++) {
      uint32_t n = b->seqs[s].lit, k = 0;
      for (; k + 4 <= n; k += 4) f[0][q[k]]++, f[1][q[k + 1]]++, f[2][q[k + 2]]++, f[3][q[k + 3]]++;
      for (; k < n; k++) f[0][q[k]]++;
      q += n + b->seqs[s].len;
    }
    for (int i = 0; i < 256; i++) ll_freq[i] = f[0][i] + f[1][i] + f[2][i] + f[3][i];
  }
  ll_freq[256] = 1;
  memcpy(ll_freq + 257, b->len_freq, sizeof b->len_freq);
  uint8_t ll_len[286], d_len[30];
  build_lengths(ll_freq, 286, b->literal ? 14 : 15, ll_len);
  build_lengths(b->d_freq, 30, 15, d_len);
  {
    uint64_t bits = 0, count = 0;
    for (int i = 0; i < 256; i++) bits += (uint64_t)ll_freq[i] * ll_len[i], count += ll_freq[i];
    if (count >= 1024) b->lit_cost = (uint32_t)(bits * 16 / count);
  }
  int hlit = 286, hdist = 30;
  while (hlit > 257 && !ll_len[hlit - 1]) hlit--;
  while (hdist > 1 && !d_len[hdist - 1]) hdist--;

  // Run-length code the concatenated lengths.
  uint8_t all[316];
  memcpy(all, ll_len, (size_t)hlit);
  memcpy(all + hlit, d_len, (size_t)hdist);
  int total = hlit + hdist;
  uint8_t rle_sym[316], rle_extra[316];
  int nrle = 0;
  uint32_t cl_freq[19] = {0};
  for (int i = 0; i < total;) {
    int v = all[i], run = 1;
    while (i + run < total && all[i + run] == v) run++;
    i += run;
    if (v == 0) {
      while (run >= 11) {
        int r = run > 138 ? 138 : run;
        rle_sym[nrle] = 18, rle_extra[nrle++] = (uint8_t)(r - 11), cl_freq[18]++;
        run -= r;
      }
      if (run >= 3) {
        rle_sym[nrle] = 17, rle_extra[nrle++] = (uint8_t)(run - 3), cl_freq[17]++;
        run = 0;
      }
    } else {
      rle_sym[nrle] = (uint8_t)v, rle_extra[nrle++] = 0, cl_freq[v]++;
      run--;
      while (run >= 3) {
        int r = run > 6 ? 6 : run;
        rle_sym[nrle] = 16, rle_extra[nrle++] = (uint8_t)(r - 3), cl_freq[16]++;
        run -= r;
      }
    }
    while (run-- > 0) rle_sym[nrle] = (uint8_t)v, rle_extra[nrle++] = 0, cl_freq[v]++;
  }
  uint8_t cl_len[19];
  uint16_t cl_code[19];
  build_lengths(cl_freq, 19, 7, cl_len);
  build_codes(cl_len, 19, cl_code);
  int hclen = 19;
  while (hclen > 4 && !cl_len[clen_order[hclen - 1]]) hclen--;

  uint64_t dyn = 3 + 5 + 5 + 4 + 3 * (uint64_t)hclen;
  for (int i = 0; i < 19; i++) dyn += (uint64_t)cl_freq[i] * cl_len[i];
  dyn += 2 * (uint64_t)cl_freq[16] + 3 * (uint64_t)cl_freq[17] + 7 * (uint64_t)cl_freq[18];
  dyn += block_bits(ll_freq, b->d_freq, ll_len, d_len);
  uint64_t fix = 3 + block_bits(ll_freq, b->d_freq, fixed_ll_len, fixed_d_len);
  size_t n = end - start;
  uint64_t stored = ((uint64_t)n + 5 * ((n + 65534) / 65535 + (n == 0))) * 8 + 7;
  bitwriter *w = &b->w;

  const bitwriter before = *w;
  int as_stored = stored <= dyn && stored <= fix;
  if (!as_stored && fix < dyn) {
    uint16_t ll_code[288], d_code[30];
    build_codes(fixed_ll_len, 288, ll_code);
    build_codes(fixed_d_len, 30, d_code);
    bw_put(w, (uint32_t)last | (1u << 1), 3);
    write_seqs(b, p, fixed_ll_len, ll_code, fixed_d_len, d_code);
  } else if (!as_stored) {
    uint16_t ll_code[286], d_code[30];
    build_codes(ll_len, 286, ll_code);
    build_codes(d_len, 30, d_code);
    bw_put(w, (uint32_t)last | (2u << 1), 3);
    bw_put(w, (uint32_t)(hlit - 257) | (uint32_t)(hdist - 1) << 5 | (uint32_t)(hclen - 4) << 10, 14);
    for (int i = 0; i < hclen; i++) bw_put(w, cl_len[clen_order[i]], 3);
    static const uint8_t rep_bits[3] = {2, 3, 7};
    for (int i = 0; i < nrle; i++) {
      int s = rle_sym[i];
      bw_put(w, cl_code[s], cl_len[s]);
      if (s >= 16) bw_put(w, rle_extra[i], rep_bits[s - 16]);
    }
    if (b->literal) write_literals(b, p, n, ll_len, ll_code);
    else write_seqs(b, p, ll_len, ll_code, d_len, d_code);
  }
  // A literal-only block's code lengths come from half of its bytes, so its real size can exceed
  // the estimate. One that came out larger than stored is written again as stored: the output
  // then stays within the buffer, which is sized for stored blocks plus one block's overrun.
  if (!as_stored && b->literal && (uint64_t)(w->pos - before.pos) * 8 + w->n - before.n > stored) {
    *w = before;
    as_stored = 1;
  }
  if (as_stored) {
    size_t off = 0;
    do {
      size_t k = n - off > 65535 ? 65535 : n - off;
      int fin = last && off + k == n;
      bw_put(w, (uint32_t)fin, 3);
      bw_align(w);
      uint8_t *o = w->buf + w->pos;
      o[0] = (uint8_t)k, o[1] = (uint8_t)(k >> 8), o[2] = (uint8_t)~k, o[3] = (uint8_t)(~k >> 8);
      memcpy(o + 4, p + off, k);
      w->pos += 4 + k;
      off += k;
    } while (off < n);
  }
  b->nseq = 0;
  memset(b->len_freq, 0, sizeof b->len_freq);
  memset(b->d_freq, 0, sizeof b->d_freq);
}

// ---------------------------------------------------------------------------------------------
// String matching

#define WSIZE 32768u
#define HASH_BITS 16
#define MIN_MATCH 4
#define MAX_MATCH 258
#define LOOKAHEAD (MAX_MATCH + 8)

typedef struct {
  int chain;   // candidates examined per position; 0 = one candidate, no chains (fast matcher)
  int nice;    // stop looking once a match this long is found
  int lazy;    // try the next position before taking a match shorter than this
  int insert;  // insert positions inside matches up to this length
  int skip;    // fast matcher: step grows by one every 2^skip bytes without a match (0 = never)
  int filters; // PNG filter types tried per row (bit f for type f)
} params;

static int matching_mode; // level 1: 0 chooses, 1 always matches, 2 never (PIXBATCH_PIXPNG_MATCHING, for tests)

static const params LEVELS[9] = {
    /* 1 */ {0, 258, 0, 0, 2, 31},
    /* 2 */ {0, 258, 0, 16, 2, 31},
    /* 3 */ {3, 64, 0, 16, 3, 31},
    /* 4 */ {8, 96, 16, 32, 3, 31},
    /* 5 */ {16, 128, 32, 258, 4, 31},
    /* 6 */ {32, 128, 64, 258, 0, 31},
    /* 7 */ {64, 192, 128, 258, 0, 31},
    /* 8 */ {128, 258, 258, 258, 0, 31},
    /* 9 */ {512, 258, 258, 258, 0, 31},
};

static inline uint32_t hash4(const uint8_t *p) { return (load32(p) * 2654435761u) >> (32 - HASH_BITS); }

// The fast matcher hashes six bytes: fewer, longer matches, each of which costs time to code.
static inline uint32_t hash6(const uint8_t *p) { return (uint32_t)(((load64(p) & 0xffffffffffffull) * 0x9E3779B97F4A7C15ull) >> (64 - HASH_BITS)); }

// Length of the common prefix of a and b, at most `max`; both must have max + 8 readable bytes.
static inline uint32_t match_len(const uint8_t *a, const uint8_t *b, uint32_t max) {
  uint32_t n = 0;
  while (n < max) {
    uint64_t x = load64(a + n) ^ load64(b + n);
    if (x) {
      n += (uint32_t)(__builtin_ctzll(x) >> 3);
      return n < max ? n : max;
    }
    n += 8;
  }
  return max;
}

typedef struct {
  const params *p;
  uint8_t *buf;     // stream bytes [base, base + len)
  size_t cap, base, len;
  size_t ip, anchor, block_start; // stream positions
  uint32_t *head;   // hash -> last position + 1 (0 = none)
  uint32_t *prev;   // position & (2 * WSIZE - 1) -> previous position + 1 with the same hash
  blockstate b;     // b.literal: no string matching, every byte a literal
} deflater;

#define AT(d, pos) ((d)->buf + ((pos) - (d)->base))

// How far a match at ip against c extends backwards (up to 8 bytes, not past anchor).
static inline uint32_t back_len(const deflater *d, size_t ip, size_t c, size_t anchor, size_t low) {
  uint32_t n = 0;
  while (n < 8 && ip - n > anchor && c - n > low && AT(d, ip)[-1 - (ptrdiff_t)n] == AT(d, c)[-1 - (ptrdiff_t)n]) n++;
  return n;
}

// Ends the block at `anchor` when the sequence buffer is full, so that one more sequence fits.
static void make_room(deflater *d, size_t anchor) {
  if (d->b.nseq < SEQ_MAX - 1) return;
  flush_block(&d->b, d->block_start, anchor, 0);
  d->block_start = anchor;
}

// The one-candidate matcher: LZ4-style, with backward extension, stepping faster through
// stretches without matches (sensor noise) when p->skip is set.
static size_t match_fast(deflater *d, size_t ip, size_t mlimit) {
  const params *p = d->p;
  blockstate *b = &d->b;
  size_t anchor = d->anchor;
  const size_t low = d->base;
  while (ip < mlimit) {
    const uint8_t *x = AT(d, ip);
    uint32_t h = hash6(x);
    uint32_t cand = d->head[h];
    d->head[h] = (uint32_t)ip + 1;
    size_t c = (size_t)cand - 1;
    uint32_t len = 0, dist = (uint32_t)(ip - c), dc = 0;
    if (cand && dist <= WSIZE && load32(AT(d, c)) == load32(x)) {
      len = 4 + match_len(x + 4, AT(d, c) + 4, MAX_MATCH - 4);
      uint32_t back = back_len(d, ip, c, anchor, low);
      if (back > MAX_MATCH - len) back = MAX_MATCH - len;
      len += back;
      dc = (uint32_t)dcode(dist);
      if (worth(b, len, dc)) ip -= back;
      else len = 0;
    }
    if (len) {
      make_room(d, anchor);
      emit(b, (uint32_t)(ip - anchor), len, dist, dc);
      size_t end = ip + len;
      if (len <= (uint32_t)p->insert)
        for (size_t k = ip + 1; k < end; k++) d->head[hash6(AT(d, k))] = (uint32_t)k + 1;
      else if (end - 2 > ip) d->head[hash6(AT(d, end - 2))] = (uint32_t)(end - 2) + 1;
      ip = end;
      anchor = ip;
    } else {
      ip += p->skip ? 1 + ((ip - anchor) >> p->skip) : 1;
      if (ip > mlimit) ip = mlimit;
    }
  }
  d->anchor = anchor;
  return ip;
}

static inline uint32_t longest(deflater *d, size_t pos, uint32_t cand, uint32_t *dist_out) {
  const params *p = d->p;
  const uint32_t pmask = 2 * WSIZE - 1;
  const uint8_t *x = AT(d, pos);
  uint32_t best = 0;
  int tries = p->chain;
  while (cand && tries-- > 0) {
    size_t c = (size_t)cand - 1;
    size_t dist = pos - c;
    if (dist > WSIZE) break;
    const uint8_t *y = AT(d, c);
    if (y[best] == x[best] && load32(y) == load32(x)) {
      uint32_t len = match_len(x, y, MAX_MATCH);
      if (len > best) {
        best = len;
        *dist_out = (uint32_t)dist;
        if (len >= (uint32_t)p->nice) break;
      }
    }
    uint32_t nxt = d->prev[c & pmask];
    if (nxt >= cand) break;
    cand = nxt;
  }
  return best >= MIN_MATCH && worth(&d->b, best, (uint32_t)dcode(*dist_out)) ? best : 0;
}

static inline uint32_t insert(deflater *d, size_t pos) {
  uint32_t h = hash4(AT(d, pos));
  uint32_t cand = d->head[h];
  d->head[h] = (uint32_t)pos + 1;
  d->prev[pos & (2 * WSIZE - 1)] = cand;
  return cand;
}

// The hash-chain matcher with optional one-step lazy evaluation.
static size_t match_chain(deflater *d, size_t ip, size_t mlimit) {
  const params *p = d->p;
  blockstate *b = &d->b;
  size_t anchor = d->anchor;
  while (ip < mlimit) {
    uint32_t dist = 0, len = longest(d, ip, insert(d, ip), &dist);
    if (!len) {
      ip += p->skip ? 1 + ((ip - anchor) >> p->skip) : 1;
      if (ip > mlimit) ip = mlimit;
      continue;
    }
    size_t inserted = ip;
    if (len < (uint32_t)p->lazy && ip + 1 < mlimit) {
      uint32_t d2 = 0, l2 = longest(d, ip + 1, insert(d, ip + 1), &d2);
      inserted = ip + 1;
      if (l2 > len) {
        ip++;
        len = l2;
        dist = d2;
      }
    }
    make_room(d, anchor);
    emit(b, (uint32_t)(ip - anchor), len, dist, (uint32_t)dcode(dist));
    size_t end = ip + len;
    if (len <= (uint32_t)p->insert)
      for (size_t k = inserted + 1; k < end; k++) insert(d, k);
    ip = end;
    anchor = ip;
  }
  d->anchor = anchor;
  return ip;
}

// Compresses what the buffer holds; with `final`, to the end of the stream, else up to the
// lookahead the matcher needs. Each call ends a block, so blocks never reach back into bytes the
// buffer has dropped.
static void deflate_chunk(deflater *d, int final) {
  size_t end = d->base + d->len;
  if (d->b.literal) {
    // Every byte a literal: one block per call, and nothing is kept for a window.
    if (end > d->anchor) emit(&d->b, (uint32_t)(end - d->anchor), 0, 0, 0);
    flush_block(&d->b, d->block_start, end, final);
    d->ip = d->anchor = d->block_start = d->base = d->b.base = end;
    d->len = 0;
    return;
  }
  size_t mlimit = end > LOOKAHEAD ? end - LOOKAHEAD : 0;
  size_t ip = d->ip;
  if (ip < mlimit) ip = d->p->chain ? match_chain(d, ip, mlimit) : match_fast(d, ip, mlimit);
  // The matchers stop at or past mlimit, never past end - 8.
  size_t stop = final ? end : (ip > mlimit ? ip : mlimit);
  blockstate *b = &d->b;
  make_room(d, d->anchor);
  if (stop > d->anchor) emit(b, (uint32_t)(stop - d->anchor), 0, 0, 0);
  flush_block(b, d->block_start, stop, final);
  d->ip = d->anchor = d->block_start = stop;
  // Keep the window behind `stop` and any lookahead after it.
  size_t keep = stop > WSIZE ? stop - WSIZE : 0;
  if (keep > d->base) {
    memmove(d->buf, AT(d, keep), end - keep);
    d->len = end - keep;
    d->base = keep;
    d->b.in = d->buf;
    d->b.base = d->base;
  }
}

// ---------------------------------------------------------------------------------------------
// PNG

static void pixpng_setup(void) {
  crc_init();
  tables_init();
  const char *m = getenv("PIXBATCH_PIXPNG_MATCHING");
  matching_mode = m && !strcmp(m, "always") ? 1 : m && !strcmp(m, "never") ? 2 : 0;
#if defined(__GLIBC__) && !defined(PIXPNG_STANDALONE)
  // glibc serves blocks under its mmap threshold from per-thread arenas, and the threshold grows
  // with each large block freed, up to 32 MiB. A pixel buffer is allocated on one pool thread and
  // freed on the main thread whenever V8 collects it, so photographs of 3-10 megapixels (9-30 MB
  // of pixels) left free holes in several arenas: 37 camera photographs peaked at 510-580 MiB.
  // A fixed 8 MiB threshold maps each such buffer on its own and unmaps it when freed: 380-410
  // MiB, at about the same speed. Smaller images (800x600 is 1.4 MB) are not affected. A
  // MALLOC_MMAP_THRESHOLD_ in the environment is the user's choice and is left alone.
  if (!getenv("MALLOC_MMAP_THRESHOLD_")) mallopt(M_MMAP_THRESHOLD, 8 << 20);
#endif
#ifdef PIXPNG_X86
  __builtin_cpu_init();
  // PIXBATCH_NO_AVX2 keeps to the SSE2 kernels and table CRC (the paths of older CPUs).
  int baseline = getenv("PIXBATCH_NO_AVX2") != NULL;
  have_avx2 = __builtin_cpu_supports("avx2") && !baseline;
  have_pclmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1") && !baseline;
#endif
}

#ifndef PIXPNG_STANDALONE
#if defined(__GLIBC__)
// How many malloc arenas the process has: malloc_info lists each as a <heap nr="...">.
static int arena_count(void) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return -1;
  int ok = malloc_info(0, f) == 0;
  fclose(f);
  int n = 0;
  for (const char *t = text; ok && t && (t = strstr(t, "<heap nr=")); t++) n++;
  free(text);
  return ok ? n : -1;
}

// Whether any of the process's threads is named `name` (Linux, /proc/self/task/*/comm): 1 yes,
// 0 no, -1 unknown.
#include <dirent.h>
static int thread_named(const char *name) {
  DIR *d = opendir("/proc/self/task");
  if (!d) return -1;
  int found = 0;
  struct dirent *e;
  while (!found && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[64], comm[32] = {0};
    snprintf(path, sizeof path, "/proc/self/task/%.20s/comm", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    if (fgets(comm, sizeof comm, f)) {
      comm[strcspn(comm, "\n")] = 0;
      found = strcmp(comm, name) == 0;
    }
    fclose(f);
  }
  closedir(d);
  return found;
}
#endif

// Tunes glibc's allocator for converting one large image after another, when called before the
// process has started its thread pools; returns what it did, for pixpngStatus().
//
// Each image's pixels (from libvips) and PNG (from encode_png) are blocks of megabytes. Under the
// 8 MiB mmap threshold set in pixpng_setup, any block over 8 MiB is mapped on its own and unmapped
// when freed, so every photograph's pixels are faulted in and zeroed page by page by the kernel:
// a fifth of the CPU time of converting camera photographs. Raising the threshold to glibc's
// maximum (32 MiB) and the trim threshold to 32 MiB lets those blocks be reused from one image to
// the next. With glibc's per-thread arenas, though, each pool thread kept its own free blocks
// and 37 photographs peaked at 520-540 MiB; capping the process at one arena keeps them in one
// heap: 360-380 MiB (with libvips' cache off, see runPipeline), against 305-340 with the 8 MiB
// threshold, for 11% less CPU. (A 64 MiB trim threshold was as fast and 20 MiB larger.) The cap only holds for
// threads that take an arena after it is set, so nothing is changed once the process has more than
// two arenas. Environment settings of the allocator are the user's choice and are left alone.
//
// Where libuv names its pool threads ("libuv-worker", Node 22 and later), whether they have started
// is read from the threads' names instead: those runtimes start more of their own threads before
// the first line of a program runs (Node 24 has 6 arenas by then), and those threads allocate
// little. Tuned there with 6 arenas, the 37 photographs took 10% less CPU, and the peak RSS was what
// it is with one arena on Node 20.
static const char *tune_allocator(int pool_threads_named) {
#if defined(__GLIBC__)
  static const char *done;
  if (done) return done;
  const char *tunables = getenv("GLIBC_TUNABLES");
  if (getenv("MALLOC_ARENA_MAX") || getenv("MALLOC_MMAP_THRESHOLD_") || getenv("MALLOC_TRIM_THRESHOLD_") ||
      (tunables && strstr(tunables, "glibc.malloc.")))
    return done = "default (the environment sets the allocator)";
  const char *late = "default (called after the thread pools started)";
  int named = pool_threads_named ? thread_named("libuv-worker") : -1;
  if (named == 1) return done = late;
  if (named == -1) {
    int arenas = arena_count();
    if (arenas < 1 || arenas > 2) return done = late;
  }
  mallopt(M_ARENA_MAX, 1);
  mallopt(M_TRIM_THRESHOLD, 32 << 20);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  return done = "tuned for bulk conversion";
#else
  return "default (not glibc)";
#endif
}
#endif

// Tables are filled once per process, however many times the addon is loaded (worker threads).
#if defined(_WIN32)
static void pixpng_init(void) {
  static volatile long done;
  if (!done) pixpng_setup(), done = 1;
}
#else
#include <pthread.h>
static void pixpng_init(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, pixpng_setup);
}
#endif

typedef struct {
  const uint8_t *pixels;
  uint32_t width, height;
  int channels, level;
  uint8_t *png;
  size_t png_len;
  const char *error;
} job;

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

#define CHUNK (256u << 10)
#define IDAT_MAX 0x7fffffffu
// The largest filtered stream encode() takes: stored blocks add 5 bytes per 65535, plus headers.
#define PIXPNG_MAX_STREAM 0x7f000000ull

// Level 1 either matches strings or codes every byte as a literal, whichever a sample of the image
// favours. In a photograph's filtered rows, repeats are rare and short (sensor noise, grain, JPEG
// artefacts): on 37 camera photographs the matcher took about half of the encode time and saved
// under 6% of the bytes. Where there are flat areas or repeated texture (drawings, screenshots,
// skies), literals alone are 13-90% larger. So 16 bands of rows spread
// over the image (1/64 of it, at least 32 KiB) are filtered and compressed both ways, and the
// whole image is coded literally when that is at most LITERAL_WITHIN percent larger on the sample.
#define SAMPLE_DIV 64
#define SAMPLE_MIN ((size_t)32 << 10)
#define LITERAL_WITHIN 12

// The compressed size of a sample of `bands` streams of `band` bytes each, coded literally or with
// the matcher started afresh at each band (as it is at each chunk of the real stream).
static size_t trial_size(uint8_t *sample, size_t bands, size_t band, const params *p, int literal, uint8_t *out, uint32_t *head, seq *seqs) {
  deflater d;
  memset(&d, 0, sizeof d);
  if (!literal) memset(head, 0, ((size_t)1 << HASH_BITS) * 4);
  d.p = p, d.buf = sample, d.len = bands * band, d.head = head, d.b.literal = literal;
  d.b.seqs = seqs, d.b.in = sample, d.b.lit_cost = 6 * 16;
  d.b.w = (bitwriter){out, 0, 0, 0};
  if (!literal)
    for (size_t k = 0; k < bands; k++) {
      size_t start = k * band, ip = start > d.anchor ? start : d.anchor;
      if (ip > d.anchor) {
        make_room(&d, d.anchor);
        emit(&d.b, (uint32_t)(ip - d.anchor), 0, 0, 0);
        d.anchor = ip;
      }
      // Matches may run on into the next band, but not past the end of the sample.
      size_t limit = k + 1 < bands ? start + band : bands * band - LOOKAHEAD;
      if (ip < limit) d.ip = match_fast(&d, ip, limit);
    }
  deflate_chunk(&d, 1);
  bw_align(&d.b.w);
  return d.b.w.pos;
}

static int choose_literal(const job *j, const params *p, int bpp, size_t stride) {
  if (p->chain || matching_mode == 1) return 0;
  if (matching_mode == 2) return 1;
  const size_t row = stride + 1, bands = 16;
  size_t target = row * j->height / SAMPLE_DIV;
  if (target < SAMPLE_MIN) target = SAMPLE_MIN;
  size_t per = (target / bands + row - 1) / row;
  // Small images: the sample would be much of the image, and matching costs little there.
  if (per * bands * 2 > j->height) return 0;
  size_t n = per * bands * row;
  uint8_t *sample = calloc(n + LOOKAHEAD, 1), *out = malloc(2 * n + 1024), *scratch = calloc(ROWSCRATCH_SIZE(stride), 1);
  uint32_t *head = malloc(((size_t)1 << HASH_BITS) * 4);
  seq *seqs = malloc(SEQ_MAX * sizeof(seq));
  int literal = 0;
  if (sample && out && scratch && head && seqs) {
    rowscratch rs;
    uint8_t *rows[2];
    rowscratch_init(&rs, rows, scratch, stride);
    uint8_t *o = sample;
    for (size_t k = 0; k < bands; k++) {
      size_t y0 = (j->height - per) * k / (bands - 1);
      if (y0) memcpy(rows[1], j->pixels + (y0 - 1) * stride, stride);
      else memset(rows[1], 0, stride);
      for (size_t y = y0; y < y0 + per; y++, o += row) {
        rs.prev = rows[(y - y0 + 1) & 1];
        rs.cur = rows[(y - y0) & 1];
        memcpy(rs.cur, j->pixels + y * stride, stride);
        filter_row(&rs, stride, bpp, o, p->filters);
      }
    }
    // Literals first: the matched trial's last chunk moves its window within the sample.
    size_t lit = trial_size(sample, bands, per * row, p, 1, out, head, seqs);
    size_t match = trial_size(sample, bands, per * row, p, 0, out, head, seqs);
    literal = lit * 100 <= match * (100 + LITERAL_WITHIN);
  }
  free(sample), free(out), free(scratch), free(head), free(seqs);
  return literal;
}

static void encode_png(job *j) {
  const int bpp = j->channels;
  const size_t stride = (size_t)j->width * bpp;
  const size_t flen = (stride + 1) * j->height;
  const params *p = &LEVELS[(j->level < 1 ? 1 : j->level > 9 ? 9 : j->level) - 1];
  deflater d;
  memset(&d, 0, sizeof d);
  d.p = p;
  d.b.literal = choose_literal(j, p, bpp, stride);
  d.cap = WSIZE + LOOKAHEAD + CHUNK + 2 * (stride + 1) + 64;
  d.buf = malloc(d.cap);
  d.head = calloc((size_t)1 << HASH_BITS, 4);
  d.prev = p->chain ? calloc(2 * WSIZE, 4) : NULL;
  d.b.seqs = malloc(SEQ_MAX * sizeof(seq));
  uint8_t *scratch = calloc(ROWSCRATCH_SIZE(stride), 1);
  // The PNG is written straight into one buffer sized for the worst case (stored blocks); pages
  // past what is written are never touched.
  size_t cap = 8 + 25 + 8 + 2 + flen + 5 * (flen / 65535 + 2) + 5 * (flen / 1024 + 2) + 4 + 4 + 12 + 64;
  if (d.b.literal) cap += d.cap; // one literal block written, measured and rewritten as stored
  uint8_t *png = malloc(cap);
  if (!d.buf || !d.head || (p->chain && !d.prev) || !d.b.seqs || !scratch || !png) {
    j->error = "out of memory";
    free(png);
    goto done;
  }
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  static const uint8_t colour[5] = {0, 0, 4, 2, 6};
  uint8_t *o = png;
  memcpy(o, sig, 8);
  o += 8;
  put_be32(o, 13);
  memcpy(o + 4, "IHDR", 4);
  put_be32(o + 8, j->width);
  put_be32(o + 12, j->height);
  o[16] = 8, o[17] = colour[j->channels], o[18] = 0, o[19] = 0, o[20] = 0;
  put_be32(o + 21, crc32_update(0, o + 4, 17));
  o += 25;
  uint8_t *idat = o; // length, "IDAT", data, CRC
  memcpy(idat + 4, "IDAT", 4);
  d.b.w = (bitwriter){idat + 8, 0, 0, 0};
  d.b.w.buf[d.b.w.pos++] = 0x78;
  d.b.w.buf[d.b.w.pos++] = 0x5e; // FLEVEL 1; 0x785e is a multiple of 31
  d.b.in = d.buf;
  d.b.lit_cost = 6 * 16;

  uint32_t adler = 1;
  uint8_t *rows[2];
  rowscratch rs;
  rowscratch_init(&rs, rows, scratch, stride);
  for (uint32_t y = 0; y < j->height; y++) {
    // Rows are copied next to zero padding so that the filters need no special cases.
    rs.cur = rows[y & 1];
    rs.prev = rows[(y & 1) ^ 1];
    memcpy(rs.cur, j->pixels + (size_t)y * stride, stride);
    uint8_t *out = d.buf + d.len;
    filter_row(&rs, stride, bpp, out, p->filters);
    adler = adler32(adler, out, stride + 1);
    d.len += stride + 1;
    if (d.len + stride + 1 > d.cap - 64 || d.len >= WSIZE + LOOKAHEAD + CHUNK) deflate_chunk(&d, 0);
  }
  deflate_chunk(&d, 1);
  bw_align(&d.b.w);
  put_be32(d.b.w.buf + d.b.w.pos, adler);
  d.b.w.pos += 4;
  size_t zlen = d.b.w.pos;
  if (zlen > IDAT_MAX) {
    j->error = "compressed image too large for one PNG chunk";
    free(png);
    goto done;
  }
  put_be32(idat, (uint32_t)zlen);
  put_be32(idat + 8 + zlen, crc32_update(0, idat + 4, zlen + 4));
  o = idat + 12 + zlen;
  put_be32(o, 0);
  memcpy(o + 4, "IEND", 4);
  put_be32(o + 8, crc32_update(0, o + 4, 4));
  o += 12;
  j->png = png;
  j->png_len = (size_t)(o - png);
done:
  free(d.buf);
  free(d.head);
  free(d.prev);
  free(d.b.seqs);
  free(scratch);
}

#ifndef PIXPNG_STANDALONE
// ---------------------------------------------------------------------------------------------
// Node-API glue

typedef struct {
  job j;
  napi_ref input;
  bool consume;
  napi_deferred deferred;
  napi_async_work work;
} request;

static void execute(napi_env env, void *data) {
  (void)env;
  encode_png(&((request *)data)->j);
}

static void free_png(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  free(data);
}

// Frees a Buffer's memory now instead of when V8 collects it, by detaching its ArrayBuffer: the
// Buffer (and every view of that ArrayBuffer) is left empty. Only a Buffer that spans its whole
// ArrayBuffer is detached; a slice of Node's shared pool, or anything else, is left alone.
static bool detach_whole(napi_env env, napi_value value) {
  napi_typedarray_type type;
  napi_value ab;
  void *data, *ab_data;
  size_t len, offset, ab_len;
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return false;
  if (napi_get_typedarray_info(env, value, &type, &len, &data, &ab, &offset) != napi_ok || type != napi_uint8_array) return false;
  if (napi_get_arraybuffer_info(env, ab, &ab_data, &ab_len) != napi_ok || offset != 0 || ab_len != len || len == 0) return false;
  return napi_detach_arraybuffer(env, ab) == napi_ok;
}

static void complete(napi_env env, napi_status status, void *data) {
  request *r = data;
  napi_value result;
  if (status == napi_ok && !r->j.error) {
    napi_status s = napi_create_external_buffer(env, r->j.png_len, r->j.png, free_png, NULL, &result);
    if (s != napi_ok) {
      // Runtimes that refuse external memory: copy.
      void *copy;
      s = napi_create_buffer_copy(env, r->j.png_len, r->j.png, &copy, &result);
      free(r->j.png);
    }
    if (s == napi_ok) napi_resolve_deferred(env, r->deferred, result);
    else {
      napi_value msg;
      napi_create_string_utf8(env, "out of memory for the PNG", NAPI_AUTO_LENGTH, &msg);
      napi_create_error(env, NULL, msg, &result);
      napi_reject_deferred(env, r->deferred, result);
    }
  } else {
    napi_value msg;
    napi_create_string_utf8(env, r->j.error ? r->j.error : "encoding was cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &result);
    napi_reject_deferred(env, r->deferred, result);
    free(r->j.png);
  }
  if (r->consume) {
    napi_value input;
    if (napi_get_reference_value(env, r->input, &input) == napi_ok && input) detach_whole(env, input);
  }
  napi_delete_reference(env, r->input);
  napi_delete_async_work(env, r->work);
  free(r);
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static napi_value encode(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) return throw_type(env, "encode(pixels, width, height, channels, level[, consume]) takes five or six arguments");
  bool is_buf = false;
  napi_is_buffer(env, argv[0], &is_buf);
  if (!is_buf) return throw_type(env, "pixels must be a Buffer");
  void *data;
  size_t len;
  napi_get_buffer_info(env, argv[0], &data, &len);
  uint32_t width, height, channels;
  int32_t level;
  if (napi_get_value_uint32(env, argv[1], &width) != napi_ok || napi_get_value_uint32(env, argv[2], &height) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &channels) != napi_ok || napi_get_value_int32(env, argv[4], &level) != napi_ok)
    return throw_type(env, "width, height, channels and level must be numbers");
  if (width == 0 || height == 0 || width > 0x7fffffff || height > 0x7fffffff) return throw_type(env, "width and height must be 1 to 2^31-1");
  if (channels < 1 || channels > 4) return throw_type(env, "channels must be 1 to 4");
  if ((uint64_t)width * height * channels != len) return throw_type(env, "pixels must hold width*height*channels bytes");
  // One IDAT chunk holds at most 2^31 - 1 bytes: keep even a stored (incompressible) stream within it.
  if ((uint64_t)(width * (uint64_t)channels + 1) * height > PIXPNG_MAX_STREAM)
    return throw_type(env, "image too large for this encoder");
  request *r = calloc(1, sizeof *r);
  if (!r) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  r->j = (job){data, width, height, (int)channels, level, NULL, 0, NULL};
  if (argc > 5) napi_get_value_bool(env, argv[5], &r->consume);
  napi_create_reference(env, argv[0], 1, &r->input);
  napi_value promise, name;
  napi_create_promise(env, &r->deferred, &promise);
  napi_create_string_utf8(env, "pixpng.encode", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, r, &r->work);
  napi_queue_async_work(env, r->work);
  return promise;
}

static napi_value release(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_boolean(env, argc == 1 && detach_whole(env, argv[0]), &result);
  return result;
}

// tuneAllocator(poolThreadsNamed): whether this runtime's libuv names its pool threads.
static napi_value tune_allocator_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg, result;
  bool named = false;
  if (napi_get_cb_info(env, info, &argc, &arg, NULL, NULL) == napi_ok && argc >= 1) napi_get_value_bool(env, arg, &named);
  napi_create_string_utf8(env, tune_allocator(named), NAPI_AUTO_LENGTH, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  pixpng_init();
  static const struct {
    const char *name;
    napi_callback cb;
  } fns[] = {{"encode", encode}, {"release", release}, {"tuneAllocator", tune_allocator_js}};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value fn;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, NULL, &fn);
    napi_set_named_property(env, exports, fns[i].name, fn);
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
#endif
