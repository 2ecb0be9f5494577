/* init.c — deterministic random numbers and parameter initialisation.
 *
 * Every random number pipecast draws is a pure function of (seed, name, index): the name (a
 * layer's hierarchical name plus ".weight"/".bias", or a data set's name) is hashed with FNV-1a,
 * mixed with the seed into a 64-bit stream key, and element `index` of the stream is splitmix64's
 * output at counter `index`. Nothing depends on which rank or partition draws it, or in what
 * order, so every partition of a model starts from identical weights and a synthetic data set is
 * the same everywhere. The default initialisations are PyTorch's (their distribution and bounds;
 * the random bits are of course pipecast's own). */
#include <math.h>

#include "kernels.h"

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull
#define GOLDEN_GAMMA 0x9e3779b97f4a7c15ull

// splitmix64's output function: a bijective 64-bit mixer.
static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t fnv1a(uint64_t h, const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
    h ^= *p;
    h *= FNV_PRIME;
  }
  return h;
}

static uint64_t key_from_hash(uint64_t seed, uint64_t name_hash) {
  return mix64(name_hash ^ mix64(seed + GOLDEN_GAMMA));
}

uint64_t pc_rng_key(uint64_t seed, const char *name) {
  return key_from_hash(seed, fnv1a(FNV_OFFSET, name));
}

// The key of the stream named "<name><suffix>", without building the string.
static uint64_t key_with_suffix(uint64_t seed, const char *name, const char *suffix) {
  return key_from_hash(seed, fnv1a(fnv1a(FNV_OFFSET, name), suffix));
}

uint64_t pc_rng_u64(uint64_t key, uint64_t index) {
  return mix64(key + (index + 1) * GOLDEN_GAMMA);
}

float pc_rng_uniform(uint64_t key, uint64_t index) {
  return (float)(pc_rng_u64(key, index) >> 40) * 0x1p-24f;
}

float pc_rng_normal(uint64_t key, uint64_t index) {
  uint64_t r = pc_rng_u64(key, index);
  double u1 = ((double)(r >> 32) + 1.0) * 0x1p-32; // (0, 1]: the log stays finite
  double u2 = (double)(r & 0xffffffffull) * 0x1p-32;
  const double two_pi = 6.283185307179586476925286766559;
  return (float)(sqrt(-2.0 * log(u1)) * cos(two_pi * u2));
}

float pc_rand_uniform(uint64_t seed, const char *name, uint64_t index) {
  return pc_rng_uniform(pc_rng_key(seed, name), index);
}

float pc_rand_normal(uint64_t seed, const char *name, uint64_t index) {
  return pc_rng_normal(pc_rng_key(seed, name), index);
}

void pc_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t key, uint64_t first) {
  // x: (n)
  for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * pc_rng_uniform(key, first + i);
}

void pc_fill_normal(float *x, size_t n, float mean, float std, uint64_t key, uint64_t first) {
  // x: (n)
  for (size_t i = 0; i < n; i++) x[i] = mean + std * pc_rng_normal(key, first + i);
}

// Weights uniform in +-gain * sqrt(3 / fan_in), whose standard deviation is gain / sqrt(fan_in)
// (kaiming_uniform_ with that gain); bias uniform in +-1/sqrt(fan_in), as torch's Linear and
// Conv2d reset_parameters do. gain = 1/sqrt(3) is torch's default layer initialisation;
// gain = sqrt(2) keeps the variance of activations through ReLU layers (He et al.).
static void init_kaiming(float *w, size_t nw, float *b, size_t nb, size_t fan_in, float gain,
                         uint64_t seed, const char *name) {
  float wbound = (float)(gain * sqrt(3.0 / (double)fan_in));
  float bbound = (float)(1.0 / sqrt((double)fan_in));
  pc_fill_uniform(w, nw, -wbound, wbound, key_with_suffix(seed, name, ".weight"), 0);
  if (b != NULL) pc_fill_uniform(b, nb, -bbound, bbound, key_with_suffix(seed, name, ".bias"), 0);
}

void pc_init_fc(float *w, float *b, size_t IN, size_t OUT, float gain, uint64_t seed,
                const char *name) {
  // w: (OUT, IN)  b: (OUT) or NULL
  init_kaiming(w, OUT * IN, b, OUT, IN, gain, seed, name);
}

void pc_init_conv(float *w, float *b, size_t IC, size_t OC, size_t K, float gain, uint64_t seed,
                  const char *name) {
  // w: (OC, IC, K, K)  b: (OC) or NULL
  init_kaiming(w, OC * IC * K * K, b, OC, IC * K * K, gain, seed, name);
}

void pc_init_embed(float *w, size_t n, float std, uint64_t seed, const char *name) {
  // w: (n)
  pc_fill_normal(w, n, 0.0f, std, key_with_suffix(seed, name, ".weight"), 0);
}

void pc_init_bn(float *gamma, float *beta, float *running_mean, float *running_var, size_t C) {
  // all: (C)
  for (size_t c = 0; c < C; c++) {
    gamma[c] = 1.0f;
    beta[c] = 0.0f;
    if (running_mean != NULL) running_mean[c] = 0.0f;
    if (running_var != NULL) running_var[c] = 1.0f;
  }
}
