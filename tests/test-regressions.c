/* test-regressions.c — every input the fuzzers of tests/fuzz found trouble with
 * (tests/fuzz/regressions/<target>/), every seed of their corpora (tests/fuzz/corpus/<target>/)
 * and hand-made hostile inputs (empty, NUL bytes, huge numbers, 10000-deep nesting, very long
 * names, a weights header claiming 2^40 floats) go through the same entry points as the fuzz
 * targets, in the normal build: each must come back as a result or as an error with a message,
 * without crashing, hanging or leaking. The input conventions are those of the targets:
 *   model       model text up to the first NUL; after it, the --set string
 *   partition   a selector byte (bits 0-1: mlp32, tiny-resnet, tiny-mlp, resnet50; bits 2-5:
 *               the stage count), then the spec
 *   profile, net, gemm   the TSV text
 *   weights     the file, read into nothing and into a tiny-mlp runtime (weights, momentum)
 *   checkpoint  DIR/checkpoint, read by `pipecast-exec train --resume DIR` (PC_EXEC): the
 *               reader lives in the executor, with MPI, so it is run as the executor runs it
 *   trace       a Chrome trace (pc_trace_file_parse), checked against a two-stage schedule
 *   tokens      an llm.c token file, opened as both splits at windows of 8 under a vocabulary
 *               of 50 (pc_dataset_open_tokens). */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "../sim/costs.h"
#include "../sim/tracefile.h"
#include "data.h"
#include "error.h"
#include "partition.h"
#include "runtime.h"
#include "test-util.h"
#include "weights.h"

#define SETS "width=4,input=4,classes=2" /* the tiny-mlp of the weights and checkpoint seeds */

typedef struct {
  const char *name;
  const char *data;
  size_t size;
} input;

/* ------------------------------------------------------------------------------------------ */
/* Inputs: files of tests/fuzz/{regressions,corpus}/TARGET, and made ones */

static char *fuzz_dir(const char *kind, const char *target) {
  const char *models = g_getenv("PC_MODELS_DIR");
  return g_build_filename(models ? models : "models", "..", "tests", "fuzz", kind, target, NULL);
}

static gint cmp_names(gconstpointer a, gconstpointer b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Calls FN on every file of tests/fuzz/KIND/TARGET; returns how many. */
static int each_file(const char *kind, const char *target, void (*fn)(const input *)) {
  char *dir = fuzz_dir(kind, target);
  GDir *d = g_dir_open(dir, 0, NULL);
  int n = 0;
  if (d) {
    const char *name;
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    while ((name = g_dir_read_name(d))) g_ptr_array_add(names, g_strdup(name));
    g_ptr_array_sort(names, cmp_names);
    for (guint i = 0; i < names->len; i++) {
      char *path = g_build_filename(dir, g_ptr_array_index(names, i), NULL), *data = NULL;
      gsize size = 0;
      GError *error = NULL;
      if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
        g_free(path);
        continue;
      }
      g_assert_true(g_file_get_contents(path, &data, &size, &error));
      g_assert_no_error(error);
      input in = {path, data, size};
      g_test_message("%s", path);
      fn(&in);
      n++;
      g_free(data);
      g_free(path);
    }
    g_ptr_array_unref(names);
    g_dir_close(d);
  }
  g_free(dir);
  return n;
}

static void each_string(const char *const *texts, void (*fn)(const input *)) {
  for (int i = 0; texts[i]; i++) {
    input in = {texts[i], texts[i], strlen(texts[i])};
    fn(&in);
  }
}

/* A string of PREFIX, then N times UNIT, then MIDDLE, then N times CLOSE, then SUFFIX. */
static char *nest(const char *prefix, const char *unit, int n, const char *middle,
                  const char *close, const char *suffix) {
  GString *s = g_string_new(prefix);
  for (int i = 0; i < n; i++) g_string_append(s, unit);
  g_string_append(s, middle);
  for (int i = 0; i < n; i++) g_string_append(s, close);
  g_string_append(s, suffix);
  return g_string_free(s, FALSE);
}

static void run_made(char *text, void (*fn)(const input *)) {
  input in = {"(made)", text, strlen(text)};
  fn(&in);
  g_free(text);
}

/* An error must say what is wrong. */
static void check_error(const input *in, GError *error) {
  if (error == NULL || error->message == NULL || error->message[0] == '\0')
    g_error("%s: the reader failed without a message", in->name);
}

/* ------------------------------------------------------------------------------------------ */
/* Model language */

static void feed_model(const input *in) {
  char *text = g_strndup(in->data, in->size); /* up to the first NUL */
  size_t len = strlen(text);
  char *sets = len < in->size ? g_strndup(in->data + len + 1, in->size - len - 1) : NULL;
  GError *error = NULL;
  pc_model *m = pc_model_parse(text, "fuzz.model", sets, &error);
  if (m) {
    g_assert_no_error(error);
    g_assert_cmpint(m->nlayers, >=, 1);
    for (int i = 0; i < m->nlayers; i++) {
      g_assert_cmpint(pc_layer_params(&m->layers[i]), >=, 0);
      g_assert_cmpfloat(pc_layer_fwd_flops(&m->layers[i]), >=, 0);
      g_assert_cmpint(pc_model_find(m, m->layers[i].name), ==, i);
    }
    pc_model_free(m);
  } else {
    check_error(in, error);
    g_error_free(error);
  }
  g_free(sets);
  g_free(text);
}

static void test_model(void) {
  int n = each_file("regressions", "model", feed_model);
  int c = each_file("corpus", "model", feed_model);
  g_assert_cmpint(c, >, 0);
  g_test_message("%d regression files, %d seeds", n, c);
  static const char *const texts[] = {
    "", "\n\n\n", "}", "{", "input", "input 3x", "input 0x1x1\nfc out=1",
    "input 99999999999999999999\nfc out=1",
    "input 9223372036854775807\nfc out=9223372036854775807",
    "input 3037000500x3037000500x3037000500\nflatten",
    "input 2147483647x2147483647x2147483647\nconv out=2147483647 k=1",
    "input 1x1x1\nconv out=1 k=1 pad=9223372036854775807",
    "input 1x1x1\nmaxpool k=1 stride=9223372036854775807",
    "param x = 1e999\ninput 4\nfc out=x", "param x = 9223372036854775807 + 1\n",
    "param x = -9223372036854775807 - 1\nparam y = x / -1\n",
    "param x = 0.0 / 0.0\n", "param x = 1 % 0\n",
    "input 4\nrepeat 1000000 { fc out=1 }\nsplit\nsplit",
    "input 4\nblock b() { b() }\nb()",
    "input 4\nblock b(x) { fc f$x out=1\n b(x) }\nb(1)",
    "input 4\nfc ${1/0} out=1", "input 4\nfc $ out=1", "input 4\nfc a$ out=1",
    "input 4\n\xff\xfe", "input 4\n\xe2\x82\xac", "input 4\\\n", "input 4 # \xff",
    "input 4\nsoftmax_xent\nfc out=1",
    NULL,
  };
  each_string(texts, feed_model);
  /* NUL bytes: the text ends at the first, the --set string follows it. */
  static const char nul1[] = "input 4\nfc out=w\0w=3";
  static const char nul2[] = "param w = 2\ninput 4\nfc out=w\0w=99999999999999999999,,=,w";
  static const char nul3[] = "\0\0\0";
  static const char nul4[] = "param w = 2\ninput 4\nfc out=w\0 w = -3x3x3 ";
  const input nuls[] = {{"nul1", nul1, sizeof nul1 - 1}, {"nul2", nul2, sizeof nul2 - 1},
                        {"nul3", nul3, sizeof nul3 - 1}, {"nul4", nul4, sizeof nul4 - 1}};
  for (size_t i = 0; i < G_N_ELEMENTS(nuls); i++) feed_model(&nuls[i]);
  /* Deep nesting of every kind of bracket, and of operators. */
  run_made(nest("input 4\n", "seq a {\n", 10000, "fc out=1\n", "}\n", ""), feed_model);
  run_made(nest("input 4\n", "repeat 1 {\n", 10000, "fc out=1\n", "}\n", ""), feed_model);
  run_made(nest("input 4\n", "residual {\n", 10000, "fc out=4\n", "}\n", ""), feed_model);
  run_made(nest("input 4\n", "if 1 {\n} else ", 10000, "{ fc out=1 }\n", "", ""), feed_model);
  run_made(nest("param x = ", "(", 100000, "1", ")", "\n"), feed_model);
  run_made(nest("param x = ", "-", 100000, "1", "", "\n"), feed_model);
  run_made(nest("param x = ", "!", 100000, "1", "", "\n"), feed_model);
  run_made(nest("param x = 1", "+1", 100000, "", "", "\ninput 4\nfc out=x\n"), feed_model);
  run_made(nest("param x = 1", "*1", 100000, "", "", "\ninput 4\nfc out=x\n"), feed_model);
  run_made(nest("input 4\nfc f", "${", 10000, "1", "}", " out=1\n"), feed_model);
  /* Work without layers: must stop, with an error, not run for hours. */
  run_made(g_strdup("input 4\nrepeat 1000000 { repeat 1000000 { repeat 1000000 { } } }\n"
                    "fc out=1"), feed_model);
  run_made(g_strdup("input 4\nblock b() { repeat 1000000 { if 0 { fc out=1 } } }\n"
                    "repeat 1000000 { b() }\nfc out=1"), feed_model);
  /* Very long names, numbers and --set strings. */
  run_made(nest("input 4\nfc ", "a", 100000, "", "", " out=1\n"), feed_model);
  run_made(nest("input 4\nfc out=", "9", 100000, "", "", "\n"), feed_model);
  run_made(nest("input 4\nfc out=1.", "9", 100000, "", "", "\n"), feed_model);
  run_made(nest("input 4\nfc a", "$i", 10000, "", "", " out=1\n"), feed_model);
  char *sets = nest("param w = 2\ninput 4\nfc out=w\n", "", 0, "", "", "");
  GString *big = g_string_new(sets);
  g_string_append_c(big, '\0');
  for (int i = 0; i < 20000; i++) g_string_append(big, ",w=1");
  input in = {"long sets", big->str, big->len};
  feed_model(&in);
  g_string_free(big, TRUE);
  g_free(sets);
}

/* ------------------------------------------------------------------------------------------ */
/* Partition specs */

static pc_model *part_models[4];

static void feed_partition(const input *in) {
  if (in->size < 1) return;
  const pc_model *m = part_models[(unsigned char)in->data[0] & 3];
  int nstages = ((unsigned char)in->data[0] >> 2) & 15;
  char *spec = g_strndup(in->data + 1, in->size - 1);
  GError *error = NULL;
  pc_partition *p = pc_partition_parse(m, spec, nstages, &error);
  if (p) {
    g_assert_no_error(error);
    g_assert_true(pc_partition_validate(m, p, NULL));
    char *back = pc_partition_format(m, p);
    pc_partition *q = pc_partition_parse(m, back, 0, NULL);
    g_assert_nonnull(q);
    g_assert_true(pc_partition_equal(p, q));
    g_array_unref(pc_partition_transfers(m, p));
    pc_partition_free(q);
    g_free(back);
    pc_partition_free(p);
  } else {
    check_error(in, error);
    g_error_free(error);
  }
  g_free(spec);
}

static void feed_spec(unsigned selector, const char *spec) {
  char *data = g_strdup_printf("%c%s", (char)selector, spec);
  input in = {spec, data, strlen(spec) + 1};
  feed_partition(&in);
  g_free(data);
}

static void test_partition(void) {
  static const char *const files[4] = {"mlp32.model", "tiny-resnet.model", "tiny-mlp.model",
                                       "resnet50.model"};
  for (int i = 0; i < 4; i++) part_models[i] = pc_test_load(files[i], NULL);
  int n = each_file("regressions", "partition", feed_partition);
  int c = each_file("corpus", "partition", feed_partition);
  g_assert_cmpint(c, >, 0);
  g_test_message("%d regression files, %d seeds", n, c);
  static const char *const specs[] = {
    "", " ", "|", "||", "..", "....", ". .", "..|..", "fc1..", "..fc1", "fc1..|..fc1",
    "fc1.. | fc1..", "..loss | ..fc1", "..loss | fc1..", "loss.. | ..loss", "fc1 | fc1",
    "99999999999999999999", "2147483648", "2147483647,2147483647", "-1", "0", "1,", ",1",
    "64,0", "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
    "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1", "auto:", "auto:flops:", "auto:time",
    "split", "\xff", "fc1\xff..loss", NULL,
  };
  for (unsigned sel = 0; sel < 64; sel++)
    for (int i = 0; specs[i]; i++) feed_spec(sel, specs[i]);
  char *s = nest("", "fc1..relu1 | ", 10000, "fc2..loss", "", "");
  feed_spec(0, s);
  g_free(s);
  s = nest("", "1,", 100000, "1", "", "");
  feed_spec(0, s);
  g_free(s);
  s = nest("", "a", 100000, "", "", "");
  feed_spec(0, s);
  g_free(s);
  for (int i = 0; i < 4; i++) pc_model_free(part_models[i]);
}

/* ------------------------------------------------------------------------------------------ */
/* Profile, net and GEMM tables */

static pc_model *prof_models[2];

static void feed_profile(const input *in) {
  char *text = g_strndup(in->data, in->size);
  GError *error = NULL;
  pc_profile *p = pc_profile_parse(text, "fuzz.tsv", &error);
  if (p == NULL) {
    check_error(in, error);
    g_error_free(error);
    g_free(text);
    return;
  }
  g_assert_no_error(error);
  static const double mbs[] = {0.5, 1, 3, 7.5, 1e9};
  for (int k = 0; k < 2; k++) {
    const pc_model *m = prof_models[k];
    if (!pc_profile_check(p, m, &error)) {
      check_error(in, error);
      g_clear_error(&error);
    }
    for (int i = 0; i < m->nlayers; i++)
      for (size_t j = 0; j < G_N_ELEMENTS(mbs); j++)
        for (int x = 0; x < 2; x++) {
          double f = 0, b = 0, o = 0;
          if (pc_profile_layer(p, m->layers[i].name, mbs[j], x, &f, &b, &o, NULL, &error)) {
            g_assert_cmpfloat(f, >=, 0);
            g_assert_cmpfloat(b, >=, 0);
            g_assert_cmpfloat(o, >=, 0);
          } else {
            check_error(in, error);
            g_clear_error(&error);
          }
        }
  }
  pc_profile_free(p);
  g_free(text);
}

static void feed_net(const input *in) {
  char *text = g_strndup(in->data, in->size);
  GError *error = NULL;
  pc_net *net = pc_net_parse(text, "fuzz.tsv", &error);
  if (net) {
    g_assert_no_error(error);
    g_assert_true(pc_net_has(net, PC_LINK_INTRA));
    for (int l = 0; l < PC_LINK_COUNT; l++)
      if (pc_net_has(net, (pc_link)l)) {
        g_assert_cmpfloat(pc_net_time(net, (pc_link)l, 1e6), >=, 0);
        g_assert_cmpfloat(pc_net_allreduce(net, (pc_link)l, 1e6, 4), >=, 0);
      }
    pc_net_free(net);
  } else {
    check_error(in, error);
    g_error_free(error);
  }
  g_free(text);
}

static void feed_gemm(const input *in) {
  char *text = g_strndup(in->data, in->size);
  GError *error = NULL;
  pc_gemm *g = pc_gemm_parse(text, "fuzz.tsv", &error);
  if (g) {
    g_assert_no_error(error);
    g_assert_cmpfloat(pc_gemm_rate(g, 8, 1024, 1024), >, 0);
    pc_gemm_free(g);
  } else {
    check_error(in, error);
    g_error_free(error);
  }
  g_free(text);
}

#define PHDR "layer\tkind\tmb\tfwd_s\tbwd_s\topt_s\n"
#define NHDR "link\tbytes\tlatency_s\tseconds_per_byte\n"
#define GHDR "m\tn\tk\tgflops\n"

static void test_tables(void) {
  prof_models[0] = pc_test_load("tiny-mlp.model", NULL);
  prof_models[1] = pc_test_load("tiny-resnet.model", NULL);
  struct {
    const char *target;
    void (*fn)(const input *);
    const char *header, *row;
  } t[] = {
    {"profile", feed_profile, PHDR, "fc1\tfc\t1\t1\t1\t1\n"},
    {"net", feed_net, NHDR, "intra\t0\t1\t1\n"},
    {"gemm", feed_gemm, GHDR, "8\t8\t8\t8\n"},
  };
  for (size_t k = 0; k < G_N_ELEMENTS(t); k++) {
    int n = each_file("regressions", t[k].target, t[k].fn);
    int c = each_file("corpus", t[k].target, t[k].fn);
    g_assert_cmpint(c, >, 0);
    g_test_message("%s: %d regression files, %d seeds", t[k].target, n, c);
    const char *texts[] = {"", "\n", "\r\n", "#", "# ", "#\t#\t#", t[k].header, t[k].row,
                           "\t\t\t\t\t\t\t\t\t\n\t\t\t", NULL};
    each_string(texts, t[k].fn);
    static const char *const fields[] = {
      "1e999", "-1e999", "1e-999", "nan", "-nan", "inf", "-0", "0x1p3", "1e308", "4.9e-324",
      "99999999999999999999999999999999", "1,5", "", " ", "\xff", "0", "1e-320", NULL,
    };
    for (int f = 0; fields[f]; f++) {
      char *text;
      if (k == 0)
        text = g_strdup_printf("# overhead_s %s\n" PHDR "fc1\tfc\t%s\t%s\t%s\t%s\n"
                               "fc1\tfc\t1e300\t1e308\t0\t1e308\nrelu1\trelu\t1\t0\t1e308\t0\n"
                               "relu1\trelu\t1e300\t1e308\t0\t0\n",
                               fields[f], fields[f], fields[f], fields[f], fields[f]);
      else if (k == 1)
        text = g_strdup_printf("# send_overhead_s %s\n# recv_overhead_s %s\n" NHDR
                               "intra\t%s\t%s\t%s\ninter\t0\t1e308\t1e308\n",
                               fields[f], fields[f], fields[f], fields[f], fields[f]);
      else
        text = g_strdup_printf(GHDR "%s\t%s\t%s\t%s\n1e308\t1e-308\t4.9e-324\t1e308\n",
                               fields[f], fields[f], fields[f], fields[f]);
      run_made(text, t[k].fn);
    }
    /* A huge table, a very long field, a line of 100000 tabs. */
    run_made(nest(t[k].header, t[k].row, 20000, "", "", ""), t[k].fn);
    run_made(nest(t[k].header, "9", 100000, "\t1\t1\t1\t1\t1\n", "", ""), t[k].fn);
    run_made(nest(t[k].header, "\t", 100000, "x", "", ""), t[k].fn);
    run_made(nest("", "#\n", 100000, t[k].header, "", t[k].row), t[k].fn);
    /* NUL bytes: the text ends at the first. */
    char *nul = g_strconcat(t[k].header, t[k].row, NULL);
    size_t len = strlen(nul);
    nul[strlen(t[k].header) + 1] = '\0';
    input in = {"nul", nul, len};
    t[k].fn(&in);
    g_free(nul);
  }
  pc_model_free(prof_models[0]);
  pc_model_free(prof_models[1]);
}

/* ------------------------------------------------------------------------------------------ */
/* Weights files */

typedef struct {
  int n;
  const char **names;
  float **data;
  size_t *counts;
} tensors;

static pc_model *w_model;
static pc_runtime *w_rt;
static char *w_dir, *w_path;
static tensors w_plain, w_momentum;

static void tensors_get(tensors *t, pc_runtime *rt, bool optimizer) {
  t->n = pc_runtime_tensors(rt, optimizer, NULL, NULL, NULL);
  t->names = g_new(const char *, (size_t)t->n);
  t->data = g_new(float *, (size_t)t->n);
  t->counts = g_new(size_t, (size_t)t->n);
  pc_runtime_tensors(rt, optimizer, t->names, t->data, t->counts);
}

static void tensors_clear(tensors *t) {
  g_free(t->names);
  g_free(t->data);
  g_free(t->counts);
}

static void write_file(const char *path, const void *data, size_t size) {
  GError *error = NULL;
  g_assert_true(g_file_set_contents(path, data, (gssize)size, &error));
  g_assert_no_error(error);
}

static void load_weights(const input *in, const tensors *t, bool exact) {
  GError *error = NULL;
  GHashTable *meta = NULL;
  bool ok = t ? pc_weights_load(w_path, w_model->name, t->n, t->names, t->data, t->counts, exact,
                                &meta, &error)
              : pc_weights_load(w_path, NULL, 0, NULL, NULL, NULL, exact, &meta, &error);
  if (ok) {
    g_assert_no_error(error);
    g_assert_nonnull(meta);
    g_hash_table_unref(meta);
  } else {
    check_error(in, error);
    g_assert_null(meta);
    g_error_free(error);
  }
}

static void feed_weights(const input *in) {
  write_file(w_path, in->data, in->size);
  load_weights(in, NULL, false);
  load_weights(in, &w_plain, false);
  load_weights(in, &w_plain, true);
  load_weights(in, &w_momentum, true);
}

static void run_weights(const char *text) {
  input in = {text, text, strlen(text)};
  feed_weights(&in);
}

static pc_runtime *tiny_runtime(pc_model **model) {
  *model = pc_test_load("tiny-mlp.model", SETS);
  int counts[1] = {(*model)->nlayers};
  GError *error = NULL;
  pc_partition *part = pc_partition_from_counts(*model, counts, 1, &error);
  g_assert_no_error(error);
  pc_runtime *rt = pc_runtime_new(*model, part, 0, 1, 1, 1, 0, &error);
  g_assert_no_error(error);
  pc_partition_free(part);
  return rt;
}

static void test_weights(void) {
  GError *error = NULL;
  w_rt = tiny_runtime(&w_model);
  tensors_get(&w_plain, w_rt, false);
  tensors_get(&w_momentum, w_rt, true);
  w_dir = g_dir_make_tmp("pipecast-test-XXXXXX", &error);
  g_assert_no_error(error);
  w_path = g_build_filename(w_dir, "w.pcw", NULL);
  int n = each_file("regressions", "weights", feed_weights);
  int c = each_file("corpus", "weights", feed_weights);
  g_assert_cmpint(c, >, 0);
  g_test_message("%d regression files, %d seeds", n, c);
  static const char *const texts[] = {
    "", "\n", "pipecast-weights 1", "pipecast-weights 1\n", "pipecast-weights 1\nmodel \n",
    "pipecast-weights 1\nmodel tiny-mlp\n",
    "pipecast-weights 1\nmodel tiny-mlp\ntensors 1\nfc1.weight 1099511627776\ndata\n",
    "pipecast-weights 1\nmodel tiny-mlp\ntensors 1\nfc1.weight 1099511627777\ndata\n",
    "pipecast-weights 1\nmodel tiny-mlp\ntensors 2\nfc1.weight 1099511627776\n"
    "fc1.bias 1099511627776\ndata\n",
    "pipecast-weights 1\nmodel tiny-mlp\ntensors 1000000\n",
    "pipecast-weights 1\nmodel tiny-mlp\ntensors 1000001\n",
    "pipecast-weights 1\nmodel tiny-mlp\ntensors -1\ndata\n",
    "pipecast-weights 1\nmodel tiny-mlp\ntensors 99999999999999999999\ndata\n",
    "pipecast-weights 1\nmodel tiny-mlp\ntensors 1\n 18446744073709551615\ndata\n",
    "pipecast-weights 1\nmodel tiny-mlp\ntensors 1\nfc1.weight -1\ndata\n",
    "pipecast-weights 1\nmodel tiny-mlp\ntensors 1\nfc1.weight\ndata\n",
    "pipecast-weights 1\nmodel tiny-mlp\ntensors 2\nx 0\nx 0\ndata\n",
    "pipecast-weights 1\nmodel tiny-mlp\ntensors 0\ndata\n",
    "pipecast-weights 1\nmodel tiny-mlp\ntensors 0\ndata\nXXXX",
    "pipecast-weights 1\nmodel tiny-mlp\nmeta\nmeta  \nmeta a b c\ntensors 0\ndata\n",
    "pipecast-weights 1\nmodel tiny-mlp\ntensors 1\nfc1.weight 16\ndata\n",
    NULL,
  };
  for (int i = 0; texts[i]; i++) run_weights(texts[i]);
  /* A header line longer than the reader's buffer, and a long meta block. */
  char *s = nest("pipecast-weights 1\nmodel tiny-mlp\nmeta k ", "v", 100000, "\ntensors 0\ndata\n",
                 "", "");
  run_weights(s);
  g_free(s);
  s = nest("pipecast-weights 1\nmodel tiny-mlp\n", "meta k v\n", 100000, "tensors 0\ndata\n", "",
           "");
  run_weights(s);
  g_free(s);
  /* NUL bytes in the header. */
  static const char nul[] = "pipecast-weights 1\nmodel \0tiny-mlp\ntensors 0\ndata\n";
  input in = {"nul", nul, sizeof nul - 1};
  feed_weights(&in);
  static const char nul2[] = "pipecast-weights 1\nmodel tiny-mlp\ntensors 1\n\0 4\ndata\n"
                             "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
  input in2 = {"nul2", nul2, sizeof nul2 - 1};
  feed_weights(&in2);
  g_remove(w_path);
  g_remove(w_dir);
  g_free(w_path);
  g_free(w_dir);
  tensors_clear(&w_plain);
  tensors_clear(&w_momentum);
  pc_runtime_free(w_rt);
  pc_model_free(w_model);
}

/* ------------------------------------------------------------------------------------------ */
/* Checkpoints, through the executor */

#define CONFIG "partition=fc1..loss batch=4 microbatches=1 replicas=1 seed=1 data=synthetic " \
               "set=" SETS

static const char *ck_exec;
static char *ck_dir, *ck_model;

static void feed_checkpoint(const input *in) {
  char *path = g_build_filename(ck_dir, "checkpoint", NULL);
  write_file(path, in->data, in->size);
  g_free(path);
  const char *argv[] = {ck_exec, "train", ck_model, "--set", SETS, "--batch", "4", "--iters",
                        "5", "--resume", ck_dir, NULL};
  char *out = NULL, *err = NULL;
  int status = 0;
  GError *error = NULL;
  g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                             &status, &error));
  g_assert_no_error(error);
  /* A normal exit: 0 when the checkpoint was good, else an error message and status 1 or 2;
   * never a signal. */
  if (!WIFEXITED(status) || WEXITSTATUS(status) > 2 || (WEXITSTATUS(status) != 0 && !*err))
    g_error("%s: pipecast-exec train --resume: status %d\n%s", in->name, status, err);
  g_free(out);
  g_free(err);
}

static void test_checkpoint(void) {
  ck_exec = g_getenv("PC_EXEC");
  if (ck_exec == NULL) {
    g_test_skip("PC_EXEC is not set");
    return;
  }
  GError *error = NULL;
  ck_dir = g_dir_make_tmp("pipecast-test-XXXXXX", &error);
  g_assert_no_error(error);
  ck_model = pc_test_model_path("tiny-mlp.model");
  /* Stage files of iterations 0 to 3, as the fuzz target has them. */
  pc_model *m;
  pc_runtime *rt = tiny_runtime(&m);
  tensors t;
  tensors_get(&t, rt, true);
  for (int it = 0; it < 4; it++) {
    char *sub = g_strdup_printf("%s/iter-%d", ck_dir, it);
    char *file = g_strdup_printf("%s/stage-0.pcw", sub), *num = g_strdup_printf("%d", it);
    const char *meta[] = {"iteration", num, NULL};
    g_assert_cmpint(g_mkdir_with_parents(sub, 0755), ==, 0);
    g_assert_true(pc_weights_save(file, m->name, t.n, t.names, t.data, t.counts, meta, &error));
    g_assert_no_error(error);
    g_free(num);
    g_free(file);
    g_free(sub);
  }
  tensors_clear(&t);
  pc_runtime_free(rt);
  pc_model_free(m);
  int n = each_file("regressions", "checkpoint", feed_checkpoint);
  int c = each_file("corpus", "checkpoint", feed_checkpoint);
  g_assert_cmpint(c, >, 0);
  g_test_message("%d regression files, %d seeds", n, c);
  static const char *const texts[] = {
    "", "pipecast-checkpoint 1", "pipecast-checkpoint 1\n",
    "pipecast-checkpoint 1\niteration\nmodel\nstages\nconfig\n",
    "pipecast-checkpoint 1\niteration \nmodel tiny-mlp\nstages 1\nconfig " CONFIG "\n",
    "pipecast-checkpoint 1\niteration 99999999999999999999\nmodel tiny-mlp\nstages 1\nconfig "
    CONFIG "\n",
    "pipecast-checkpoint 1\niteration 4294967297\nmodel tiny-mlp\nstages 1\nconfig " CONFIG "\n",
    "pipecast-checkpoint 1\niteration -1\nmodel tiny-mlp\nstages 1\nconfig " CONFIG "\n",
    "pipecast-checkpoint 1\niteration 7\nmodel tiny-mlp\nstages 1\nconfig " CONFIG "\n",
    "pipecast-checkpoint 1\niteration 1\nmodel tiny-mlp\nstages 99999999999999999999\nconfig "
    CONFIG "\n",
    "pipecast-checkpoint 1\niteration 1\nmodel ../../etc\nstages 1\nconfig " CONFIG "\n",
    NULL,
  };
  each_string(texts, feed_checkpoint);
  static const char nul[] = "pipecast-checkpoint 1\niteration 1\0\nmodel tiny-mlp\nstages 1\n";
  input in = {"nul", nul, sizeof nul - 1};
  feed_checkpoint(&in);
  char *s = nest("pipecast-checkpoint 1\niteration 1\nmodel ", "m", 100000, "\nstages 1\n", "", "");
  run_made(s, feed_checkpoint);
  /* Clean up DIR: the checkpoint file and the iter-* folders. */
  char *path = g_build_filename(ck_dir, "checkpoint", NULL);
  g_remove(path);
  g_free(path);
  for (int it = 0; it < 4; it++) {
    char *sub = g_strdup_printf("%s/iter-%d", ck_dir, it), *file = g_build_filename(sub, "stage-0.pcw", NULL);
    g_remove(file);
    g_remove(sub);
    g_free(file);
    g_free(sub);
  }
  g_remove(ck_dir);
  g_free(ck_dir);
  g_free(ck_model);
}

/* ------------------------------------------------------------------------------------------ */
/* Traces */

static pc_schedule *trace_sched; /* tiny-mlp's two stages, 1f1b, 2 microbatches */

static void feed_trace(const input *in) {
  pc_trace_file t;
  GError *error = NULL;
  if (pc_trace_file_parse(in->data, in->size, in->name, &t, &error)) {
    g_assert_no_error(error);
    g_assert_cmpint(t.nstages, >=, 1);
    g_assert_cmpint(t.first[t.nstages], ==, (int)t.ops->len);
    for (guint i = 0; i < t.ops->len; i++)
      g_assert_cmpfloat(g_array_index(t.ops, pc_trace_file_op, i).dur, >=, 0);
    if (!pc_trace_file_matches(&t, trace_sched, in->name, &error)) {
      check_error(in, error);
      g_clear_error(&error);
    }
    pc_trace_file_clear(&t);
  } else {
    check_error(in, error);
    g_error_free(error);
  }
}

#define EV(pid, op, extra) \
  "{\"traceEvents\":[{\"name\":\"FWD\",\"ph\":\"X\",\"pid\":" pid ",\"ts\":0," extra \
  "\"args\":{\"op\":" op "}}]}"

static void test_trace(void) {
  pc_model *m = pc_test_load("tiny-mlp.model", NULL);
  GError *error = NULL;
  pc_partition *part = pc_partition_parse(m, "split", 0, &error);
  g_assert_no_error(error);
  GArray *xfers = pc_partition_transfers(m, part);
  trace_sched = pc_schedule_new(PC_SCHEDULE_1F1B, part->nstages, 2,
                                (const pc_xfer *)(void *)xfers->data, (int)xfers->len, &error);
  g_assert_no_error(error);
  int n = each_file("regressions", "trace", feed_trace);
  int c = each_file("corpus", "trace", feed_trace);
  g_assert_cmpint(c, >, 0);
  g_test_message("trace: %d regression files, %d seeds", n, c);
  const char *texts[] = {
    "", "{", "[]", "{}", "{\"traceEvents\":[]}", "{\"traceEvents\":{}}",
    "{\"traceEvents\":[1,2,3]}",
    EV("0", "0", "\"dur\":1,"), EV("1e300", "0", "\"dur\":1,"), EV("-1", "0", "\"dur\":1,"),
    EV("0", "0.5", "\"dur\":1,"), EV("0", "2147483648", "\"dur\":1,"), EV("0", "0", "\"dur\":-1,"),
    EV("0", "0", "\"dur\":1e308,"), EV("0", "0", ""),
    "{\"traceEvents\":[{\"ph\":\"X\"\"name\":1}]}",
    "{\"traceEvents\":[\"\\u12\"]}", "{\"a\":\"\\", NULL,
  };
  each_string(texts, feed_trace);
  /* what must be refused, and why */
  static const struct {
    const char *text, *why;
  } refused[] = {
    {EV("1e300", "0", "\"dur\":1,"), "pid, args.op or args.mb is not a whole number"},
    {EV("-1", "0", "\"dur\":1,"), "pid, args.op or args.mb is not a whole number"},
    {EV("0", "0.5", "\"dur\":1,"), "pid, args.op or args.mb is not a whole number"},
    {EV("0", "2147483648", "\"dur\":1,"), "pid, args.op or args.mb is not a whole number"},
    {EV("0", "0", "\"dur\":-1,"), "negative dur"},
    {"{\"traceEvents\":[{\"name\":\"FWD\",\"ph\":\"X\",\"pid\":0,\"ts\":1e308,\"dur\":1e308,"
     "\"args\":{\"op\":0}}]}", "ends past the largest number"},
    {EV("0", "0", ""), "without pid, ts, dur or args.op"},
    {"{\"traceEvents\":[]}", "no op events"},
  };
  for (size_t k = 0; k < G_N_ELEMENTS(refused); k++) {
    pc_trace_file tf;
    const char *text = refused[k].text;
    g_assert_false(pc_trace_file_parse(text, strlen(text), "r.json", &tf, &error));
    g_assert_error(error, PC_ERROR, PC_ERROR_FORMAT);
    if (!strstr(error->message, refused[k].why)) g_error("'%s': %s", text, error->message);
    g_clear_error(&error);
  }
  /* a trace of the schedule with its stages as pids 0 and 5: parsed, but not this schedule's */
  {
    char *dir = fuzz_dir("corpus", "trace");
    char *path = g_build_filename(dir, "predicted-2stage.json", NULL);
    g_free(dir);
    char *text = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(path, &text, &len, NULL));
    pc_trace_file tf;
    g_assert_true(pc_trace_file_parse(text, len, "ok.json", &tf, &error));
    g_assert_true(pc_trace_file_matches(&tf, trace_sched, "ok.json", &error));
    pc_trace_file_clear(&tf);
    GString *moved = g_string_new(text);
    for (char *q; (q = strstr(moved->str, "\"pid\":1,"));) q[6] = '5';
    g_assert_true(pc_trace_file_parse(moved->str, moved->len, "pid5.json", &tf, &error));
    g_assert_false(pc_trace_file_matches(&tf, trace_sched, "pid5.json", &error));
    g_assert_nonnull(strstr(error->message, "its stage 1 has pid 5"));
    g_clear_error(&error);
    pc_trace_file_clear(&tf);
    g_string_free(moved, TRUE);
    g_free(text);
    g_free(path);
  }
  /* nested 10000 deep: refused, not a stack overflow */
  GString *deep = g_string_new("{\"traceEvents\":[{\"args\":");
  for (int i = 0; i < 10000; i++) g_string_append_c(deep, '[');
  input in = {"deep", deep->str, deep->len};
  feed_trace(&in);
  g_string_free(deep, TRUE);
  /* a NUL byte inside: the reader takes LEN bytes, not a C string */
  static const char nul[] = "{\"traceEvents\":[]}\0junk";
  input in2 = {"nul", nul, sizeof nul - 1};
  feed_trace(&in2);
  pc_schedule_free(trace_sched);
  g_array_unref(xfers);
  pc_partition_free(part);
  pc_model_free(m);
}

/* tokens */

static char *tok_path;

static void feed_tokens(const input *in) {
  g_assert_true(g_file_set_contents(tok_path, in->data, (gssize)in->size, NULL));
  char *spec = g_strdup_printf("tokens:%s", tok_path);
  for (int train = 0; train < 2; train++) {
    GError *error = NULL;
    pc_dataset *d = pc_dataset_open_tokens(spec, 8, 50, 0, train, &error);
    if (d == NULL) {
      g_assert_nonnull(error);
      g_assert_true(error->message && error->message[0]);
      g_clear_error(&error);
      continue;
    }
    float x[8];
    int32_t y[8];
    pc_dataset_get(d, pc_dataset_size(d) - 1, 1, x, y);
    for (int k = 0; k < 8; k++) g_assert_true(y[k] >= 0 && y[k] < 50 && x[k] >= 0 && x[k] < 50);
    pc_dataset_free(d);
  }
  g_free(spec);
}

/* an llm.c header (magic, version, count) and then TOKENS, as NTOK uint16 */
static input *token_input(uint32_t magic, uint32_t version, uint32_t count, const uint16_t *tok,
                          size_t ntok) {
  input *in = g_new0(input, 1);
  char *b = g_malloc0(1024 + 2 * ntok);
  uint32_t head[3] = {magic, version, count};
  memcpy(b, head, sizeof head);
  if (ntok) memcpy(b + 1024, tok, 2 * ntok);
  in->name = "made", in->data = b, in->size = 1024 + 2 * ntok;
  return in;
}

static void test_tokens(void) {
  GError *error = NULL;
  char *dir = g_dir_make_tmp("pipecast-test-XXXXXX", &error);
  g_assert_no_error(error);
  tok_path = g_build_filename(dir, "t.bin", NULL);
  int n = each_file("regressions", "tokens", feed_tokens);
  int c = each_file("corpus", "tokens", feed_tokens);
  g_assert_cmpint(c, >, 0);
  g_test_message("tokens: %d regression files, %d seeds", n, c);
  const char *texts[] = {"", "\n", "tokens", NULL};
  each_string(texts, feed_tokens);
  uint16_t tok[40];
  for (int k = 0; k < 40; k++) tok[k] = (uint16_t)(k % 50);
  struct {
    uint32_t magic, version, count;
    size_t ntok;
  } made[] = {
    {20240520, 1, 40, 40},         {20240520, 1, 0, 0},          {20240520, 1, 0xFFFFFFFFu, 40},
    {20240520, 1, 0x80000000u, 40}, {20240520, 1, 41, 40},         {20240520, 1, 39, 40},
    {20240520, 1, 8, 8},           {20240520, 1, 9, 9},          {20240520, 2, 40, 40},
    {20240521, 1, 40, 40},         {0, 0, 0, 0},
  };
  for (size_t k = 0; k < G_N_ELEMENTS(made); k++) {
    input *in = token_input(made[k].magic, made[k].version, made[k].count, tok, made[k].ntok);
    feed_tokens(in);
    g_free((char *)in->data), g_free(in);
  }
  tok[17] = 50; /* an id the vocabulary does not hold: refused, naming its position */
  input *in = token_input(20240520, 1, 40, tok, 40);
  g_assert_true(g_file_set_contents(tok_path, in->data, (gssize)in->size, NULL));
  char *spec = g_strdup_printf("tokens:%s", tok_path);
  g_assert_null(pc_dataset_open_tokens(spec, 8, 50, 0, true, &error));
  g_assert_error(error, PC_ERROR, PC_ERROR_FORMAT);
  g_assert_nonnull(strstr(error->message, "token 17 is 50, outside the model's vocabulary of 50"));
  g_clear_error(&error);
  g_free(spec), g_free((char *)in->data), g_free(in);
  g_remove(tok_path);
  g_rmdir(dir);
  g_free(tok_path), g_free(dir);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/regressions/model", test_model);
  g_test_add_func("/regressions/partition", test_partition);
  g_test_add_func("/regressions/tables", test_tables);
  g_test_add_func("/regressions/weights", test_weights);
  g_test_add_func("/regressions/checkpoint", test_checkpoint);
  g_test_add_func("/regressions/trace", test_trace);
  g_test_add_func("/regressions/tokens", test_tokens);
  return g_test_run();
}
