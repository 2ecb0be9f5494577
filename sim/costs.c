/* costs.c — the simulator's cost model: analytic or profiled layer costs, the pc_sim_costs of
 * one pipeline (with the ring all-reduce of a pipeline x data-parallel layout), and the layer
 * times that balancing by time uses. See costs.h and docs/simulator.md. */
#include "costs.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "error.h"

/* ------------------------------------------------------------------------------------------ */
/* Per-layer costs */

/* Floats an optimizer step streams per parameter: SGD with momentum reads w, g, v, writes w, v
 * and zeroes g (6); AdamW reads w, g, m, v, writes w, m, v and zeroes g (8). */
static double step_floats(pc_optim_kind optim) { return optim == PC_OPTIM_ADAMW ? 8 : 6; }

static void analytic_layer(const pc_layer *l, const pc_cost_config *cfg, double mb, double bw,
                           double *fwd, double *bwd, double *opt) {
  double ff = pc_layer_fwd_flops(l) * mb, bf = pc_layer_bwd_flops(l) * mb;
  double in = 0;
  for (int k = 0; k < l->ninputs; k++) in += (double)pc_shape_numel(&l->in[k]);
  double out = (double)pc_shape_numel(&l->out);
  if (l->kind == PC_LAYER_KIND_FC) {
    /* forward (mb, in) . (in, out); backward dX (mb, out) . (out, in), dW (out, mb) . (mb, in) */
    *fwd = ff / pc_gemm_rate(cfg->gemm, mb, out, in);
    *bwd = 0.5 * bf / pc_gemm_rate(cfg->gemm, mb, in, out) +
           0.5 * bf / pc_gemm_rate(cfg->gemm, out, in, mb);
  } else if (l->kind == PC_LAYER_KIND_CONV) {
    const pc_conv_attrs *a = l->attrs;
    double oc = (double)l->out.d[0], cols = mb * (double)(l->out.d[1] * l->out.d[2]);
    double kk = (double)(l->in[0].d[0] * a->k * a->k);
    /* forward W (oc, kk) . X (kk, cols); backward dW (oc, cols) . X^T, dX W^T (kk, oc) . dY */
    *fwd = ff / pc_gemm_rate(cfg->gemm, oc, cols, kk);
    *bwd = 0.5 * bf / pc_gemm_rate(cfg->gemm, oc, kk, cols) +
           0.5 * bf / pc_gemm_rate(cfg->gemm, kk, cols, oc);
  } else {
    /* forward reads the inputs and writes the output; backward reads the output gradient and
     * what it kept, and writes the input gradients */
    *fwd = 4.0 * mb * (in + out) / bw;
    *bwd = 4.0 * mb * (2 * in + out) / bw;
  }
  *opt = step_floats(cfg->optim) * sizeof(float) * (double)pc_layer_held_params(l) / bw;
}

/* A tied weight's two gradients added before the step: each side reads both and writes one. */
static void add_tie_sums(const pc_model *model, double bw, double *opt) {
  size_t n;
  int l = pc_model_tied(model, &n);
  if (l < 0) return;
  opt[l] += 3.0 * sizeof(float) * (double)n / bw;
  opt[model->layers[l].tie] += 3.0 * sizeof(float) * (double)n / bw;
}

bool pc_costs_layers(const pc_model *model, const pc_cost_config *cfg, double mb, double *fwd,
                     double *bwd, double *opt, double *overhead, bool *extrapolated,
                     GError **error) {
  double bw = cfg->bandwidth > 0 ? cfg->bandwidth : PC_COSTS_DEFAULT_BANDWIDTH;
  if (extrapolated) *extrapolated = false;
  /* clipping reads every gradient once more, for the norm */
  double clip_floats = cfg->clip ? 1 : 0;
  if (cfg->profile) {
    *overhead = pc_profile_overhead(cfg->profile);
    /* a step profiled for another optimizer: scaled by the floats each streams */
    double other = step_floats(pc_profile_optimizer(cfg->profile));
    double scale = (step_floats(cfg->optim) + clip_floats) / other;
    for (int i = 0; i < model->nlayers; i++) {
      if (!pc_profile_layer(cfg->profile, model->layers[i].name, mb, cfg->extrapolate, &fwd[i],
                            &bwd[i], &opt[i], extrapolated, error))
        return false;
      opt[i] *= scale;
    }
    add_tie_sums(model, bw, opt);
    return true;
  }
  *overhead = PC_COSTS_DEFAULT_OVERHEAD;
  for (int i = 0; i < model->nlayers; i++) {
    analytic_layer(&model->layers[i], cfg, mb, bw, &fwd[i], &bwd[i], &opt[i]);
    opt[i] += clip_floats * sizeof(float) * (double)pc_layer_params(&model->layers[i]) / bw;
  }
  add_tie_sums(model, bw, opt);
  return true;
}

/* --profile FILE... with --profile-stat: one profile as written, or samples files pooled. */
static pc_profile *load_profiles(const char *const *paths, const char *stat_name,
                                 GError **error) {
  int n = (int)g_strv_length((gchar **)paths);
  pc_profile_stat stat = PC_PROFILE_MEDIAN;
  if (stat_name && !pc_profile_stat_from_name(stat_name, &stat, error)) return NULL;
  bool samples = false;
  for (int k = 0; k < n; k++) {
    bool s;
    if (!pc_profile_is_samples(paths[k], &s, error)) return NULL;
    if (k == 0) samples = s;
    if (s != samples || (n > 1 && !samples)) {
      g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                  "--profile %s: several --profile files are pooled, and only samples files "
                  "(pipecast-exec profile --samples) can be", paths[k]);
      return NULL;
    }
  }
  if (!samples && stat_name) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "--profile-stat goes with samples files (pipecast-exec profile --samples); %s "
                "is a profile", paths[0]);
    return NULL;
  }
  return samples ? pc_profile_load_samples(paths, n, stat, error)
                 : pc_profile_load(paths[0], error);
}

bool pc_cost_config_load(pc_cost_config *cfg, const char *const *profiles,
                         const char *profile_stat, const char *net, const char *gemm,
                         GError **error) {
  pc_profile *p = NULL;
  pc_net *n = NULL;
  pc_gemm *g = NULL;
  bool any = profiles && profiles[0];
  if (!any && (profile_stat || cfg->extrapolate)) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "%s goes with --profile",
                profile_stat ? "--profile-stat" : "--extrapolate");
    return false;
  }
  if ((any && (p = load_profiles(profiles, profile_stat, error)) == NULL) ||
      (net && (n = pc_net_load(net, error)) == NULL) ||
      (gemm && (g = pc_gemm_load(gemm, error)) == NULL)) {
    pc_profile_free(p);
    pc_net_free(n);
    return false;
  }
  cfg->profile = p;
  cfg->net = n;
  cfg->gemm = g;
  return true;
}

void pc_cost_config_clear(pc_cost_config *cfg) {
  pc_profile_free((pc_profile *)cfg->profile);
  pc_net_free((pc_net *)cfg->net);
  pc_gemm_free((pc_gemm *)cfg->gemm);
  cfg->profile = NULL;
  cfg->net = NULL;
  cfg->gemm = NULL;
}

char *pc_cost_config_describe(const pc_cost_config *cfg, const char *const *profiles,
                              const char *profile_stat, const char *net_path,
                              const char *gemm_path) {
  GString *s = g_string_new("costs: ");
  double bw = cfg->bandwidth > 0 ? cfg->bandwidth : PC_COSTS_DEFAULT_BANDWIDTH;
  if (cfg->profile) {
    int n = (int)g_strv_length((gchar **)profiles);
    if (pc_profile_pooled(cfg->profile))
      g_string_append_printf(s, "profile: the %s of the samples of %s%s", 
                             profile_stat ? profile_stat : "median", profiles[0],
                             n > 1 ? " and more" : "");
    else
      g_string_append_printf(s, "profile %s", profiles[0]);
    g_string_append_printf(s, " (%g us per op)%s", pc_profile_overhead(cfg->profile) * 1e6,
                           cfg->extrapolate ? ", linear extrapolation allowed" : "");
  } else {
    if (cfg->gemm)
      g_string_append_printf(s, "analytic: FLOPs at the GEMM rates of %s", gemm_path);
    else
      g_string_append_printf(s, "analytic: FLOPs at the default GEMM rate curve (%g GFLOP/s "
                             "peak)", PC_GEMM_PEAK_GFLOPS);
    g_string_append_printf(s, ", %g GB/s for other layers, %g us per op", bw / 1e9,
                           PC_COSTS_DEFAULT_OVERHEAD * 1e6);
  }
  g_string_append(s, "\nlinks: ");
  const pc_net *net = cfg->net;
  if (net && net->intra_builtin) {
    g_string_append_printf(s, "%s (inter only: calibrated with one rank per node; within a node "
                           "the built-in shared memory link; send/recv overheads %g/%g us)",
                           net_path, net->send_overhead * 1e6, net->recv_overhead * 1e6);
  } else if (net) {
    g_string_append_printf(s, "%s (intra%s; send/recv overheads %g/%g us)", net_path,
                           pc_net_has(net, PC_LINK_INTER) ? " and inter" : " only",
                           net->send_overhead * 1e6, net->recv_overhead * 1e6);
  } else {
    g_string_append(s, "built-in shared memory link (0.5 us + bytes / 5 GB/s; send/recv "
                       "overheads 0.5 us)");
  }
  if (cfg->ranks_per_node > 0 && !(net && pc_net_has(net, PC_LINK_INTER)))
    g_string_append_printf(s, "\n       between nodes (--ranks-per-node %d): no inter link was "
                           "given, so the one above; calibrate across nodes for --net",
                           cfg->ranks_per_node);
  else if (net && net->intra_builtin && cfg->ranks_per_node == 0)
    g_string_append(s, "\n       each rank on its own node (the net file's layout; "
                       "--ranks-per-node says otherwise)");
  g_string_append(s, "\n");
  return g_string_free(s, FALSE);
}

/* ------------------------------------------------------------------------------------------ */
/* Costs of one pipeline */

static double sc_compute(void *ud, int stage, const pc_op *op) {
  const pc_stage_costs *sc = ud;
  const pc_schedule *s = sc->sched;
  int v = s ? pc_schedule_virtual(s, stage, op->chunk) : stage;
  switch ((pc_op_kind)op->kind) {
  case PC_OP_FWD: return sc->fwd[v];
  case PC_OP_BWD: return s && s->split_backward ? sc->bwd_b[v] : sc->bwd[v];
  case PC_OP_BWD_W: return sc->bwd_w[v];
  case PC_OP_OPT: { /* one step for all the rank's chunks; the all-reduce: sc_reduce */
    double o = 0;
    for (int c = 0; c < (s ? s->nchunks : 1); c++)
      o += sc->opt[s ? pc_schedule_virtual(s, stage, c) : v];
    return o;
  }
  default: return 0;
  }
}

/* The index of transfer X in the costs' list, or -1 when the partition has no such transfer. */
static int xfer_index(const pc_stage_costs *sc, const pc_xfer *x) {
  if (sc->xfer_base) {
    ptrdiff_t i = x - sc->xfer_base;
    if (i >= 0 && i < sc->nxfers) return (int)i;
  }
  for (int i = 0; i < sc->nxfers; i++)
    if (sc->xfers[i].tensor == x->tensor && sc->xfers[i].src == x->src &&
        sc->xfers[i].dst == x->dst)
      return i;
  return -1;
}

static double sc_message(void *ud, const pc_xfer *x, bool grad) {
  (void)grad;
  const pc_stage_costs *sc = ud;
  int i = xfer_index(sc, x);
  return i < 0 ? NAN : sc->message[i]; /* NaN: not this partition's; the engine reports it */
}

static double sc_message_cpu(void *ud, const pc_xfer *x, bool grad) {
  (void)grad;
  const pc_stage_costs *sc = ud;
  int i = xfer_index(sc, x);
  return i < 0 ? NAN : sc->message_cpu[i];
}

static const pc_sim_reduce *sc_reduce(void *ud, int stage) {
  const pc_stage_costs *sc = ud;
  if (sc->rank_reduce) return &sc->rank_reduce[stage];
  return sc->reduce ? &sc->reduce[stage] : NULL;
}

/* The node of RANK: each node filled in turn (RPN ranks each), or with NNODES > 0 the ranks dealt
 * to NNODES nodes in turn. */
static int node_of(long long rank, int rpn, int nnodes) {
  return (int)(nnodes > 0 ? rank % nnodes : rank / rpn);
}

/* The node of the simulated replica's rank (replica 0: rank = stage). */
static int sc_node(void *ud, int rank) {
  const pc_stage_costs *sc = ud;
  return node_of(rank, sc->ranks_per_node, sc->nnodes);
}

/* Ranks per node as the costs see them: --ranks-per-node, else 1 where the net file was
 * calibrated with one rank per node (it has inter rows only), else 0 (all on one node). */
static int ranks_per_node(const pc_cost_config *cfg, const pc_net *net) {
  if (cfg->ranks_per_node > 0) return cfg->ranks_per_node;
  return net->intra_builtin && pc_net_has(net, PC_LINK_INTER) ? 1 : 0;
}

/* Whether ranks of stages a and b sit on different nodes in some replica. */
static bool crosses_nodes(int a, int b, int nstages, int replicas, int rpn, int nnodes) {
  if (rpn <= 0) return false;
  for (int d = 0; d < replicas; d++) {
    long long ra = (long long)d * nstages + a, rb = (long long)d * nstages + b;
    if (node_of(ra, rpn, nnodes) != node_of(rb, rpn, nnodes)) return true;
  }
  return false;
}

/* The gradient all-reduce of layers [first, end) over D replicas as the executor runs it: bucket
 * by bucket on its communication thread (pc_model_grad_buckets), each starting once the last
 * backward (OVERHEAD, then the layers' LB from the top down) has made it and the bucket before
 * it is reduced. While a ring runs beside the backward, the two share the machine as the net
 * file measured: the ring takes overlap_slowdown times its time alone, the backward computes at
 * overlap_share of its rate. Fills RED with the rings as they run when nothing else holds the
 * link (start and length, from the backward's start) and the backward's stretch. Returns what
 * the all-reduce adds to the iteration then: the stretch and the rings' tail after the backward;
 * *total gets the rings' time alone. */
static double bucketed_allreduce(const pc_model *model, const pc_net *net, pc_link link,
                                 int first, int end, const double *lb, double overhead, int D,
                                 pc_sim_reduce *red, double *total) {
  int *starts = g_new(int, (size_t)MAX(end - first, 1));
  int n = pc_model_grad_buckets(model, first, end, starts);
  double *ready = g_new(double, (size_t)MAX(n, 1)), *ring = g_new(double, (size_t)MAX(n, 1));
  double made = overhead;
  *total = 0;
  for (int k = 0, top = end; k < n; top = starts[k++]) {
    int64_t params = 0;
    for (int i = starts[k]; i < top; i++) {
      made += lb[i];
      params += pc_layer_held_params(&model->layers[i]);
    }
    ready[k] = made; /* work of the backward done when bucket k is made */
    ring[k] = pc_net_allreduce(net, link, 4.0 * (double)params, D);
    *total += ring[k];
  }
  double bwd = made; /* the buckets hold every layer of the range */
  double slow = net->overlap_slowdown >= 1 ? net->overlap_slowdown : 1;
  double share = net->overlap_share > 0 && net->overlap_share < 1 ? net->overlap_share : 1;
  /* t: seconds since the backward began; w: its work done; k: the next ring; left: the running
   * ring's time alone still to go (-1: none runs) */
  double *start = g_new(double, (size_t)MAX(n, 1)), *len = g_new(double, (size_t)MAX(n, 1));
  /* t: seconds since the backward began; w: its work done; tb: when it was all done; k: the
   * next ring; left: the running ring's time alone still to go (-1: none runs) */
  double t = 0, w = 0, tb = bwd <= 0 ? 0 : -1, left = -1;
  int k = 0;
  while (w < bwd || k < n) {
    if (left < 0 && k < n && ready[k] <= w) left = ring[k], start[k] = t; /* ring k starts */
    if (w >= bwd) { /* the backward is done: the rings run alone (ready[k] <= bwd: one runs) */
      t += left;
      left = -1, len[k] = t - start[k], k++;
    } else if (left >= 0) { /* the ring and the backward share the machine */
      double dt = fmin((bwd - w) / share, left * slow);
      w = dt == left * slow ? w + dt * share : bwd;
      left -= dt / slow;
      t += dt;
      if (left <= 1e-15) left = -1, len[k] = t - start[k], k++;
    } else { /* the backward alone, up to the next bucket or its end */
      double to = k < n ? fmin(ready[k], bwd) : bwd;
      t += to - w;
      w = to;
    }
    if (w >= bwd && tb < 0) tb = t;
  }
  *red = (pc_sim_reduce){.n = n, .ready = start, .wire = len, .stretch = fmax(0.0, tb - bwd),
                         .ports = link == PC_LINK_INTER};
  g_free(starts);
  g_free(ready);
  g_free(ring);
  return fmax(0.0, t - bwd);
}

/* Frees N all-reduces and their arrays (RED may be NULL). */
static void free_reduces(pc_sim_reduce *red, int n) {
  for (int i = 0; red && i < n; i++) {
    g_free((double *)red[i].ready);
    g_free((double *)red[i].wire);
  }
  g_free(red);
}

static void free_rank_reduce(pc_stage_costs *sc) {
  free_reduces(sc->rank_reduce, sc->sched ? sc->sched->nstages : 0);
  sc->rank_reduce = NULL;
}

void pc_stage_costs_bind(pc_stage_costs *sc, const pc_schedule *s) {
  free_rank_reduce(sc);
  sc->xfer_base = s->xfers;
  sc->sched = s->nchunks > 1 || s->split_backward ? s : NULL;
  /* clipping: the ranks' OPTs meet for the norm, a reduction in ceil(log2 P) rounds, between
   * nodes when the pipeline spans them */
  int P = s->nstages, rounds = 0;
  while ((1 << rounds) < P) rounds++;
  bool spans = false;
  for (int r = 1; r < P && sc->ranks_per_node > 0; r++)
    spans = spans || node_of(r, sc->ranks_per_node, sc->nnodes) != node_of(0, sc->ranks_per_node,
                                                                            sc->nnodes);
  sc->costs.opt_sync = rounds * sc->norm_round[spans ? PC_LINK_INTER : PC_LINK_INTRA];
  /* with chunks, a message between two of them crosses nodes as the ranks holding them do
   * (ZB-V's V passes from a rank to itself) */
  for (int x = 0; x < sc->nxfers && s->nchunks > 1 && sc->ranks_per_node > 0; x++) {
    const pc_xfer *xf = &sc->xfers[x];
    sc->xfer_link[x] = crosses_nodes(pc_schedule_rank_of(s, xf->src),
                                     pc_schedule_rank_of(s, xf->dst), P, sc->replicas,
                                     sc->ranks_per_node, sc->nnodes)
                           ? PC_LINK_INTER : PC_LINK_INTRA;
    sc->message[x] = pc_net_time(sc->net, sc->xfer_link[x], (double)xf->bytes * sc->mb);
    sc->message_cpu[x] = pc_net_cpu(sc->net, sc->xfer_link[x], (double)xf->bytes * sc->mb);
  }
  /* a tied weight held on two ranks: their exchange of its gradient */
  sc->costs.tie_exchange = 0;
  sc->costs.tie_a = sc->costs.tie_b = -1;
  if (sc->tie_stage[0] >= 0) {
    int rank[2] = {pc_schedule_rank_of(s, sc->tie_stage[0]),
                   pc_schedule_rank_of(s, sc->tie_stage[1])};
    if (rank[0] != rank[1]) {
      bool apart = sc->ranks_per_node > 0 && node_of(rank[0], sc->ranks_per_node, sc->nnodes) !=
                                                 node_of(rank[1], sc->ranks_per_node, sc->nnodes);
      sc->costs.tie_exchange = sc->tie_wire[apart ? PC_LINK_INTER : PC_LINK_INTRA];
      sc->costs.tie_a = rank[0];
      sc->costs.tie_b = rank[1];
    }
  }
  if (s->nchunks == 1 || sc->reduce == NULL) return;
  sc->rank_reduce = g_new0(pc_sim_reduce, (size_t)s->nstages);
  for (int r = 0; r < s->nstages; r++) {
    double *ready = g_new(double, 1), *wire = g_new(double, 1);
    *ready = *wire = 0;
    bool ports = false;
    for (int c = 0; c < s->nchunks; c++) {
      int v = pc_schedule_virtual(s, r, c);
      *ready = fmax(*ready, s->split_backward ? sc->bwd_w[v] : sc->bwd[v]);
      *wire += sc->allreduce_total[v];
      ports = ports || sc->reduce[v].ports;
    }
    sc->rank_reduce[r] = (pc_sim_reduce){.n = 1, .ready = ready, .wire = wire, .ports = ports};
  }
}

void pc_stage_costs_free(pc_stage_costs *sc) {
  if (sc == NULL) return;
  free_rank_reduce(sc);
  g_free(sc->fwd);
  g_free(sc->bwd);
  g_free(sc->bwd_b);
  g_free(sc->bwd_w);
  g_free(sc->opt);
  g_free(sc->allreduce);
  g_free(sc->allreduce_total);
  free_reduces(sc->reduce, sc->nstages);
  g_free(sc->grad_bytes);
  g_free(sc->ar_link);
  g_free(sc->message);
  g_free(sc->message_cpu);
  g_free(sc->xfer_link);
  g_free(sc->xfers);
  if (sc->own_net) pc_net_free(sc->own_net);
  g_free(sc);
}

/* Each layer's backward LB cut into a split backward's halves: input gradient B and weight
 * gradient W, as profiled when the profile has them; else a layer with weights spends on them
 * the share of its backward FLOPs that a product the size of its forward's takes. */
static bool backward_halves(const pc_model *model, const pc_cost_config *cfg, double mb,
                            const double *lb, double *b, double *w, GError **error) {
  bool measured = cfg->profile && pc_profile_split(cfg->profile);
  for (int i = 0; i < model->nlayers; i++) {
    const pc_layer *l = &model->layers[i];
    if (measured) {
      if (!pc_profile_layer_split(cfg->profile, l->name, mb, cfg->extrapolate, &b[i], &w[i],
                                  error))
        return false;
      continue;
    }
    double bf = pc_layer_bwd_flops(l);
    bool weights = pc_layer_held_params(l) > 0 && bf > 0;
    w[i] = weights ? lb[i] * fmin(1.0, pc_layer_fwd_flops(l) / bf) : 0;
    b[i] = lb[i] - w[i];
  }
  return true;
}

pc_stage_costs *pc_stage_costs_new(const pc_model *model, const pc_partition *part,
                                   const GArray *xfers, double mb, const pc_cost_config *cfg,
                                   GError **error) {
  int L = model->nlayers, P = part->nstages;
  int D = cfg->replicas > 1 ? cfg->replicas : 1;
  if (cfg->profile && !pc_profile_check(cfg->profile, model, error)) return NULL;
  double *lf = g_new(double, (size_t)L), *lb = g_new(double, (size_t)L),
         *lo = g_new(double, (size_t)L), overhead;
  double *lb_b = g_new(double, (size_t)L), *lb_w = g_new(double, (size_t)L);
  bool extra = false;
  if (!pc_costs_layers(model, cfg, mb, lf, lb, lo, &overhead, &extra, error) ||
      !backward_halves(model, cfg, mb, lb, lb_b, lb_w, error)) {
    g_free(lf);
    g_free(lb);
    g_free(lo);
    g_free(lb_b);
    g_free(lb_w);
    return NULL;
  }
  pc_stage_costs *sc = g_new0(pc_stage_costs, 1);
  sc->nstages = P;
  sc->extrapolated = extra;
  sc->fwd = g_new0(double, (size_t)P);
  sc->bwd = g_new0(double, (size_t)P);
  sc->bwd_b = g_new0(double, (size_t)P);
  sc->bwd_w = g_new0(double, (size_t)P);
  sc->opt = g_new0(double, (size_t)P);
  sc->allreduce = g_new0(double, (size_t)P);
  sc->allreduce_total = g_new0(double, (size_t)P);
  sc->grad_bytes = g_new0(double, (size_t)P);
  sc->ar_link = g_new0(pc_link, (size_t)P);
  if (D > 1) sc->reduce = g_new0(pc_sim_reduce, (size_t)P);
  const pc_net *net = cfg->net;
  if (net == NULL) net = sc->own_net = pc_net_default();
  bool inter = pc_net_has(net, PC_LINK_INTER);
  int rpn = ranks_per_node(cfg, net);
  int nnodes = cfg->by_node && rpn > 0 ? (int)(((long long)D * P + rpn - 1) / rpn) : 0;
  for (int s = 0; s < P; s++) {
    double f = overhead, b = overhead, o = overhead, hb = overhead, w = 0;
    int64_t params = 0;
    for (int i = part->first[s]; i < part->first[s + 1]; i++) {
      const pc_layer *l = &model->layers[i];
      f += lf[i];
      b += lb[i];
      o += lo[i];
      params += pc_layer_held_params(l);
      hb += lb_b[i];
      w += lb_w[i];
    }
    sc->bwd_b[s] = hb;
    sc->bwd_w[s] = w;
    sc->fwd[s] = f;
    sc->bwd[s] = b;
    sc->opt[s] = o;
    sc->grad_bytes[s] = 4.0 * (double)params;
    bool spans = false;
    for (int d = 1; d < D && rpn > 0 && !spans; d++)
      spans = node_of((long long)d * P + s, rpn, nnodes) != node_of(s, rpn, nnodes);
    sc->ar_link[s] = spans && inter ? PC_LINK_INTER : PC_LINK_INTRA;
    if (D > 1)
      sc->allreduce[s] = bucketed_allreduce(model, net, sc->ar_link[s], part->first[s],
                                            part->first[s + 1], lb, overhead, D,
                                            &sc->reduce[s], &sc->allreduce_total[s]);
  }
  sc->nxfers = (int)xfers->len;
  sc->xfers = g_new0(pc_xfer, (size_t)MAX(sc->nxfers, 1));
  sc->message = g_new0(double, (size_t)MAX(sc->nxfers, 1));
  sc->message_cpu = g_new0(double, (size_t)MAX(sc->nxfers, 1));
  sc->xfer_link = g_new0(pc_link, (size_t)MAX(sc->nxfers, 1));
  for (int x = 0; x < sc->nxfers; x++) {
    const pc_xfer *xf = &g_array_index(xfers, pc_xfer, x);
    sc->xfers[x] = *xf;
    sc->xfer_link[x] = inter && crosses_nodes(xf->src, xf->dst, P, D, rpn, nnodes)
                           ? PC_LINK_INTER : PC_LINK_INTRA;
    sc->message[x] = pc_net_time(net, sc->xfer_link[x], (double)xf->bytes * mb);
    sc->message_cpu[x] = pc_net_cpu(net, sc->xfer_link[x], (double)xf->bytes * mb);
  }
  sc->ranks_per_node = inter ? rpn : 0;
  if (cfg->clip) /* a double per layer, each round a message and its two ends' overheads */
    for (int k = 0; k < PC_LINK_COUNT; k++)
      if (pc_net_has(net, (pc_link)k))
        sc->norm_round[k] = pc_net_time(net, (pc_link)k, 8.0 * L) + net->send_overhead +
                            net->recv_overhead;
  sc->nnodes = nnodes;
  sc->net = net;
  sc->mb = mb;
  sc->replicas = D;
  size_t tied_floats;
  int tied = pc_model_tied(model, &tied_floats);
  sc->tie_stage[0] = tied < 0 ? -1 : pc_partition_stage_of(part, model->layers[tied].tie);
  sc->tie_stage[1] = tied < 0 ? -1 : pc_partition_stage_of(part, tied);
  for (int k = 0; k < PC_LINK_COUNT && tied >= 0; k++)
    if (pc_net_has(net, (pc_link)k))
      sc->tie_wire[k] = pc_net_time(net, (pc_link)k, 4.0 * (double)tied_floats) +
                        net->send_overhead + net->recv_overhead +
                        2 * pc_net_cpu(net, (pc_link)k, 4.0 * (double)tied_floats);
  sc->costs = (pc_sim_costs){.compute = sc_compute, .message = sc_message,
                             .message_cpu = sc_message_cpu,
                             .node = sc->ranks_per_node > 0 ? sc_node : NULL,
                             .reduce = sc->reduce ? sc_reduce : NULL,
                             .send_overhead = net->send_overhead,
                             .recv_overhead = net->recv_overhead, .ud = sc};
  g_free(lf);
  g_free(lb);
  g_free(lo);
  g_free(lb_b);
  g_free(lb_w);
  return sc;
}

bool pc_costs_zb_ratio(const pc_model *model, const pc_cost_config *cfg, double mb,
                       double ratio[3], GError **error) {
  size_t L = (size_t)model->nlayers;
  double *f = g_new(double, L), *b = g_new(double, L), *o = g_new(double, L),
         *hb = g_new(double, L), *hw = g_new(double, L), overhead;
  bool ok = pc_costs_layers(model, cfg, mb, f, b, o, &overhead, NULL, error) &&
            backward_halves(model, cfg, mb, b, hb, hw, error);
  if (ok) {
    double sum[3] = {0, 0, 0};
    for (size_t i = 0; i < L; i++) {
      sum[0] += f[i];
      sum[1] += hb[i];
      sum[2] += hw[i];
    }
    double top = fmax(sum[0], fmax(sum[1], sum[2]));
    for (int k = 0; k < 3; k++)
      ratio[k] = top > 0 ? fmax(round(1000 * sum[k] / top), 1) / 1000 : 1;
  }
  g_free(f);
  g_free(b);
  g_free(o);
  g_free(hb);
  g_free(hw);
  return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* auto:time */

bool pc_costs_layer_times(void *cfg_, const pc_model *model, int mb, double *compute,
                          double *tensor, double *stage_fixed, GError **error) {
  const pc_cost_config *cfg = cfg_;
  if (cfg->profile == NULL) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "balancing by time needs measured layer times: give --profile FILE");
    return false;
  }
  if (!pc_profile_check(cfg->profile, model, error)) return false;
  int L = model->nlayers;
  double *b = g_new(double, (size_t)L), *o = g_new(double, (size_t)L), overhead;
  bool ok = pc_costs_layers(model, cfg, mb, compute, b, o, &overhead, NULL, error);
  if (ok) {
    pc_net *own = cfg->net ? NULL : pc_net_default();
    const pc_net *net = cfg->net ? cfg->net : own;
    for (int i = 0; i < L; i++) {
      compute[i] += b[i];
      tensor[i] = 2 * pc_net_time(net, PC_LINK_INTRA,
                                  (double)pc_layer_out_bytes(&model->layers[i]) * mb) +
                  net->send_overhead + net->recv_overhead;
    }
    *stage_fixed = 2 * overhead;
    pc_net_free(own);
  }
  g_free(b);
  g_free(o);
  return ok;
}
