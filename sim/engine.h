/* engine.h — the discrete-event engine of pipecast-sim: replays a schedule's op lists (the same
 * lists pipecast-exec runs) against a cost model and predicts the timeline of one iteration.
 *
 * Model. Each stage (rank) is a process that runs its op list strictly in order on one compute
 * resource; each directed link (src rank -> dst rank) is a FIFO resource, and with nodes
 * (costs->node) so is each node's way out and way in, for the messages that cross nodes.
 *   FWD/BWD/BWD_W/OPT  occupy the stage for costs->compute(ud, stage, op) seconds.
 *   SEND               is non-blocking: it occupies the sender for send_overhead plus
 *                      costs->message_cpu, then the message waits for the link src->dst (FIFO,
 *                      in the order the sender posts) (and, across nodes, for both nodes'
 *                      ports) and occupies it for costs->message(ud, xfer, grad) seconds; it
 *                      has arrived when it leaves the link. The sender goes on after that
 *                      occupation.
 *   RECV               waits until its message has arrived, then occupies the receiver for
 *                      recv_overhead plus message_cpu. Its span runs from when the stage
 *                      reached it to the end of that occupation, so it includes the wait.
 * With costs->reduce, a stage's gradients are all-reduced across replicas in rings beside its
 * last backward op (the last BWD or BWD_W): ring k may start READY[k] seconds after that op
 * began and once ring k-1 is done, and runs WIRE[k] seconds, holding the stage's node's ports
 * (after the messages and rings that took them first) when it crosses nodes; the op itself
 * takes STRETCH longer. The stage's OPT starts once the last ring is done; its span includes
 * that wait.
 * Messages of one channel (transfer and direction) are matched in FIFO order: the k-th RECV
 * gets the k-th SEND (see schedule.h), which validation has checked pairs equal microbatches.
 *
 * Implementation. A binary min-heap of events keyed on (time, insertion sequence), so that equal
 * times always resolve the same way; an event is "stage s is free at time t to start its next
 * op". A stage blocked at a RECV has no event; the SEND that provides its message completes the
 * RECV and schedules the stage again. The heap holds at most one event per stage, events are 16
 * bytes, and all buffers belong to the engine and are reused by later runs: nothing is allocated
 * per event. There are no globals; engines are independent (one per thread).
 *
 * Outputs are a pure function of (schedule, costs): the same inputs give byte-identical
 * timelines and statistics. Schedules are validated before they reach the engine
 * (pc_schedule_validate reports a deadlock naming the stuck ops), so a run never hangs. */
#ifndef PC_ENGINE_H
#define PC_ENGINE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "partition.h"
#include "schedule.h"

/* ------------------------------------------------------------------------------------------ */
/* Costs */

/* The gradient all-reduce of one stage (see the model above). */
typedef struct {
  int n;               /* rings, in the order they run (0: none) */
  const double *ready; /* (n) earliest start, seconds after the last backward op began */
  const double *wire;  /* (n) seconds each ring runs */
  double stretch;      /* seconds the rings add to the last backward op */
  bool ports;          /* the rings cross nodes: they hold the stage's node's ports */
} pc_sim_reduce;

/* The cost model the engine asks; every duration in seconds, >= 0 (a negative or NaN result
 * fails the run with PC_ERROR_USAGE). */
typedef struct {
  /* Duration of a FWD, BWD, BWD_W or OPT op of STAGE. NULL: 0. */
  double (*compute)(void *ud, int stage, const pc_op *op);
  /* Wire time of one microbatch message of transfer X, gradient if GRAD. NULL: 0. */
  double (*message)(void *ud, const pc_xfer *x, bool grad);
  /* Node of RANK (>= 0, < nstages). NULL: every directed link is independent. Otherwise a
   * message between ranks on different nodes also holds, while on the wire, the sending node's
   * way out and the receiving node's way in (one network port each way, full duplex): messages
   * that leave or enter a node at the same time queue there, whatever their ranks. */
  int (*node)(void *ud, int rank);
  /* The gradient all-reduce of STAGE. NULL, or a NULL result: none. */
  const pc_sim_reduce *(*reduce)(void *ud, int stage);
  /* Seconds a message of transfer X holds each end's compute beyond the fixed overheads: the
   * sender's at its SEND, the receiver's at the end of its RECV (the hosts' work moving its
   * bytes). NULL: 0. */
  double (*message_cpu)(void *ud, const pc_xfer *x, bool grad);
  double send_overhead; /* sender's compute resource busy per SEND */
  double recv_overhead; /* receiver's compute resource busy per RECV */
  /* > 0: the stages' OPTs meet first (clipping by the global gradient norm): each waits, its
   * rings done, until every stage is there, then this long (the norms' reduction, counted as
   * communication) before its step. 0: none. */
  double opt_sync;
  /* > 0: the two gradients of a tied weight meet first: stages tie_a and tie_b (two different
   * stages) each wait at OPT, their rings done, until the other is there, then this long (an
   * exchange both ways, counted as communication), before the norms' meeting. 0: none. */
  double tie_exchange;
  int tie_a, tie_b;
  void *ud;             /* passed to the callbacks */
} pc_sim_costs;

/* Uniform costs: every stage takes the same time per op kind, every message the same time. */
typedef struct {
  double fwd, bwd, bwd_w, opt; /* per op */
  double message;              /* wire time per message */
  double send_overhead, recv_overhead;
} pc_sim_uniform;

/* Fills COSTS to read U (which must outlive the runs that use COSTS). */
void pc_sim_costs_uniform(pc_sim_costs *costs, const pc_sim_uniform *u);

/* ------------------------------------------------------------------------------------------ */
/* Results */

/* One stage over the iteration. busy + comm + reduce + idle = makespan. */
typedef struct {
  double busy;       /* seconds computing (FWD, BWD, BWD_W, OPT) */
  double comm;       /* seconds in send and receive overheads */
  double reduce;     /* seconds the gradient all-reduce added: the last backward's stretch and
                      * the OPT's wait for the rings */
  double idle;       /* the rest of the iteration: waiting in RECVs, and after the last op */
  double bubble;     /* idle / makespan (0 when the makespan is 0) */
  double finish;     /* end of the stage's last op */
  int peak_inflight; /* most microbatch activations held at once (from the schedule) */
} pc_sim_stage;

/* One directed link. */
typedef struct {
  int src, dst;   /* ranks */
  int nmessages;  /* messages carried */
  double busy;    /* seconds occupied by messages */
} pc_sim_link;

/* The prediction of one iteration. Owned by the engine; valid until its next run or free. */
typedef struct {
  int nstages;
  double makespan;                /* iteration time: the latest stage finish */
  uint64_t nevents;               /* events the engine processed */
  const pc_sim_stage *stages;     /* (nstages) */
  const pc_span *const *timeline; /* (nstages); timeline[s] is parallel to the schedule's
                                   * stages[s].ops: when each op started and ended */
  int nlinks;
  const pc_sim_link *links;       /* (nlinks) in order of first use by the transfer list */
} pc_sim_result;

/* ------------------------------------------------------------------------------------------ */
/* Engine */

typedef struct pc_engine pc_engine;

/* A new engine with no buffers yet; they grow to the largest schedule run and are kept. */
pc_engine *pc_engine_new(void);

void pc_engine_free(pc_engine *engine);

/* Simulates one iteration of SCHED with COSTS. SCHED must have passed pc_schedule_validate
 * (pc_job_schedule builds validated lists): the engine relies on it and checks no op list itself
 * (an unvalidated list that would deadlock or mismatch a message is an internal error). A
 * negative or NaN duration from COSTS fails with PC_ERROR_USAGE naming the op. Returns the
 * result (owned by the engine) or NULL. */
const pc_sim_result *pc_engine_run(pc_engine *engine, const pc_schedule *sched,
                                   const pc_sim_costs *costs, GError **error);

#endif
