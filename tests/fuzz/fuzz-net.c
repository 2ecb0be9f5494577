/* fuzz-net.c — libFuzzer target of the network calibration TSV reader: pc_net_parse
 * (sim/costfiles.c). A table that parses is queried like the simulator does: message times over
 * every link it has, at sizes around its pieces, and ring all-reduces. */
#include <math.h>

#include "costfiles.h"
#include "fuzz-util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = pc_fuzz_cstr(data, size);
  GError *error = NULL;
  pc_net *net = pc_net_parse(text, "fuzz.tsv", &error);
  if (net == NULL) {
    pc_fuzz_check_error(error);
    g_error_free(error);
    g_free(text);
    return 0;
  }
  if (error || !pc_net_has(net, PC_LINK_INTRA)) abort();
  static const double sizes[] = {0, 1, 1000, 1e6, 1e12};
  for (int l = 0; l < PC_LINK_COUNT; l++) {
    if (!pc_net_has(net, (pc_link)l)) continue;
    for (int k = 0; k < net->npieces[l]; k++) {
      if (k && !(net->pieces[l][k].bytes > net->pieces[l][k - 1].bytes)) abort();
      double t = pc_net_time(net, (pc_link)l, net->pieces[l][k].bytes);
      if (!(t >= 0) || isnan(t)) abort();
    }
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
      double t = pc_net_time(net, (pc_link)l, sizes[i]);
      double a = pc_net_allreduce(net, (pc_link)l, sizes[i], 4);
      if (isnan(t) || isnan(a) || t < 0 || a < 0) abort();
    }
  }
  pc_net_free(net);
  g_free(text);
  return 0;
}
