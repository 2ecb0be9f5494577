/* test-parse.c — the model language: every file in models/, naming, parameters and overrides,
 * and the catalogue of bad input, each with the file:line:column it must report. */
#include <glib.h>
#include <string.h>

#include "error.h"
#include "test-util.h"

/* ------------------------------------------------------------------------------------------ */
/* Good input */

static void test_all_model_files(void) {
  const char *dirname = g_getenv("PC_MODELS_DIR") ? g_getenv("PC_MODELS_DIR") : "models";
  GDir *dir = g_dir_open(dirname, 0, NULL);
  g_assert_nonnull(dir);
  int n = 0;
  const char *name;
  while ((name = g_dir_read_name(dir))) {
    if (!g_str_has_suffix(name, ".model")) continue;
    pc_model *m = pc_test_load(name, NULL);
    g_assert_cmpint(m->nlayers, >, 0);
    g_assert_cmpint(pc_model_loss_layer(m), ==, m->nlayers - 1);
    for (int i = 0; i < m->nlayers; i++) {
      g_assert_cmpint(m->layers[i].index, ==, i);
      for (int k = 0; k < m->layers[i].ninputs; k++) /* file order is topological */
        g_assert_cmpint(m->layers[i].inputs[k], <, i);
    }
    pc_model_free(m);
    n++;
  }
  g_dir_close(dir);
  g_assert_cmpint(n, >=, 6);
}

static void test_torchvision_names(void) {
  pc_model *m = pc_test_load("resnet50.model", NULL);
  const char *names[] = {"conv1", "bn1", "maxpool", "layer1.0.conv1", "layer1.0.downsample.0",
                         "layer1.0.downsample.1", "layer3.2.conv1", "layer3.5.bn3",
                         "layer4.2.relu", "avgpool", "fc"};
  for (size_t i = 0; i < G_N_ELEMENTS(names); i++) g_assert_cmpint(pc_model_find(m, names[i]), >=, 0);
  g_assert_cmpint(pc_model_find(m, "layer1.1.downsample.0"), ==, -1); /* identity shortcut */
  g_assert_cmpint(pc_model_find(m, "layer3.6.conv1"), ==, -1);
  int a, b;
  g_assert_true(pc_model_lookup_range(m, "layer2", &a, &b));
  g_assert_cmpstr(m->layers[a].name, ==, "layer2.0.conv1");
  g_assert_cmpstr(m->layers[b].name, ==, "layer2.3.relu");
  g_assert_false(pc_model_lookup_range(m, "layer", &a, &b)); /* a scope is a whole name part */
  /* the projection reads the block's input; the add reads the main path and the projection */
  const pc_layer *add = &m->layers[pc_model_find(m, "layer2.0.add")];
  g_assert_cmpint(add->inputs[0], ==, pc_model_find(m, "layer2.0.bn3"));
  g_assert_cmpint(add->inputs[1], ==, pc_model_find(m, "layer2.0.downsample.1"));
  const pc_layer *proj = &m->layers[pc_model_find(m, "layer2.0.downsample.0")];
  g_assert_cmpint(proj->inputs[0], ==, pc_model_find(m, "layer1.2.relu"));
  const pc_layer *add2 = &m->layers[pc_model_find(m, "layer2.1.add")];
  g_assert_cmpint(add2->inputs[1], ==, pc_model_find(m, "layer2.0.relu"));
  pc_model_free(m);

  m = pc_test_load("vgg16.model", NULL);
  g_assert_cmpint(m->layers[pc_model_find(m, "features.0")].kind, ==, PC_LAYER_KIND_CONV);
  g_assert_cmpint(m->layers[pc_model_find(m, "features.4")].kind, ==, PC_LAYER_KIND_MAXPOOL);
  g_assert_cmpint(m->layers[pc_model_find(m, "features.30")].kind, ==, PC_LAYER_KIND_MAXPOOL);
  g_assert_cmpint(m->layers[pc_model_find(m, "classifier.6")].kind, ==, PC_LAYER_KIND_FC);
  pc_model_free(m);
}

static void test_auto_names(void) {
  pc_model *m = pc_test_model("input 4\nfc out=2\nrelu\nfc out=3\n"
                              "seq s { fc out=2; relu; fc x out=2; relu }\n"
                              "repeat 2 as i { fc f${i*10}b out=2 }\n"
                              "block blk(n) { fc out=n }\nblk(2)\nblk(3) named\n");
  const char *want[] = {"fc1", "relu1", "fc2", "s.0", "s.1", "s.x", "s.3", "f0b", "f10b",
                        "blk1.fc1", "named.fc1"};
  g_assert_cmpint(m->nlayers, ==, G_N_ELEMENTS(want));
  for (int i = 0; i < m->nlayers; i++) g_assert_cmpstr(m->layers[i].name, ==, want[i]);
  pc_model_free(m);
}

static void test_expressions_and_control(void) {
  pc_model *m = pc_test_model("param a = 2 + 3 * 4\nparam b = (2 + 3) * 4 - 7 % 4\n"
                              "param f = 0.5\n"
                              "input 8\nfc x out=a\nfc y out=b\n"
                              "if a > 10 && !(b == 0) { fc t out=1 } else { fc e out=1 }\n"
                              "if 0 { fc t2 out=1 } else if 1 { fc e2 out=2 }\n"
                              "repeat 0 { fc never out=1 }\nbn z momentum=f\n");
  g_assert_cmpint(((pc_fc_attrs *)m->layers[0].attrs)->out, ==, 14);
  g_assert_cmpint(((pc_fc_attrs *)m->layers[1].attrs)->out, ==, 17);
  g_assert_cmpstr(m->layers[2].name, ==, "t");
  g_assert_cmpstr(m->layers[3].name, ==, "e2");
  g_assert_cmpint(pc_model_find(m, "never"), ==, -1);
  g_assert_cmpfloat(((pc_bn_attrs *)m->layers[4].attrs)->momentum, ==, 0.5);
  pc_model_free(m);
}

static void test_overrides(void) {
  GError *error = NULL;
  pc_model *m = pc_model_parse("param w = 4\nparam s = 3x8x8\nparam e = 0.1\ninput s\n"
                               "conv c out=w k=3\nbn n eps=e\n",
                               "t.model", " w = 6 , s=1x5x5, e=1", &error);
  g_assert_no_error(error);
  g_assert_cmpint(m->input.d[0], ==, 1);
  g_assert_cmpint(m->layers[0].out.d[0], ==, 6);
  g_assert_cmpint(m->layers[0].out.d[1], ==, 3);
  g_assert_cmpfloat(((pc_bn_attrs *)m->layers[1].attrs)->eps, ==, 1.0);
  g_assert_cmpint(m->nparams, ==, 3);
  g_assert_cmpstr(m->params[0].value, ==, "6");
  g_assert_true(m->params[0].overridden);
  g_assert_cmpstr(m->params[1].value, ==, "1x5x5");
  pc_model_free(m);
}

static void test_splits(void) {
  pc_model *m = pc_test_load("tiny-mlp.model", NULL);
  g_assert_cmpint(m->nsplits, ==, 1);
  g_assert_cmpint(m->splits[0], ==, 4);
  pc_model_free(m);
}

/* ------------------------------------------------------------------------------------------ */
/* The catalogue of bad input */

typedef struct {
  const char *what;
  const char *text;
  const char *sets;
  int code;
  const char *where; /* "file:line:column" prefix, or NULL when the error has no position */
  const char *says;  /* a fragment of the message */
} bad_case;

static const bad_case bad[] = {
  {"unknown layer kind", "input 4\nconv3d x out=1\n", NULL, PC_ERROR_PARSE, "t.model:2:1:",
   "unknown layer kind 'conv3d'"},
  {"unknown parameter", "input 4\nfc out=widht\n", NULL, PC_ERROR_PARSE, "t.model:2:8:",
   "unknown parameter 'widht'"},
  {"malformed parameter", "param width 1024\ninput 4\n", NULL, PC_ERROR_PARSE, "t.model:1:13:",
   "expected '='"},
  {"missing value", "input 4\nfc out=\n", NULL, PC_ERROR_PARSE, "t.model:2:8:",
   "expected a value"},
  {"unknown attribute", "input 4\nfc out=3 stride=2\n", NULL, PC_ERROR_PARSE, "t.model:2:10:",
   "fc has no attribute 'stride'"},
  {"missing attribute", "input 4\nfc\n", NULL, PC_ERROR_PARSE, "t.model:2:1:",
   "fc needs the attribute out="},
  {"attribute out of range", "input 3x8x8\nconv out=4 k=3 stride=0\n", NULL, PC_ERROR_PARSE,
   "t.model:2:16:", "must be at least 1"},
  {"float for an integer", "input 4\nfc out=2.5\n", NULL, PC_ERROR_PARSE, "t.model:2:4:",
   "must be an integer"},
  {"conv after flatten", "input 3x8x8\nflatten\nconv out=4 k=3\n", NULL, PC_ERROR_PARSE,
   "t.model:3:1:", "conv needs an image input (CxHxW), got 192"},
  {"fc on an image", "input 3x8x8\nfc out=3\n", NULL, PC_ERROR_PARSE, "t.model:2:1:",
   "needs a flat input or a sequence (TxC), got 3x8x8"},
  {"embed after a layer", "input 8\nfc out=8\nembed vocab=9 dim=4\n", NULL, PC_ERROR_PARSE,
   "t.model:3:1:", "embed reads the model's input, a sequence of token ids"},
  {"embed of an image", "input 3x8x8\nembed vocab=9 dim=4\n", NULL, PC_ERROR_PARSE,
   "t.model:2:1:", "got 3x8x8"},
  {"two embeds", "input 8\nresidual { embed a vocab=9 dim=4 } shortcut { embed b vocab=9 "
   "dim=4 }\n", NULL, PC_ERROR_PARSE, "t.model:2:", "a second embed ('b'; 'a' is the first)"},
  {"token input read twice", "input 8\nresidual r {\nembed e vocab=9 dim=1\nflatten\n}\n",
   NULL, PC_ERROR_PARSE, "t.model:2:1:", "layer 'r' reads the model's input, which holds token "
   "ids for the embed 'e'"},
  {"tied without embed", "input 8\nfc h out=9 tied=1\n", NULL, PC_ERROR_PARSE, "t.model:2:1:",
   "fc 'h' is tied=1 but the model has no embed"},
  {"tied of another size", "input 8\nembed e vocab=9 dim=4\nfc h out=10 tied=1\n", NULL,
   PC_ERROR_PARSE, "t.model:3:1:", "needs out=9 and inputs of 4, has out=10 and inputs of 4"},
  {"two tied heads", "input 8\nembed e vocab=9 dim=4\nfc a out=9 tied=1 bias=0\n"
   "fc out=4\nfc b out=9 tied=1\n", NULL, PC_ERROR_PARSE, "t.model:5:1:",
   "fc 'b' is tied=1 too: one layer ('a') is tied to the embed already"},
  {"attention of the wrong width", "input 8\nembed e vocab=9 dim=10\nattention heads=2\n",
   NULL, PC_ERROR_PARSE, "t.model:3:1:", "D = 3 x heads x head size (2 heads), got 8x10"},
  {"attention of a flat input", "input 12\nattention heads=2\n", NULL, PC_ERROR_PARSE,
   "t.model:2:1:", "attention needs a sequence"},
  {"kernel larger than input", "input 3x4x4\nconv out=2 k=5\n", NULL, PC_ERROR_PARSE,
   "t.model:2:1:", "does not fit the input 3x4x4"},
  {"residual shapes differ", "input 4x4x4\nresidual { conv out=8 k=1 }\n", NULL, PC_ERROR_PARSE,
   "t.model:2:1:", "needs equal shapes"},
  {"block before definition", "input 4\nb(1)\nblock b(x) { fc out=x }\n", NULL, PC_ERROR_PARSE,
   "t.model:2:1:", "used before it is defined (line 3)"},
  {"block argument count", "block b(x) { fc out=x }\ninput 4\nb(1, 2)\n", NULL, PC_ERROR_PARSE,
   "t.model:3:1:", "takes 1 argument, got 2"},
  {"unknown block", "input 4\nnope(1)\n", NULL, PC_ERROR_PARSE, "t.model:2:1:",
   "unknown block 'nope'"},
  {"block without parentheses", "block b(x) { fc out=x }\ninput 4\nb\n", NULL, PC_ERROR_PARSE,
   "t.model:3:1:", "'b' is a block"},
  {"recursive block", "block b(x) { b(x) }\ninput 4\nb(1)\n", NULL, PC_ERROR_PARSE,
   "t.model:1:14:", "nested more than"},
  {"unterminated block", "input 4\nseq s {\n  fc out=2\n", NULL, PC_ERROR_PARSE, "t.model:4:1:",
   "unterminated block: the '{' at line 2, column 7"},
  {"stray closing brace", "input 4\n}\n", NULL, PC_ERROR_PARSE, "t.model:2:1:", "no '{'"},
  {"empty file", "", NULL, PC_ERROR_PARSE, "t.model:1:1:", "empty model"},
  {"only comments", "# nothing here\n\n", NULL, PC_ERROR_PARSE, "t.model:1:1:", "empty model"},
  {"no input", "fc out=2\n", NULL, PC_ERROR_PARSE, "t.model:1:1:", "no input shape"},
  {"input twice", "input 4\ninput 5\n", NULL, PC_ERROR_PARSE, "t.model:2:1:", "given twice"},
  {"two-dimensional shape", "input 3x4\n", NULL, PC_ERROR_PARSE, "t.model:1:7:",
   "3 dimensions"},
  {"zero dimension", "input 0x4x4\nrelu\n", NULL, PC_ERROR_PARSE, "t.model:1:7:", "positive"},
  {"number too large", "input 99999999999999999999\n", NULL, PC_ERROR_PARSE, "t.model:1:7:",
   "too large"},
  {"division by zero", "param a = 1 / 0\n", NULL, PC_ERROR_PARSE, "t.model:1:13:",
   "division by zero"},
  {"overflow", "param a = 4611686018427387904 * 4\n", NULL, PC_ERROR_PARSE, "t.model:1:31:",
   "overflow"},
  {"duplicate name", "input 4\nfc a out=2\nfc a out=2\n", NULL, PC_ERROR_PARSE, "t.model:3:1:",
   "'a' is already used (line 2)"},
  {"bad character", "input 4\nfc out=2 @\n", NULL, PC_ERROR_PARSE, "t.model:2:10:",
   "unexpected character '@'"},
  {"junk after statement", "input 4\nrelu r extra stuff\n", NULL, PC_ERROR_PARSE,
   "t.model:2:8:", "expected an attribute"},
  {"loss not last", "input 4\nsoftmax_xent\nfc out=2\n", NULL, PC_ERROR_PARSE, "t.model:2:1:",
   "must be the last layer"},
  {"split first", "input 4\nsplit\nfc out=2\n", NULL, PC_ERROR_PARSE, "t.model:2:1:",
   "before the first layer"},
  {"split last", "input 4\nfc out=2\nsplit\n", NULL, PC_ERROR_PARSE, "t.model:3:1:",
   "after the last layer"},
  {"negative repeat", "input 4\nrepeat 0 - 2 { relu }\n", NULL, PC_ERROR_PARSE, "t.model:2:10:",
   "must not be negative"},
  {"param inside a block", "input 4\nseq s { param a = 1 }\n", NULL, PC_ERROR_PARSE,
   "t.model:2:9:", "only allowed at the top level"},
  {"set: unknown parameter", "param w = 2\ninput 4\nfc out=w\n", "wdth=3", PC_ERROR_USAGE, NULL,
   "no parameter 'wdth' (it has: w)"},
  {"set: malformed value", "param w = 2\ninput 4\nfc out=w\n", "w=abc", PC_ERROR_USAGE, NULL,
   "expected a number or a shape"},
  {"set: missing '='", "param w = 2\ninput 4\nfc out=w\n", "w", PC_ERROR_USAGE, NULL,
   "expected name=value"},
  {"set: wrong type", "param s = 3x8x8\ninput s\nrelu\n", "s=5", PC_ERROR_USAGE, NULL,
   "is a shape (default 3x8x8), not an integer"},
};

static void test_bad(gconstpointer data) {
  const bad_case *c = data;
  GError *error = NULL;
  pc_model *m = pc_model_parse(c->text, "t.model", c->sets, &error);
  g_assert_null(m);
  g_assert_nonnull(error);
  if (g_test_verbose()) g_printerr("%s -> %s\n", c->what, error->message);
  g_assert_error(error, PC_ERROR, c->code);
  if (c->where) g_assert_true(g_str_has_prefix(error->message, c->where));
  if (strstr(error->message, c->says) == NULL)
    g_error("%s: message '%s' lacks '%s'", c->what, error->message, c->says);
  g_error_free(error);
}

static void test_missing_file(void) {
  GError *error = NULL;
  g_assert_null(pc_model_load("/nonexistent/x.model", NULL, &error));
  g_assert_error(error, PC_ERROR, PC_ERROR_IO);
  g_assert_nonnull(strstr(error->message, "/nonexistent/x.model"));
  g_error_free(error);
}

/* Deterministic mutations of every model file: each parse ends with a model or an error. */
static void test_mutations(void) {
  const char *files[] = {"resnet50.model", "vgg16.model", "mlp32.model", "tiny-resnet.model"};
  const char junk[] = "{}()=,;$+-*/%<>!x0 \n#a.9";
  GRand *rng = g_rand_new_with_seed(12345);
  int failures = 0, total = 0;
  for (size_t f = 0; f < G_N_ELEMENTS(files); f++) {
    char *path = pc_test_model_path(files[f]), *text;
    gsize len;
    g_assert_true(g_file_get_contents(path, &text, &len, NULL));
    for (int it = 0; it < 300; it++) {
      char *t = g_strdup(text);
      int edits = g_rand_int_range(rng, 1, 4);
      for (int e = 0; e < edits; e++)
        t[g_rand_int_range(rng, 0, (gint32)len)] = junk[g_rand_int_range(rng, 0, sizeof junk - 1)];
      if (g_rand_boolean(rng)) t[g_rand_int_range(rng, 0, (gint32)len)] = '\0'; /* truncate */
      GError *error = NULL;
      pc_model *m = pc_model_parse(t, files[f], NULL, &error);
      g_assert_true((m == NULL) != (error == NULL));
      if (error) {
        g_assert_true(g_str_has_prefix(error->message, files[f]));
        failures++;
        g_error_free(error);
      }
      pc_model_free(m);
      g_free(t);
      total++;
    }
    g_free(text);
    g_free(path);
  }
  g_rand_free(rng);
  g_assert_cmpint(failures, >, total / 2); /* the mutations do break most files */
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/parse/models", test_all_model_files);
  g_test_add_func("/parse/names/torchvision", test_torchvision_names);
  g_test_add_func("/parse/names/auto", test_auto_names);
  g_test_add_func("/parse/expressions", test_expressions_and_control);
  g_test_add_func("/parse/overrides", test_overrides);
  g_test_add_func("/parse/splits", test_splits);
  g_test_add_func("/parse/bad/missing-file", test_missing_file);
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
    char *path = g_strdup_printf("/parse/bad/%zu-%s", i, bad[i].what);
    for (char *c = path; *c; c++)
      if (*c == ' ' || *c == ':' || *c == '\'') *c = '-';
    g_test_add_data_func(path, &bad[i], test_bad);
    g_free(path);
  }
  g_test_add_func("/parse/mutations", test_mutations);
  return g_test_run();
}
