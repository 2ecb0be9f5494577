/* partition.c — stages of a model: the spec notation, exact balancing, and the tensors that
 * cross stage boundaries. See partition.h. */
#include "partition.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

static pc_partition *partition_new(int nstages) {
  pc_partition *p = g_new0(pc_partition, 1);
  p->nstages = nstages;
  p->first = g_new0(int, nstages + 1);
  return p;
}

void pc_partition_free(pc_partition *part) {
  if (part == NULL) return;
  g_free(part->first);
  g_free(part);
}

pc_partition *pc_partition_copy(const pc_partition *part) {
  pc_partition *p = partition_new(part->nstages);
  memcpy(p->first, part->first, sizeof(int) * (size_t)(part->nstages + 1));
  return p;
}

bool pc_partition_equal(const pc_partition *a, const pc_partition *b) {
  return a->nstages == b->nstages &&
         memcmp(a->first, b->first, sizeof(int) * (size_t)(a->nstages + 1)) == 0;
}

int pc_partition_stage_of(const pc_partition *part, int layer) {
  int lo = 0, hi = part->nstages - 1;
  while (lo < hi) { /* last stage whose first layer is <= layer */
    int mid = (lo + hi + 1) / 2;
    if (part->first[mid] <= layer) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

static bool too_many_stages(int nstages, int nlayers, GError **error) {
  if (nstages < 1) {
    g_set_error(error, PC_ERROR, PC_ERROR_PARTITION, "a partition needs at least one stage, got %d",
                nstages);
    return true;
  }
  if (nstages > nlayers) {
    g_set_error(error, PC_ERROR, PC_ERROR_PARTITION,
                "%d stages but only %d layers: every stage needs at least one layer", nstages,
                nlayers);
    return true;
  }
  return false;
}

bool pc_partition_validate(const pc_model *model, const pc_partition *part, GError **error) {
  if (too_many_stages(part->nstages, model->nlayers, error)) return false;
  if (part->first[0] != 0 || part->first[part->nstages] != model->nlayers) {
    g_set_error(error, PC_ERROR, PC_ERROR_PARTITION,
                "the stages must cover layers 0 to %d, they cover %d to %d", model->nlayers - 1,
                part->first[0], part->first[part->nstages] - 1);
    return false;
  }
  for (int s = 0; s < part->nstages; s++) {
    if (part->first[s + 1] <= part->first[s]) {
      g_set_error(error, PC_ERROR, PC_ERROR_PARTITION, "stage %d has no layers", s);
      return false;
    }
  }
  return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Exact balancing: minimise the largest stage sum over contiguous splits (dynamic programming
 * over prefix sums, O(nstages · nlayers²)). Among optimal partitions the one with the earliest
 * cuts is taken, stage by stage, so the result does not depend on floating-point noise in the
 * order of evaluation. */

pc_partition *pc_partition_min_max(int nlayers, int nstages,
                                   double (*cost)(int i, int j, void *ctx), void *ctx,
                                   double *bottleneck, GError **error) {
  if (too_many_stages(nstages, nlayers, error)) return NULL;
  /* best[k][i]: smallest largest-stage cost for layers [i, nlayers) in k stages */
  size_t w = (size_t)nlayers + 1;
  double *best = g_new(double, (size_t)(nstages + 1) * w);
  for (int i = 0; i <= nlayers; i++)
    best[w + (size_t)i] = i < nlayers ? cost(i, nlayers, ctx) : INFINITY;
  for (int k = 2; k <= nstages; k++)
    for (int i = 0; i <= nlayers; i++) {
      double b = INFINITY;
      for (int j = i + 1; j <= nlayers - (k - 1); j++) {
        double m = fmax(cost(i, j, ctx), best[(size_t)(k - 1) * w + (size_t)j]);
        if (m < b) b = m;
      }
      best[(size_t)k * w + (size_t)i] = b;
    }
  double target = best[(size_t)nstages * w];
  pc_partition *p = partition_new(nstages);
  int i = 0;
  for (int s = 0; s < nstages; s++) {
    p->first[s] = i;
    int k = nstages - s;
    if (k == 1) break;
    /* The earliest cut that keeps the optimum reachable. */
    int j = i + 1;
    for (; j <= nlayers - (k - 1); j++)
      if (cost(i, j, ctx) <= target && best[(size_t)(k - 1) * w + (size_t)j] <= target) break;
    PC_ASSERT(j <= nlayers - (k - 1));
    i = j;
  }
  p->first[nstages] = nlayers;
  if (bottleneck) *bottleneck = target;
  g_free(best);
  return p;
}

/* A stage's cost as the sum of its layers' weights, from prefix sums. */
static double range_sum(int i, int j, void *ctx) {
  const double *prefix = ctx;
  return prefix[j] - prefix[i];
}

pc_partition *pc_partition_balance(const double *cost, int nlayers, int nstages, GError **error) {
  double *prefix = g_new0(double, (size_t)MAX(nlayers, 0) + 1);
  for (int i = 0; i < nlayers; i++) prefix[i + 1] = prefix[i] + cost[i];
  pc_partition *p = pc_partition_min_max(nlayers, nstages, range_sum, prefix, NULL, error);
  g_free(prefix);
  return p;
}

pc_partition *pc_partition_auto(const pc_model *model, pc_partition_by by, int nstages,
                                 GError **error) {
  double *cost = g_new(double, (size_t)model->nlayers);
  for (int i = 0; i < model->nlayers; i++) {
    const pc_layer *l = &model->layers[i];
    cost[i] = by == PC_PARTITION_BY_PARAMS ? (double)pc_layer_params(l)
                                           : pc_layer_fwd_flops(l) + pc_layer_bwd_flops(l);
  }
  pc_partition *p = pc_partition_balance(cost, model->nlayers, nstages, error);
  g_free(cost);
  return p;
}

pc_partition *pc_partition_whole(const pc_model *model) {
  pc_partition *p = partition_new(1);
  p->first[1] = model->nlayers;
  return p;
}

pc_partition *pc_partition_from_counts(const pc_model *model, const int *counts, int nstages,
                                       GError **error) {
  if (too_many_stages(nstages, model->nlayers, error)) return NULL;
  pc_partition *p = partition_new(nstages);
  int64_t sum = 0;
  for (int s = 0; s < nstages; s++) {
    if (counts[s] < 1) {
      g_set_error(error, PC_ERROR, PC_ERROR_PARTITION, "stage %d has %d layers: every stage needs "
                  "at least one", s, counts[s]);
      pc_partition_free(p);
      return NULL;
    }
    p->first[s] = (int)MIN(sum, model->nlayers);
    sum += counts[s];
  }
  if (sum != model->nlayers) {
    g_set_error(error, PC_ERROR, PC_ERROR_PARTITION,
                "the counts add up to %lld layers, but the model has %d", (long long)sum,
                model->nlayers);
    pc_partition_free(p);
    return NULL;
  }
  p->first[nstages] = model->nlayers;
  return p;
}

/* ------------------------------------------------------------------------------------------ */
/* The spec notation */

static pc_partition *parse_counts(const pc_model *model, const char *spec, GError **error) {
  gchar **items = g_strsplit(spec, ",", -1);
  int n = (int)g_strv_length(items);
  int *counts = g_new0(int, (size_t)n);
  pc_partition *p = NULL;
  int s = 0;
  for (; s < n; s++) {
    char *item = g_strstrip(items[s]), *end;
    errno = 0;
    long v = strtol(item, &end, 10);
    if (*item == '\0' || *end != '\0' || errno || v < 0 || v > INT32_MAX) {
      g_set_error(error, PC_ERROR, PC_ERROR_PARSE,
                  "partition '%s': stage %d: expected a layer count, got '%s'", spec, s, item);
      break;
    }
    counts[s] = (int)v;
  }
  if (s == n) p = pc_partition_from_counts(model, counts, n, error);
  if (p == NULL && error && *error && (*error)->domain == PC_ERROR &&
      (*error)->code == PC_ERROR_PARTITION)
    g_prefix_error(error, "partition '%s': ", spec);
  g_free(counts);
  g_strfreev(items);
  return p;
}

/* Resolves one end of a range: a layer or a scope. */
static bool resolve(const pc_model *model, const char *spec, int stage, const char *name,
                    int *first, int *last, GError **error) {
  if (pc_model_lookup_range(model, name, first, last)) return true;
  g_set_error(error, PC_ERROR, PC_ERROR_PARTITION,
              "partition '%s': stage %d: no layer or scope is called '%s'", spec, stage, name);
  return false;
}

/* "a..b | c | d.." — names of layers or scopes; an open end runs to the neighbouring stage. */
static pc_partition *parse_names(const pc_model *model, const char *spec, GError **error) {
  gchar **stages = g_strsplit(spec, "|", -1);
  int n = (int)g_strv_length(stages);
  int *lo = g_new(int, (size_t)n), *hi = g_new(int, (size_t)n);
  pc_partition *p = NULL;
  bool ok = true;
  for (int s = 0; ok && s < n; s++) {
    char *text = g_strstrip(stages[s]);
    char *dots = strstr(text, "..");
    lo[s] = hi[s] = -1;
    if (*text == '\0') {
      g_set_error(error, PC_ERROR, PC_ERROR_PARSE, "partition '%s': stage %d is empty", spec, s);
      ok = false;
    } else if (dots == NULL) {
      ok = resolve(model, spec, s, text, &lo[s], &hi[s], error);
    } else {
      *dots = '\0';
      char *a = g_strstrip(text), *b = g_strstrip(dots + 2);
      int f, l;
      if (*a == '\0' && *b == '\0') {
        g_set_error(error, PC_ERROR, PC_ERROR_PARSE,
                    "partition '%s': stage %d: '..' needs a name on at least one side", spec, s);
        ok = false;
      }
      if (ok && *a) {
        ok = resolve(model, spec, s, a, &f, &l, error);
        lo[s] = f;
      }
      if (ok && *b) {
        ok = resolve(model, spec, s, b, &f, &l, error);
        hi[s] = l;
      }
    }
  }
  /* Open ends take what lies between the neighbours. */
  for (int s = 0; ok && s < n; s++) {
    if (lo[s] < 0) lo[s] = s == 0 ? 0 : hi[s - 1] + 1;
    if (hi[s] < 0) {
      if (s == n - 1) hi[s] = model->nlayers - 1;
      else if (lo[s + 1] >= 0) hi[s] = lo[s + 1] - 1;
      else {
        g_set_error(error, PC_ERROR, PC_ERROR_PARTITION,
                    "partition '%s': stages %d and %d both leave the end between them open", spec,
                    s, s + 1);
        ok = false;
      }
    }
  }
  for (int s = 0; ok && s < n; s++) {
    const char *prev = s ? model->layers[hi[s - 1]].name : NULL;
    if (hi[s] < lo[s] && (hi[s] < 0 || lo[s] >= model->nlayers)) {
      /* An open end with nothing left between the neighbours ("a.. | a..", "..loss | ..x"). */
      g_set_error(error, PC_ERROR, PC_ERROR_PARTITION,
                  "partition '%s': stage %d has no layers (its open end leaves none to it)", spec,
                  s);
      ok = false;
    } else if (hi[s] < lo[s]) {
      g_set_error(error, PC_ERROR, PC_ERROR_PARTITION,
                  "partition '%s': stage %d runs backwards ('%s' comes after '%s' in the model)",
                  spec, s, model->layers[lo[s]].name, model->layers[hi[s]].name);
      ok = false;
    } else if (s == 0 && lo[s] != 0) {
      g_set_error(error, PC_ERROR, PC_ERROR_PARTITION,
                  "partition '%s': layers %s..%s come before stage 0 and are in no stage", spec,
                  model->layers[0].name, model->layers[lo[s] - 1].name);
      ok = false;
    } else if (s > 0 && lo[s] <= hi[s - 1]) {
      g_set_error(error, PC_ERROR, PC_ERROR_PARTITION,
                  "partition '%s': stage %d starts at '%s', which is not after the end of stage "
                  "%d ('%s'): stages overlap or are out of order",
                  spec, s, model->layers[lo[s]].name, s - 1, prev);
      ok = false;
    } else if (s > 0 && lo[s] > hi[s - 1] + 1) {
      g_set_error(error, PC_ERROR, PC_ERROR_PARTITION,
                  "partition '%s': layers %s..%s between stages %d and %d are in no stage", spec,
                  model->layers[hi[s - 1] + 1].name, model->layers[lo[s] - 1].name, s - 1, s);
      ok = false;
    }
  }
  /* The loss is not a layer to PyTorch users: a spec that ends at the layer before it (as in
   * "... | layer4..fc") gives it to the last stage. */
  if (ok && hi[n - 1] == model->nlayers - 2 && pc_model_loss_layer(model) == model->nlayers - 1)
    hi[n - 1] = model->nlayers - 1;
  if (ok && hi[n - 1] != model->nlayers - 1) {
    g_set_error(error, PC_ERROR, PC_ERROR_PARTITION,
                "partition '%s': layers %s..%s after the last stage are in no stage", spec,
                model->layers[hi[n - 1] + 1].name, model->layers[model->nlayers - 1].name);
    ok = false;
  }
  if (ok) {
    p = partition_new(n);
    for (int s = 0; s < n; s++) p->first[s] = lo[s];
    p->first[n] = model->nlayers;
  }
  g_free(lo);
  g_free(hi);
  g_strfreev(stages);
  return p;
}

pc_partition *pc_partition_parse(const pc_model *model, const char *spec, int nstages,
                                 GError **error) {
  char *s = g_strstrip(g_strdup(spec ? spec : ""));
  pc_partition *p = NULL;
  if (*s == '\0') {
    g_set_error(error, PC_ERROR, PC_ERROR_PARSE, "empty partition spec");
  } else if (g_str_has_prefix(s, "auto:")) {
    const char *by = s + 5;
    if (strcmp(by, "flops") != 0 && strcmp(by, "params") != 0) {
      g_set_error(error, PC_ERROR, PC_ERROR_PARSE,
                  "partition '%s': unknown automatic partitioning '%s' (expected auto:flops or "
                  "auto:params; auto:time needs a profile)", s, by);
    } else if (nstages < 1) {
      g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                  "partition '%s' needs a stage count (--stages N)", s);
    } else {
      p = pc_partition_auto(model, strcmp(by, "flops") == 0 ? PC_PARTITION_BY_FLOPS
                                                            : PC_PARTITION_BY_PARAMS,
                            nstages, error);
    }
  } else if (strcmp(s, "split") == 0) {
    if (model->nsplits == 0) {
      g_set_error(error, PC_ERROR, PC_ERROR_PARTITION,
                  "partition 'split': %s has no `split` markers", model->path);
    } else {
      p = partition_new(model->nsplits + 1);
      for (int i = 0; i < model->nsplits; i++) p->first[i + 1] = model->splits[i];
      p->first[model->nsplits + 1] = model->nlayers;
      if (!pc_partition_validate(model, p, error)) {
        pc_partition_free(p);
        p = NULL;
      }
    }
  } else if (strspn(s, "0123456789, \t") == strlen(s)) {
    p = parse_counts(model, s, error);
  } else {
    p = parse_names(model, s, error);
  }
  if (p && nstages > 0 && p->nstages != nstages) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "partition '%s' has %d stages, but %d were asked for", s, p->nstages, nstages);
    pc_partition_free(p);
    p = NULL;
  }
  g_free(s);
  return p;
}

char *pc_partition_format(const pc_model *model, const pc_partition *part) {
  GString *s = g_string_new(NULL);
  for (int st = 0; st < part->nstages; st++) {
    int a = part->first[st], b = part->first[st + 1] - 1;
    if (st) g_string_append(s, " | ");
    if (a == b) g_string_append(s, model->layers[a].name);
    else g_string_append_printf(s, "%s..%s", model->layers[a].name, model->layers[b].name);
  }
  return g_string_free(s, FALSE);
}

/* ------------------------------------------------------------------------------------------ */
/* Transfers */

static gint xfer_cmp(gconstpointer pa, gconstpointer pb) {
  const pc_xfer *a = pa, *b = pb;
  if (a->src != b->src) return a->src < b->src ? -1 : 1;
  if (a->tensor != b->tensor) return a->tensor < b->tensor ? -1 : 1;
  return (a->dst > b->dst) - (a->dst < b->dst);
}

GArray *pc_partition_transfers(const pc_model *model, const pc_partition *part) {
  GArray *xs = g_array_new(FALSE, FALSE, sizeof(pc_xfer));
  for (int j = 0; j < model->nlayers; j++) {
    const pc_layer *l = &model->layers[j];
    int dst = pc_partition_stage_of(part, j);
    for (int k = 0; k < l->ninputs; k++) {
      int t = l->inputs[k];
      if (t < 0) continue; /* the model's input: every stage reads its data itself */
      int src = pc_partition_stage_of(part, t);
      if (src == dst) continue;
      bool dup = false;
      for (guint x = 0; x < xs->len && !dup; x++) {
        const pc_xfer *o = &g_array_index(xs, pc_xfer, x);
        dup = o->tensor == t && o->dst == dst;
      }
      if (dup) continue;
      pc_xfer x = {.tensor = t, .src = src, .dst = dst,
                   .bytes = pc_layer_out_bytes(&model->layers[t])};
      g_array_append_val(xs, x);
    }
  }
  g_array_sort(xs, xfer_cmp);
  return xs;
}

/* The cost of every stage [i, j), precomputed: cost[i * w + j]. */
typedef struct {
  const double *cost;
  size_t w;
} stage_costs;

static double stage_cost(int i, int j, void *ctx) {
  const stage_costs *sc = ctx;
  return sc->cost[(size_t)i * sc->w + (size_t)j];
}

pc_partition *pc_partition_min_time(const pc_model *model, const double *compute,
                                    const double *tensor, double stage_fixed, int nstages,
                                    double *bottleneck, GError **error) {
  int L = model->nlayers;
  size_t w = (size_t)L + 1;
  /* lastuse[t]: the last layer reading t's output (-1: none) */
  int *lastuse = g_new(int, (size_t)L);
  for (int t = 0; t < L; t++) lastuse[t] = -1;
  for (int c = 0; c < L; c++)
    for (int k = 0; k < model->layers[c].ninputs; k++) {
      int t = model->layers[c].inputs[k];
      if (t >= 0) lastuse[t] = MAX(lastuse[t], c);
    }
  /* cost[i * w + j]: time of a stage holding [i, j) */
  double *cost = g_new0(double, w * w);
  int *seen = g_new(int, (size_t)L);
  for (int t = 0; t < L; t++) seen[t] = -1;
  for (int i = 0; i < L; i++) {
    double comp = stage_fixed, in = 0;
    for (int j = i + 1; j <= L; j++) {
      const pc_layer *l = &model->layers[j - 1];
      comp += compute[j - 1];
      for (int k = 0; k < l->ninputs; k++) {
        int t = l->inputs[k];
        if (t >= 0 && t < i && seen[t] != i) {
          seen[t] = i;
          in += tensor[t];
        }
      }
      double out = 0;
      for (int t = i; t < j; t++)
        if (lastuse[t] >= j) out += tensor[t];
      cost[(size_t)i * w + (size_t)j] = comp + in + out;
    }
  }
  stage_costs sc = {cost, w};
  pc_partition *p = pc_partition_min_max(L, nstages, stage_cost, &sc, bottleneck, error);
  g_free(cost);
  g_free(seen);
  g_free(lastuse);
  return p;
}
