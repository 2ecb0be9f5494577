/* describe.c — `pipecast-sim describe`: what a model is made of and how a partition cuts it.
 *
 * Prints one row per layer (name, kind, output shape, parameters, forward GFLOPs, activation
 * bytes kept for backward, all per sample) and, with a partition, one row per stage and the
 * tensors that cross stage boundaries. --format csv prints the same tables as CSV blocks
 * separated by a blank line (gnuplot's `index 0`, `index 1`, `index 2`); its layer table also
 * gives each layer's inputs and attributes, enough to rebuild the network elsewhere (the PyTorch
 * crosscheck in tests/crosscheck does). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "job.h"

typedef struct {
  int layers;
  int64_t params;
  double fwd, bwd, macs;
  int64_t saved, sent;
} totals;

static totals sum_range(const pc_model *m, int a, int b) {
  totals t = {0};
  for (int i = a; i < b; i++) {
    const pc_layer *l = &m->layers[i];
    t.layers++;
    t.params += pc_layer_params(l);
    t.fwd += pc_layer_fwd_flops(l);
    t.bwd += pc_layer_bwd_flops(l);
    t.macs += pc_layer_fwd_macs(l);
    t.saved += pc_layer_saved_bytes(l);
  }
  return t;
}

static char *with_commas(int64_t v) {
  char raw[32], out[48];
  snprintf(raw, sizeof raw, "%lld", (long long)(v < 0 ? -v : v));
  size_t n = strlen(raw), o = 0;
  if (v < 0) out[o++] = '-';
  for (size_t i = 0; i < n; i++) {
    if (i && (n - i) % 3 == 0) out[o++] = ',';
    out[o++] = raw[i];
  }
  out[o] = '\0';
  return g_strdup(out);
}

static void print_table(const pc_model *m, const pc_partition *part, const GArray *xfers) {
  int w = 5;
  for (int i = 0; i < m->nlayers; i++) w = MAX(w, (int)strlen(m->layers[i].name));
  char shape[PC_SHAPE_STRLEN];
  printf("model %s: input %s, %d layers", m->name, pc_shape_format(&m->input, shape, sizeof shape),
         m->nlayers);
  for (int i = 0; i < m->nparams; i++)
    printf("%s%s=%s%s", i ? ", " : "; parameters ", m->params[i].name, m->params[i].value,
           m->params[i].overridden ? " (set)" : "");
  printf("\n\n%5s  %-*s  %-12s  %-12s  %14s  %14s  %14s%s\n", "#", w, "layer", "kind", "output",
         "params", "fwd GFLOP", "saved bytes", part ? "  stage" : "");
  for (int i = 0; i < m->nlayers; i++) {
    const pc_layer *l = &m->layers[i];
    char *params = with_commas(pc_layer_params(l));
    char *saved = with_commas(pc_layer_saved_bytes(l));
    printf("%5d  %-*s  %-12s  %-12s  %14s  %14.6f  %14s", i, w, l->name,
           pc_layer_ops_of(l->kind)->name, pc_shape_format(&l->out, shape, sizeof shape), params,
           pc_layer_fwd_flops(l) / 1e9, saved);
    if (part) printf("  %5d", pc_partition_stage_of(part, i));
    if (l->tie >= 0) printf("  (weight tied to %s)", m->layers[l->tie].name);
    printf("\n");
    g_free(params);
    g_free(saved);
  }
  totals t = sum_range(m, 0, m->nlayers);
  char *params = with_commas(t.params), *saved = with_commas(t.saved);
  printf("%5s  %-*s  %-12s  %-12s  %14s  %14.6f  %14s\n", "", w, "total", "", "", params,
         t.fwd / 1e9, saved);
  printf("\nper sample: %s parameters, %.4f G multiply-adds (fc and conv), %.4f GFLOP forward, "
         "%.4f GFLOP backward, %s bytes of activations kept for backward\n",
         params, t.macs / 1e9, t.fwd / 1e9, t.bwd / 1e9, saved);
  g_free(params);
  g_free(saved);
  if (part == NULL) return;

  char *spec = pc_partition_format(m, part);
  printf("\npartition (%d stages): %s\n\n", part->nstages, spec);
  g_free(spec);
  printf("%5s  %6s  %14s  %12s  %12s  %7s  %14s  %-s\n", "stage", "layers", "params", "fwd GFLOP",
         "f+b GFLOP", "share", "sends bytes", "range");
  for (int s = 0; s < part->nstages; s++) {
    totals st = sum_range(m, part->first[s], part->first[s + 1]);
    for (guint x = 0; x < xfers->len; x++) {
      const pc_xfer *xf = &g_array_index(xfers, pc_xfer, x);
      if (xf->src == s) st.sent += xf->bytes;
    }
    char *sp = with_commas(st.params), *sent = with_commas(st.sent);
    printf("%5d  %6d  %14s  %12.6f  %12.6f  %6.1f%%  %14s  %s..%s\n", s, st.layers, sp,
           st.fwd / 1e9, (st.fwd + st.bwd) / 1e9, 100.0 * (st.fwd + st.bwd) / (t.fwd + t.bwd),
           sent, m->layers[part->first[s]].name, m->layers[part->first[s + 1] - 1].name);
    g_free(sp);
    g_free(sent);
  }
  if (xfers->len) {
    printf("\ntensors crossing stages (bytes per sample; gradients go back the same way):\n");
    for (guint x = 0; x < xfers->len; x++) {
      const pc_xfer *xf = &g_array_index(xfers, pc_xfer, x);
      const pc_layer *l = &m->layers[xf->tensor];
      char *b = with_commas(xf->bytes);
      printf("  %-*s  stage %d -> %d  %s  %14s%s\n", w, l->name, xf->src, xf->dst,
             pc_shape_format(&l->out, shape, sizeof shape), b,
             xf->dst > xf->src + 1 ? "  (skips stages)" : "");
      g_free(b);
    }
  }
}

/* The producing layers of l, ';'-separated (-1: the model's input), e.g. "3;7". */
static void format_inputs(const pc_layer *l, GString *s) {
  g_string_truncate(s, 0);
  for (int k = 0; k < l->ninputs; k++)
    g_string_append_printf(s, "%s%d", k ? ";" : "", l->inputs[k]);
}

/* The layer's attributes after defaults, from its kind's attribute table, as space-separated
 * key=value pairs in the table's order ("out=64 k=3 stride=1 pad=1 bias=1"); empty for kinds
 * without attributes. */
static void format_attrs(const pc_layer *l, GString *s) {
  g_string_truncate(s, 0);
  const pc_layer_ops *ops = pc_layer_ops_of(l->kind);
  if (ops->attrs == NULL || l->attrs == NULL) return;
  for (const pc_attr_spec *a = ops->attrs; a->name; a++) {
    const char *field = (const char *)l->attrs + a->offset;
    if (s->len) g_string_append_c(s, ' ');
    if (a->type == PC_ATTR_INT) {
      int64_t v;
      memcpy(&v, field, sizeof v);
      g_string_append_printf(s, "%s=%lld", a->name, (long long)v);
    } else {
      double v;
      memcpy(&v, field, sizeof v);
      g_string_append_printf(s, "%s=%.15g", a->name, v);
    }
  }
}

static void print_csv(const pc_model *m, const pc_partition *part, const GArray *xfers) {
  char shape[PC_SHAPE_STRLEN];
  GString *inputs = g_string_new(NULL), *attrs = g_string_new(NULL);
  printf("index,layer,kind,output,params,fwd_flops,bwd_flops,fwd_macs,saved_bytes,out_bytes,stage,"
         "inputs,attrs\n");
  for (int i = 0; i < m->nlayers; i++) {
    const pc_layer *l = &m->layers[i];
    format_inputs(l, inputs);
    format_attrs(l, attrs);
    printf("%d,%s,%s,%s,%lld,%.0f,%.0f,%.0f,%lld,%lld,%d,%s,%s\n", i, l->name,
           pc_layer_ops_of(l->kind)->name, pc_shape_format(&l->out, shape, sizeof shape),
           (long long)pc_layer_params(l), pc_layer_fwd_flops(l), pc_layer_bwd_flops(l),
           pc_layer_fwd_macs(l), (long long)pc_layer_saved_bytes(l),
           (long long)pc_layer_out_bytes(l), part ? pc_partition_stage_of(part, i) : 0, inputs->str,
           attrs->str);
  }
  g_string_free(inputs, TRUE);
  g_string_free(attrs, TRUE);
  if (part == NULL) return;
  printf("\n\nstage,first,last,layers,params,fwd_flops,bwd_flops,sent_bytes\n");
  for (int s = 0; s < part->nstages; s++) {
    totals st = sum_range(m, part->first[s], part->first[s + 1]);
    for (guint x = 0; x < xfers->len; x++) {
      const pc_xfer *xf = &g_array_index(xfers, pc_xfer, x);
      if (xf->src == s) st.sent += xf->bytes;
    }
    printf("%d,%s,%s,%d,%lld,%.0f,%.0f,%lld\n", s, m->layers[part->first[s]].name,
           m->layers[part->first[s + 1] - 1].name, st.layers, (long long)st.params, st.fwd, st.bwd,
           (long long)st.sent);
  }
  printf("\n\ntensor,src,dst,bytes\n");
  for (guint x = 0; x < xfers->len; x++) {
    const pc_xfer *xf = &g_array_index(xfers, pc_xfer, x);
    printf("%s,%d,%d,%lld\n", m->layers[xf->tensor].name, xf->src, xf->dst, (long long)xf->bytes);
  }
}

/* Which rank holds which chunk of PART under a schedule of C chunks per rank. */
static void print_chunks(const pc_model *m, const pc_partition *part, pc_schedule_kind kind,
                         int C) {
  pc_schedule s = {.nstages = part->nstages / C, .nchunks = C, .vshape = kind == PC_SCHEDULE_ZBV};
  printf("\nranks (%s, %d chunks each):\n", pc_schedule_kind_name(kind), C);
  for (int r = 0; r < s.nstages; r++) {
    printf("  rank %d:", r);
    for (int c = 0; c < C; c++) {
      int v = pc_schedule_virtual(&s, r, c);
      printf("%s chunk %d = stage %d (%s..%s)", c ? "," : "", c, v,
             m->layers[part->first[v]].name, m->layers[part->first[v + 1] - 1].name);
    }
    printf("\n");
  }
}

int pc_cmd_describe(int argc, char **argv) {
  pc_cli_model_opts o = {0};
  char *format = NULL, *schedule = NULL;
  int chunks = 0;
  GOptionEntry model_entries[5];
  pc_cli_model_entries(&o, model_entries);
  GOptionEntry entries[] = {
    {"format", 'f', 0, G_OPTION_ARG_STRING, &format, "table (default) or csv", "FORMAT"},
    {"schedule", 0, 0, G_OPTION_ARG_STRING, &schedule,
     "With interleaved or zb-v, --stages counts ranks and the table says which holds which "
     "chunk", "KIND"},
    {"chunks", 0, 0, G_OPTION_ARG_INT, &chunks, "Chunks per rank (interleaved; default 2)", "V"},
    G_OPTION_ENTRY_NULL,
  };
  GOptionContext *ctx = g_option_context_new("MODEL - describe a model and a partition");
  g_option_context_add_main_entries(ctx, model_entries, NULL);
  g_option_context_add_main_entries(ctx, entries, NULL);
  int status = PC_EXIT_INPUT;
  pc_model *model = NULL;
  pc_partition *part = NULL;
  GError *error = NULL;
  if (!pc_cli_parse(ctx, "describe", &argc, &argv)) goto out;
  if (argc != 2) {
    fprintf(stderr, PC_CLI_PROG " describe: expected one MODEL file, got %d arguments\n", argc - 1);
    goto out;
  }
  bool csv = false;
  if (format && strcmp(format, "csv") == 0) csv = true;
  else if (format && strcmp(format, "table") != 0) {
    char *what = g_strdup_printf("--format '%s': expected table or csv", format);
    pc_error_print(PC_CLI_PROG " describe", what);
    g_free(what);
    goto out;
  }
  pc_job_request req = {.schedule = schedule, .chunks = chunks};
  pc_schedule_kind kind = PC_SCHEDULE_GPIPE;
  int C = pc_job_chunks(&req, &error);
  if (C == 0 || !pc_job_parse_schedule(schedule, &kind, &error)) {
    status = pc_cli_fail("describe", error);
    goto out;
  }
  if (o.stages != PC_JOB_UNSET && o.stages > 0) o.stages *= C; /* ranks x chunks */
  if (!pc_cli_load(&o, argv[1], &model, &part, &error)) {
    status = pc_cli_fail("describe", error);
    goto out;
  }
  if (C > 1 && part && part->nstages % C) {
    g_set_error(&error, PC_ERROR, PC_ERROR_USAGE,
                "the partition has %d stages: %d chunks per rank need a multiple of %d",
                part->nstages, C, C);
    status = pc_cli_fail("describe", error);
    goto out;
  }
  GArray *xfers = part ? pc_partition_transfers(model, part) : NULL;
  if (csv) print_csv(model, part, xfers);
  else print_table(model, part, xfers);
  if (!csv && part && C > 1) print_chunks(model, part, kind, C);
  if (xfers) g_array_unref(xfers);
  status = fflush(stdout) == 0 ? 0 : 1;
out:
  pc_partition_free(part);
  pc_model_free(model);
  g_option_context_free(ctx);
  g_free(o.sets);
  g_free(o.partition);
  g_free(o.by);
  g_free(format);
  g_free(schedule);
  return status;
}
