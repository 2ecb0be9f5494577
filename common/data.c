/* data.c — data sets for the trainer: synthetic class clusters made from a seed, and the
 * CIFAR-10 binary and MNIST IDX readers (see data.h).
 *
 * Synthetic data. Class c has a prototype p_c in input space, from the random stream named
 * (seed, "class:<c>"): for a flat input, one standard normal per element; for an image, per
 * channel a colour offset plus two plane waves (the class's frequencies, up to a quarter of the
 * side, orientations and phases; the channel's amplitudes), which a convolution recognises
 * anywhere in the image, so that even a network ending in global average pooling learns them.
 * Each prototype is scaled to unit RMS. Sample i, of class c, is
 *
 *     x = a * ((1 - t) * p_c + t * p_o) + b * noise(i)
 *
 * with o another class and t in [0, PC_SYNTH_MIX) drawn per sample (stream (seed, "mix")), and
 * the noise standard normal from the sample's own stream (derived from (seed, "noise")). The
 * blend puts some samples near the boundary between two classes whatever the input's size, and
 * the noise blurs it: a^2 + b^2 = 1 (inputs of about unit variance) and a/b is the larger of
 * PC_SYNTH_SNR_MIN and what puts two prototypes PC_SYNTH_SEPARATION noise deviations apart.
 * Measured with 10 classes: nearest-class-mean on held-out samples 95% (16 features) to 100%
 * (3x32x32); a 32-wide one-hidden-layer MLP (SGD, lr 0.01, momentum 0.9, batch 32) 94-100% of
 * training samples right after 300 steps; a two-conv network with global average pooling
 * 81% (3x8x8) and 88% (3x32x32) after 300 steps.
 *
 * Labels are a pseudo-random permutation of the split's indices (a Feistel network with cycle
 * walking) taken modulo the class count: exactly balanced when the class count divides the
 * size, and computable one index at a time. The test split's samples use the global indices
 * after the training split's, so the two never share noise. Prototypes are computed once at
 * open when they take at most PC_SYNTH_CACHE_FLOATS floats, else (ImageNet-sized inputs with
 * many classes) again for each sample, with the same arithmetic and so the same bits.
 *
 * File formats. The files are read whole at open and kept as bytes; a sample's image is
 * converted when asked for, through a per-channel table of the 256 possible values:
 * x = (v / 255 - mean[c]) / std[c], computed in double and rounded to float once. */
#include "data.h"

#include <math.h>
#include <string.h>

#include "error.h"
#include "files.h"
#include "kernels.h"

/* ------------------------------------------------------------------------------------------ */
/* constants */

/* Least mean distance between two class prototypes, in noise standard deviations. */
#define PC_SYNTH_SEPARATION 10.0
/* Least ratio of prototype to noise per element (RMS). */
#define PC_SYNTH_SNR_MIN 0.6
/* Largest weight of the other class's prototype in a sample. */
#define PC_SYNTH_MIX 0.35f
/* Largest prototype table (classes * numel floats) kept in memory: 64 MiB. */
#define PC_SYNTH_CACHE_FLOATS ((int64_t)16 << 20)
/* Plane waves in an image prototype. */
#define PC_SYNTH_WAVES 2

#define CIFAR_SIDE 32
#define CIFAR_CHANNELS 3
#define CIFAR_IMAGE (CIFAR_CHANNELS * CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_RECORD (1 + CIFAR_IMAGE)
#define CIFAR_TRAIN_FILES 5
#define FILE_CLASSES 10

static const double cifar_mean[CIFAR_CHANNELS] = {0.4914, 0.4822, 0.4465};
static const double cifar_std[CIFAR_CHANNELS] = {0.2470, 0.2435, 0.2616};
static const double mnist_mean = 0.1307;
static const double mnist_std = 0.3081;

#define MNIST_IMAGES_MAGIC 0x00000803u
#define MNIST_LABELS_MAGIC 0x00000801u

/* ------------------------------------------------------------------------------------------ */
/* the data set */

typedef enum {
  PC_DATASET_KIND_SYNTHETIC,
  PC_DATASET_KIND_FILES,
  PC_DATASET_KIND_TOKENS, /* token windows, synthetic or from a file */
} pc_dataset_kind;

/* A run of samples held as bytes: sample k's image is img[k*img_stride .. + numel), its label
 * lab[k*lab_stride]. */
typedef struct {
  guint8 *buf, *buf2; /* owned: the file contents (buf2: MNIST's labels file) */
  const guint8 *img, *lab;
  size_t img_stride, lab_stride;
  int64_t first, n; /* data set indices first .. first+n-1 */
} pc_chunk;

struct pc_dataset {
  pc_dataset_kind kind;
  pc_shape input;
  int64_t numel, classes, size;
  char *describe;

  /* synthetic */
  uint64_t seed;
  uint64_t label_key, noise_key, mix_key;
  int64_t offset;   /* global index of sample 0 (the test split follows the training split) */
  float a, b;       /* x = a * prototype + b * noise */
  float *protos;    /* (classes, numel) unit-RMS prototypes, or NULL: computed per sample */

  /* tokens: windows of T + 1 tokens, the input its first T, the labels its last T */
  int64_t positions;      /* labels per sample: 1, or T for token windows */
  guint8 *token_buf;      /* the file (NULL: synthetic) */
  const guint8 *tokens;   /* its uint16 tokens, little-endian */
  int64_t window0;        /* the split's first window in the file */
  uint64_t start_key, succ_key, copy_key;

  /* files */
  pc_chunk chunks[CIFAR_TRAIN_FILES];
  int nchunks;
  float lut[CIFAR_CHANNELS][256]; /* byte value -> normalised float, per channel */
  int64_t plane;                  /* elements per channel */
};

static int64_t wrap(const pc_dataset *d, int64_t i) {
  int64_t r = i % d->size;
  return r < 0 ? r + d->size : r;
}

/* ------------------------------------------------------------------------------------------ */
/* synthetic: labels */

/* A pseudo-random permutation of [0, n): a 4-round Feistel network on the smallest even number
 * of bits that holds n, walking the cycle until the value falls inside [0, n). */
static uint64_t permute(uint64_t key, uint64_t n, uint64_t i) {
  unsigned bits = 2;
  while (bits < 64 && (1ull << bits) < n) bits += 2;
  unsigned half = bits / 2;
  uint64_t mask = (1ull << half) - 1;
  uint64_t x = i;
  do {
    uint64_t l = x >> half, r = x & mask;
    for (uint64_t round = 0; round < 4; round++) {
      uint64_t f = pc_rng_u64(key, (round << 32) | r) & mask;
      uint64_t t = l ^ f;
      l = r;
      r = t;
    }
    x = (l << half) | r;
  } while (x >= n);
  return x;
}

static int32_t synth_label(const pc_dataset *d, int64_t i) {
  return (int32_t)(permute(d->label_key, (uint64_t)d->size, (uint64_t)i) % (uint64_t)d->classes);
}

/* ------------------------------------------------------------------------------------------ */
/* synthetic: prototypes and samples */

/* Writes class c's unit-RMS prototype into p.   p: (numel). */
static void synth_prototype(const pc_dataset *d, int64_t c, float *p) {
  char name[40];
  snprintf(name, sizeof name, "class:%lld", (long long)c);
  uint64_t key = pc_rng_key(d->seed, name);
  size_t numel = (size_t)d->numel;

  if (d->input.ndim != 3) {
    pc_fill_normal(p, numel, 0.0f, 1.0f, key, 0);
  } else {
    /* Per channel: a colour offset plus PC_SYNTH_WAVES plane waves whose frequency (whole
     * cycles per image, up to a quarter of the side: a wavelength of 4 pixels or more),
     * orientation and phase are the class's, their amplitude the channel's. Convolutions see
     * the waves' local orientation and frequency anywhere in the image. */
    size_t C = (size_t)d->input.d[0], H = (size_t)d->input.d[1], W = (size_t)d->input.d[2];
    int64_t fmax_y = (int64_t)H / 4 > 1 ? (int64_t)H / 4 : 1;
    int64_t fmax_x = (int64_t)W / 4 > 1 ? (int64_t)W / 4 : 1;
    double fy[PC_SYNTH_WAVES], fx[PC_SYNTH_WAVES], phase[PC_SYNTH_WAVES];
    uint64_t r = 0; /* next element of the class's stream */
    for (int k = 0; k < PC_SYNTH_WAVES; k++) {
      fy[k] = (double)(int64_t)(pc_rng_u64(key, r++) % (uint64_t)(2 * fmax_y + 1)) - (double)fmax_y;
      fx[k] = (double)(int64_t)(pc_rng_u64(key, r++) % (uint64_t)(fmax_x + 1));
      if (fx[k] == 0 && fy[k] == 0) fx[k] = 1; /* no second constant */
      phase[k] = 2 * G_PI * pc_rng_uniform(key, r++);
    }
    for (size_t ch = 0; ch < C; ch++) {
      float offset = pc_rng_normal(key, r++), amp[PC_SYNTH_WAVES];
      for (int k = 0; k < PC_SYNTH_WAVES; k++) amp[k] = pc_rng_normal(key, r++);
      for (size_t y = 0; y < H; y++)
        for (size_t x = 0; x < W; x++) {
          double v = offset;
          for (int k = 0; k < PC_SYNTH_WAVES; k++)
            v += amp[k] * cos(2 * G_PI * (fy[k] * (double)y / (double)H +
                                         fx[k] * (double)x / (double)W) + phase[k]);
          p[(ch * H + y) * W + x] = (float)v;
        }
    }
  }

  double ss = 0;
  for (size_t j = 0; j < numel; j++) ss += (double)p[j] * p[j];
  if (ss > 0) {
    float scale = (float)(1.0 / sqrt(ss / (double)numel));
    for (size_t j = 0; j < numel; j++) p[j] *= scale;
  }
}

/* Sample i of the split, of class `label`.   x: (numel). */
static void synth_sample(const pc_dataset *d, int64_t i, int32_t label, float *x) {
  size_t numel = (size_t)d->numel;
  uint64_t g = (uint64_t)(d->offset + i); /* the sample's global index */
  /* The class it leans towards, and how far. */
  float t = d->classes > 1 ? PC_SYNTH_MIX * pc_rng_uniform(d->mix_key, 2 * g) : 0.0f;
  int64_t other = d->classes > 1 ? (label + 1 + (int64_t)(pc_rng_u64(d->mix_key, 2 * g + 1) %
                                                          (uint64_t)(d->classes - 1))) %
                                       d->classes
                                 : label;
  const float *p, *q;
  float *tmp = NULL;
  if (d->protos != NULL) {
    p = d->protos + (size_t)label * numel;
    q = d->protos + (size_t)other * numel;
  } else {
    tmp = g_new(float, numel);
    synth_prototype(d, label, x);
    synth_prototype(d, other, tmp);
    p = x;
    q = tmp;
  }
  float wp = d->a * (1 - t), wq = d->a * t;
  uint64_t key = pc_rng_u64(d->noise_key, g); /* the sample's own noise stream */
  for (size_t j = 0; j < numel; j++) x[j] = wp * p[j] + wq * q[j] + d->b * pc_rng_normal(key, j);
  g_free(tmp);
}

static pc_dataset *synth_open(const pc_shape *input, int64_t classes, uint64_t seed, bool train) {
  pc_dataset *d = g_new0(pc_dataset, 1);
  d->positions = 1;
  d->kind = PC_DATASET_KIND_SYNTHETIC;
  d->input = *input;
  d->numel = pc_shape_numel(input);
  d->classes = classes;
  d->seed = seed;
  d->size = train ? PC_SYNTHETIC_TRAIN_SIZE : PC_SYNTHETIC_TEST_SIZE;
  d->offset = train ? 0 : PC_SYNTHETIC_TRAIN_SIZE;
  d->label_key = pc_rng_key(seed, train ? "labels:train" : "labels:test");
  d->noise_key = pc_rng_key(seed, "noise");
  d->mix_key = pc_rng_key(seed, "mix");
  double r = PC_SYNTH_SEPARATION / sqrt(2.0 * (double)d->numel); /* a / b */
  if (r < PC_SYNTH_SNR_MIN) r = PC_SYNTH_SNR_MIN;
  d->b = (float)(1.0 / sqrt(1.0 + r * r));
  d->a = (float)(r / sqrt(1.0 + r * r));
  if (classes * d->numel <= PC_SYNTH_CACHE_FLOATS) {
    d->protos = g_new(float, (size_t)(classes * d->numel));
    for (int64_t c = 0; c < classes; c++) synth_prototype(d, c, d->protos + c * d->numel);
  }
  char shape[PC_SHAPE_STRLEN];
  d->describe = g_strdup_printf("synthetic (%s): %lld samples of %s, %lld classes, seed %llu",
                                train ? "train" : "test", (long long)d->size,
                                pc_shape_format(input, shape, sizeof shape), (long long)classes,
                                (unsigned long long)seed);
  return d;
}

/* ------------------------------------------------------------------------------------------ */
/* files */

/* Reads a whole file; a missing or unreadable file is PC_ERROR_IO naming it. */
static bool read_all(const char *path, guint8 **buf, size_t *len, GError **error) {
  char *contents = NULL;
  if (!pc_file_read(path, PC_MAX_DATA_BYTES, &contents, len, error)) return false;
  *buf = (guint8 *)contents;
  return true;
}

static uint32_t be32(const guint8 *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void set_lut(pc_dataset *d, int channels, const double *mean, const double *std) {
  for (int c = 0; c < channels; c++)
    for (int v = 0; v < 256; v++) d->lut[c][v] = (float)(((double)v / 255.0 - mean[c]) / std[c]);
}

static bool check_classes(const char *what, int64_t classes, GError **error) {
  if (classes == FILE_CLASSES) return true;
  g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "%s has %d classes, the model has %lld", what,
              FILE_CLASSES, (long long)classes);
  return false;
}

static bool check_dir(const char *what, const char *dir, GError **error) {
  if (g_file_test(dir, G_FILE_TEST_IS_DIR)) return true;
  g_set_error(error, PC_ERROR, PC_ERROR_IO, "%s: no directory '%s'", what, dir);
  return false;
}

/* Checks every label of a chunk is below 10; a bad one is PC_ERROR_FORMAT naming the file. */
static bool check_labels(const pc_chunk *k, const char *path, GError **error) {
  for (int64_t i = 0; i < k->n; i++) {
    guint8 l = k->lab[(size_t)i * k->lab_stride];
    if (l >= FILE_CLASSES) {
      g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s: sample %lld has label %d (expected 0..%d)",
                  path, (long long)i, l, FILE_CLASSES - 1);
      return false;
    }
  }
  return true;
}

/* Reads one CIFAR-10 batch file into chunk k (whose `first` is set). */
static bool cifar_read(pc_chunk *k, const char *path, GError **error) {
  size_t len;
  if (!read_all(path, &k->buf, &len, error)) return false;
  if (len == 0 || len % CIFAR_RECORD != 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                len == 0 ? "%s: empty file (%zu bytes)"
                         : "%s: truncated: %zu bytes is not a whole number of %d-byte records",
                path, len, CIFAR_RECORD);
    return false;
  }
  k->n = (int64_t)(len / CIFAR_RECORD);
  k->lab = k->buf;
  k->img = k->buf + 1;
  k->lab_stride = k->img_stride = CIFAR_RECORD;
  return check_labels(k, path, error);
}

static pc_dataset *files_new(const pc_shape *input, int64_t classes) {
  pc_dataset *d = g_new0(pc_dataset, 1);
  d->positions = 1;
  d->kind = PC_DATASET_KIND_FILES;
  d->input = *input;
  d->numel = pc_shape_numel(input);
  d->classes = classes;
  return d;
}

static pc_dataset *cifar_open(const char *dir, const pc_shape *input, int64_t classes, bool train,
                              GError **error) {
  pc_shape want = {3, {CIFAR_CHANNELS, CIFAR_SIDE, CIFAR_SIDE}};
  if (!pc_shape_equal(input, &want)) {
    char a[PC_SHAPE_STRLEN], b[PC_SHAPE_STRLEN];
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "cifar10 images are %s, the model's input is %s",
                pc_shape_format(&want, a, sizeof a), pc_shape_format(input, b, sizeof b));
    return NULL;
  }
  if (!check_classes("cifar10", classes, error) || !check_dir("cifar10", dir, error)) return NULL;

  pc_dataset *d = files_new(input, classes);
  d->plane = CIFAR_SIDE * CIFAR_SIDE;
  set_lut(d, CIFAR_CHANNELS, cifar_mean, cifar_std);
  GString *names = g_string_new(NULL);
  bool ok = true;
  for (int f = 1; ok && f <= (train ? CIFAR_TRAIN_FILES : 1); f++) {
    char *base = train ? g_strdup_printf("data_batch_%d.bin", f) : g_strdup("test_batch.bin");
    char *path = g_build_filename(dir, base, NULL);
    /* Training: the batch files that exist, in order; test: test_batch.bin must exist. */
    if (!train || g_file_test(path, G_FILE_TEST_EXISTS)) {
      pc_chunk *k = &d->chunks[d->nchunks++];
      k->first = d->size;
      ok = cifar_read(k, path, error);
      d->size += k->n;
      g_string_append_printf(names, "%s%s", names->len ? " " : "", base);
    }
    g_free(path);
    g_free(base);
  }
  if (ok && d->nchunks == 0) {
    char *first = g_build_filename(dir, "data_batch_1.bin", NULL);
    g_set_error(error, PC_ERROR, PC_ERROR_IO, "cifar10: no training batch in '%s' (no %s)", dir,
                first);
    g_free(first);
    ok = false;
  }
  if (!ok) {
    g_string_free(names, TRUE);
    pc_dataset_free(d);
    return NULL;
  }
  d->describe = g_strdup_printf("cifar10 (%s): %lld samples of 3x32x32, 10 classes, from %s (%s)",
                                train ? "train" : "test", (long long)d->size, dir, names->str);
  g_string_free(names, TRUE);
  return d;
}

/* Reads and checks an IDX file's header: magic, then `ndims` big-endian dimensions; the
 * payload must be exactly their product of bytes. */
static bool idx_read(const char *path, uint32_t magic, int ndims, guint8 **buf, uint32_t *dims,
                     GError **error) {
  size_t len;
  if (!read_all(path, buf, &len, error)) return false;
  size_t header = 4 + 4 * (size_t)ndims;
  if (len < header) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s: truncated: %zu bytes, no IDX header",
                path, len);
    return false;
  }
  uint32_t m = be32(*buf);
  if (m != magic) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                "%s: bad magic number 0x%08x (expected 0x%08x): not an IDX %s file", path, m,
                magic, ndims == 3 ? "images" : "labels");
    return false;
  }
  uint64_t payload = 1;
  for (int i = 0; i < ndims; i++) {
    dims[i] = be32(*buf + 4 + 4 * i);
    payload *= dims[i];
  }
  if (dims[0] == 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s: no samples", path);
    return false;
  }
  if (len - header != payload) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s: %s: %zu bytes after the header, expected %llu",
                path, len - header < payload ? "truncated" : "trailing bytes", len - header,
                (unsigned long long)payload);
    return false;
  }
  return true;
}

static pc_dataset *mnist_open(const char *dir, const pc_shape *input, int64_t classes, bool train,
                              GError **error) {
  if (!check_classes("mnist", classes, error) || !check_dir("mnist", dir, error)) return NULL;
  char *ipath = g_build_filename(dir, train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte",
                                 NULL);
  char *lpath = g_build_filename(dir, train ? "train-labels-idx1-ubyte" : "t10k-labels-idx1-ubyte",
                                 NULL);
  pc_dataset *d = files_new(input, classes);
  pc_chunk *k = &d->chunks[d->nchunks++];
  uint32_t idims[3], ldims[1];
  bool ok = idx_read(ipath, MNIST_IMAGES_MAGIC, 3, &k->buf, idims, error) &&
            idx_read(lpath, MNIST_LABELS_MAGIC, 1, &k->buf2, ldims, error);
  if (ok && idims[0] != ldims[0]) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s has %u images but %s has %u labels", ipath,
                idims[0], lpath, ldims[0]);
    ok = false;
  }
  if (ok) {
    int64_t rows = idims[1], cols = idims[2];
    pc_shape image = {3, {1, rows, cols}}, flat = {1, {rows * cols}};
    if (!pc_shape_equal(input, &image) && !pc_shape_equal(input, &flat)) {
      char a[PC_SHAPE_STRLEN], b[PC_SHAPE_STRLEN];
      g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                  "%s: mnist images are %s, the model's input is %s (expected %s or %lld)", ipath,
                  pc_shape_format(&image, a, sizeof a), pc_shape_format(input, b, sizeof b), a,
                  (long long)(rows * cols));
      ok = false;
    }
  }
  if (ok) {
    k->n = idims[0];
    k->img = k->buf + 16;
    k->img_stride = (size_t)d->numel;
    k->lab = k->buf2 + 8;
    k->lab_stride = 1;
    ok = check_labels(k, lpath, error);
  }
  if (ok) {
    d->size = k->n;
    d->plane = d->numel;
    set_lut(d, 1, &mnist_mean, &mnist_std);
    d->describe = g_strdup_printf("mnist (%s): %lld samples of %ux%u, 10 classes, from %s",
                                  train ? "train" : "test", (long long)d->size, idims[1], idims[2],
                                  dir);
  } else {
    pc_dataset_free(d);
    d = NULL;
  }
  g_free(ipath);
  g_free(lpath);
  return d;
}

static const pc_chunk *find_chunk(const pc_dataset *d, int64_t i) {
  for (int c = d->nchunks - 1; c > 0; c--)
    if (i >= d->chunks[c].first) return &d->chunks[c];
  return &d->chunks[0];
}

/* ------------------------------------------------------------------------------------------ */
/* tokens
 *
 * Synthetic: each window of T + 1 tokens has a period p in [2, 8] from its own stream; its first
 * p tokens follow a fixed random successor map (each token's successor with probability 3/4,
 * else a uniform token), and every later token repeats the one p positions back with
 * probability 9/10, else is uniform. A model learns the successor map from a token and the
 * copy by attending p positions back.
 *
 * Files: llm.c's format: a header of 256 little-endian int32 (magic 20240520, version 1, the
 * token count), then the tokens as little-endian uint16. Window k is tokens kT .. kT + T. */

#define TOKENS_MAGIC 20240520
#define TOKENS_HEADER (256 * 4)
#define TOKENS_TEST_SHARE 10 /* one file only: its last tenth of windows is the test split */

static uint32_t le32(const guint8 *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int64_t file_token(const pc_dataset *d, int64_t at) {
  const guint8 *p = d->tokens + 2 * at;
  return (int64_t)(p[0] | p[1] << 8);
}

/* Window i's T + 1 tokens.   w: (T + 1). */
static void token_window(const pc_dataset *d, int64_t i, int32_t *w) {
  int64_t T = d->numel, V = d->classes;
  if (d->tokens != NULL) {
    for (int64_t t = 0; t <= T; t++) w[t] = (int32_t)file_token(d, (d->window0 + i) * T + t);
    return;
  }
  uint64_t g = (uint64_t)(d->offset + i), key = pc_rng_u64(d->copy_key, g);
  int64_t p = 2 + (int64_t)(pc_rng_u64(d->start_key, g) % 7);
  for (int64_t t = 0; t <= T; t++) {
    uint64_t r = pc_rng_u64(key, 2 * (uint64_t)t), u = pc_rng_u64(key, 2 * (uint64_t)t + 1);
    int32_t any = (int32_t)(u % (uint64_t)V);
    int32_t next = t > 0 && t < p ? (int32_t)permute(d->succ_key, (uint64_t)V, (uint64_t)w[t - 1])
                                   : 0;
    if (t == 0) w[t] = any;
    else if (t < p) w[t] = r % 4 != 0 ? next : any;
    else w[t] = r % 10 != 0 ? w[t - p] : any;
  }
}

static pc_dataset *tokens_new(int64_t T, int64_t vocab, bool train) {
  pc_dataset *d = g_new0(pc_dataset, 1);
  d->kind = PC_DATASET_KIND_TOKENS;
  d->input = (pc_shape){.ndim = 1, .d = {T, 0, 0}};
  d->numel = d->positions = T;
  d->classes = vocab;
  d->offset = train ? 0 : PC_SYNTHETIC_TRAIN_SIZE;
  return d;
}

/* A token file's header HEAD (the first bytes of a file of LEN bytes): llm.c's magic and version,
 * and a token count that the file's length holds; *N gets the count. */
static bool tokens_header(const guint8 *head, size_t len, const char *path, uint32_t *n,
                          GError **error) {
  if (len < TOKENS_HEADER || le32(head) != TOKENS_MAGIC || le32(head + 4) != 1) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                "%s: not a token file (expected llm.c's header of 256 int32: magic %d, version "
                "1, the token count)", path, TOKENS_MAGIC);
    return false;
  }
  *n = le32(head + 8);
  if ((len - TOKENS_HEADER) / 2 != *n || (len - TOKENS_HEADER) % 2) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                "%s: the header counts %u tokens, the file holds %zu bytes of them (2 each)", path,
                *n, len - TOKENS_HEADER);
    return false;
  }
  return true;
}

/* The test file of a training run that does not evaluate: its header, read up front (its
 * tokens are checked where an evaluation reads it). */
static bool tokens_check_file(const char *path, GError **error) {
  size_t size;
  FILE *f = pc_file_open_regular(path, &size, error);
  if (f == NULL) return false;
  guint8 head[TOKENS_HEADER];
  size_t got = fread(head, 1, sizeof head, f);
  fclose(f);
  uint32_t n;
  return tokens_header(head, got < sizeof head ? got : size, path, &n, error);
}

/* Reads a token file: its windows of T + 1, every token below the vocabulary checked. */
static bool tokens_read(pc_dataset *d, const char *path, int64_t *windows, GError **error) {
  size_t len;
  uint32_t n;
  if (!read_all(path, &d->token_buf, &len, error) ||
      !tokens_header(d->token_buf, len, path, &n, error))
    return false;
  d->tokens = d->token_buf + TOKENS_HEADER;
  for (int64_t k = 0; k < n; k++)
    if (file_token(d, k) >= d->classes) {
      g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                  "%s: token %lld is %lld, outside the model's vocabulary of %lld", path,
                  (long long)k, (long long)file_token(d, k), (long long)d->classes);
      return false;
    }
  *windows = n > 0 ? ((int64_t)n - 1) / d->numel : 0;
  if (*windows < 1) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                "%s: %u tokens, fewer than one window of %lld + 1", path, n,
                (long long)d->numel);
    return false;
  }
  return true;
}

static pc_dataset *tokens_open_file(const char *files, int64_t T, int64_t vocab, bool train,
                                    GError **error) {
  pc_dataset *d = tokens_new(T, vocab, train);
  char **f = g_strsplit(files, ",", -1);
  guint nf = g_strv_length(f);
  int64_t windows = 0;
  bool ok = nf == 1 || nf == 2;
  if (!ok)
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "data set 'tokens:%s': expected tokens:TRAIN.bin or tokens:TRAIN.bin,TEST.bin",
                files);
  const char *path = ok ? f[!train && nf == 2 ? 1 : 0] : NULL;
  ok = ok && tokens_read(d, path, &windows, error);
  ok = ok && (!train || nf == 1 || tokens_check_file(f[1], error));
  if (ok && nf == 1) { /* the last tenth of the windows held out for testing */
    int64_t test = windows / TOKENS_TEST_SHARE;
    if (test < 1) {
      g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                  "%s: %lld windows of %lld + 1 tokens, too few to hold a tenth out for testing "
                  "(give a test file: tokens:TRAIN.bin,TEST.bin)", path, (long long)windows,
                  (long long)T);
      ok = false;
    }
    d->window0 = train ? 0 : windows - test;
    windows = train ? windows - test : test;
  }
  if (ok) {
    d->size = windows;
    d->describe = g_strdup_printf("tokens (%s): %lld windows of %lld + 1 tokens, vocabulary "
                                  "%lld, from %s%s", train ? "train" : "test",
                                  (long long)windows, (long long)T, (long long)vocab, path,
                                  nf == 1 ? (train ? " (its first nine tenths)"
                                                   : " (its last tenth)") : "");
  } else {
    pc_dataset_free(d);
    d = NULL;
  }
  g_strfreev(f);
  return d;
}

static pc_dataset *tokens_open_synthetic(int64_t T, int64_t vocab, uint64_t seed, bool train) {
  pc_dataset *d = tokens_new(T, vocab, train);
  d->seed = seed;
  d->size = train ? PC_SYNTHETIC_TRAIN_SIZE : PC_SYNTHETIC_TEST_SIZE;
  d->start_key = pc_rng_key(seed, "tokens:period");
  d->succ_key = pc_rng_key(seed, "tokens:successor");
  d->copy_key = pc_rng_key(seed, "tokens");
  d->describe = g_strdup_printf("synthetic tokens (%s): %lld windows of %lld + 1, vocabulary "
                                "%lld, seed %llu", train ? "train" : "test", (long long)d->size,
                                (long long)T, (long long)vocab, (unsigned long long)seed);
  return d;
}

pc_dataset *pc_dataset_open_tokens(const char *spec, int64_t T, int64_t vocab, uint64_t seed,
                                   bool train, GError **error) {
  PC_ASSERT(spec != NULL && T >= 1 && vocab >= 2);
  if (vocab > 65536 && strcmp(spec, "synthetic") != 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "data set '%s': token files hold uint16 tokens, the model's vocabulary is %lld",
                spec, (long long)vocab);
    return NULL;
  }
  if (strcmp(spec, "synthetic") == 0) return tokens_open_synthetic(T, vocab, seed, train);
  if (g_str_has_prefix(spec, "tokens:") && spec[7] != '\0')
    return tokens_open_file(spec + 7, T, vocab, train, error);
  g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
              "unknown data set '%s' for a model of token ids (expected synthetic, "
              "tokens:TRAIN.bin or tokens:TRAIN.bin,TEST.bin)", spec);
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* public */

pc_dataset *pc_dataset_open(const char *spec, const pc_shape *input, int64_t classes,
                            uint64_t seed, bool train, GError **error) {
  PC_ASSERT(spec != NULL && input != NULL);
  PC_ASSERT(input->ndim == 1 || input->ndim == 3);
  if (pc_shape_numel(input) < 1 || classes < 1 || classes > INT32_MAX) {
    char s[PC_SHAPE_STRLEN];
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "data set '%s': no data for a model with input %s and %lld classes", spec,
                pc_shape_format(input, s, sizeof s), (long long)classes);
    return NULL;
  }
  if (strcmp(spec, "synthetic") == 0) return synth_open(input, classes, seed, train);
  if (g_str_has_prefix(spec, "tokens:")) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "data set '%s': token files are for a model whose first layer is an embed", spec);
    return NULL;
  }
  const char *colon = strchr(spec, ':');
  if (colon != NULL && colon[1] != '\0') {
    size_t n = (size_t)(colon - spec);
    if (n == 7 && strncmp(spec, "cifar10", n) == 0)
      return cifar_open(colon + 1, input, classes, train, error);
    if (n == 5 && strncmp(spec, "mnist", n) == 0)
      return mnist_open(colon + 1, input, classes, train, error);
  }
  g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
              "unknown data set '%s' (expected synthetic, cifar10:DIR or mnist:DIR)", spec);
  return NULL;
}

int64_t pc_dataset_size(const pc_dataset *d) { return d->size; }

int64_t pc_dataset_numel(const pc_dataset *d) { return d->numel; }

int64_t pc_dataset_classes(const pc_dataset *d) { return d->classes; }

int64_t pc_dataset_positions(const pc_dataset *d) { return d->positions; }

void pc_dataset_labels(const pc_dataset *d, int64_t first, size_t n, int32_t *labels) {
  pc_dataset_get(d, first, n, NULL, labels);
}

void pc_dataset_get(const pc_dataset *d, int64_t first, size_t n, float *x, int32_t *labels) {
  /* x: (n, numel)   labels: (n, positions) */
  size_t numel = (size_t)d->numel;
  int64_t base = wrap(d, first);
  int32_t *w = d->kind == PC_DATASET_KIND_TOKENS ? g_new(int32_t, numel + 1) : NULL;
  for (size_t s = 0; s < n; s++) {
    int64_t i = base + (int64_t)(s % (size_t)d->size);
    if (i >= d->size) i -= d->size;
    float *row = x != NULL ? x + s * numel : NULL;
    if (d->kind == PC_DATASET_KIND_TOKENS) {
      token_window(d, i, w);
      for (size_t t = 0; row != NULL && t < numel; t++) row[t] = (float)w[t];
      if (labels != NULL) memcpy(labels + s * numel, w + 1, numel * sizeof *w);
    } else if (d->kind == PC_DATASET_KIND_SYNTHETIC) {
      int32_t label = synth_label(d, i);
      if (labels != NULL) labels[s] = label;
      if (row != NULL) synth_sample(d, i, label, row);
    } else {
      const pc_chunk *k = find_chunk(d, i);
      size_t at = (size_t)(i - k->first);
      if (labels != NULL) labels[s] = k->lab[at * k->lab_stride];
      if (row != NULL) {
        const guint8 *img = k->img + at * k->img_stride;
        size_t plane = (size_t)d->plane;
        for (size_t j = 0; j < numel; j++) row[j] = d->lut[j / plane][img[j]];
      }
    }
  }
  g_free(w);
}

const char *pc_dataset_describe(const pc_dataset *d) { return d->describe; }

void pc_dataset_free(pc_dataset *d) {
  if (d == NULL) return;
  for (int c = 0; c < d->nchunks; c++) {
    g_free(d->chunks[c].buf);
    g_free(d->chunks[c].buf2);
  }
  g_free(d->protos);
  g_free(d->token_buf);
  g_free(d->describe);
  g_free(d);
}
