/* stage.c — one rank's stage of a pipeline-parallel training run (stage.h), as `train` and
 * `grid` run it.
 *
 * Every rank builds the same model, partition and schedule, then only its own stage's runtime
 * (common/runtime.h; with an interleaved schedule one per model chunk the rank holds), and runs
 * its stage's op list (common/schedule.h) every iteration: FWD and BWD through the chunk's
 * layers with real kernels, SEND as MPI_Isend from its buffers, RECV as a wait on an MPI_Irecv
 * posted as early as its buffer is free, OPT as the SGD step of every chunk.
 * Ranks are laid out replica-major: rank = replica * P + stage; with --replicas D > 1 each stage
 * all-reduces its gradients over its D replicas before the step (data parallelism).
 *
 * One process (no mpirun) is the one-stage pipeline: the reference run that every pipelined
 * run with the same microbatching must reproduce bit for bit. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "allreduce.h"
#include "checkpoint.h"
#include "data.h"
#include "error.h"
#include "files.h"
#include "exec.h"
#include "timing.h"
#include "job.h"
#include "model.h"
#include "partition.h"
#include "runtime.h"
#include "schedule.h"
#include "stage.h"
#include "trace.h"
#include "weights.h"

/* ------------------------------------------------------------------------------------------ */
/* Messages */

static size_t xfer_count(const stage_run *r, int x) {
  return r->mb * (size_t)r->sched->xfers[x].bytes / sizeof(float);
}

static float *op_buffer(stage_run *r, const pc_op *op) {
  int slot = op->mb % r->slots[op->chunk];
  return op->grad ? pc_runtime_xfer_grad(r->rts[op->chunk], op->xfer, slot)
                  : pc_runtime_xfer_act(r->rts[op->chunk], op->xfer, slot);
}

static int peer_rank(const stage_run *r, const pc_op *op) {
  return r->replica * r->P + op->peer;
}

/* Posts the message of SEND or RECV op OP from or into its buffer; REQ gets the request. */
static void post_message(stage_run *r, const pc_op *op, MPI_Request *req) {
  float *buf = op_buffer(r, op);
  int n = (int)xfer_count(r, op->xfer);
  if (op->kind == PC_OP_SEND)
    MPI_Isend(buf, n, MPI_FLOAT, peer_rank(r, op), pc_op_tag(op), MPI_COMM_WORLD, req);
  else
    MPI_Irecv(buf, n, MPI_FLOAT, peer_rank(r, op), pc_op_tag(op), MPI_COMM_WORLD, req);
}

static void post_recv(stage_run *r, int i) { post_message(r, &r->ops->ops[i], &r->req[i]); }

/* Waits for a request; false when --timeout passed first. Every wait of the training loop goes
 * through here, collectives included. */
static bool wait_within(const stage_run *r, MPI_Request *req) {
  if (*req == MPI_REQUEST_NULL) return true;
  if (r->o->timeout <= 0) {
    MPI_Wait(req, MPI_STATUS_IGNORE);
    return true;
  }
  double start = MPI_Wtime();
  for (int done = 0;;) {
    MPI_Test(req, &done, MPI_STATUS_IGNORE);
    if (done) return true;
    if (MPI_Wtime() - start > r->o->timeout) return false;
  }
}

/* A wait that lasted too long ends the job, saying what it waited for. */
G_GNUC_NORETURN static void timed_out(const stage_run *r, const char *what) {
  pc_exec_die("stage %d timed out after %g s waiting %s", r->stage, r->o->timeout, what);
}

static void wait_timed(const stage_run *r, MPI_Request *req, const char *what) {
  if (!wait_within(r, req)) timed_out(r, what);
}

static void wait_for(void *r, MPI_Request *req, const char *what) {
  wait_timed(r, req, what);
}

/* Large sends in flight, which the communication thread keeps moving (progress.c) until the
 * stage sees them complete: between two layers, or in a wait. */
static void untrack_send(stage_run *r, int k) {
  r->sending[k] = r->sending[--r->nsending];
  pc_progress_sending(-1);
}

static void between_layers(void *data) {
  stage_run *r = data;
  pc_progress_poke(NULL);
  for (int k = 0; k < r->nsending;) {
    int done = 0;
    MPI_Test(&r->req[r->sending[k]], &done, MPI_STATUS_IGNORE);
    if (done) untrack_send(r, k);
    else k++;
  }
}

/* Waits for the request of op i (the op is described only if the wait times out). */
static void wait_op(stage_run *r, int i) {
  bool ok = wait_within(r, &r->req[i]);
  for (int k = 0; k < r->nsending; k++)
    if (r->sending[k] == i) untrack_send(r, k);
  if (ok) return;
  char op[96], what[128];
  pc_op_format(&r->ops->ops[i], op, sizeof op);
  snprintf(what, sizeof what, "at op %d (%s)", i, op);
  timed_out(r, what);
}

/* OP's microbatch is in slot SLOT of CHUNK. */
static bool in_slot(const stage_run *r, const pc_op *op, int chunk, int slot) {
  return op->chunk == chunk && op->mb % r->slots[chunk] == slot;
}

/* Sends still reading the buffers of `slot` of CHUNK must finish before a FWD or BWD rewrites
 * them. */
static void finish_sends(stage_run *r, int upto, int chunk, int slot) {
  for (int i = 0; i < upto; i++) {
    const pc_op *op = &r->ops->ops[i];
    if (op->kind == PC_OP_SEND && r->req[i] != MPI_REQUEST_NULL && in_slot(r, op, chunk, slot))
      wait_op(r, i);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* One iteration */

/* A NaN or infinity in a layer's output (pc_runtime_forward checks each) ends the job, naming
 * the first layer that made one. */
static void check_outputs(stage_run *r, int bad, int mb, int iter) {
  if (bad >= 0)
    pc_exec_die("stage %d, layer '%s': a NaN or infinite output in microbatch %d of iteration "
                "%d; training diverged (lower --lr?) or the input or weights hold NaN", r->stage,
                r->model->layers[bad].name, mb, iter + 1);
}

static int64_t sample_index(const stage_run *r, int iter, int mb) {
  size_t per_replica = r->mb * (size_t)r->sched->nmicro;
  return (int64_t)iter * (int64_t)(per_replica * (size_t)r->D) +
         (int64_t)(r->replica * per_replica + (size_t)mb * r->mb);
}

typedef struct {
  double loss_sum, correct;
} iter_stats;

/* The stage's last backward with data parallelism on the communication thread: each gradient
 * bucket is queued for its all-reduce as soon as its layers are done. */
static void backward_bucketed(stage_run *r, int slot, float scale) {
  float *grads = pc_runtime_grads(r->rt, &(size_t){0});
  int first = r->part->first[r->stage], end = r->part->first[r->stage + 1], k = 0;
  pc_runtime_backward_begin(r->rt, slot, scale);
  for (int i = end; i-- > first;) {
    pc_runtime_backward_layer(r->rt, i, slot);
    between_layers(r);
    if (k < r->nbuckets && r->bucket_start[k] == i) {
      size_t lo = pc_runtime_param_offset(r->rt, i),
             hi = pc_runtime_param_offset(r->rt, k ? r->bucket_start[k - 1] : end);
      pc_progress_reduce(grads + lo, hi - lo, r->stage_comm, r->o->timeout, r->stage);
      k++;
    }
  }
}

/* torch.nn.utils.clip_grad_norm_'s factor for the gradients of every stage of this replica
 * (all-reduced already among replicas, so the same on each): each layer's sum of squares from
 * the rank that holds it, all of them on every rank of the pipeline, added up in layer order,
 * so that any partition finds the one-process run's norm bit for bit. */
static float clip_scale(stage_run *r, int iter) {
  int L = r->model->nlayers;
  double *sq = g_new0(double, (size_t)L), total = 0;
  for (int c = 0; c < r->C; c++)
    for (int l = r->part->first[r->vstages[c]]; l < r->part->first[r->vstages[c] + 1]; l++)
      sq[l] = pc_runtime_grad_sum_squares(r->rts[c], l);
  if (r->P > 1) { /* each entry is one rank's, the others' 0: the sum is exact */
    MPI_Request q;
    MPI_Iallreduce(MPI_IN_PLACE, sq, L, MPI_DOUBLE, MPI_SUM, r->pipe_comm, &q);
    wait_timed(r, &q, "for the other stages' gradient norms");
  }
  for (int l = 0; l < L; l++) total += sq[l];
  g_free(sq);
  double norm = sqrt(total), coef = r->o->clip / (norm + 1e-6);
  if (!isfinite(norm))
    pc_exec_die("stage %d: the gradients' norm is not finite in iteration %d; training "
                "diverged (lower --lr?)", r->stage, iter + 1);
  return (float)fmin(coef, 1.0);
}

/* The pipeline rank and chunk that hold LAYER. */
static void holder(const stage_run *r, int layer, int *rank, int *chunk) {
  int v = pc_partition_stage_of(r->part, layer);
  *rank = pc_schedule_rank_of(r->sched, v);
  *chunk = pc_schedule_chunk_of(r->sched, v);
}

/* Floats of the tied weight's gradient this rank receives from another (0: none). */
static size_t tie_floats(const stage_run *r) {
  size_t n;
  int l = pc_model_tied(r->model, &n), pl, cl, po, co;
  if (l < 0) return 0;
  holder(r, l, &pl, &cl);
  holder(r, r->model->layers[l].tie, &po, &co);
  return pl != po && (pl == r->stage || po == r->stage) ? n : 0;
}

#define TIE_PIECE ((size_t)1 << 28) /* floats per message of the tied weight's exchange */

/* Both gradients of the tied weight become their sum (after the replicas' all-reduce, so the
 * same on every replica): within the rank when it holds both layers, else by an exchange with
 * the rank that holds the other, each adding the other's to its own (a sum of two is the same
 * bits either way round). */
static void tie_grads(stage_run *r) {
  size_t n, m;
  int l = pc_model_tied(r->model, &n), pl, cl, po, co;
  if (l < 0) return;
  int owner = r->model->layers[l].tie;
  holder(r, l, &pl, &cl);
  holder(r, owner, &po, &co);
  if (pl == r->stage && po == r->stage) {
    pc_tie_sum(pc_runtime_weight_grad(r->rts[co], owner, &m),
               pc_runtime_weight_grad(r->rts[cl], l, &m), n);
  } else if (pl == r->stage || po == r->stage) {
    bool head = pl == r->stage;
    float *g = pc_runtime_weight_grad(r->rts[head ? cl : co], head ? l : owner, &m);
    for (size_t at = 0; at < n; at += TIE_PIECE) { /* MPI counts are ints */
      int k = (int)MIN(TIE_PIECE, n - at);
      MPI_Request q[2];
      MPI_Irecv(r->tie_buf + at, k, MPI_FLOAT, head ? po : pl, 0, r->pipe_comm, &q[0]);
      MPI_Isend(g + at, k, MPI_FLOAT, head ? po : pl, 0, r->pipe_comm, &q[1]);
      wait_timed(r, &q[0], "for the other half of a tied weight's gradient");
      wait_timed(r, &q[1], "to send a tied weight's gradient");
    }
    pc_accumulate(g, r->tie_buf, n);
  }
}

static void run_iteration(stage_run *r, int iter, const pc_optim *opt, iter_stats *st) {
  const pc_stage_ops *so = r->ops;
  float scale = 1.0f / (float)(r->mb * (size_t)r->sched->nmicro * (size_t)r->D);
  double t0 = MPI_Wtime();
  *st = (iter_stats){0};
  for (int i = 0; i < so->nops; i++) r->req[i] = MPI_REQUEST_NULL;
  for (int ch = 0; ch < r->nchan; ch++) r->chan_next[ch] = r->chan_off[ch];
  for (int i = 0; i < so->nops; i++) {
    /* Ops 0..i-1 are done: post the receives whose buffers are free now, each channel's in its
     * order (MPI matches them so), the channels independently: a receive that waits for its
     * buffer holds up no other channel's (with chunks, the list mixes them). */
    for (int ch = 0; ch < r->nchan; ch++)
      while (r->chan_next[ch] < r->chan_off[ch + 1] &&
             r->post_after[r->chan_recvs[r->chan_next[ch]]] < i)
        post_recv(r, r->chan_recvs[r->chan_next[ch]++]);
    const pc_op *op = &so->ops[i];
    int c = op->chunk, slot = op->mb >= 0 ? op->mb % r->slots[c] : 0;
    pc_runtime *rt = r->rts[c];
    r->spans[i].start = MPI_Wtime() - t0;
    switch ((pc_op_kind)op->kind) {
    case PC_OP_FWD:
      finish_sends(r, i, c, slot);
      if (r->reads_data[c] || r->has_loss[c]) {
        int64_t first = sample_index(r, iter, op->mb);
        float *x = pc_runtime_data(rt, slot);
        int32_t *labels = pc_runtime_labels(rt, slot);
        pc_dataset_get(r->data, first, r->mb, x, labels);
      }
      check_outputs(r, pc_runtime_forward(rt, slot, true), op->mb, iter);
      if (r->has_loss[c]) {
        double loss = pc_runtime_loss_sum(rt, slot);
        st->loss_sum += loss;
        st->correct += pc_runtime_correct(rt, slot);
      }
      break;
    case PC_OP_BWD:
      finish_sends(r, i, c, slot);
      if (r->sched->split_backward) pc_runtime_backward_input(rt, slot, scale);
      else if (i == r->last_bwd && r->nbuckets > 0) backward_bucketed(r, slot, scale);
      else pc_runtime_backward(rt, slot, scale);
      break;
    case PC_OP_BWD_W:
      pc_runtime_backward_weights(rt, slot);
      break;
    case PC_OP_SEND:
      post_message(r, op, &r->req[i]);
      if (xfer_count(r, op->xfer) * sizeof(float) >= PC_PROGRESS_SEND_BYTES) {
        r->sending[r->nsending++] = i;
        pc_progress_sending(1);
      }
      break;
    case PC_OP_RECV:
      wait_op(r, i);
      break;
    case PC_OP_OPT: {
      if (r->nbuckets > 0) pc_progress_reduced();
      for (int k = 0; k < r->C && r->nbuckets == 0 && r->D > 1; k++) {
        size_t n;
        float *g = pc_runtime_grads(r->rts[k], &n);
        pc_ring_allreduce(g, n, r->stage_comm, wait_for, r, NULL);
      }
      tie_grads(r);
      pc_optim step = *opt;
      if (r->o->clip > 0) step.grad_scale = clip_scale(r, iter);
      for (int k = 0; k < r->C; k++) { /* every chunk's step, in chunk order */
        int bad = pc_runtime_step(r->rts[k], &step);
        if (bad >= 0)
          pc_exec_die("stage %d, layer '%s': a NaN or infinite gradient in iteration %d; "
                      "training diverged (lower --lr?)", r->stage, r->model->layers[bad].name,
                      iter + 1);
      }
      break;
    }
    default:
      PC_ASSERT(!"op kind");
    }
    r->spans[i].end = MPI_Wtime() - t0;
  }
  for (int i = 0; i < so->nops; i++) wait_op(r, i);
}

/* ------------------------------------------------------------------------------------------ */
/* Evaluation */

/* Waits for the sends still in flight (PENDING, N of them; op indices into the list's REQ) from
 * chunk C's slot SLOT, whose buffers the next forward overwrites; keeps the others. */
static int wait_slot_sends(stage_run *r, const pc_stage_ops *so, MPI_Request *req, int *pending,
                           int n, int c, int slot) {
  int kept = 0;
  for (int k = 0; k < n; k++) {
    if (in_slot(r, &so->ops[pending[k]], c, slot))
      wait_timed(r, &req[pending[k]], "to send an evaluation's activations");
    else
      pending[kept++] = pending[k];
  }
  return kept;
}

void pc_stage_evaluate(stage_run *r, double result[4]) {
  const pc_stage_ops *so = &r->eval->stages[r->stage];
  MPI_Request *req = g_new(MPI_Request, (size_t)MAX(so->nops, 1)), q;
  int *pending = g_new(int, (size_t)MAX(so->nops, 1)), npending = 0;
  iter_stats st = {0};
  MPI_Ibarrier(MPI_COMM_WORLD, &q);
  wait_timed(r, &q, "for the other ranks to start the evaluation");
  double t0 = MPI_Wtime();
  for (int i = 0; i < so->nops; i++) {
    const pc_op *op = &so->ops[i];
    int c = op->chunk, slot = op->mb % r->slots[c];
    pc_runtime *rt = r->rts[c];
    req[i] = MPI_REQUEST_NULL;
    if (op->kind == PC_OP_RECV) {
      post_message(r, op, &req[i]);
      wait_timed(r, &req[i], "for an evaluation's activations");
    } else if (op->kind == PC_OP_SEND) {
      post_message(r, op, &req[i]);
      pending[npending++] = i;
    } else { /* FWD */
      npending = wait_slot_sends(r, so, req, pending, npending, c, slot);
      if (r->reads_data[c] || r->has_loss[c])
        pc_dataset_get(r->eval_data, ((int64_t)op->mb * r->D + r->replica) * (int64_t)r->mb,
                       r->mb, pc_runtime_data(rt, slot), pc_runtime_labels(rt, slot));
      int bad = pc_runtime_forward(rt, slot, false);
      if (bad >= 0)
        pc_exec_die("stage %d, layer '%s': a NaN or infinite output in the evaluation's "
                    "microbatch %d", r->stage, r->model->layers[bad].name, op->mb);
      if (r->has_loss[c]) {
        st.loss_sum += pc_runtime_loss_sum(rt, slot);
        st.correct += pc_runtime_correct(rt, slot);
      }
    }
  }
  for (int k = 0; k < npending; k++)
    wait_timed(r, &req[pending[k]], "to send an evaluation's activations");
  double dt = MPI_Wtime() - t0, mine[3] = {st.loss_sum, (double)st.correct, dt}, total[3];
  MPI_Ireduce(mine, total, 2, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD, &q);
  wait_timed(r, &q, "for the evaluation's losses");
  MPI_Ireduce(&mine[2], &total[2], 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD, &q);
  wait_timed(r, &q, "for the evaluation's times");
  double samples = (double)r->eval->nmicro * (double)r->mb * r->D;
  if (r->rank == 0) {
    result[0] = total[0] / samples;
    result[1] = total[1] / samples;
    result[2] = samples;
    result[3] = total[2];
  }
  g_free(req);
  g_free(pending);
}

/* ------------------------------------------------------------------------------------------ */
/* Set-up */

/* RECV op i may be posted once the previous microbatch using its slot has finished BWD (an
 * activation in a split backward: its BWD_W). */
static void plan_receives(stage_run *r) {
  const pc_stage_ops *so = r->ops;
  r->post_after = g_new(int, (size_t)so->nops);
  for (int i = 0; i < so->nops; i++) {
    const pc_op *op = &so->ops[i];
    r->post_after[i] = -1;
    int slots = r->slots[op->chunk];
    if (op->kind != PC_OP_RECV || op->mb < slots) continue;
    /* a split backward keeps the slot's activations (not the gradients it received) until the
     * weight gradients */
    int prev = pc_schedule_find_op(r->sched, r->stage,
                                   r->sched->split_backward && !op->grad ? PC_OP_BWD_W : PC_OP_BWD,
                                   op->mb - slots, op->chunk, false, -1);
    PC_ASSERT(prev >= 0 && prev < i);
    r->post_after[i] = prev;
  }
  r->nchan = 2 * r->sched->nxfers;
  r->chan_off = g_new0(int, (size_t)r->nchan + 1);
  r->chan_next = g_new0(int, (size_t)MAX(r->nchan, 1));
  for (int i = 0; i < so->nops; i++)
    if (so->ops[i].kind == PC_OP_RECV) r->chan_off[pc_op_tag(&so->ops[i]) + 1]++;
  for (int ch = 0; ch < r->nchan; ch++) r->chan_off[ch + 1] += r->chan_off[ch];
  r->chan_recvs = g_new(int, (size_t)MAX(r->chan_off[r->nchan], 1));
  int *fill = g_memdup2(r->chan_off, sizeof(int) * (size_t)MAX(r->nchan, 1));
  for (int i = 0; i < so->nops; i++)
    if (so->ops[i].kind == PC_OP_RECV) r->chan_recvs[fill[pc_op_tag(&so->ops[i])]++] = i;
  g_free(fill);
}

/* The shortest decimal form of V that reads back as V, into BUF[32]. */
static const char *shortest(char buf[32], double v) {
  for (int digits = 1; digits <= 17; digits++) {
    char format[8];
    snprintf(format, sizeof format, "%%.%dg", digits);
    g_ascii_formatd(buf, 32, format, v);
    if (g_ascii_strtod(buf, NULL) == v) break;
  }
  return buf;
}

static bool unset(double v) { return v == PC_EXEC_UNSET_REAL; }

static bool cosine(const train_opts *o) {
  return o->lr_schedule && strcmp(o->lr_schedule, "cosine") == 0;
}

/* The optimizer's own defaults where the flags were not given (PC_EXEC_UNSET_REAL): SGD's
 * momentum 0.9 and weight decay 0, AdamW's weight decay 0.01 (torch.optim.AdamW's). */
static double momentum_of(const train_opts *o) { return unset(o->momentum) ? 0.9 : o->momentum; }

static double weight_decay_of(const train_opts *o, pc_optim_kind kind) {
  return !unset(o->weight_decay) ? o->weight_decay : kind == PC_OPTIM_ADAMW ? 0.01 : 0;
}

void pc_stage_copy_optim(train_opts *to, const train_opts *from) {
  to->optimizer = from->optimizer, to->lr_schedule = from->lr_schedule;
  to->lr = from->lr, to->warmup_iters = from->warmup_iters;
  to->momentum = from->momentum, to->weight_decay = from->weight_decay;
  to->beta1 = from->beta1, to->beta2 = from->beta2, to->eps = from->eps, to->clip = from->clip;
}

bool pc_stage_check_optim(const train_opts *o, GError **error) {
  const struct { const char *flag, *need; double v; bool ok; } reals[] = {
    {"--lr", "a finite number above 0", o->lr, o->lr > 0 && isfinite(o->lr)},
    {"--momentum", "at least 0 and below 1", o->momentum,
     unset(o->momentum) || (o->momentum >= 0 && o->momentum < 1)},
    {"--weight-decay", "a finite number of at least 0", o->weight_decay,
     unset(o->weight_decay) || (o->weight_decay >= 0 && isfinite(o->weight_decay))},
    {"--beta1", "at least 0 and below 1", o->beta1, o->beta1 >= 0 && o->beta1 < 1},
    {"--beta2", "at least 0 and below 1", o->beta2, o->beta2 >= 0 && o->beta2 < 1},
    {"--eps", "a finite number above 0", o->eps, o->eps > 0 && isfinite(o->eps)},
    {"--clip-grad-norm", "a finite number above 0 (or 0: no clipping)", o->clip,
     o->clip >= 0 && isfinite(o->clip)},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(reals); i++) {
    if (!reals[i].ok) {
      g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "%s must be %s, got %g", reals[i].flag,
                  reals[i].need, reals[i].v);
      return false;
    }
  }
  pc_optim_kind kind;
  if (!pc_job_parse_optimizer(o->optimizer, &kind, error)) return false;
  if (o->lr_schedule && strcmp(o->lr_schedule, "constant") && strcmp(o->lr_schedule, "cosine")) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "--lr-schedule '%s': expected constant or cosine", o->lr_schedule);
    return false;
  }
  if (kind == PC_OPTIM_ADAMW && !unset(o->momentum)) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "--momentum is SGD's; AdamW's moments decay by --beta1 and --beta2");
    return false;
  }
  bool adam_flags = o->beta1 != 0.9 || o->beta2 != 0.999 || o->eps != 1e-8;
  if (kind == PC_OPTIM_SGD && adam_flags) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "--beta1, --beta2 and --eps are AdamW's: give --optimizer adamw");
    return false;
  }
  if (o->warmup_iters < 0 || o->warmup_iters > o->iters) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--warmup-iters must be 0 to --iters (%d), got %d",
                o->iters, o->warmup_iters);
    return false;
  }
  return true;
}

pc_optim pc_stage_optim(const train_opts *o, int iter) {
  pc_optim_kind kind = PC_OPTIM_SGD;
  (void)pc_job_parse_optimizer(o->optimizer, &kind, NULL); /* checked at set-up */
  /* linear warm-up to --lr over --warmup-iters steps, then constant or a half cosine to 0 at
   * --iters (as torch's LambdaLR with that factor, stepped after each optimizer step) */
  double f = 1;
  int W = o->warmup_iters;
  if (iter < W) f = (double)(iter + 1) / W;
  else if (cosine(o)) f = 0.5 * (1 + cos(G_PI * (double)(iter - W) / MAX(1, o->iters - W)));
  return (pc_optim){.kind = kind, .lr = o->lr * f, .weight_decay = weight_decay_of(o, kind),
                    .momentum = momentum_of(o), .beta1 = o->beta1, .beta2 = o->beta2,
                    .eps = o->eps, .step = (int64_t)iter + 1, .grad_scale = 1};
}

void pc_stage_add_optim_entries(GOptionContext *ctx, train_opts *o) {
  GOptionEntry entries[] = {
    {"optimizer", 0, 0, G_OPTION_ARG_STRING, &o->optimizer,
     "sgd (default: with momentum, as torch.optim.SGD) or adamw (torch.optim.AdamW)", "NAME"},
    {"lr", 0, 0, G_OPTION_ARG_DOUBLE, &o->lr, "Learning rate (0.01), the peak of a schedule", "X"},
    {"lr-schedule", 0, 0, G_OPTION_ARG_STRING, &o->lr_schedule,
     "constant (default) or cosine: a half cosine from --lr to 0 at the last iteration", "NAME"},
    {"warmup-iters", 0, 0, G_OPTION_ARG_INT, &o->warmup_iters,
     "Iterations of linear learning-rate warm-up before the schedule (0)", "N"},
    {"momentum", 0, 0, G_OPTION_ARG_DOUBLE, &o->momentum, "SGD momentum (0.9)", "X"},
    {"beta1", 0, 0, G_OPTION_ARG_DOUBLE, &o->beta1, "AdamW's first-moment decay (0.9)", "X"},
    {"beta2", 0, 0, G_OPTION_ARG_DOUBLE, &o->beta2, "AdamW's second-moment decay (0.999)", "X"},
    {"eps", 0, 0, G_OPTION_ARG_DOUBLE, &o->eps, "AdamW's epsilon (1e-8)", "X"},
    {"weight-decay", 0, 0, G_OPTION_ARG_DOUBLE, &o->weight_decay,
     "SGD: L2 penalty (0); AdamW: decoupled weight decay (0.01)", "X"},
    {"clip-grad-norm", 0, 0, G_OPTION_ARG_DOUBLE, &o->clip,
     "Scale the gradients so that their norm over all stages is at most X (0: no clipping)",
     "X"},
    G_OPTION_ENTRY_NULL,
  };
  g_option_context_add_main_entries(ctx, entries, NULL); /* GLib copies the entries */
}

char *pc_stage_optim_text(const train_opts *o) {
  pc_optim p = pc_stage_optim(o, 0); /* its kind and settings; the rate is --lr's */
  char lr[32], a[32], b[32], c[32], wd[32];
  GString *s = g_string_new(NULL);
  shortest(lr, o->lr);
  shortest(wd, p.weight_decay);
  if (p.kind == PC_OPTIM_SGD)
    g_string_printf(s, "lr=%s momentum=%s weight_decay=%s", lr, shortest(a, p.momentum), wd);
  else
    g_string_printf(s, "optimizer=adamw lr=%s beta1=%s beta2=%s eps=%s weight_decay=%s", lr,
                    shortest(a, p.beta1), shortest(b, p.beta2), shortest(c, p.eps), wd);
  if (o->warmup_iters > 0) g_string_append_printf(s, " warmup_iters=%d", o->warmup_iters);
  if (cosine(o)) /* its end: the run's last iteration */
    g_string_append_printf(s, " lr_schedule=cosine iters=%d", o->iters);
  if (o->clip > 0) g_string_append_printf(s, " clip_grad_norm=%s", shortest(a, o->clip));
  return g_string_free(s, FALSE);
}

static bool check_numbers(const train_opts *o, GError **error) {
  const struct { const char *flag; int v, min; } ints[] = {
    {"--iters", o->iters, 1}, {"--warmup", o->warmup, 0},
    {"--stages", o->stages == PC_JOB_UNSET ? 1 : o->stages, 1},
    {"--print-every", o->print_every, 1}, {"--checkpoint-every", o->checkpoint_every, 0},
    {"--profile-reps", o->profile_reps, 1},
    {"--chunks", o->chunks == PC_JOB_UNSET ? 1 : o->chunks, 1},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(ints); i++) {
    if (ints[i].v < ints[i].min) {
      g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "%s must be at least %d, got %d", ints[i].flag,
                  ints[i].min, ints[i].v);
      return false;
    }
  }
  if (o->profile_reps > PC_EXEC_MAX_REPS) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--profile-reps must be at most %d, got %d",
                PC_EXEC_MAX_REPS, o->profile_reps);
    return false;
  }
  if (o->warmup >= o->iters) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "--warmup %d leaves no timed iteration of --iters %d", o->warmup, o->iters);
    return false;
  }
  if (o->timeout < 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "--timeout must be a number of seconds of at least 0, got %g", o->timeout);
    return false;
  }
  if (o->eval_every < 0 || o->eval_samples < 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "%s must be at least 0, got %d",
                o->eval_every < 0 ? "--eval-every" : "--eval-samples",
                o->eval_every < 0 ? o->eval_every : o->eval_samples);
    return false;
  }
  if (o->eval_samples > 0 && o->eval_every == 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "--eval-samples %d goes with --eval-every K (when to evaluate)", o->eval_samples);
    return false;
  }
  if (o->checkpoint_every > 0 && o->checkpoint == NULL) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "--checkpoint-every %d needs --checkpoint DIR (where to write them)",
                o->checkpoint_every);
    return false;
  }
  if (!pc_job_check_batch(o->batch, o->replicas, o->micro, error)) return false;
  return pc_stage_check_optim(o, error);
}

/* The model, partition and schedule, identical on every rank; errors are input errors. */
static bool setup(stage_run *r, const train_opts *o, const char *model_path,
                  GError **error) {
  int size = pc_exec_size();
  if (!check_numbers(o, error)) return false;
  /* output paths before any work, so a typo does not cost a run */
  const struct { const char *flag, *path; } outs[] = {
    {"--save", o->save}, {"--times", o->times}, {"--summary", o->summary},
    {"--trace", o->trace}, {"--profile-samples", o->profile_samples},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(outs); i++)
    if (outs[i].path && !pc_output_check(outs[i].flag, outs[i].path, error)) return false;
  /* each output its own file, none of them the model (--save onto --load updates the weights) */
  const struct { const char *flag, *path; } ins[] = {{"the model file", model_path}};
  for (size_t i = 0; i < G_N_ELEMENTS(outs); i++) {
    for (size_t j = i + 1; outs[i].path && j < G_N_ELEMENTS(outs); j++) {
      if (outs[j].path && pc_path_same(outs[i].path, outs[j].path)) {
        g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "%s and %s name one file, %s: give each "
                    "its own", outs[i].flag, outs[j].flag, outs[j].path);
        return false;
      }
    }
    for (size_t j = 0; outs[i].path && j < G_N_ELEMENTS(ins); j++) {
      if (ins[j].path && pc_path_same(outs[i].path, ins[j].path)) {
        g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "%s %s is %s: writing it would lose it",
                    outs[i].flag, outs[i].path, ins[j].flag);
        return false;
      }
    }
  }
  if (o->load && o->resume) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--load %s and --resume %s: a resumed run "
                "starts from its checkpoint's weights; give one of them", o->load, o->resume);
    return false;
  }
  if (o->checkpoint && !pc_checkpoint_check_dir(o->checkpoint, error)) return false;
  r->model = pc_model_load(model_path, o->sets, error);
  if (r->model == NULL) return false;
  if (pc_model_loss_layer(r->model) < 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "%s has no loss: its last layer must be softmax_xent to train", model_path);
    return false;
  }
  pc_job_request req = {.partition = o->partition, .by = o->by,
                        .stages = o->stages == PC_JOB_UNSET ? 0 : o->stages,
                        .schedule = o->schedule,
                        .chunks = o->chunks == PC_JOB_UNSET ? 0 : o->chunks,
                        .zb_costs = o->zb_costs, .batch = o->batch,
                        .micro = o->micro, .replicas = o->replicas, .ranks = size};
  pc_job *job = pc_job_resolve(r->model, &req, error);
  if (job == NULL) return false;
  (void)pc_job_parse_optimizer(o->optimizer, &r->optim, NULL);
  r->D = job->replicas;
  r->P = job->nstages;
  r->part = g_steal_pointer(&job->part);
  r->sched = g_steal_pointer(&job->sched);
  pc_job_free(job);
  return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Weights: one file for the whole model, gathered on rank 0 */

static char *pack_names(int n, const char **names) {
  GString *s = g_string_new(NULL);
  for (int i = 0; i < n; i++) g_string_append_printf(s, "%s\n", names[i]);
  return g_string_free(s, FALSE);
}

/* Every tensor of the rank's chunks, in chunk order (g_free the arrays). */
static int rank_tensors(stage_run *r, const char ***names, float ***data, size_t **counts) {
  int n = 0;
  for (int c = 0; c < r->C; c++) n += pc_runtime_tensors(r->rts[c], false, NULL, NULL, NULL);
  *names = g_new(const char *, (size_t)MAX(n, 1));
  *data = g_new(float *, (size_t)MAX(n, 1));
  *counts = g_new(size_t, (size_t)MAX(n, 1));
  for (int c = 0, k = 0; c < r->C; c++)
    k += pc_runtime_tensors(r->rts[c], false, *names + k, *data + k, *counts + k);
  return n;
}

/* The layer that tensor NAME ("LAYER.PARAM") belongs to. */
static int tensor_layer(const pc_model *m, const char *name) {
  const char *dot = strrchr(name, '.');
  char *layer = g_strndup(name, dot ? (size_t)(dot - name) : strlen(name));
  int i = pc_model_find(m, layer);
  g_free(layer);
  return i;
}

typedef struct {
  int layer, at;
} tensor_key;

static int cmp_tensor_key(const void *a, const void *b) {
  const tensor_key *x = a, *y = b;
  return x->layer != y->layer ? (x->layer > y->layer) - (x->layer < y->layer)
                              : (x->at > y->at) - (x->at < y->at);
}

/* Puts the tensors gathered rank by rank (chunks interleaved across ranks) in the model's layer
 * order, the order of the one-process run's file. */
static void model_order(const pc_model *m, GPtrArray *names, GPtrArray *data, GArray *counts) {
  guint n = names->len;
  tensor_key *k = g_new(tensor_key, MAX(n, 1));
  for (guint i = 0; i < n; i++)
    k[i] = (tensor_key){tensor_layer(m, names->pdata[i]), (int)i};
  qsort(k, n, sizeof *k, cmp_tensor_key);
  gpointer *nm = g_memdup2(names->pdata, sizeof(gpointer) * MAX(n, 1));
  gpointer *dt = g_memdup2(data->pdata, sizeof(gpointer) * MAX(n, 1));
  size_t *ct = g_memdup2(counts->data, sizeof(size_t) * MAX(n, 1));
  for (guint i = 0; i < n; i++) {
    names->pdata[i] = nm[k[i].at];
    data->pdata[i] = dt[k[i].at];
    g_array_index(counts, size_t, i) = ct[k[i].at];
  }
  g_free(nm);
  g_free(dt);
  g_free(ct);
  g_free(k);
}

bool pc_stage_save_weights(stage_run *r, const char *path, GError **error) {
  const char **names;
  float **data;
  size_t *counts;
  int n = rank_tensors(r, &names, &data, &counts);
  bool ok = true;
  if (r->replica == 0 && r->stage > 0) { /* send to rank 0: names, counts, data */
    char *packed = pack_names(n, names);
    int len = (int)strlen(packed) + 1;
    MPI_Send(&n, 1, MPI_INT, 0, 100, MPI_COMM_WORLD);
    MPI_Send(&len, 1, MPI_INT, 0, 101, MPI_COMM_WORLD);
    MPI_Send(packed, len, MPI_CHAR, 0, 102, MPI_COMM_WORLD);
    MPI_Send(counts, n * (int)sizeof(size_t), MPI_BYTE, 0, 103, MPI_COMM_WORLD);
    for (int i = 0; i < n; i++) MPI_Send(data[i], (int)counts[i], MPI_FLOAT, 0, 104, MPI_COMM_WORLD);
    g_free(packed);
  } else if (r->rank == 0) {
    GPtrArray *all_names = g_ptr_array_new_with_free_func(g_free);
    GPtrArray *all_data = g_ptr_array_new_with_free_func(g_free);
    GArray *all_counts = g_array_new(FALSE, FALSE, sizeof(size_t));
    for (int i = 0; i < n; i++) {
      g_ptr_array_add(all_names, g_strdup(names[i]));
      g_ptr_array_add(all_data, g_memdup2(data[i], counts[i] * sizeof(float)));
      g_array_append_val(all_counts, counts[i]);
    }
    for (int s = 1; s < r->P; s++) {
      int m, len;
      MPI_Recv(&m, 1, MPI_INT, s, 100, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      MPI_Recv(&len, 1, MPI_INT, s, 101, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      char *packed = g_malloc((size_t)len);
      MPI_Recv(packed, len, MPI_CHAR, s, 102, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      size_t *c = g_new(size_t, (size_t)m);
      MPI_Recv(c, m * (int)sizeof(size_t), MPI_BYTE, s, 103, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      gchar **lines = g_strsplit(packed, "\n", -1);
      for (int i = 0; i < m; i++) {
        float *d = g_new(float, c[i]);
        MPI_Recv(d, (int)c[i], MPI_FLOAT, s, 104, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        g_ptr_array_add(all_names, g_strdup(lines[i]));
        g_ptr_array_add(all_data, d);
        g_array_append_val(all_counts, c[i]);
      }
      g_strfreev(lines);
      g_free(c);
      g_free(packed);
    }
    if (r->C > 1) model_order(r->model, all_names, all_data, all_counts);
    ok = pc_weights_save(path, r->model->name, (int)all_names->len,
                         (const char *const *)all_names->pdata, (float *const *)all_data->pdata,
                         (const size_t *)all_counts->data, NULL, error);
    g_ptr_array_unref(all_names);
    g_ptr_array_unref(all_data);
    g_array_free(all_counts, TRUE);
  }
  g_free(names);
  g_free(data);
  g_free(counts);
  return ok;
}

static bool load_weights(stage_run *r, const char *path, GError **error) {
  const char **names;
  float **data;
  size_t *counts;
  int n = rank_tensors(r, &names, &data, &counts);
  /* a one-stage run needs exactly the model's tensors; a stage reads its share of the file */
  bool ok = pc_weights_load(path, r->model->name, n, (const char *const *)names, data, counts,
                            r->P == 1, NULL, error);
  g_free(names);
  g_free(data);
  g_free(counts);
  return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* A stage's run */

bool pc_stage_all_ok(const char *cmd, bool ok, GError **error) {
  int mine = ok ? pc_exec_size() : pc_exec_rank(), first = 0;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (first == pc_exec_size()) return true;
  if (first == pc_exec_rank() && error && *error) {
    char *prefix = g_strdup_printf(PC_EXEC_PROG " %s", cmd);
    pc_error_print(prefix, (*error)->message);
    g_free(prefix);
  }
  g_clear_error(error);
  return false;
}

/* --data's training (TRAIN) or test split for the model's input and classes. */
static pc_dataset *open_data(const stage_run *r, bool train, GError **error) {
  const pc_model *m = r->model;
  return pc_model_open_data(m, r->o->data ? r->o->data : "synthetic", (uint64_t)r->o->seed, train,
                            error);
}

bool pc_stage_open(stage_run *r, const train_opts *o, const char *model_path, size_t memory,
                   GError **error) {
  r->o = o;
  if (!setup(r, o, model_path, error)) {
    /* the communicators are collective: a rank whose set-up failed (a file missing on its
     * node, say) still takes part, with no colour, before every rank agrees on the outcome */
    MPI_Comm_split(MPI_COMM_WORLD, MPI_UNDEFINED, 0, &r->stage_comm);
    MPI_Comm_split(MPI_COMM_WORLD, MPI_UNDEFINED, 0, &r->pipe_comm);
    return false;
  }
  r->rank = pc_exec_rank();
  r->stage = r->rank % r->P;
  r->replica = r->rank / r->P;
  r->mb = (size_t)(o->batch / o->replicas / o->micro);
  r->ops = &r->sched->stages[r->stage];
  r->C = r->sched->nchunks;
  MPI_Comm_split(MPI_COMM_WORLD, r->stage, r->replica, &r->stage_comm);
  MPI_Comm_split(MPI_COMM_WORLD, r->replica, r->stage, &r->pipe_comm);
  /* a runtime per chunk, with as many slots as the op list has its microbatches in flight */
  r->rts = g_new0(pc_runtime *, (size_t)r->C);
  r->slots = g_new0(int, (size_t)r->C);
  r->vstages = g_new0(int, (size_t)r->C);
  for (int c = 0; c < r->C; c++) r->vstages[c] = pc_schedule_virtual(r->sched, r->stage, c);
  r->reads_data = g_new0(bool, (size_t)r->C);
  r->has_loss = g_new0(bool, (size_t)r->C);
  pc_schedule_chunk_peaks(r->sched, r->stage, r->slots);
  bool any_data = false;
  for (int c = 0; c < r->C; c++) {
    r->slots[c] = MAX(1, r->slots[c]);
    pc_runtime_layout layout = {.split = r->sched->split_backward, .optim = r->optim};
    r->rts[c] = pc_runtime_new_layout(r->model, r->part, r->vstages[c], r->mb, r->slots[c],
                                      (uint64_t)o->seed, memory, &layout, error);
    if (r->rts[c] == NULL) return false;
    /* between two layers, a call into MPI moves this stage's messages (progress.c) */
    if (r->P * r->D > 1) pc_runtime_set_between_layers(r->rts[c], between_layers, r);
    r->reads_data[c] = pc_runtime_data(r->rts[c], 0) != NULL;
    r->has_loss[c] = pc_runtime_labels(r->rts[c], 0) != NULL;
    any_data = any_data || r->reads_data[c] || r->has_loss[c];
  }
  r->rt = r->rts[0];
  size_t tie = tie_floats(r);
  if (tie > 0) r->tie_buf = g_new(float, tie);
  if (any_data && (r->data = open_data(r, true, error)) == NULL) return false;
  if (o->eval_every > 0) { /* every rank: the size of the split makes the op lists */
    if ((r->eval_data = open_data(r, false, error)) == NULL) return false;
    int64_t n = pc_dataset_size(r->eval_data);
    if (o->eval_samples > 0) n = MIN(n, o->eval_samples);
    int micro = pc_job_eval_micro(n, r->D, r->mb, r->C, error);
    if (micro == 0) return false;
    r->eval = pc_schedule_new_forward(r->sched, micro, error);
    if (r->eval == NULL || !pc_schedule_validate(r->eval, error)) return false;
  }
  if (o->load && !load_weights(r, o->load, error)) return false;
  r->req = g_new(MPI_Request, (size_t)r->ops->nops);
  r->spans = g_new0(pc_span, (size_t)r->ops->nops);
  r->sending = g_new(int, (size_t)r->ops->nops);
  plan_receives(r);
  for (int i = 0; i < r->ops->nops; i++)
    if (r->ops->ops[i].kind == PC_OP_BWD) r->last_bwd = i;
  if (r->D > 1 && r->C == 1 && !r->sched->split_backward && pc_progress_threaded()) {
    int first = r->part->first[r->stage], end = r->part->first[r->stage + 1];
    r->bucket_start = g_new(int, (size_t)MAX(end - first, 1));
    r->nbuckets = pc_model_grad_buckets(r->model, first, end, r->bucket_start);
  }
  return true;
}

double pc_stage_iterate(stage_run *r, int iter, double sums[2]) {
  pc_optim opt = pc_stage_optim(r->o, iter);
  iter_stats st;
  MPI_Request q;
  MPI_Ibarrier(MPI_COMM_WORLD, &q);
  wait_timed(r, &q, "for the other ranks to start the iteration");
  double t0 = MPI_Wtime();
  run_iteration(r, iter, &opt, &st);
  double dt = MPI_Wtime() - t0, slowest = dt;
  MPI_Ireduce(&dt, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD, &q);
  wait_timed(r, &q, "for the other ranks to end the iteration");
  /* Only the loss stage's ranks contribute: a sum over the world reaches rank 0. */
  double mine[2] = {st.loss_sum, (double)st.correct}, total[2];
  MPI_Ireduce(mine, total, 2, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD, &q);
  wait_timed(r, &q, "for the losses of the iteration");
  if (r->rank == 0) {
    sums[0] += total[0];
    sums[1] += total[1];
  }
  return slowest;
}

double *pc_stage_print_memory(stage_run *r, FILE *f) {
  double mem[2] = {(double)pc_exec_peak_rss(), 0};
  for (int c = 0; c < r->C; c++)
    mem[1] += (double)(pc_runtime_param_bytes(r->rts[c]) + pc_runtime_activation_bytes(r->rts[c]));
  mem[1] += (double)(tie_floats(r) * sizeof(float)); /* the tied weight's other gradient */
  double *all = r->rank == 0 ? g_new(double, 2 * (size_t)pc_exec_size()) : NULL;
  MPI_Gather(mem, 2, MPI_DOUBLE, all, 2, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  if (r->rank == 0)
    for (int s = 0; s < r->P; s++)
      fprintf(f, "stage %d: peak memory %.1f MiB measured (process), %.1f MiB accounted (runtime)\n",
              s, all[2 * s] / 1048576.0, all[2 * s + 1] / 1048576.0);
  return all;
}

bool pc_stage_write_trace(stage_run *r, const char *path, GError **error) {
  bool ok = true;
  if (r->replica == 0 && r->rank != 0)
    MPI_Send(r->spans, r->ops->nops * 2, MPI_DOUBLE, 0, 200, MPI_COMM_WORLD);
  if (r->rank == 0) {
    pc_span **tl = g_new0(pc_span *, (size_t)r->P);
    tl[0] = r->spans;
    for (int s = 1; s < r->P; s++) {
      tl[s] = g_new(pc_span, (size_t)r->sched->stages[s].nops);
      MPI_Recv(tl[s], r->sched->stages[s].nops * 2, MPI_DOUBLE, s, 200, MPI_COMM_WORLD,
               MPI_STATUS_IGNORE);
    }
    ok = pc_trace_write(path, "pipecast-exec (measured)", r->sched, (const pc_span *const *)tl,
                        error);
    for (int s = 1; s < r->P; s++) g_free(tl[s]);
    g_free(tl);
  }
  return ok;
}

void pc_stage_close(stage_run *r) {
  if (r->stage_comm != MPI_COMM_NULL) MPI_Comm_free(&r->stage_comm);
  if (r->pipe_comm != MPI_COMM_NULL) MPI_Comm_free(&r->pipe_comm);
  g_free(r->req);
  g_free(r->spans);
  g_free(r->bucket_start);
  g_free(r->tie_buf);
  g_free(r->sending);
  g_free(r->post_after);
  g_free(r->chan_off);
  g_free(r->chan_recvs);
  g_free(r->chan_next);
  pc_dataset_free(r->data);
  pc_dataset_free(r->eval_data);
  pc_schedule_free(r->eval);
  for (int c = 0; r->rts && c < r->C; c++) pc_runtime_free(r->rts[c]);
  g_free(r->rts);
  g_free(r->slots);
  g_free(r->vstages);
  g_free(r->reads_data);
  g_free(r->has_loss);
  pc_schedule_free(r->sched);
  pc_partition_free(r->part);
  pc_model_free(r->model);
  *r = (stage_run){.stage_comm = MPI_COMM_NULL, .pipe_comm = MPI_COMM_NULL};
}
