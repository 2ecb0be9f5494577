/* test-data.c — data sets: the synthetic data's determinism, label balance and learnability
 * (neither trivial nor hopeless), and the CIFAR-10 and MNIST readers on small files written
 * here in those formats, with every error they report. Nothing is downloaded. */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "data.h"
#include "error.h"

static const pc_shape flat16 = {1, {16}};
static const pc_shape img388 = {3, {3, 8, 8}};
static const pc_shape cifar_shape = {3, {3, 32, 32}};

static pc_dataset *open_ok(const char *spec, const pc_shape *in, int64_t classes, uint64_t seed,
                           bool train) {
  GError *error = NULL;
  pc_dataset *d = pc_dataset_open(spec, in, classes, seed, train, &error);
  g_assert_no_error(error);
  g_assert_nonnull(d);
  g_assert_cmpint(pc_dataset_numel(d), ==, pc_shape_numel(in));
  g_assert_cmpint(pc_dataset_classes(d), ==, classes);
  return d;
}

/* Opening must fail with `code` and a message containing `needle`. */
static void expect_error(const char *spec, const pc_shape *in, int64_t classes, bool train,
                         int code, const char *needle) {
  GError *error = NULL;
  pc_dataset *d = pc_dataset_open(spec, in, classes, 1, train, &error);
  g_assert_null(d);
  g_assert_error(error, PC_ERROR, code);
  if (strstr(error->message, needle) == NULL)
    g_error("opening '%s': message '%s' does not contain '%s'", spec, error->message, needle);
  g_error_free(error);
}

/* Samples first .. first+n-1 (images and labels, freshly allocated). */
static float *get(const pc_dataset *d, int64_t first, size_t n, int32_t **labels) {
  float *x = g_new(float, n * (size_t)pc_dataset_numel(d));
  *labels = g_new(int32_t, n);
  pc_dataset_get(d, first, n, x, *labels);
  return x;
}

/* ------------------------------------------------------------------------------------------ */
/* synthetic */

static void test_synthetic_determinism(void) {
  const pc_shape *shapes[] = {&flat16, &img388};
  for (size_t s = 0; s < G_N_ELEMENTS(shapes); s++) {
    const pc_shape *in = shapes[s];
    size_t D = (size_t)pc_shape_numel(in), n = 64;
    pc_dataset *a = open_ok("synthetic", in, 10, 42, true);
    pc_dataset *b = open_ok("synthetic", in, 10, 42, true);
    pc_dataset *c = open_ok("synthetic", in, 10, 43, true);
    pc_dataset *t = open_ok("synthetic", in, 10, 42, false);
    g_assert_cmpint(pc_dataset_size(a), ==, PC_SYNTHETIC_TRAIN_SIZE);
    g_assert_cmpint(pc_dataset_size(t), ==, PC_SYNTHETIC_TEST_SIZE);
    g_assert_nonnull(strstr(pc_dataset_describe(a), "synthetic"));

    int32_t *la, *lb, *lc, *lt;
    float *xa = get(a, 1000, n, &la), *xb = get(b, 1000, n, &lb);
    float *xc = get(c, 1000, n, &lc), *xt = get(t, 1000, n, &lt);
    /* Same seed: the same bytes; another seed or the other split: other samples. */
    g_assert_cmpmem(xa, n * D * sizeof(float), xb, n * D * sizeof(float));
    g_assert_cmpmem(la, n * sizeof(int32_t), lb, n * sizeof(int32_t));
    g_assert_true(memcmp(xa, xc, n * D * sizeof(float)) != 0);
    g_assert_true(memcmp(xa, xt, n * D * sizeof(float)) != 0);
    for (size_t i = 0; i < n * D; i++) g_assert_true(isfinite(xa[i]));

    /* Any sample alone, in any order, is the same as in a batch. */
    float *one = g_new(float, D);
    int32_t l1;
    for (size_t k = n; k-- > 0;) {
      pc_dataset_get(b, 1000 + (int64_t)k, 1, one, &l1);
      g_assert_cmpmem(one, D * sizeof(float), xa + k * D, D * sizeof(float));
      g_assert_cmpint(l1, ==, la[k]);
    }
    /* Indices wrap around: -1 is the last sample, size + 5 is sample 5. */
    float *last = g_new(float, D);
    int32_t ll;
    pc_dataset_get(a, PC_SYNTHETIC_TRAIN_SIZE - 1, 1, last, &ll);
    pc_dataset_get(a, -1, 1, one, &l1);
    g_assert_cmpmem(one, D * sizeof(float), last, D * sizeof(float));
    g_assert_cmpint(l1, ==, ll);
    pc_dataset_get(a, 5, 1, last, &ll);
    pc_dataset_get(a, PC_SYNTHETIC_TRAIN_SIZE + 5, 1, one, &l1);
    g_assert_cmpmem(one, D * sizeof(float), last, D * sizeof(float));
    /* Images only and labels only give the same as both together. */
    pc_dataset_get(a, 1000, 1, one, NULL);
    g_assert_cmpmem(one, D * sizeof(float), xa, D * sizeof(float));

    g_free(last);
    g_free(one);
    g_free(xa), g_free(xb), g_free(xc), g_free(xt);
    g_free(la), g_free(lb), g_free(lc), g_free(lt);
    pc_dataset_free(a), pc_dataset_free(b), pc_dataset_free(c), pc_dataset_free(t);
  }
}

static void test_synthetic_labels(void) {
  const int64_t class_counts[] = {10, 7, 2};
  for (size_t k = 0; k < G_N_ELEMENTS(class_counts); k++) {
    int64_t K = class_counts[k];
    for (int train = 0; train <= 1; train++) {
      pc_dataset *d = open_ok("synthetic", &flat16, K, 3, train);
      size_t n = (size_t)pc_dataset_size(d);
      int32_t *labels = g_new(int32_t, n);
      pc_dataset_labels(d, 0, n, labels);
      size_t counts[10] = {0};
      for (size_t i = 0; i < n; i++) {
        g_assert_cmpint(labels[i], >=, 0);
        g_assert_cmpint(labels[i], <, K);
        counts[labels[i]]++;
      }
      /* Balanced: n / K each, the remainder spread one apiece. */
      for (int64_t c = 0; c < K; c++) {
        g_assert_cmpuint(counts[c], >=, n / (size_t)K);
        g_assert_cmpuint(counts[c], <=, (n + (size_t)K - 1) / (size_t)K);
      }
      /* Not in a trivial order: consecutive samples do not cycle through the classes. */
      size_t cyclic = 0;
      for (size_t i = 1; i < n; i++) cyclic += labels[i] == (labels[i - 1] + 1) % K;
      g_assert_cmpuint(cyclic, <, n / 2);

      /* pc_dataset_labels agrees with pc_dataset_get, across the wrap-around too. */
      size_t m = 100;
      int32_t *lg, *ll = g_new(int32_t, m);
      float *x = get(d, (int64_t)n - 50, m, &lg);
      pc_dataset_labels(d, (int64_t)n - 50, m, ll);
      g_assert_cmpmem(lg, m * sizeof(int32_t), ll, m * sizeof(int32_t));
      g_assert_cmpint(ll[60], ==, labels[10]);
      g_free(x), g_free(lg), g_free(ll), g_free(labels);
      pc_dataset_free(d);
    }
  }
}

/* Nearest-class-mean accuracy: means from 5000 training samples, tested on 2000 test samples. */
static double nearest_mean_accuracy(const pc_shape *in, int64_t K) {
  pc_dataset *tr = open_ok("synthetic", in, K, 11, true);
  pc_dataset *te = open_ok("synthetic", in, K, 11, false);
  size_t D = (size_t)pc_shape_numel(in), N = 5000, M = 2000;
  int32_t *l, *lt;
  float *x = get(tr, 0, N, &l);
  double *mu = g_new0(double, (size_t)K * D);
  size_t *cnt = g_new0(size_t, (size_t)K);
  for (size_t i = 0; i < N; i++) {
    cnt[l[i]]++;
    for (size_t j = 0; j < D; j++) mu[(size_t)l[i] * D + j] += x[i * D + j];
  }
  for (size_t c = 0; c < (size_t)K; c++)
    for (size_t j = 0; j < D; j++) mu[c * D + j] /= (double)cnt[c];
  float *y = get(te, 0, M, &lt);
  size_t right = 0;
  for (size_t i = 0; i < M; i++) {
    double best = INFINITY;
    int32_t guess = -1;
    for (size_t c = 0; c < (size_t)K; c++) {
      double s = 0;
      for (size_t j = 0; j < D; j++) {
        double e = y[i * D + j] - mu[c * D + j];
        s += e * e;
      }
      if (s < best) best = s, guess = (int32_t)c;
    }
    right += guess == lt[i];
  }
  g_free(x), g_free(l), g_free(y), g_free(lt), g_free(mu), g_free(cnt);
  pc_dataset_free(tr), pc_dataset_free(te);
  return (double)right / (double)M;
}

static void test_synthetic_separable(void) {
  /* Learnable, but the classes overlap: some held-out samples are closer to another class. */
  const pc_shape *shapes[] = {&flat16, &img388};
  for (size_t s = 0; s < G_N_ELEMENTS(shapes); s++) {
    double acc = nearest_mean_accuracy(shapes[s], 10);
    if (g_test_verbose()) g_test_message("nearest class mean: %.3f", acc);
    g_assert_cmpfloat(acc, >, 0.6);
    g_assert_cmpfloat(acc, <, 0.995);
  }
}

static void test_synthetic_statistics(void) {
  /* About unit variance per element, for cached prototypes and for ones computed per sample
   * (3x64x64 with 2000 classes is too big to cache). */
  const pc_shape big = {3, {3, 64, 64}};
  struct {
    const pc_shape *in;
    int64_t K;
  } cases[] = {{&flat16, 10}, {&cifar_shape, 10}, {&big, 2000}};
  for (size_t c = 0; c < G_N_ELEMENTS(cases); c++) {
    pc_dataset *d = open_ok("synthetic", cases[c].in, cases[c].K, 5, true);
    pc_dataset *e = open_ok("synthetic", cases[c].in, cases[c].K, 5, true);
    size_t D = (size_t)pc_dataset_numel(d), n = c == 2 ? 20 : 500;
    int32_t *l, *m;
    float *x = get(d, 7, n, &l), *y = get(e, 7, n, &m);
    g_assert_cmpmem(x, n * D * sizeof(float), y, n * D * sizeof(float));
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n * D; i++) sum += x[i], sq += (double)x[i] * x[i];
    double mean = sum / (double)(n * D), var = sq / (double)(n * D) - mean * mean;
    g_assert_cmpfloat(fabs(mean), <, 0.3);
    g_assert_cmpfloat(var, >, 0.6);
    g_assert_cmpfloat(var, <, 1.4);
    g_free(x), g_free(y), g_free(l), g_free(m);
    pc_dataset_free(d), pc_dataset_free(e);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* files */

static void write_file(const char *dir, const char *name, const guint8 *data, size_t len) {
  char *path = g_build_filename(dir, name, NULL);
  GError *error = NULL;
  g_file_set_contents(path, (const char *)data, (gssize)len, &error);
  g_assert_no_error(error);
  g_free(path);
}

static void remove_file(const char *dir, const char *name) {
  char *path = g_build_filename(dir, name, NULL);
  g_remove(path);
  g_free(path);
}

static char *make_tmp_dir(void) {
  GError *error = NULL;
  char *dir = g_dir_make_tmp("pipecast-data-XXXXXX", &error);
  g_assert_no_error(error);
  return dir;
}

static void remove_dir(char *dir) {
  GDir *g = g_dir_open(dir, 0, NULL);
  const char *name;
  while (g != NULL && (name = g_dir_read_name(g)) != NULL) remove_file(dir, name);
  if (g != NULL) g_dir_close(g);
  g_rmdir(dir);
  g_free(dir);
}

/* The pixel byte that the test files hold at (file, record, element). */
static guint8 pixel(int file, size_t rec, size_t j) {
  return (guint8)(file * 101 + rec * 37 + j * 13 + (j >> 8));
}

/* A CIFAR-10 batch of `n` records: labels `first_label`, +1, ... (mod 10). */
static guint8 *cifar_batch(int file, size_t n, int first_label, size_t *len) {
  *len = n * 3073;
  guint8 *b = g_new(guint8, *len);
  for (size_t r = 0; r < n; r++) {
    b[r * 3073] = (guint8)((first_label + (int)r) % 10);
    for (size_t j = 0; j < 3072; j++) b[r * 3073 + 1 + j] = pixel(file, r, j);
  }
  return b;
}

static void check_cifar(const pc_dataset *d, int64_t index, int file, size_t rec, int label) {
  static const double mean[3] = {0.4914, 0.4822, 0.4465}, std[3] = {0.2470, 0.2435, 0.2616};
  float *x = g_new(float, 3072);
  int32_t l;
  pc_dataset_get(d, index, 1, x, &l);
  g_assert_cmpint(l, ==, label);
  for (size_t j = 0; j < 3072; j++) {
    size_t c = j / 1024;
    float want = (float)(((double)pixel(file, rec, j) / 255.0 - mean[c]) / std[c]);
    if (x[j] != want)
      g_error("sample %lld element %zu: %.9g, expected %.9g", (long long)index, j, x[j], want);
  }
  g_free(x);
}

static void test_cifar10(void) {
  char *dir = make_tmp_dir();
  char *spec = g_strconcat("cifar10:", dir, NULL);
  size_t len;
  guint8 *b1 = cifar_batch(1, 3, 7, &len);
  write_file(dir, "data_batch_1.bin", b1, len);
  guint8 *b3 = cifar_batch(3, 2, 4, &len); /* data_batch_2.bin is missing: skipped */
  write_file(dir, "data_batch_3.bin", b3, len);
  guint8 *bt = cifar_batch(9, 2, 0, &len);
  write_file(dir, "test_batch.bin", bt, len);

  pc_dataset *d = open_ok(spec, &cifar_shape, 10, 0, true);
  g_assert_cmpint(pc_dataset_size(d), ==, 5);
  g_assert_nonnull(strstr(pc_dataset_describe(d), "data_batch_3.bin"));
  check_cifar(d, 0, 1, 0, 7);
  check_cifar(d, 2, 1, 2, 9);
  check_cifar(d, 3, 3, 0, 4);
  check_cifar(d, 4, 3, 1, 5);
  check_cifar(d, 5, 1, 0, 7); /* wraps */
  int32_t labels[6];
  pc_dataset_labels(d, 0, 6, labels);
  const int32_t want[6] = {7, 8, 9, 4, 5, 7};
  g_assert_cmpmem(labels, sizeof labels, want, sizeof want);
  pc_dataset_free(d);

  d = open_ok(spec, &cifar_shape, 10, 0, false);
  g_assert_cmpint(pc_dataset_size(d), ==, 2);
  check_cifar(d, 1, 9, 1, 1);
  pc_dataset_free(d);

  /* The model does not fit the data. */
  const pc_shape mnist_like = {3, {1, 28, 28}};
  expect_error(spec, &mnist_like, 10, true, PC_ERROR_USAGE,
               "cifar10 images are 3x32x32, the model's input is 1x28x28");
  expect_error(spec, &cifar_shape, 100, true, PC_ERROR_USAGE, "10 classes");

  /* Truncated file, label out of range: the message names the file. */
  write_file(dir, "data_batch_3.bin", b3, 3073 + 100);
  expect_error(spec, &cifar_shape, 10, true, PC_ERROR_FORMAT, "data_batch_3.bin");
  write_file(dir, "data_batch_3.bin", b3, 0);
  expect_error(spec, &cifar_shape, 10, true, PC_ERROR_FORMAT, "data_batch_3.bin");
  remove_file(dir, "data_batch_3.bin");
  bt[3073] = 10;
  write_file(dir, "test_batch.bin", bt, len);
  expect_error(spec, &cifar_shape, 10, false, PC_ERROR_FORMAT, "test_batch.bin");

  /* Missing files and directory. */
  remove_file(dir, "test_batch.bin");
  expect_error(spec, &cifar_shape, 10, false, PC_ERROR_IO, "test_batch.bin");
  remove_file(dir, "data_batch_1.bin");
  expect_error(spec, &cifar_shape, 10, true, PC_ERROR_IO, "data_batch_1.bin");
  char *gone = g_build_filename(dir, "nowhere", NULL);
  char *gone_spec = g_strconcat("cifar10:", gone, NULL);
  expect_error(gone_spec, &cifar_shape, 10, true, PC_ERROR_IO, gone);

  g_free(gone), g_free(gone_spec);
  g_free(b1), g_free(b3), g_free(bt);
  g_free(spec);
  remove_dir(dir);
}

static void put_be32(guint8 *p, uint32_t v) {
  p[0] = (guint8)(v >> 24), p[1] = (guint8)(v >> 16), p[2] = (guint8)(v >> 8), p[3] = (guint8)v;
}

/* MNIST-format files of n images of R x C: images file and labels file. */
static guint8 *idx_images(size_t n, uint32_t R, uint32_t C, size_t *len) {
  *len = 16 + n * R * C;
  guint8 *b = g_new(guint8, *len);
  put_be32(b, 0x803), put_be32(b + 4, (uint32_t)n), put_be32(b + 8, R), put_be32(b + 12, C);
  for (size_t r = 0; r < n; r++)
    for (size_t j = 0; j < R * C; j++) b[16 + r * R * C + j] = pixel(0, r, j);
  return b;
}

static guint8 *idx_labels(size_t n, size_t *len) {
  *len = 8 + n;
  guint8 *b = g_new(guint8, *len);
  put_be32(b, 0x801), put_be32(b + 4, (uint32_t)n);
  for (size_t r = 0; r < n; r++) b[8 + r] = (guint8)((3 * r + 1) % 10);
  return b;
}

static void test_mnist(void) {
  char *dir = make_tmp_dir();
  char *spec = g_strconcat("mnist:", dir, NULL);
  const size_t n = 4, R = 4, C = 5;
  size_t ilen, llen;
  guint8 *img = idx_images(n, R, C, &ilen), *lab = idx_labels(n, &llen);
  write_file(dir, "train-images-idx3-ubyte", img, ilen);
  write_file(dir, "train-labels-idx1-ubyte", lab, llen);
  guint8 *lab2 = idx_labels(2, &llen);
  write_file(dir, "t10k-labels-idx1-ubyte", lab2, llen);
  put_be32(img + 4, 2); /* the test images file says 2 */
  write_file(dir, "t10k-images-idx3-ubyte", img, 16 + 2 * R * C);
  put_be32(img + 4, (uint32_t)n);

  /* Image (1xRxC) or flat (R*C) input: the same numbers. */
  const pc_shape image = {3, {1, R, C}}, flat = {1, {R * C}};
  const pc_shape *shapes[] = {&image, &flat};
  for (size_t s = 0; s < 2; s++) {
    pc_dataset *d = open_ok(spec, shapes[s], 10, 0, true);
    g_assert_cmpint(pc_dataset_size(d), ==, (int64_t)n);
    int32_t *l;
    float *x = get(d, 0, n, &l);
    for (size_t r = 0; r < n; r++) {
      g_assert_cmpint(l[r], ==, (int32_t)((3 * r + 1) % 10));
      for (size_t j = 0; j < R * C; j++)
        g_assert_cmpfloat(x[r * R * C + j], ==,
                          (float)(((double)pixel(0, r, j) / 255.0 - 0.1307) / 0.3081));
    }
    g_free(x), g_free(l);
    pc_dataset_free(d);
  }
  pc_dataset *t = open_ok(spec, &flat, 10, 0, false);
  g_assert_cmpint(pc_dataset_size(t), ==, 2);
  g_assert_nonnull(strstr(pc_dataset_describe(t), "mnist"));
  pc_dataset_free(t);

  /* The model does not fit: wrong image size, wrong class count. */
  const pc_shape wrong = {3, {1, 28, 28}}, wrong_flat = {1, {21}};
  expect_error(spec, &wrong, 10, true, PC_ERROR_USAGE, "train-images-idx3-ubyte");
  expect_error(spec, &wrong_flat, 10, true, PC_ERROR_USAGE, "the model's input is 21");
  expect_error(spec, &image, 9, true, PC_ERROR_USAGE, "10 classes");

  /* Bad magic numbers (images and labels swapped). */
  write_file(dir, "train-images-idx3-ubyte", lab, 8 + n);
  expect_error(spec, &image, 10, true, PC_ERROR_FORMAT, "train-images-idx3-ubyte");
  write_file(dir, "train-images-idx3-ubyte", img, ilen);
  write_file(dir, "train-labels-idx1-ubyte", img, ilen);
  expect_error(spec, &image, 10, true, PC_ERROR_FORMAT, "train-labels-idx1-ubyte");
  /* Truncated images, truncated header, truncated labels. */
  write_file(dir, "train-labels-idx1-ubyte", lab, 8 + n);
  write_file(dir, "train-images-idx3-ubyte", img, ilen - 1);
  expect_error(spec, &image, 10, true, PC_ERROR_FORMAT, "train-images-idx3-ubyte");
  write_file(dir, "train-images-idx3-ubyte", img, 10);
  expect_error(spec, &image, 10, true, PC_ERROR_FORMAT, "train-images-idx3-ubyte");
  write_file(dir, "train-images-idx3-ubyte", img, ilen);
  write_file(dir, "train-labels-idx1-ubyte", lab, 8 + n - 1);
  expect_error(spec, &image, 10, true, PC_ERROR_FORMAT, "train-labels-idx1-ubyte");
  /* Counts that differ: 3 labels for 4 images (a consistent labels file). */
  put_be32(lab + 4, (uint32_t)(n - 1));
  write_file(dir, "train-labels-idx1-ubyte", lab, 8 + n - 1);
  expect_error(spec, &image, 10, true, PC_ERROR_FORMAT, "has 3 labels");
  put_be32(lab + 4, (uint32_t)n);
  /* A label out of range. */
  lab[8 + 2] = 10;
  write_file(dir, "train-labels-idx1-ubyte", lab, 8 + n);
  expect_error(spec, &image, 10, true, PC_ERROR_FORMAT, "train-labels-idx1-ubyte");
  /* Missing files and directory. */
  remove_file(dir, "t10k-labels-idx1-ubyte");
  expect_error(spec, &image, 10, false, PC_ERROR_IO, "t10k-labels-idx1-ubyte");
  remove_file(dir, "t10k-images-idx3-ubyte");
  expect_error(spec, &image, 10, false, PC_ERROR_IO, "t10k-images-idx3-ubyte");
  char *gone = g_build_filename(dir, "nowhere", NULL);
  char *gone_spec = g_strconcat("mnist:", gone, NULL);
  expect_error(gone_spec, &image, 10, true, PC_ERROR_IO, gone);

  g_free(gone), g_free(gone_spec);
  g_free(img), g_free(lab), g_free(lab2);
  g_free(spec);
  remove_dir(dir);
}

static void test_bad_specs(void) {
  const char *specs[] = {"", "imagenet:/data", "cifar10", "cifar10:", "mnist:", "synthetic:x",
                         "Synthetic"};
  for (size_t i = 0; i < G_N_ELEMENTS(specs); i++)
    expect_error(specs[i], &flat16, 10, true, PC_ERROR_USAGE, "data set");
  expect_error("synthetic", &flat16, 0, true, PC_ERROR_USAGE, "0 classes");
}

/* ------------------------------------------------------------------------------------------ */
/* token windows */

/* An llm.c token file of N tokens, token k = (k * 7 + 3) % 50 (or BAD at position BAD_AT). */
static guint8 *token_file(uint32_t n, uint32_t magic, int64_t bad_at, uint16_t bad, size_t *len) {
  *len = 1024 + 2 * (size_t)n;
  guint8 *b = g_malloc0(*len);
  uint32_t head[3] = {magic, 1, n};
  for (int i = 0; i < 3; i++)
    for (int k = 0; k < 4; k++) b[4 * i + k] = (guint8)(head[i] >> (8 * k));
  for (uint32_t k = 0; k < n; k++) {
    uint16_t t = (int64_t)k == bad_at ? bad : (uint16_t)((k * 7 + 3) % 50);
    b[1024 + 2 * k] = (guint8)t;
    b[1024 + 2 * k + 1] = (guint8)(t >> 8);
  }
  return b;
}

static void test_tokens(void) {
  GError *error = NULL;
  /* synthetic: the same windows anywhere, labels the inputs shifted by one, all in range */
  pc_dataset *a = pc_dataset_open_tokens("synthetic", 16, 40, 3, true, &error);
  g_assert_no_error(error);
  pc_dataset *b = pc_dataset_open_tokens("synthetic", 16, 40, 3, true, &error);
  g_assert_cmpint(pc_dataset_positions(a), ==, 16);
  float x[3 * 16], y[16];
  int32_t l[3 * 16], m[16];
  pc_dataset_get(a, 100, 3, x, l);
  pc_dataset_get(b, 101, 1, y, m);
  g_assert_cmpmem(x + 16, sizeof y, y, sizeof y);
  g_assert_cmpmem(l + 16, sizeof m, m, sizeof m);
  for (int s = 0; s < 3; s++) {
    int32_t w[17] = {(int32_t)x[s * 16]};
    for (int t = 0; t < 16; t++) {
      g_assert_true(l[s * 16 + t] >= 0 && l[s * 16 + t] < 40);
      if (t + 1 < 16) g_assert_cmpfloat((float)l[s * 16 + t], ==, x[s * 16 + t + 1]);
      w[t + 1] = l[s * 16 + t];
    }
    /* the window repeats itself with some period in [2, 8] at 7 positions in 10 at least */
    bool periodic = false;
    for (int p = 2; p <= 8; p++) {
      int same = 0;
      for (int t = p; t <= 16; t++) same += w[t] == w[t - p];
      periodic = periodic || same * 10 >= (17 - p) * 7;
    }
    g_assert_true(periodic);
  }
  pc_dataset_free(a);
  pc_dataset_free(b);

  /* files: 101 tokens are 12 windows of 8 + 1; one file holds its last tenth out */
  char *dir = make_tmp_dir();
  size_t len;
  guint8 *f = token_file(101, 20240520, -1, 0, &len);
  write_file(dir, "train.bin", f, len);
  g_free(f);
  char *spec = g_strdup_printf("tokens:%s/train.bin", dir);
  pc_dataset *tr = pc_dataset_open_tokens(spec, 8, 50, 0, true, &error);
  g_assert_no_error(error);
  pc_dataset *te = pc_dataset_open_tokens(spec, 8, 50, 0, false, &error);
  g_assert_no_error(error);
  g_assert_cmpint(pc_dataset_size(tr), ==, 11);
  g_assert_cmpint(pc_dataset_size(te), ==, 1);
  float xs[8];
  int32_t ls[8];
  pc_dataset_get(te, 0, 1, xs, ls); /* window 11: tokens 88 .. 96 */
  for (int t = 0; t < 8; t++) {
    g_assert_cmpfloat(xs[t], ==, (float)(((88 + t) * 7 + 3) % 50));
    g_assert_cmpint(ls[t], ==, ((89 + t) * 7 + 3) % 50);
  }
  pc_dataset_free(tr);
  pc_dataset_free(te);
  g_free(spec);
  /* a token outside the vocabulary, another magic number, a count the file lacks, too few */
  struct { uint32_t n, magic; int64_t bad_at; uint16_t bad; size_t cut; int code;
           const char *says; } cases[] = {
    {101, 20240520, 57, 50, 0, PC_ERROR_FORMAT,
     "token 57 is 50, outside the model's vocabulary of 50"},
    {101, 20240521, -1, 0, 0, PC_ERROR_FORMAT, "not a token file"},
    {101, 20240520, -1, 0, 4, PC_ERROR_FORMAT, "the header counts 101 tokens"},
    {8, 20240520, -1, 0, 0, PC_ERROR_FORMAT, "fewer than one window of 8 + 1"},
    {40, 20240520, -1, 0, 0, PC_ERROR_FORMAT, "too few to hold a tenth out"},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
    f = token_file(cases[i].n, cases[i].magic, cases[i].bad_at, cases[i].bad, &len);
    write_file(dir, "bad.bin", f, len - cases[i].cut);
    g_free(f);
    spec = g_strdup_printf("tokens:%s/bad.bin", dir);
    pc_dataset *d = pc_dataset_open_tokens(spec, 8, 50, 0, false, &error);
    g_assert_null(d);
    g_assert_error(error, PC_ERROR, cases[i].code);
    if (!strstr(error->message, cases[i].says) || !strstr(error->message, "bad.bin"))
      g_error("'%s' lacks '%s' or the file's name", error->message, cases[i].says);
    g_clear_error(&error);
    g_free(spec);
  }
  /* the training split of TRAIN.bin,TEST.bin checks TEST.bin's header though nothing evaluates:
   * a missing file, another magic number, a count the file lacks */
  f = token_file(101, 20240521, -1, 0, &len);
  write_file(dir, "bad.bin", f, len);
  g_free(f);
  const char *tests[][2] = {{"none.bin", "none.bin"}, {"bad.bin", "not a token file"}};
  for (size_t i = 0; i < G_N_ELEMENTS(tests); i++) {
    spec = g_strdup_printf("tokens:%s/train.bin,%s/%s", dir, dir, tests[i][0]);
    g_assert_null(pc_dataset_open_tokens(spec, 8, 50, 0, true, &error));
    g_assert_nonnull(error);
    if (!strstr(error->message, tests[i][1])) g_error("'%s' lacks '%s'", error->message, tests[i][1]);
    g_clear_error(&error);
    g_free(spec);
  }
  f = token_file(101, 20240520, -1, 0, &len);
  write_file(dir, "short.bin", f, len - 4);
  write_file(dir, "test.bin", f, len);
  g_free(f);
  spec = g_strdup_printf("tokens:%s/train.bin,%s/short.bin", dir, dir);
  g_assert_null(pc_dataset_open_tokens(spec, 8, 50, 0, true, &error));
  g_assert_error(error, PC_ERROR, PC_ERROR_FORMAT);
  g_assert_nonnull(strstr(error->message, "the header counts 101 tokens"));
  g_clear_error(&error);
  g_free(spec);
  spec = g_strdup_printf("tokens:%s/train.bin,%s/test.bin", dir, dir);
  tr = pc_dataset_open_tokens(spec, 8, 50, 0, true, &error);
  g_assert_no_error(error);
  g_assert_cmpint(pc_dataset_size(tr), ==, 12); /* the whole file trains */
  pc_dataset_free(tr);
  g_free(spec);
  /* a data set of images for a model of tokens, and a spec with three files */
  g_assert_null(pc_dataset_open_tokens("mnist:/x", 8, 50, 0, true, &error));
  g_assert_error(error, PC_ERROR, PC_ERROR_USAGE);
  g_clear_error(&error);
  g_assert_null(pc_dataset_open_tokens("tokens:a,b,c", 8, 50, 0, true, &error));
  g_assert_error(error, PC_ERROR, PC_ERROR_USAGE);
  g_clear_error(&error);
  remove_dir(dir);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/data/synthetic/determinism", test_synthetic_determinism);
  g_test_add_func("/data/synthetic/labels", test_synthetic_labels);
  g_test_add_func("/data/synthetic/separable", test_synthetic_separable);
  g_test_add_func("/data/synthetic/statistics", test_synthetic_statistics);
  g_test_add_func("/data/cifar10", test_cifar10);
  g_test_add_func("/data/mnist", test_mnist);
  g_test_add_func("/data/specs", test_bad_specs);
  g_test_add_func("/data/tokens", test_tokens);
  return g_test_run();
}
