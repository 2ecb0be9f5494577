/* costs.h — where the simulator's durations come from: the measured inputs (costfiles.h) or
 * analytic costs (FLOPs over a GEMM rate curve, bytes over a memory bandwidth) when no profile is
 * given; and, from these, the pc_sim_costs of one (model, partition, microbatch size), the ring
 * all-reduce of a pipeline x data-parallel layout, and the layer times that balancing by time
 * uses. The engine that consumes the costs is sim/engine.h; one whole prediction is
 * sim/predict.h. Nothing here keeps global state. */
#ifndef PC_COSTS_H
#define PC_COSTS_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "costfiles.h"
#include "engine.h"
#include "model.h"
#include "partition.h"
#include "schedule.h"

/* ------------------------------------------------------------------------------------------ */
/* Cost configuration and per-layer costs */

#define PC_COSTS_DEFAULT_BANDWIDTH 10e9 /* bytes/s, elementwise layers and the optimizer */
#define PC_COSTS_DEFAULT_OVERHEAD 2e-6  /* seconds per compute op, analytic costs */

typedef struct {
  const pc_profile *profile; /* measured layer costs; NULL: analytic */
  const pc_net *net;         /* links; NULL: pc_net_default() */
  const pc_gemm *gemm;       /* GEMM rates for analytic costs; NULL: the default curve */
  bool extrapolate;          /* allow microbatch sizes outside the profile's range */
  double bandwidth;          /* bytes/s of elementwise layers; 0: PC_COSTS_DEFAULT_BANDWIDTH */
  int replicas;              /* data-parallel replicas D of the pipeline; 0 or 1: none */
  int ranks_per_node;        /* R: ranks per node; 0: every rank on one node */
  int chunks;                /* model chunks per rank (--chunks); 0: the schedule's own */
  double zb_costs[3];        /* --zb-costs FWD:BWD:BWD_W a zero-bubble order is planned for;
                              * 0: unit costs */
  bool by_node;              /* ranks dealt to the nodes in turn (mpirun --map-by node), not
                              * each node filled before the next (--map-by slot, the default) */
  pc_optim_kind optim;       /* the optimizer: its state in memory, its step's cost */
  bool clip;                 /* clipping by the global gradient norm: a pass over the gradients
                              * and a reduction among the stages before any steps */
} pc_cost_config;

/* Loads the files named into CFG's profile, net and gemm, leaving the other fields alone. PROFILES
 * (NULL-terminated; NULL or empty: none) is one profile, or samples files (`pipecast-exec profile
 * --samples`, `train --profile-samples`) pooled with PROFILE_STAT (median, mean or min; NULL:
 * median); PROFILE_STAT and CFG->extrapolate without them are refused. NET and GEMM may be
 * NULL. On error nothing stays loaded. Release with
 * pc_cost_config_clear. */
bool pc_cost_config_load(pc_cost_config *cfg, const char *const *profiles,
                         const char *profile_stat, const char *net, const char *gemm,
                         GError **error);

/* Frees what pc_cost_config_load loaded and sets those pointers to NULL. */
void pc_cost_config_clear(pc_cost_config *cfg);

/* One line saying where the costs come from (profile or analytic, rates, bandwidth, overhead)
 * and one saying which links: "costs: ...\nlinks: ...\n". g_free() it. */
char *pc_cost_config_describe(const pc_cost_config *cfg, const char *const *profiles,
                              const char *profile_stat, const char *net_path,
                              const char *gemm_path);

/* Seconds of forward, backward and optimizer step of every layer of MODEL for a microbatch of MB
 * samples (arrays of nlayers), and the per-op overhead. From the profile when there is one
 * (pc_profile_check first), else analytic: fc and conv as GEMMs (forward FLOPs at the rate of the
 * forward product, backward FLOPs half at the rate of each of the two backward products), other
 * kinds as the bytes they read and write over the bandwidth, the optimizer as 24 bytes per
 * parameter over the bandwidth. *extrapolated tells whether a profile size was extrapolated. */
bool pc_costs_layers(const pc_model *model, const pc_cost_config *cfg, double mb, double *fwd,
                     double *bwd, double *opt, double *overhead, bool *extrapolated,
                     GError **error);

/* ------------------------------------------------------------------------------------------ */
/* Costs of one pipeline */

/* Durations of every op of one (model, partition, microbatch size) and the pc_sim_costs that
 * reads them. Build with pc_stage_costs_new; `costs` points into the struct, so keep it alive
 * (and unmoved) while the engine runs. */
typedef struct {
  int nstages;
  double *fwd, *bwd;    /* (nstages) seconds per FWD / BWD op, overhead included */
  double *bwd_b, *bwd_w; /* (nstages) a split backward's BWD (input gradients, overhead
                         * included) and BWD_W (weight gradients): as profiled (a profile with
                         * the halves), else bwd cut by the share of backward FLOPs that make
                         * the weight gradients */
  double *opt;          /* (nstages) optimizer step, overhead included, all-reduce excluded */
  double *allreduce;    /* (nstages) what the gradient all-reduce across replicas adds to the
                         * stage when it has the link to itself (0 without) */
  double *allreduce_total; /* (nstages) the all-reduce's buckets' rings in all */
  pc_sim_reduce *reduce; /* (nstages) its rings, for the engine (NULL without replicas) */
  double *grad_bytes;   /* (nstages) bytes of the stage's gradients (4 per parameter) */
  pc_link *ar_link;     /* (nstages) link of the all-reduce */
  int nxfers;
  double *message;      /* (nxfers) wire seconds of one microbatch message, either direction */
  double *message_cpu;  /* (nxfers) seconds of each end's compute one message takes (pc_net_cpu) */
  pc_link *xfer_link;   /* (nxfers) link the transfer uses */
  pc_xfer *xfers;       /* (nxfers) copy of the transfer list */
  bool extrapolated;    /* a profile size was extrapolated */
  pc_sim_costs costs;   /* for pc_engine_run */
  /* The schedule's transfer array (sched->xfers), which the engine passes pointers into: set
   * it before a run so that a message's cost is found by index; when NULL the transfer is
   * looked up by (tensor, src, dst). */
  const pc_xfer *xfer_base;
  /* The schedule run, when its ranks hold several chunks (pc_stage_costs_bind): the engine's
   * stages are then ranks, and an op's costs those of its virtual stage. */
  const pc_schedule *sched;
  pc_sim_reduce *rank_reduce; /* private: with chunks, one all-reduce per rank */
  pc_net *own_net;      /* private: the default net when the configuration has none */
  int ranks_per_node;   /* private: for costs.node (0: one node) */
  int nnodes;           /* private: nodes the ranks are dealt to in turn (0: filled in turn) */
  double norm_round[PC_LINK_COUNT]; /* private: with clipping, one round of the reduction of the
                                     * layers' squared norms on each link (0: no clipping) */
  int tie_stage[2];     /* private: the stages holding a tied weight's owner and copy (-1) */
  const pc_net *net;    /* private: the links messages are priced on */
  double mb;            /* private: samples per microbatch */
  int replicas;         /* private: D */
  double tie_wire[PC_LINK_COUNT]; /* private: their exchange of its gradient on each link */
} pc_stage_costs;

/* Costs of PART of MODEL, transfers XFERS (pc_partition_transfers), microbatches of MB samples.
 * Ranks: replica d's stage s is rank d * nstages + s, node = rank / ranks_per_node (1 when not
 * given and the net file has inter rows only: it was calibrated with one rank per node), or
 * with by_node rank mod the node count (replicas * nstages / ranks_per_node, rounded up); a
 * transfer uses `inter` when the net has it and, in some replica, its two stages sit on
 * different nodes; stage s's all-reduce among its D replicas likewise. */
pc_stage_costs *pc_stage_costs_new(const pc_model *model, const pc_partition *part,
                                   const GArray *xfers, double mb, const pc_cost_config *cfg,
                                   GError **error);
void pc_stage_costs_free(pc_stage_costs *sc);

/* Makes SC cost the ops of SCHED (built for the same partition): sets xfer_base and, where
 * SCHED's ranks hold several chunks, maps each op to its virtual stage and puts each rank's
 * gradient all-reduce (every chunk's bytes, one bucket) after its last backward op. SCHED must
 * outlive the runs. */
void pc_stage_costs_bind(pc_stage_costs *sc, const pc_schedule *sched);

/* The FWD:BWD:BWD_W ratio of MODEL's layers at MB (sums over the model: the backward's halves
 * as profiled, else as pc_stage_costs_new splits them), the largest 1, each rounded to a
 * thousandth and at least 0.001 (--zb-costs prints it exactly). */
bool pc_costs_zb_ratio(const pc_model *model, const pc_cost_config *cfg, double mb,
                       double ratio[3], GError **error);

/* ------------------------------------------------------------------------------------------ */
/* auto:time */

/* The layer times that balancing by time minimises (pc_layer_times_fn; CFG is the
 * pc_cost_config, whose profile is required: PC_ERROR_USAGE without): compute from
 * pc_costs_layers at MB, stage_fixed = two op overheads, tensor[t] = 2 * the intra-link time of
 * MB samples of t + send and receive overheads. */
bool pc_costs_layer_times(void *cfg, const pc_model *model, int mb, double *compute,
                          double *tensor, double *stage_fixed, GError **error);

#endif
