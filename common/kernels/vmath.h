/* vmath.h — a softmax's pieces as loops that vectorize (needs -fno-trapping-math, set for the
 * library), each element or row computed by the same float operations however an array is cut.
 *
 * pc_expf: exp(x) for float as straight-line code (libm's expf is a call): within 1.1 ulp of
 * exp for -87 <= x <= 88, 0 below -87, +inf above 88 (exp of 88 is near FLT_MAX; the kernels
 * never need more), NaN for NaN.
 * x = n ln2 + r with n an integer and |r| <= ln2 / 2 (ln2 in two parts, so that n ln2 is exact
 * enough), exp(r) by its Taylor series to r^7 (the first term left out is below 2^-23 / 2), and
 * 2^n made from its exponent bits. */
#ifndef PC_VMATH_H
#define PC_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float pc_expf(float x) {
  const float log2e = 1.44269504088896341f;
  const float ln2_hi = 0.693359375f;     /* 355/512: n * ln2_hi is exact for |n| < 2^15 */
  const float ln2_lo = -2.12194440e-4f;  /* ln 2 - ln2_hi */
  const float shift = 12582912.0f;       /* 1.5 * 2^23: adding it rounds to an integer */
  float xc = x > 88.0f ? 88.0f : x;
  xc = xc < -87.0f ? -87.0f : xc;
  float t = xc * log2e + shift; /* its low mantissa bits hold n */
  float n = t - shift;
  float r = (xc - n * ln2_hi) - n * ln2_lo;
  float q = 1.0f / 5040.0f;
  q = q * r + 1.0f / 720.0f;
  q = q * r + 1.0f / 120.0f;
  q = q * r + 1.0f / 24.0f;
  q = q * r + 1.0f / 6.0f;
  q = q * r + 0.5f;
  float p = 1.0f + (r + (r * r) * q);
  uint32_t tb, sb;
  memcpy(&tb, &t, sizeof tb);
  sb = (tb - 0x4B400000u + 127u) << 23; /* the exponent field of 2^n, -126 <= n <= 127 */
  float scale;
  memcpy(&scale, &sb, sizeof scale);
  float y = p * scale;
  y = x > 88.0f ? INFINITY : y;
  return x < -87.0f ? 0.0f : y;
}

/* The largest of x[0..n), n >= 1, in eight running maxima started at x[0], joined, then the
 * rest in order: the value `if (x[j] > m) m = x[j]` from m = x[0] finds (NaNs aside). */
static inline float pc_maxf(const float *x, size_t n) {
  float m[8] = {x[0], x[0], x[0], x[0], x[0], x[0], x[0], x[0]};
  size_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; k++) m[k] = x[j + k] > m[k] ? x[j + k] : m[k];
  for (int k = 1; k < 8; k++) m[0] = m[k] > m[0] ? m[k] : m[0];
  for (; j < n; j++) m[0] = x[j] > m[0] ? x[j] : m[0];
  return m[0];
}

/* The sum of x[0..n) in eight running sums, joined pairwise, then the rest in order. */
static inline float pc_sumf(const float *x, size_t n) {
  float s[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  size_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; k++) s[k] += x[j + k];
  float t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; j < n; j++) t += x[j];
  return t;
}

#endif
