/* fuzz-profile.c — libFuzzer target of the profile TSV reader: pc_profile_parse (sim/costfiles.c).
 * A profile that parses is checked against tiny-mlp and tiny-resnet and queried the way the
 * simulator queries it (every layer, microbatch sizes inside and outside the measured range,
 * with and without extrapolation), and its per-layer costs computed when it fits the model. */
#include "costs.h"
#include "fuzz-util.h"

static pc_model *models[2];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  models[0] = pc_fuzz_model("tiny-mlp.model", NULL);
  models[1] = pc_fuzz_model("tiny-resnet.model", NULL);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = pc_fuzz_cstr(data, size);
  GError *error = NULL;
  pc_profile *p = pc_profile_parse(text, "fuzz.tsv", &error);
  if (p == NULL) {
    pc_fuzz_check_error(error);
    g_error_free(error);
    g_free(text);
    return 0;
  }
  if (error) abort();
  volatile double sink = pc_profile_overhead(p);
  const char *name = pc_profile_model(p);
  if (name) sink += (double)strlen(name);
  static const double mbs[] = {0.5, 1, 3, 7.5, 1e9};
  for (int k = 0; k < 2; k++) {
    const pc_model *m = models[k];
    bool fits = pc_profile_check(p, m, &error);
    if (!fits) {
      pc_fuzz_check_error(error);
      g_clear_error(&error);
    }
    for (int i = 0; i < m->nlayers; i++) {
      for (size_t j = 0; j < G_N_ELEMENTS(mbs); j++) {
        for (int x = 0; x < 2; x++) {
          double f = 0, b = 0, o = 0;
          bool extrapolated = false;
          if (pc_profile_layer(p, m->layers[i].name, mbs[j], x, &f, &b, &o, &extrapolated,
                               &error)) {
            if (!(f >= 0 && b >= 0 && o >= 0)) abort();
            sink += f + b + o;
          } else {
            pc_fuzz_check_error(error);
            g_clear_error(&error);
          }
        }
      }
    }
    if (fits) {
      pc_cost_config cfg = {.profile = p, .extrapolate = true};
      double *fwd = g_new(double, (size_t)m->nlayers), *bwd = g_new(double, (size_t)m->nlayers),
             *opt = g_new(double, (size_t)m->nlayers), overhead = 0;
      bool extrapolated = false;
      if (!pc_costs_layers(m, &cfg, 4, fwd, bwd, opt, &overhead, &extrapolated, &error)) {
        pc_fuzz_check_error(error);
        g_clear_error(&error);
      }
      g_free(fwd);
      g_free(bwd);
      g_free(opt);
    }
  }
  (void)sink;
  pc_profile_free(p);
  g_free(text);
  return 0;
}
