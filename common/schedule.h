/* schedule.h — pipeline schedules: for each stage, the ordered list of ops it runs in one
 * training iteration.
 *
 * The op list is the contract between the executor (pipecast-exec runs each rank's list with real
 * kernels and MPI messages) and the simulator (pipecast-sim replays every list on a
 * discrete-event engine). Both consume the identical list, so their timelines can be compared op
 * by op.
 *
 * A schedule is generated from (kind, nstages, nmicro, transfers). The transfers are the
 * tensors that cross stage boundaries (pc_xfer, from pc_partition_transfers): activation of
 * transfer x travels x.src -> x.dst after x.src's forward, its gradient x.dst -> x.src after
 * x.dst's backward. A transfer may skip stages (src 0, dst 2): it is sent straight to its
 * consumer.
 *
 * Ops of one microbatch at a stage, in list order:
 *   forward:  RECV act of each incoming transfer (transfer-list order), FWD, SEND act of each
 *             outgoing transfer (transfer-list order)
 *   backward: RECV grad of each outgoing transfer, BWD, SEND grad of each incoming transfer
 * and every stage's list ends with exactly one OPT (optimizer step).
 *
 * Schedules:
 *   gpipe  fill-drain: all M forwards in microbatch order 0..M-1, then all M backwards, also in
 *          order 0..M-1 (the order 1F1B uses too, so that gradients accumulate in the same order
 *          under both schedules and in the one-process run). Every stage holds M activations.
 *   1f1b   PipeDream-flush: stage s runs w = min(P-s-1, M) warm-up forwards, then alternates one
 *          forward and one backward (FWD w+i, BWD i) until the forwards are done, then drains
 *          the remaining backwards. Backwards in order 0..M-1; at most min(P-s, M) activations in
 *          flight at stage s.
 *
 *   interleaved  Megatron-LM's interleaved 1F1B: each rank holds nchunks model chunks (virtual
 *          stages v = chunk * nstages + rank). Forwards go in groups of nstages microbatches,
 *          chunk by chunk (group g, chunk c: microbatches g P .. g P + P - 1), backwards the
 *          same with the chunks in reverse; rank r runs min((P - r - 1) 2 + (v - 1) P, M v)
 *          warm-up forwards, then one forward and one backward in turn, then the rest of the
 *          backwards. Needs M a multiple of P (as Megatron-LM) and P >= 2. A rank's chunks
 *          may pass messages to their own rank (a skip tensor from chunk c to chunk c + 1).
 *   zb-h1  zero bubble, handcrafted 1 (Qi et al., 2024): BWD is the input gradient only and a
 *          later BWD_W the weight gradient (split_backward; the runtime keeps each fc and conv
 *          layer's output gradient in the slot for it). Made by list scheduling at unit
 *          costs: a free rank runs a ready BWD, else a forward while fewer than min(P, M)
 *          microbatches are in flight (1F1B's peak, on its first rank), else its oldest pending
 *          BWD_W; so the gradients travel back without waiting for weight gradients, which
 *          fill the waits. At F = B = W the iteration is the paper's (3 M + P - 1) F for
 *          M <= P and a few F more beyond, against 1F1B's 3 (M + P - 1) F.
 *   zb-v   zero bubble in a V: two chunks per rank, virtual stage r and 2 P - 1 - r (vshape),
 *          so each rank holds an early and a late part of the model; BWD and BWD_W split; the
 *          same list scheduling, with a rank's chunk activations in flight held to 2 P (1F1B's
 *          peak on its first rank, counted in half stages).
 * In every schedule each (virtual stage, direction) runs its microbatches in order 0..M-1, and
 * so do the BWD_W ops: gradients accumulate in the one-process run's order.
 *
 * Virtual stages. With nchunks > 1 the transfers join virtual stages and ops carry their chunk
 * (pc_schedule_rank_of / pc_schedule_chunk_of); messages are still matched by transfer. In a
 * split backward a microbatch's activations stay in flight until its BWD_W.
 *
 * Message matching. A (transfer, direction) pair is a channel with one sending and one
 * receiving rank; its tag is pc_op_tag(op) = 2 * xfer + grad. Messages on a channel are
 * delivered in the order sent (MPI's non-overtaking rule for one source and tag), so the k-th
 * RECV of a channel receives the k-th SEND; pc_schedule_validate() checks that this pairs equal
 * microbatches. */
#ifndef PC_SCHEDULE_H
#define PC_SCHEDULE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "partition.h"

/* ------------------------------------------------------------------------------------------ */
/* Ops */

typedef enum {
  PC_OP_FWD,   /* forward of microbatch mb (chunk) */
  PC_OP_BWD,   /* backward: input gradient (and weight gradient unless split_backward) */
  PC_OP_BWD_W, /* weight gradient of a split backward (zero-bubble schedules) */
  PC_OP_SEND,  /* non-blocking send of one transfer's activation (grad false) or gradient */
  PC_OP_RECV,  /* receive of one transfer's activation or gradient; waits for it */
  PC_OP_OPT,   /* optimizer step, once per iteration, last op of every stage */
  PC_OP_KIND_COUNT
} pc_op_kind;

/* One op; 16 bytes. */
typedef struct {
  int32_t mb;    /* microbatch, 0..nmicro-1; -1 for OPT */
  int32_t peer;  /* SEND: destination rank; RECV: source rank; -1 otherwise */
  int32_t xfer;  /* SEND/RECV: index in the schedule's transfer list; -1 otherwise */
  int16_t chunk; /* model chunk (virtual stage) on this rank; 0 unless interleaved */
  uint8_t kind;  /* pc_op_kind */
  bool grad;     /* SEND/RECV: the gradient (backward direction) rather than the activation */
} pc_op;

/* Channel tag of a SEND/RECV op: 2 * xfer + grad. */
static inline int pc_op_tag(const pc_op *op) { return 2 * op->xfer + (op->grad ? 1 : 0); }

/* "FWD", "BWD", "BWD_W", "SEND", "RECV", "OPT". */
const char *pc_op_kind_name(pc_op_kind kind);

/* Human-readable op: "FWD mb 3", "BWD mb 0 chunk 1", "RECV act mb 3 from stage 0",
 * "SEND grad mb 2 to stage 1", "OPT". Writes at most `size` bytes (NUL included); returns buf. */
char *pc_op_format(const pc_op *op, char *buf, size_t size);

/* ------------------------------------------------------------------------------------------ */
/* Schedules */

typedef enum {
  PC_SCHEDULE_GPIPE,       /* "gpipe": fill-drain */
  PC_SCHEDULE_1F1B,        /* "1f1b": PipeDream-flush */
  PC_SCHEDULE_INTERLEAVED, /* "interleaved": Megatron-LM's interleaved 1F1B */
  PC_SCHEDULE_ZBH1,        /* "zb-h1": zero bubble, handcrafted 1 */
  PC_SCHEDULE_ZBV,         /* "zb-v": zero bubble in a V, two chunks per rank */
  PC_SCHEDULE_KIND_COUNT
} pc_schedule_kind;

/* The op list of one stage (rank). Read the fields; change them only through the
 * pc_schedule_*_op functions, which keep peak_inflight up to date. */
typedef struct {
  pc_op *ops;        /* (nops) in execution order */
  int nops;
  int peak_inflight; /* most microbatches whose activations are held at once: +1 at each FWD,
                      * -1 at each BWD (at each BWD_W when split_backward) */
  int cap_;          /* private: allocated length of ops */
  int inflight_;     /* private: in-flight count after the last op */
} pc_stage_ops;

/* A schedule. Read-only for users except through the functions below. */
typedef struct {
  pc_schedule_kind kind; /* generator; PC_SCHEDULE_KIND_COUNT for a hand-built schedule */
  int nstages;           /* ranks P */
  int nmicro;            /* microbatches M */
  int nchunks;           /* model chunks per rank (virtual stages = nstages * nchunks) */
  bool vshape;           /* odd chunks run the ranks backwards (zb-v): see pc_schedule_rank_of */
  bool split_backward;   /* BWD_W ops carry the weight gradient (zero-bubble) */
  double zb_costs[3];    /* the FWD:BWD:BWD_W costs a zero-bubble order was planned for; 0:
                          * unit costs */
  bool forward_only;     /* an evaluation: FWD and activation messages only, no OPT */
  int nxfers;
  pc_xfer *xfers;        /* (nxfers) copy of the transfer list; src/dst are virtual stages */
  pc_stage_ops *stages;  /* (nstages) */
} pc_schedule;

/* Generates the op lists of schedule KIND for NSTAGES ranks of NCHUNKS chunks each, NMICRO
 * microbatches and the transfer list XFERS over the NSTAGES * NCHUNKS virtual stages (copied;
 * may be NULL when nxfers is 0). NULL with PC_ERROR_USAGE when kind is unknown, nstages < 1,
 * nmicro < 1, the chunk count does not suit the kind (1 for gpipe, 1f1b, zb-h1; 2 to
 * PC_SCHEDULE_MAX_CHUNKS for interleaved, which also needs nstages >= 2 and nmicro a multiple
 * of nstages; 2 for zb-v), or a transfer does not satisfy 0 <= src < dst < nstages * nchunks.
 * ZB_COSTS: see pc_schedule_check_zb_costs (NULL: unit costs). */
pc_schedule *pc_schedule_new_chunks(pc_schedule_kind kind, int nstages, int nmicro, int nchunks,
                                    const double *zb_costs, const pc_xfer *xfers, int nxfers,
                                    GError **error);

/* ZB_COSTS, when not NULL, are the relative durations of FWD, BWD and BWD_W (each 0.001 to
 * 1000) that the zero-bubble schedules' list scheduler plans its order for (NULL: 1 each); only
 * zb-h1 and zb-v take them (else PC_ERROR_USAGE). */
bool pc_schedule_check_zb_costs(pc_schedule_kind kind, const double *zb_costs, GError **error);

#define PC_SCHEDULE_MAX_CHUNKS 64

/* The forward-only op lists of an evaluation over NMICRO microbatches, on SCHED's ranks and
 * chunks (its placement and transfers): each rank takes microbatch after microbatch through its
 * chunks in order (RECV, FWD, SEND each), so no rank keeps more than one microbatch's
 * activations. NULL with PC_ERROR_USAGE when nmicro < 1. */
pc_schedule *pc_schedule_new_forward(const pc_schedule *sched, int nmicro, GError **error);

/* pc_schedule_new_chunks with the kind's own chunk count (pc_schedule_default_chunks). */
pc_schedule *pc_schedule_new(pc_schedule_kind kind, int nstages, int nmicro,
                             const pc_xfer *xfers, int nxfers, GError **error);

/* KIND is a zero-bubble schedule (zb-h1, zb-v): its backward splits, its order takes op costs. */
static inline bool pc_schedule_zero_bubble(pc_schedule_kind kind) {
  return kind == PC_SCHEDULE_ZBH1 || kind == PC_SCHEDULE_ZBV;
}

/* Chunks per rank that KIND takes unless told: 2 for interleaved and zb-v, else 1. */
int pc_schedule_default_chunks(pc_schedule_kind kind);

/* Whether KIND can be generated for NSTAGES ranks of NCHUNKS chunks and NMICRO microbatches
 * (the rules of pc_schedule_new_chunks); false with PC_ERROR_USAGE naming the rule otherwise. */
bool pc_schedule_check_kind(pc_schedule_kind kind, int nstages, int nmicro, int nchunks,
                            GError **error);

/* A schedule with the same parameters and empty op lists, to be filled by hand with
 * pc_schedule_append_op (tests, experiments with new schedules). kind is
 * PC_SCHEDULE_KIND_COUNT. Same errors as pc_schedule_new. */
pc_schedule *pc_schedule_new_empty(int nstages, int nmicro, const pc_xfer *xfers, int nxfers,
                                   GError **error);

/* Deep copy. */
pc_schedule *pc_schedule_copy(const pc_schedule *sched);

void pc_schedule_free(pc_schedule *sched);

/* Editing, e.g. to build a deliberately broken schedule in a test. Indices must be in range
 * (0 <= index <= nops for insert, < nops otherwise); the op is not checked (see
 * pc_schedule_validate). Each keeps the stage's peak_inflight up to date. */
void pc_schedule_append_op(pc_schedule *sched, int stage, pc_op op);
void pc_schedule_insert_op(pc_schedule *sched, int stage, int index, pc_op op);
void pc_schedule_remove_op(pc_schedule *sched, int stage, int index);
void pc_schedule_set_op(pc_schedule *sched, int stage, int index, pc_op op);

/* Index of the first op of STAGE equal in kind, mb, chunk, grad and xfer to the arguments
 * (xfer ignored for compute ops), or -1. */
int pc_schedule_find_op(const pc_schedule *sched, int stage, pc_op_kind kind, int mb,
                        int chunk, bool grad, int xfer);

/* Each chunk's most microbatch activations held at once in STAGE's list (PEAK: nchunks
 * entries), counted as peak_inflight is. */
void pc_schedule_chunk_peaks(const pc_schedule *sched, int stage, int *peak);

/* Total op count over all stages. */
size_t pc_schedule_total_ops(const pc_schedule *sched);

/* Rank and chunk of virtual stage V: v = chunk * nstages + rank, or in a V (vshape) the odd
 * chunks backwards, v = chunk * nstages + nstages - 1 - rank. */
static inline int pc_schedule_chunk_of(const pc_schedule *sched, int v) { return v / sched->nstages; }
static inline int pc_schedule_rank_of(const pc_schedule *sched, int v) {
  int r = v % sched->nstages;
  return sched->vshape && (v / sched->nstages) % 2 ? sched->nstages - 1 - r : r;
}
/* Virtual stage of RANK's CHUNK. */
static inline int pc_schedule_virtual(const pc_schedule *sched, int rank, int chunk) {
  return chunk * sched->nstages +
         (sched->vshape && chunk % 2 ? sched->nstages - 1 - rank : rank);
}

/* Checks that the schedule can run, and reports the first problem as PC_ERROR_SCHEDULE, naming
 * stage, op index and op:
 *   - every op is well formed: kind, microbatch, chunk in range; a SEND/RECV's transfer,
 *     direction, stage and peer agree ("stage 1 op 4 SEND act mb 0 to stage 2: transfer 0 is
 *     sent by stage 0");
 *   - every stage runs FWD and BWD of each of its (microbatch, chunk) exactly once, BWD after
 *     FWD, BWD_W (if any) after BWD, and one OPT as its last op;
 *   - each transfer's activation and gradient of each microbatch is sent once and received
 *     once: every RECV has its SEND and every SEND its RECV;
 *   - data dependencies: RECV act before the FWD that reads it, SEND act after it; RECV grad
 *     before the BWD, SEND grad after it;
 *   - FIFO: on each channel (tag) the receiver's microbatch order equals the sender's;
 *   - a symbolic run with eager (buffered) sends finishes; otherwise the message lists the stuck
 *     ops, e.g. "deadlock: stage 0 waits at op 5 RECV grad mb 0 from stage 1; stage 1 waits at
 *     op 0 RECV act mb 0 from stage 0". */
bool pc_schedule_validate(const pc_schedule *sched, GError **error);

/* The one formatter of op errors: "stage S op I <op>: <message>", in the PC_ERROR domain. */
void pc_schedule_op_error(GError **error, int code, const pc_schedule *sched, int stage, int i,
                          const char *fmt, ...) G_GNUC_PRINTF(6, 7);

/* Kind from its name ("gpipe", "1f1b", "interleaved", "zb-h1", "zb-v"; case-insensitive), or
 * -1. */
int pc_schedule_kind_from_name(const char *name);

/* The names above; "custom" for PC_SCHEDULE_KIND_COUNT (hand-built). */
const char *pc_schedule_kind_name(pc_schedule_kind kind);

/* ------------------------------------------------------------------------------------------ */
/* Timelines */

/* When one op ran, in seconds from the start of the iteration. A stage's timeline is an array
 * parallel to its op list. For a RECV, start is when the stage reached the op (began waiting)
 * and end when the message had been received; the executor and simulator record it alike. */
typedef struct {
  double start;
  double end;
} pc_span;

#endif
