/* schedule.c — generation, editing and validation of pipeline schedules (per-stage op lists).
 *
 * The generators are written as a sequence of "forward of microbatch m at virtual stage v",
 * "backward ..." and (split backward) "weight gradient ..." steps per rank; each step expands
 * into its RECVs, the compute op and its SENDs (see schedule.h). GPipe, 1F1B and interleaved
 * 1F1B are formulas; the zero-bubble schedules come from a list scheduler at given op costs
 * (unit ones unless told), whose order is a run that completes, so any costs run it without
 * deadlock. Validation is a set of
 * linear scans plus a symbolic run with eager sends. */
#include "schedule.h"

#include <math.h>
#include <string.h>

#include "error.h"

/* ------------------------------------------------------------------------------------------ */
/* Names */

static const char *const op_kind_names[] = {
  [PC_OP_FWD] = "FWD", [PC_OP_BWD] = "BWD", [PC_OP_BWD_W] = "BWD_W",
  [PC_OP_SEND] = "SEND", [PC_OP_RECV] = "RECV", [PC_OP_OPT] = "OPT",
};
_Static_assert(G_N_ELEMENTS(op_kind_names) == PC_OP_KIND_COUNT, "op kind name table");

static const char *const schedule_kind_names[] = {
  [PC_SCHEDULE_GPIPE] = "gpipe",
  [PC_SCHEDULE_1F1B] = "1f1b",
  [PC_SCHEDULE_INTERLEAVED] = "interleaved",
  [PC_SCHEDULE_ZBH1] = "zb-h1",
  [PC_SCHEDULE_ZBV] = "zb-v",
};
_Static_assert(G_N_ELEMENTS(schedule_kind_names) == PC_SCHEDULE_KIND_COUNT,
               "schedule kind name table");

const char *pc_op_kind_name(pc_op_kind kind) {
  if ((unsigned)kind >= PC_OP_KIND_COUNT)
    return "?";
  return op_kind_names[kind];
}

const char *pc_schedule_kind_name(pc_schedule_kind kind) {
  if (kind == PC_SCHEDULE_KIND_COUNT)
    return "custom";
  if ((unsigned)kind > PC_SCHEDULE_KIND_COUNT)
    return "?";
  return schedule_kind_names[kind];
}

int pc_schedule_kind_from_name(const char *name) {
  if (name == NULL)
    return -1;
  for (int k = 0; k < PC_SCHEDULE_KIND_COUNT; k++)
    if (g_ascii_strcasecmp(name, schedule_kind_names[k]) == 0)
      return k;
  return -1;
}

char *pc_op_format(const pc_op *op, char *buf, size_t size) {
  PC_ASSERT(buf != NULL && size > 0);
  const char *name = pc_op_kind_name((pc_op_kind)op->kind);
  char chunk[32] = "";
  if (op->chunk != 0)
    g_snprintf(chunk, sizeof chunk, " chunk %d", op->chunk);
  switch (op->kind) {
  case PC_OP_SEND:
  case PC_OP_RECV:
    g_snprintf(buf, size, "%s %s mb %d%s %s stage %d", name, op->grad ? "grad" : "act", op->mb,
               chunk, op->kind == PC_OP_SEND ? "to" : "from", op->peer);
    break;
  case PC_OP_OPT:
    g_snprintf(buf, size, "%s%s", name, chunk);
    break;
  default:
    g_snprintf(buf, size, "%s mb %d%s", name, op->mb, chunk);
    break;
  }
  return buf;
}

/* ------------------------------------------------------------------------------------------ */
/* Stage op lists */

static inline int inflight_delta(const pc_op *op, bool split_backward) {
  if (op->kind == PC_OP_FWD)
    return 1;
  if (op->kind == (split_backward ? PC_OP_BWD_W : PC_OP_BWD))
    return -1;
  return 0;
}

static void stage_reserve(pc_stage_ops *st, int n) {
  if (n <= st->cap_)
    return;
  int cap = st->cap_ > 0 ? st->cap_ : 16;
  while (cap < n) {
    PC_ASSERT(cap <= G_MAXINT / 2);
    cap *= 2;
  }
  st->ops = g_renew(pc_op, st->ops, cap);
  st->cap_ = cap;
}

static inline void stage_push(pc_stage_ops *st, pc_op op, bool split_backward) {
  if (G_UNLIKELY(st->nops == st->cap_))
    stage_reserve(st, st->nops + 1);
  st->ops[st->nops++] = op;
  st->inflight_ += inflight_delta(&op, split_backward);
  if (st->inflight_ > st->peak_inflight)
    st->peak_inflight = st->inflight_;
}

static void stage_recount(pc_stage_ops *st, bool split_backward) {
  st->inflight_ = 0;
  st->peak_inflight = 0;
  for (int i = 0; i < st->nops; i++) {
    st->inflight_ += inflight_delta(&st->ops[i], split_backward);
    if (st->inflight_ > st->peak_inflight)
      st->peak_inflight = st->inflight_;
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Construction */

/* NSTAGES: the virtual stages the transfers join. */
static bool check_params(int nstages, int nmicro, const pc_xfer *xfers, int nxfers,
                         GError **error) {
  if (nstages < 1) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "schedule: %d stages (need at least 1)",
                nstages);
    return false;
  }
  if (nmicro < 1) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "schedule: %d microbatches (need at least 1)",
                nmicro);
    return false;
  }
  if (nxfers < 0 || (nxfers > 0 && xfers == NULL)) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "schedule: bad transfer list");
    return false;
  }
  if (nxfers > G_MAXINT32 / 2) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "schedule: %d transfers is too many", nxfers);
    return false;
  }
  for (int i = 0; i < nxfers; i++) {
    const pc_xfer *x = &xfers[i];
    if (x->src < 0 || x->dst <= x->src || x->dst >= nstages) {
      g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                  "schedule: transfer %d goes from stage %d to stage %d; need "
                  "0 <= src < dst < %d",
                  i, x->src, x->dst, nstages);
      return false;
    }
  }
  return true;
}

pc_schedule *pc_schedule_new_empty(int nstages, int nmicro, const pc_xfer *xfers, int nxfers,
                                   GError **error) {
  if (!check_params(nstages, nmicro, xfers, nxfers, error))
    return NULL;
  pc_schedule *s = g_new0(pc_schedule, 1);
  s->kind = PC_SCHEDULE_KIND_COUNT;
  s->nstages = nstages;
  s->nmicro = nmicro;
  s->nchunks = 1;
  s->split_backward = false;
  s->nxfers = nxfers;
  s->xfers = nxfers > 0 ? g_memdup2(xfers, sizeof(pc_xfer) * (size_t)nxfers) : NULL;
  s->stages = g_new0(pc_stage_ops, nstages);
  return s;
}

/* Transfers by virtual stage: incoming (dst == v) and outgoing (src == v), in list order. */
typedef struct {
  int *in_off;  /* (nv + 1) */
  int *in;      /* transfer indices */
  int *out_off; /* (nv + 1) */
  int *out;
} xfer_index;

static void xfer_index_build(xfer_index *xi, const pc_schedule *s) {
  int nv = s->nstages * s->nchunks;
  xi->in_off = g_new0(int, nv + 1);
  xi->out_off = g_new0(int, nv + 1);
  xi->in = g_new(int, s->nxfers > 0 ? s->nxfers : 1);
  xi->out = g_new(int, s->nxfers > 0 ? s->nxfers : 1);
  for (int i = 0; i < s->nxfers; i++) {
    xi->in_off[s->xfers[i].dst + 1]++;
    xi->out_off[s->xfers[i].src + 1]++;
  }
  for (int v = 0; v < nv; v++) {
    xi->in_off[v + 1] += xi->in_off[v];
    xi->out_off[v + 1] += xi->out_off[v];
  }
  int *in_fill = g_memdup2(xi->in_off, sizeof(int) * (size_t)nv);
  int *out_fill = g_memdup2(xi->out_off, sizeof(int) * (size_t)nv);
  for (int i = 0; i < s->nxfers; i++) {
    xi->in[in_fill[s->xfers[i].dst]++] = i;
    xi->out[out_fill[s->xfers[i].src]++] = i;
  }
  g_free(in_fill);
  g_free(out_fill);
}

static void xfer_index_clear(xfer_index *xi) {
  g_free(xi->in_off);
  g_free(xi->in);
  g_free(xi->out_off);
  g_free(xi->out);
}

/* Forward of microbatch MB at virtual stage V: RECV act of each incoming transfer, FWD, SEND
 * act of each outgoing transfer. */
static void emit_forward(pc_schedule *s, const xfer_index *xi, int v, int mb) {
  int rank = pc_schedule_rank_of(s, v);
  int16_t chunk = (int16_t)pc_schedule_chunk_of(s, v);
  pc_stage_ops *st = &s->stages[rank];
  for (int k = xi->in_off[v]; k < xi->in_off[v + 1]; k++) {
    int x = xi->in[k];
    stage_push(st,
               (pc_op){.kind = PC_OP_RECV, .mb = mb, .chunk = chunk, .grad = false, .xfer = x,
                       .peer = pc_schedule_rank_of(s, s->xfers[x].src)},
               s->split_backward);
  }
  stage_push(st, (pc_op){.kind = PC_OP_FWD, .mb = mb, .chunk = chunk, .xfer = -1, .peer = -1},
             s->split_backward);
  for (int k = xi->out_off[v]; k < xi->out_off[v + 1]; k++) {
    int x = xi->out[k];
    stage_push(st,
               (pc_op){.kind = PC_OP_SEND, .mb = mb, .chunk = chunk, .grad = false, .xfer = x,
                       .peer = pc_schedule_rank_of(s, s->xfers[x].dst)},
               s->split_backward);
  }
}

/* Backward of microbatch MB at virtual stage V: RECV grad of each outgoing transfer (from its
 * consumer), BWD, SEND grad of each incoming transfer (to its producer). */
static void emit_backward(pc_schedule *s, const xfer_index *xi, int v, int mb) {
  int rank = pc_schedule_rank_of(s, v);
  int16_t chunk = (int16_t)pc_schedule_chunk_of(s, v);
  pc_stage_ops *st = &s->stages[rank];
  for (int k = xi->out_off[v]; k < xi->out_off[v + 1]; k++) {
    int x = xi->out[k];
    stage_push(st,
               (pc_op){.kind = PC_OP_RECV, .mb = mb, .chunk = chunk, .grad = true, .xfer = x,
                       .peer = pc_schedule_rank_of(s, s->xfers[x].dst)},
               s->split_backward);
  }
  stage_push(st, (pc_op){.kind = PC_OP_BWD, .mb = mb, .chunk = chunk, .xfer = -1, .peer = -1},
             s->split_backward);
  for (int k = xi->in_off[v]; k < xi->in_off[v + 1]; k++) {
    int x = xi->in[k];
    stage_push(st,
               (pc_op){.kind = PC_OP_SEND, .mb = mb, .chunk = chunk, .grad = true, .xfer = x,
                       .peer = pc_schedule_rank_of(s, s->xfers[x].src)},
               s->split_backward);
  }
}

/* Weight gradient of microbatch MB at virtual stage V (split backward): no messages. */
static void emit_weight(pc_schedule *s, int v, int mb) {
  stage_push(&s->stages[pc_schedule_rank_of(s, v)],
             (pc_op){.kind = PC_OP_BWD_W, .mb = mb, .chunk = (int16_t)pc_schedule_chunk_of(s, v),
                     .xfer = -1, .peer = -1},
             s->split_backward);
}

/* Megatron-LM's interleaved 1F1B on rank R: the k-th forward (backward) of the rank is
 * microbatch (k / (P v)) P + k % P of chunk (k / P) % v (of chunk v - 1 - (k / P) % v). */
static void interleaved(pc_schedule *s, const xfer_index *xi, int r) {
  const int P = s->nstages, M = s->nmicro, v = s->nchunks, total = M * v;
  int warm = MIN((P - r - 1) * 2 + (v - 1) * P, total);
#define MB_OF(k) ((k) / (P * v) * P + (k) % P)
#define FWD_V(k) pc_schedule_virtual(s, r, (k) / P % v)
#define BWD_V(k) pc_schedule_virtual(s, r, v - 1 - (k) / P % v)
  for (int k = 0; k < warm; k++) emit_forward(s, xi, FWD_V(k), MB_OF(k));
  for (int i = 0; i < total - warm; i++) {
    emit_forward(s, xi, FWD_V(warm + i), MB_OF(warm + i));
    emit_backward(s, xi, BWD_V(i), MB_OF(i));
  }
  for (int k = total - warm; k < total; k++) emit_backward(s, xi, BWD_V(k), MB_OF(k));
#undef MB_OF
#undef FWD_V
#undef BWD_V
}

/* The zero-bubble schedules by list scheduling: every rank, whenever it is free, starts the
 * first ready of: a BWD (oldest microbatch first), a forward (oldest first; a new microbatch,
 * the forward of the rank's first chunk, only while its activations on all the rank's chunks fit
 * under CAP[r] beside those of the microbatches in flight), the oldest pending BWD_W. FWD, BWD
 * and BWD_W take COST[0], [1], [2] (the same on every virtual stage; NULL: 1 each), messages
 * are free, ranks free at the same time choose in rank order. Each virtual stage runs its
 * forwards, backwards and weight gradients in microbatch order. */
static void zero_bubble(pc_schedule *s, const xfer_index *xi, const int *cap,
                        const double *cost) {
  const int P = s->nstages, M = s->nmicro, C = s->nchunks, V = P * C;
  static const double unit[3] = {1, 1, 1};
  if (cost == NULL) cost = unit;
  int *nf = g_new0(int, V), *nb = g_new0(int, V), *nw = g_new0(int, V);
  int *inflight = g_new0(int, P); /* chunk activations held or owed until their BWD_W */
  double *free_at = g_new0(double, P);
  /* when F and B of (v, m) are done; INFINITY while not started */
  double *fdone = g_new(double, (size_t)V * M), *bdone = g_new(double, (size_t)V * M);
  for (size_t i = 0; i < (size_t)V * M; i++) fdone[i] = bdone[i] = INFINITY;
  int64_t left = 3 * (int64_t)V * M;
  while (left > 0) {
    double t = INFINITY;
    for (int r = 0; r < P; r++) t = fmin(t, free_at[r]);
    double next = INFINITY; /* the next time anything changes after t */
    for (int r = 0; r < P; r++) {
      if (free_at[r] > t) {
        next = fmin(next, free_at[r]);
        continue;
      }
      /* the oldest ready op of each kind over the rank's chunks: 0 BWD, 1 FWD, 2 BWD_W */
      int pick[3] = {-1, -1, -1};
      for (int c = 0; c < C; c++) {
        int v = pc_schedule_virtual(s, r, c);
        int m = nb[v];
        if (m < M && fdone[(size_t)v * M + m] <= t &&
            (v == V - 1 || bdone[(size_t)(v + 1) * M + m] <= t) &&
            (pick[0] < 0 || m < nb[pick[0]]))
          pick[0] = v;
        m = nf[v];
        if (m < M && (v == 0 || fdone[(size_t)(v - 1) * M + m] <= t) &&
            (c > 0 || inflight[r] + C <= cap[r]) && (pick[1] < 0 || m < nf[pick[1]]))
          pick[1] = v;
        m = nw[v];
        if (m < nb[v] && bdone[(size_t)v * M + m] <= t && (pick[2] < 0 || m < nw[pick[2]]))
          pick[2] = v;
      }
      int kind = pick[0] >= 0 ? 0 : pick[1] >= 0 ? 1 : pick[2] >= 0 ? 2 : -1;
      int best = kind >= 0 ? pick[kind] : -1;
      if (best < 0) { /* idle until something else is done */
        free_at[r] = INFINITY;
        continue;
      }
      size_t at = (size_t)best * M;
      double done = t + cost[kind == 0 ? 1 : kind == 1 ? 0 : 2];
      if (kind == 0) {
        bdone[at + nb[best]] = done;
        emit_backward(s, xi, best, nb[best]++);
      } else if (kind == 1) {
        fdone[at + nf[best]] = done;
        if (pc_schedule_chunk_of(s, best) == 0) inflight[r] += C;
        emit_forward(s, xi, best, nf[best]++);
      } else {
        inflight[r]--;
        emit_weight(s, best, nw[best]++);
      }
      free_at[r] = done;
      next = fmin(next, done);
      left--;
    }
    /* the idle ranks look again when the next op ends */
    PC_ASSERT(left == 0 || isfinite(next)); /* else nothing would ever change */
    for (int r = 0; r < P; r++)
      if (free_at[r] == INFINITY) free_at[r] = next;
  }
  g_free(nf);
  g_free(nb);
  g_free(nw);
  g_free(inflight);
  g_free(free_at);
  g_free(fdone);
  g_free(bdone);
}

bool pc_schedule_check_zb_costs(pc_schedule_kind kind, const double *c, GError **error) {
  if (!pc_schedule_zero_bubble(kind)) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "schedule %s: op costs order only the zero-bubble schedules (zb-h1, zb-v)",
                pc_schedule_kind_name(kind));
    return false;
  }
  for (int k = 0; k < 3; k++)
    if (!(c[k] >= 1e-3 && c[k] <= 1e3)) {
      g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                  "schedule %s: op costs %g:%g:%g: expected three numbers from 0.001 to 1000 "
                  "(FWD:BWD:BWD_W)", pc_schedule_kind_name(kind), c[0], c[1], c[2]);
      return false;
    }
  return true;
}

pc_schedule *pc_schedule_new_forward(const pc_schedule *train, int nmicro, GError **error) {
  if (!check_params(train->nstages * train->nchunks, nmicro, train->xfers, train->nxfers, error))
    return NULL;
  pc_schedule *s = g_new0(pc_schedule, 1);
  *s = (pc_schedule){.kind = train->kind, .nstages = train->nstages, .nmicro = nmicro,
                     .nchunks = train->nchunks, .vshape = train->vshape, .forward_only = true,
                     .nxfers = train->nxfers};
  s->xfers = train->nxfers > 0 ? g_memdup2(train->xfers, sizeof(pc_xfer) * (size_t)train->nxfers)
                               : NULL;
  s->stages = g_new0(pc_stage_ops, s->nstages);
  xfer_index xi;
  xfer_index_build(&xi, s);
  for (int m = 0; m < nmicro; m++)
    for (int r = 0; r < s->nstages; r++)
      for (int c = 0; c < s->nchunks; c++) emit_forward(s, &xi, pc_schedule_virtual(s, r, c), m);
  for (int r = 0; r < s->nstages; r++) /* nothing is kept for a backward */
    s->stages[r].peak_inflight = s->stages[r].inflight_ = 0;
  xfer_index_clear(&xi);
  return s;
}

int pc_schedule_default_chunks(pc_schedule_kind kind) {
  return kind == PC_SCHEDULE_INTERLEAVED || kind == PC_SCHEDULE_ZBV ? 2 : 1;
}

bool pc_schedule_check_kind(pc_schedule_kind kind, int P, int M, int C, GError **error) {
  const char *name = pc_schedule_kind_name(kind);
  if ((unsigned)kind >= PC_SCHEDULE_KIND_COUNT) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "schedule: unknown kind %d", (int)kind);
  } else if (kind == PC_SCHEDULE_INTERLEAVED && (C < 2 || C > PC_SCHEDULE_MAX_CHUNKS)) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "schedule interleaved: %d chunks per rank; it needs 2 to %d", C,
                PC_SCHEDULE_MAX_CHUNKS);
  } else if (kind == PC_SCHEDULE_INTERLEAVED && P < 2) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "schedule interleaved: 1 stage; it needs 2 or more (on one rank its chunks "
                "would run one after the other, as 1f1b does)");
  } else if (kind == PC_SCHEDULE_INTERLEAVED && M % P) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "schedule interleaved: %d microbatches on %d stages; it needs a multiple of "
                "the stages (as Megatron-LM)", M, P);
  } else if (kind == PC_SCHEDULE_ZBV && C != 2) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "schedule zb-v: %d chunks per rank; it has 2", C);
  } else if (kind != PC_SCHEDULE_INTERLEAVED && kind != PC_SCHEDULE_ZBV && C != 1) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "schedule %s: %d chunks per rank; it has 1 (chunks: interleaved, zb-v)", name, C);
  } else {
    return true;
  }
  return false;
}

pc_schedule *pc_schedule_new(pc_schedule_kind kind, int nstages, int nmicro,
                             const pc_xfer *xfers, int nxfers, GError **error) {
  int C = (unsigned)kind < PC_SCHEDULE_KIND_COUNT ? pc_schedule_default_chunks(kind) : 1;
  return pc_schedule_new_chunks(kind, nstages, nmicro, C, NULL, xfers, nxfers, error);
}

pc_schedule *pc_schedule_new_chunks(pc_schedule_kind kind, int nstages, int nmicro, int nchunks,
                                    const double *zb_costs, const pc_xfer *xfers, int nxfers,
                                    GError **error) {
  if (nstages < 1 || nchunks < 1 || nstages > G_MAXINT / MAX(nchunks, 1)) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "schedule: %d stages of %d chunks", nstages,
                nchunks);
    return NULL;
  }
  if (!check_params(nstages * nchunks, nmicro, xfers, nxfers, error) ||
      !pc_schedule_check_kind(kind, nstages, nmicro, nchunks, error) ||
      (zb_costs && !pc_schedule_check_zb_costs(kind, zb_costs, error)))
    return NULL;
  pc_schedule *s = g_new0(pc_schedule, 1);
  *s = (pc_schedule){.kind = kind, .nstages = nstages, .nmicro = nmicro, .nchunks = nchunks,
                     .vshape = kind == PC_SCHEDULE_ZBV,
                     .split_backward = pc_schedule_zero_bubble(kind),
                     .nxfers = nxfers};
  if (zb_costs) memcpy(s->zb_costs, zb_costs, sizeof s->zb_costs);
  s->xfers = nxfers > 0 ? g_memdup2(xfers, sizeof(pc_xfer) * (size_t)nxfers) : NULL;
  s->stages = g_new0(pc_stage_ops, nstages);

  xfer_index xi;
  xfer_index_build(&xi, s);
  const int P = nstages, M = nmicro;
  for (int r = 0; r < P; r++) {
    /* Exact size: per microbatch and chunk FWD, BWD (and BWD_W) and two messages per
     * adjacent transfer. */
    int64_t n = 1;
    for (int c = 0; c < s->nchunks; c++) {
      int v = pc_schedule_virtual(s, r, c);
      int64_t nx = (xi.in_off[v + 1] - xi.in_off[v]) + (xi.out_off[v + 1] - xi.out_off[v]);
      n += (int64_t)M * (2 + s->split_backward + 2 * nx);
    }
    PC_ASSERT(n <= G_MAXINT);
    stage_reserve(&s->stages[r], (int)n);
  }

  int *cap = g_new(int, P); /* 1F1B's peak on its first rank: P stages' activations */
  for (int r = 0; r < P; r++) cap[r] = kind == PC_SCHEDULE_ZBV ? 2 * P : MIN(P, M);
  switch (kind) {
  case PC_SCHEDULE_ZBH1:
  case PC_SCHEDULE_ZBV:
    zero_bubble(s, &xi, cap, zb_costs);
    break;
  default:
    for (int r = 0; r < P; r++) {
      if (kind == PC_SCHEDULE_GPIPE) {
        for (int m = 0; m < M; m++) emit_forward(s, &xi, r, m);
        for (int m = 0; m < M; m++) emit_backward(s, &xi, r, m);
      } else if (kind == PC_SCHEDULE_1F1B) {
        int warm = MIN(P - r - 1, M);
        for (int m = 0; m < warm; m++) emit_forward(s, &xi, r, m);
        for (int i = 0; i < M - warm; i++) {
          emit_forward(s, &xi, r, warm + i);
          emit_backward(s, &xi, r, i);
        }
        for (int m = M - warm; m < M; m++) emit_backward(s, &xi, r, m);
      } else {
        interleaved(s, &xi, r);
      }
    }
  }
  g_free(cap);
  for (int r = 0; r < P; r++)
    stage_push(&s->stages[r], (pc_op){.kind = PC_OP_OPT, .mb = -1, .xfer = -1, .peer = -1},
               s->split_backward);
  xfer_index_clear(&xi);
  return s;
}

pc_schedule *pc_schedule_copy(const pc_schedule *sched) {
  pc_schedule *s = g_memdup2(sched, sizeof *sched);
  s->xfers = sched->nxfers > 0
                 ? g_memdup2(sched->xfers, sizeof(pc_xfer) * (size_t)sched->nxfers)
                 : NULL;
  s->stages = g_new0(pc_stage_ops, sched->nstages);
  for (int r = 0; r < sched->nstages; r++) {
    s->stages[r] = sched->stages[r];
    s->stages[r].ops = g_memdup2(sched->stages[r].ops,
                                 sizeof(pc_op) * (size_t)MAX(sched->stages[r].nops, 1));
    s->stages[r].cap_ = MAX(sched->stages[r].nops, 1);
  }
  return s;
}

void pc_schedule_free(pc_schedule *sched) {
  if (sched == NULL)
    return;
  for (int r = 0; r < sched->nstages; r++)
    g_free(sched->stages[r].ops);
  g_free(sched->stages);
  g_free(sched->xfers);
  g_free(sched);
}

void pc_schedule_chunk_peaks(const pc_schedule *sched, int stage, int *peak) {
  int *held = g_new0(int, (size_t)sched->nchunks);
  for (int c = 0; c < sched->nchunks; c++) peak[c] = 0;
  const pc_stage_ops *st = &sched->stages[stage];
  for (int i = 0; i < st->nops; i++) {
    int c = st->ops[i].chunk;
    held[c] += inflight_delta(&st->ops[i], sched->split_backward);
    peak[c] = MAX(peak[c], held[c]);
  }
  g_free(held);
}

size_t pc_schedule_total_ops(const pc_schedule *sched) {
  size_t n = 0;
  for (int r = 0; r < sched->nstages; r++)
    n += (size_t)sched->stages[r].nops;
  return n;
}

/* ------------------------------------------------------------------------------------------ */
/* Editing */

void pc_schedule_append_op(pc_schedule *sched, int stage, pc_op op) {
  PC_ASSERT(stage >= 0 && stage < sched->nstages);
  stage_push(&sched->stages[stage], op, sched->split_backward);
}

void pc_schedule_insert_op(pc_schedule *sched, int stage, int index, pc_op op) {
  PC_ASSERT(stage >= 0 && stage < sched->nstages);
  pc_stage_ops *st = &sched->stages[stage];
  PC_ASSERT(index >= 0 && index <= st->nops);
  stage_reserve(st, st->nops + 1);
  memmove(&st->ops[index + 1], &st->ops[index], sizeof(pc_op) * (size_t)(st->nops - index));
  st->ops[index] = op;
  st->nops++;
  stage_recount(st, sched->split_backward);
}

void pc_schedule_remove_op(pc_schedule *sched, int stage, int index) {
  PC_ASSERT(stage >= 0 && stage < sched->nstages);
  pc_stage_ops *st = &sched->stages[stage];
  PC_ASSERT(index >= 0 && index < st->nops);
  memmove(&st->ops[index], &st->ops[index + 1], sizeof(pc_op) * (size_t)(st->nops - index - 1));
  st->nops--;
  stage_recount(st, sched->split_backward);
}

void pc_schedule_set_op(pc_schedule *sched, int stage, int index, pc_op op) {
  PC_ASSERT(stage >= 0 && stage < sched->nstages);
  pc_stage_ops *st = &sched->stages[stage];
  PC_ASSERT(index >= 0 && index < st->nops);
  st->ops[index] = op;
  stage_recount(st, sched->split_backward);
}

int pc_schedule_find_op(const pc_schedule *sched, int stage, pc_op_kind kind, int mb,
                        int chunk, bool grad, int xfer) {
  PC_ASSERT(stage >= 0 && stage < sched->nstages);
  const pc_stage_ops *st = &sched->stages[stage];
  bool comm = kind == PC_OP_SEND || kind == PC_OP_RECV;
  for (int i = 0; i < st->nops; i++) {
    const pc_op *op = &st->ops[i];
    if (op->kind == kind && op->mb == mb && op->chunk == chunk &&
        (!comm || (op->grad == grad && op->xfer == xfer)))
      return i;
  }
  return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* Validation */

#define OPBUF 96

void pc_schedule_op_error(GError **error, int code, const pc_schedule *s, int stage, int i,
                          const char *fmt, ...) {
  char buf[OPBUF];
  va_list ap;
  va_start(ap, fmt);
  char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error(error, PC_ERROR, code, "stage %d op %d %s: %s", stage, i,
              pc_op_format(&s->stages[stage].ops[i], buf, sizeof buf), msg);
  g_free(msg);
}

#define set_op_error(error, s, stage, i, ...)                                                  \
  pc_schedule_op_error(error, PC_ERROR_SCHEDULE, s, stage, i, __VA_ARGS__)

/* Sender and receiver virtual stages of a message op. */
static inline void msg_ends(const pc_schedule *s, const pc_op *op, int *from, int *to) {
  const pc_xfer *x = &s->xfers[op->xfer];
  *from = op->grad ? x->dst : x->src;
  *to = op->grad ? x->src : x->dst;
}

/* Op fields in range, and a message op consistent with its transfer. */
static bool check_ops(const pc_schedule *s, GError **error) {
  for (int r = 0; r < s->nstages; r++) {
    const pc_stage_ops *st = &s->stages[r];
    for (int i = 0; i < st->nops; i++) {
      const pc_op *op = &st->ops[i];
      if (op->kind >= PC_OP_KIND_COUNT) {
        g_set_error(error, PC_ERROR, PC_ERROR_SCHEDULE, "stage %d op %d: unknown op kind %d", r,
                    i, op->kind);
        return false;
      }
      if (op->chunk < 0 || op->chunk >= s->nchunks) {
        set_op_error(error, s, r, i, "chunk out of range 0..%d", s->nchunks - 1);
        return false;
      }
      if (s->forward_only && (op->kind == PC_OP_BWD || op->kind == PC_OP_BWD_W ||
                              op->kind == PC_OP_OPT || op->grad)) {
        set_op_error(error, s, r, i, "in a forward-only list");
        return false;
      }
      if (op->kind == PC_OP_OPT)
        continue;
      if (op->mb < 0 || op->mb >= s->nmicro) {
        set_op_error(error, s, r, i, "microbatch out of range 0..%d", s->nmicro - 1);
        return false;
      }
      if (op->kind != PC_OP_SEND && op->kind != PC_OP_RECV)
        continue;
      if (op->xfer < 0 || op->xfer >= s->nxfers) {
        set_op_error(error, s, r, i, "transfer %d out of range (%d transfers)", op->xfer,
                     s->nxfers);
        return false;
      }
      int from, to;
      msg_ends(s, op, &from, &to);
      int self = op->kind == PC_OP_SEND ? from : to;
      int other = op->kind == PC_OP_SEND ? to : from;
      if (pc_schedule_rank_of(s, self) != r || pc_schedule_chunk_of(s, self) != op->chunk ||
          pc_schedule_rank_of(s, other) != op->peer) {
        set_op_error(error, s, r, i, "transfer %d's %s goes from stage %d to stage %d",
                     op->xfer, op->grad ? "gradient" : "activation",
                     pc_schedule_rank_of(s, from), pc_schedule_rank_of(s, to));
        return false;
      }
    }
  }
  return true;
}

/* Compute ops: FWD, BWD once per (mb, chunk), in that order, BWD_W after BWD, one OPT, last;
 * message ops after/before the compute op that produces/consumes them. */
static bool check_compute(const pc_schedule *s, GError **error) {
  const int nmc = s->nmicro * s->nchunks;
  int *fwd = g_new(int, nmc), *bwd = g_new(int, nmc), *bwdw = g_new(int, nmc);
  bool ok = true;
  for (int r = 0; r < s->nstages && ok; r++) {
    const pc_stage_ops *st = &s->stages[r];
    for (int k = 0; k < nmc; k++)
      fwd[k] = bwd[k] = bwdw[k] = -1;
    int opt = -1;
    for (int i = 0; i < st->nops && ok; i++) {
      const pc_op *op = &st->ops[i];
      int k = op->chunk * s->nmicro + op->mb;
      int *slot = NULL;
      switch (op->kind) {
      case PC_OP_FWD: slot = &fwd[k]; break;
      case PC_OP_BWD: slot = &bwd[k]; break;
      case PC_OP_BWD_W: slot = &bwdw[k]; break;
      case PC_OP_OPT:
        if (opt >= 0) {
          set_op_error(error, s, r, i, "second OPT (first at op %d)", opt);
          ok = false;
        }
        opt = i;
        continue;
      default: continue;
      }
      if (*slot >= 0) {
        set_op_error(error, s, r, i, "runs twice (first at op %d)", *slot);
        ok = false;
      } else if (op->kind == PC_OP_BWD && fwd[k] < 0) {
        set_op_error(error, s, r, i, "comes before its FWD");
        ok = false;
      } else if (op->kind == PC_OP_BWD_W && bwd[k] < 0) {
        set_op_error(error, s, r, i, "comes before its BWD");
        ok = false;
      }
      *slot = i;
    }
    if (!ok)
      break;
    if (opt < 0 && !s->forward_only) {
      g_set_error(error, PC_ERROR, PC_ERROR_SCHEDULE, "stage %d has no OPT", r);
      ok = false;
      break;
    }
    if (opt >= 0 && opt != st->nops - 1) {
      set_op_error(error, s, r, opt, "is not the last op of the stage");
      ok = false;
      break;
    }
    for (int k = 0; k < nmc && ok; k++) {
      const char *missing = fwd[k] < 0 ? "FWD" : s->forward_only ? NULL : bwd[k] < 0 ? "BWD"
                            : s->split_backward && bwdw[k] < 0 ? "BWD_W" : NULL;
      if (missing != NULL) {
        g_set_error(error, PC_ERROR, PC_ERROR_SCHEDULE, "stage %d has no %s of mb %d%s", r,
                    missing, k % s->nmicro, k / s->nmicro ? " (chunk > 0)" : "");
        ok = false;
      }
    }
    for (int i = 0; i < st->nops && ok; i++) {
      const pc_op *op = &st->ops[i];
      if (op->kind != PC_OP_SEND && op->kind != PC_OP_RECV)
        continue;
      int k = op->chunk * s->nmicro + op->mb;
      int at = op->grad ? bwd[k] : fwd[k];
      bool after = op->kind == PC_OP_SEND;
      if (after ? at > i : at < i) {
        set_op_error(error, s, r, i, "comes %s the %s it %s (op %d)", after ? "before" : "after",
                     op->grad ? "BWD" : "FWD", after ? "sends from" : "feeds", at);
        ok = false;
      }
    }
  }
  g_free(fwd);
  g_free(bwd);
  g_free(bwdw);
  return ok;
}

/* Messages: one SEND and one RECV per (channel, mb), in the same order on both sides. */
static bool check_messages(const pc_schedule *s, GError **error) {
  const int nch = 2 * s->nxfers, M = s->nmicro;
  if (nch <= 0)
    return true;
  /* Where each (channel, mb) is sent and received: stage and op index, -1 if not. */
  size_t n = (size_t)nch * (size_t)M;
  int *send_op = g_new(int, n), *recv_op = g_new(int, n);
  int *nsend = g_new0(int, nch), *nrecv = g_new0(int, nch);
  for (size_t k = 0; k < n; k++)
    send_op[k] = recv_op[k] = -1;
  bool ok = true;

  for (int pass = 0; pass < 2 && ok; pass++) {
    /* pass 0: SENDs (duplicates), pass 1: RECVs (duplicates, unmatched, FIFO order) */
    for (int r = 0; r < s->nstages && ok; r++) {
      const pc_stage_ops *st = &s->stages[r];
      for (int i = 0; i < st->nops && ok; i++) {
        const pc_op *op = &st->ops[i];
        if (op->kind != (pass == 0 ? PC_OP_SEND : PC_OP_RECV))
          continue;
        int ch = pc_op_tag(op);
        size_t k = (size_t)ch * (size_t)M + (size_t)op->mb;
        int *at = pass == 0 ? &send_op[k] : &recv_op[k];
        if (*at >= 0) {
          set_op_error(error, s, r, i, "the same message was already %s at op %d",
                       pass == 0 ? "sent" : "received", *at);
          ok = false;
        } else if (pass == 1 && send_op[k] < 0) {
          set_op_error(error, s, r, i, "has no matching SEND");
          ok = false;
        }
        *at = i;
        (pass == 0 ? nsend : nrecv)[ch]++;
      }
    }
  }
  /* Every SEND received, every transfer sent. */
  for (int ch = 0; ch < nch && ok; ch++) {
    const pc_xfer *x = &s->xfers[ch / 2];
    bool grad = ch % 2;
    if (grad && s->forward_only) continue;
    int from = pc_schedule_rank_of(s, grad ? x->dst : x->src);
    for (int m = 0; m < M && ok; m++) {
      size_t k = (size_t)ch * (size_t)M + (size_t)m;
      if (send_op[k] >= 0 && recv_op[k] < 0) {
        set_op_error(error, s, from, send_op[k], "is never received");
        ok = false;
      } else if (send_op[k] < 0) {
        g_set_error(error, PC_ERROR, PC_ERROR_SCHEDULE,
                    "transfer %d (stage %d to stage %d): %s of mb %d is never sent", ch / 2,
                    pc_schedule_rank_of(s, x->src), pc_schedule_rank_of(s, x->dst),
                    grad ? "gradient" : "activation", m);
        ok = false;
      }
    }
  }
  /* FIFO: the k-th RECV of a channel gets the k-th SEND. Rebuild both orders per channel. */
  if (ok) {
    int *off = g_new0(int, nch + 1);
    for (int ch = 0; ch < nch; ch++)
      off[ch + 1] = off[ch] + nsend[ch];
    int *sent_mb = g_new(int, MAX(off[nch], 1));
    int *fill = g_memdup2(off, sizeof(int) * (size_t)nch);
    for (int r = 0; r < s->nstages; r++)
      for (int i = 0; i < s->stages[r].nops; i++) {
        const pc_op *op = &s->stages[r].ops[i];
        if (op->kind == PC_OP_SEND)
          sent_mb[fill[pc_op_tag(op)]++] = op->mb;
      }
    memcpy(fill, off, sizeof(int) * (size_t)nch);
    for (int r = 0; r < s->nstages && ok; r++)
      for (int i = 0; i < s->stages[r].nops && ok; i++) {
        const pc_op *op = &s->stages[r].ops[i];
        if (op->kind != PC_OP_RECV)
          continue;
        int ch = pc_op_tag(op);
        int expect = sent_mb[fill[ch]++];
        if (expect != op->mb) {
          int from = pc_schedule_rank_of(s, op->grad ? s->xfers[op->xfer].dst
                                                     : s->xfers[op->xfer].src);
          set_op_error(error, s, r, i,
                       "out of FIFO order: the next message on this channel is mb %d "
                       "(stage %d op %d)",
                       expect, from, send_op[(size_t)ch * (size_t)M + (size_t)expect]);
          ok = false;
        }
      }
    g_free(off);
    g_free(sent_mb);
    g_free(fill);
  }
  g_free(send_op);
  g_free(recv_op);
  g_free(nsend);
  g_free(nrecv);
  return ok;
}

/* Symbolic run with eager sends: a SEND never blocks, a RECV blocks until its channel has an
 * unreceived message. Deadlock when stages are left blocked. */
static bool check_deadlock(const pc_schedule *s, GError **error) {
  const int P = s->nstages, nch = 2 * s->nxfers;
  int *pc = g_new0(int, P);
  int *sent = g_new0(int, MAX(nch, 1)), *recvd = g_new0(int, MAX(nch, 1));
  int *waiter = g_new(int, MAX(nch, 1));
  int *work = g_new(int, P);
  int nwork = 0;
  for (int ch = 0; ch < nch; ch++)
    waiter[ch] = -1;
  for (int r = P - 1; r >= 0; r--)
    work[nwork++] = r;
  while (nwork > 0) {
    int r = work[--nwork];
    const pc_stage_ops *st = &s->stages[r];
    while (pc[r] < st->nops) {
      const pc_op *op = &st->ops[pc[r]];
      if (op->kind == PC_OP_SEND) {
        int ch = pc_op_tag(op);
        sent[ch]++;
        if (waiter[ch] >= 0) {
          work[nwork++] = waiter[ch]; /* a stage waits on one channel: at most P in the list */
          waiter[ch] = -1;
        }
      } else if (op->kind == PC_OP_RECV) {
        int ch = pc_op_tag(op);
        if (recvd[ch] == sent[ch]) {
          waiter[ch] = r;
          break;
        }
        recvd[ch]++;
      }
      pc[r]++;
    }
  }
  GString *msg = NULL;
  int nstuck = 0;
  for (int r = 0; r < P; r++) {
    if (pc[r] == s->stages[r].nops)
      continue;
    if (msg == NULL)
      msg = g_string_new("deadlock: ");
    if (nstuck < 8) {
      char buf[OPBUF];
      g_string_append_printf(msg, "%sstage %d waits at op %d %s", nstuck ? "; " : "", r, pc[r],
                             pc_op_format(&s->stages[r].ops[pc[r]], buf, sizeof buf));
    }
    nstuck++;
  }
  if (msg != NULL) {
    if (nstuck > 8)
      g_string_append_printf(msg, "; and %d more stages", nstuck - 8);
    g_set_error_literal(error, PC_ERROR, PC_ERROR_SCHEDULE, msg->str);
    g_string_free(msg, TRUE);
  }
  g_free(pc);
  g_free(sent);
  g_free(recvd);
  g_free(waiter);
  g_free(work);
  return nstuck == 0;
}

bool pc_schedule_validate(const pc_schedule *sched, GError **error) {
  PC_ASSERT(sched != NULL);
  if (!check_params(sched->nstages * sched->nchunks, sched->nmicro, sched->xfers, sched->nxfers,
                    error))
    return false;
  return check_ops(sched, error) && check_compute(sched, error) &&
         check_messages(sched, error) && check_deadlock(sched, error);
}
