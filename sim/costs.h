/* costs.h — where the simulator's durations come from: a measured per-layer profile, a network
 * calibration and a GEMM rate table (all TSV files written by `pipecast-exec profile` and
 * `pipecast-exec calibrate`), or analytic costs (FLOPs over a GEMM rate curve, bytes over a
 * memory bandwidth) when no profile is given; and, from these, the pc_sim_costs of one
 * (model, partition, microbatch size), the ring all-reduce of a pipeline x data-parallel layout,
 * and the auto:time partition. The formats and every default are documented in
 * docs/simulator.md; the engine that consumes the costs is sim/engine.h.
 *
 * Every reader reports a bad file as PC_ERROR_FORMAT (PC_ERROR_IO when it cannot be read) with
 * "FILE:LINE: what is wrong". Nothing here keeps global state. */
#ifndef PC_COSTS_H
#define PC_COSTS_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "model.h"
#include "partition.h"
#include "schedule.h"

/* ------------------------------------------------------------------------------------------ */
/* Profile: measured per-layer seconds (`pipecast-exec profile`) */

/* A profile file in memory. Rows are grouped by layer, microbatch sizes ascending. */
typedef struct pc_profile pc_profile;

/* Reads a profile TSV: `#` comment lines (`# key value` metadata: `model`, `overhead_s`), the
 * header `layer kind mb fwd_s bwd_s opt_s` (tab-separated), and at least one row. Errors (with
 * FILE:LINE): bad header, a field that is not a number, a negative, NaN or infinite cost, a
 * microbatch size < 1, a duplicate (layer, mb) row, a layer whose kind differs between rows,
 * no rows. */
pc_profile *pc_profile_load(const char *path, GError **error);

/* The same from text; FILENAME is used in messages. */
pc_profile *pc_profile_parse(const char *text, const char *filename, GError **error);

void pc_profile_free(pc_profile *profile);

/* The `# model NAME` metadata, or NULL. */
const char *pc_profile_model(const pc_profile *profile);

/* The per-op fixed overhead (`# overhead_s`; 0 when absent), seconds. */
double pc_profile_overhead(const pc_profile *profile);

/* Checks that PROFILE describes MODEL: every layer of the model has rows (else an error naming
 * the first missing layer), every row names a layer of the model with its kind (else an error
 * naming FILE:LINE and the layer). */
bool pc_profile_check(const pc_profile *profile, const pc_model *model, GError **error);

/* Seconds of forward and backward of layer NAME for a microbatch of MB samples: exact at a
 * measured size, linear interpolation between the two measured sizes around MB, and outside the
 * measured range an error (PC_ERROR_USAGE, naming the layer and the range) unless EXTRAPOLATE,
 * which extends the line through the two nearest sizes (through the origin when only one size
 * was measured), clamped at 0, and sets *extrapolated (when not NULL) to true. *opt gets the
 * optimizer step's seconds (the mean of the layer's rows). Any output pointer may be NULL. */
bool pc_profile_layer(const pc_profile *profile, const char *name, double mb, bool extrapolate,
                      double *fwd, double *bwd, double *opt, bool *extrapolated, GError **error);

/* ------------------------------------------------------------------------------------------ */
/* Network calibration: piecewise alpha-beta per link (`pipecast-exec calibrate`) */

typedef enum {
  PC_LINK_INTRA, /* "intra": between ranks of one node (shared memory) */
  PC_LINK_INTER, /* "inter": between nodes */
  PC_LINK_COUNT
} pc_link;

/* One piece: messages of at least `bytes` bytes (up to the next piece) take
 * latency + B * seconds_per_byte. */
typedef struct {
  double bytes;
  double latency;
  double seconds_per_byte;
} pc_net_piece;

typedef struct {
  int npieces[PC_LINK_COUNT];
  pc_net_piece *pieces[PC_LINK_COUNT]; /* (npieces[link]) ascending bytes; inter may be empty */
  double send_overhead;                /* `# send_overhead_s`, seconds; 0 when absent */
  double recv_overhead;                /* `# recv_overhead_s` */
  double ring_reduce_per_byte;         /* `# ring_reduce_seconds_per_byte`: 0 when absent */
  double ring_gather_per_byte;         /* `# ring_gather_seconds_per_byte`: 0 when absent */
} pc_net;

/* Reads a net TSV: `#` comments (`# send_overhead_s X`, `# recv_overhead_s X`,
 * `# ring_reduce_seconds_per_byte X`, `# ring_gather_seconds_per_byte X`; 0 when absent), the
 * header `link bytes latency_s seconds_per_byte`, rows with link `intra` or `inter`. Errors (FILE:LINE):
 * bad header, unknown link, a field that is not a number, negative/NaN/infinite values, sizes
 * not strictly increasing within a link, no rows, no `intra` row. */
pc_net *pc_net_load(const char *path, GError **error);
pc_net *pc_net_parse(const char *text, const char *filename, GError **error);

/* The built-in link used without a net file: shared memory, latency 0.5 us, 5 GB/s, send and
 * receive overheads 0.5 us each, no measured ring rates; `inter` is the same. */
pc_net *pc_net_default(void);

void pc_net_free(pc_net *net);

/* True when NET has a row for LINK. */
bool pc_net_has(const pc_net *net, pc_link link);

/* Seconds to move BYTES over LINK (LINK must exist, see pc_net_has): the piece with the largest
 * `bytes` <= BYTES (the first piece for smaller messages), latency + BYTES * seconds_per_byte. */
double pc_net_time(const pc_net *net, pc_link link, double bytes);

/* The executor's ring all-reduce (exec/allreduce.h) of BYTES among D ranks over LINK: D - 1
 * reduce-scatter and D - 1 all-gather steps, each passing a chunk of c = BYTES/D in k messages
 * of at most PC_ALLREDUCE_PIECE floats: (D - 1) * (2 k latency + c (rs + ag)), with the latency
 * of the table's row for one message and, per chunk byte, rs and ag the measured
 * ring_reduce/ring_gather rates; where the file lacks them, ag is the row's seconds_per_byte and
 * rs the slower of it and a 4 GB/s sum. 0 when D <= 1. */
double pc_net_allreduce(const pc_net *net, pc_link link, double bytes, int d);

/* ------------------------------------------------------------------------------------------ */
/* GEMM rates (`pipecast-exec calibrate`; optional) */

typedef struct {
  int n;
  double *m, *nn, *k; /* (n) the measured shapes */
  double *gflops;     /* (n) measured rates */
} pc_gemm;

/* Reads a GEMM TSV: `#` comments, the header `m n k gflops`, rows of positive numbers. */
pc_gemm *pc_gemm_load(const char *path, GError **error);
pc_gemm *pc_gemm_parse(const char *text, const char *filename, GError **error);
void pc_gemm_free(pc_gemm *gemm);

/* Default curve, no file: PC_GEMM_PEAK_GFLOPS * f(m) f(n) f(k) with f(x) = x / (x + 5.7)
 * (60 GFLOP/s for large GEMMs, about 35 at m = 8, n = k = 1024). */
#define PC_GEMM_PEAK_GFLOPS 60.0
#define PC_GEMM_HALF_DIM 5.7

/* FLOP/s of an (m x k) . (k x n) product: with a table, the rate of the measured shape nearest
 * in log distance (sum of squared log ratios; the first such row on ties); else the curve. */
double pc_gemm_rate(const pc_gemm *gemm, double m, double n, double k);

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
} pc_cost_config;

/* Loads the files named (each may be NULL) into CFG's profile, net and gemm, leaving the other
 * fields alone. On error nothing stays loaded. Release with pc_cost_config_clear. */
bool pc_cost_config_load(pc_cost_config *cfg, const char *profile, const char *net,
                         const char *gemm, GError **error);

/* Frees what pc_cost_config_load loaded and sets those pointers to NULL. */
void pc_cost_config_clear(pc_cost_config *cfg);

/* One line saying where the costs come from (profile or analytic, rates, bandwidth, overhead)
 * and one saying which links: "costs: ...\nlinks: ...\n". g_free() it. */
char *pc_cost_config_describe(const pc_cost_config *cfg, const char *profile_path,
                              const char *net_path, const char *gemm_path);

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
  double *opt;          /* (nstages) optimizer step, overhead included, all-reduce excluded */
  double *allreduce;    /* (nstages) gradient all-reduce across replicas (0 without) */
  double *grad_bytes;   /* (nstages) bytes of the stage's gradients (4 per parameter) */
  pc_link *ar_link;     /* (nstages) link of the all-reduce */
  int nxfers;
  double *message;      /* (nxfers) wire seconds of one microbatch message, either direction */
  pc_link *xfer_link;   /* (nxfers) link the transfer uses */
  pc_xfer *xfers;       /* (nxfers) copy of the transfer list */
  bool extrapolated;    /* a profile size was extrapolated */
  pc_sim_costs costs;   /* for pc_engine_run: OPT costs opt + allreduce */
  /* The schedule's transfer array (sched->xfers), which the engine passes pointers into: set
   * it before a run so that a message's cost is found by index; when NULL the transfer is
   * looked up by (tensor, src, dst). */
  const pc_xfer *xfer_base;
  pc_net *own_net;      /* private: the default net when the configuration has none */
} pc_stage_costs;

/* Costs of PART of MODEL, transfers XFERS (pc_partition_transfers), microbatches of MB samples.
 * Ranks: replica d's stage s is rank d * nstages + s, node = rank / ranks_per_node; a transfer
 * uses `inter` when the net has it and, in some replica, its two stages sit on different nodes;
 * stage s's all-reduce among its D replicas likewise. */
pc_stage_costs *pc_stage_costs_new(const pc_model *model, const pc_partition *part,
                                   const GArray *xfers, double mb, const pc_cost_config *cfg,
                                   GError **error);
void pc_stage_costs_free(pc_stage_costs *sc);

/* ------------------------------------------------------------------------------------------ */
/* auto:time */

/* The exact contiguous partition into NSTAGES stages minimising the largest stage time, where
 * the time of a stage holding layers [i, j) is
 *   stage_fixed + sum of compute[i..j) + sum of tensor[t] over the distinct tensors t it
 *   receives (produced before i, read in [i, j)) and the distinct tensors it sends (produced in
 *   [i, j), read at or after j).
 * compute[l]: forward + backward seconds of layer l; tensor[t]: what one boundary tensor costs
 * each of its two stages per microbatch (activation one way, gradient the other). Ties are broken
 * towards earlier cuts. *bottleneck (may be NULL) gets the optimum. NULL with PC_ERROR_PARTITION
 * when nstages < 1 or > nlayers. */
pc_partition *pc_partition_min_time(const pc_model *model, const double *compute,
                                    const double *tensor, double stage_fixed, int nstages,
                                    double *bottleneck, GError **error);

/* auto:time from a configuration (a profile is required: PC_ERROR_USAGE without): compute from
 * pc_costs_layers at MB, stage_fixed = two op overheads, tensor[t] = 2 * the intra-link time of
 * MB samples of t + send and receive overheads. */
pc_partition *pc_costs_partition_time(const pc_model *model, const pc_cost_config *cfg,
                                      double mb, int nstages, double *bottleneck, GError **error);

/* A partition from command-line style choices: SPEC ("auto:time" included) when not NULL;
 * else NSTAGES > 0 stages balanced BY ("flops", "params" or "time"; NULL: flops); else the
 * model's split markers; else one stage. */
pc_partition *pc_costs_make_partition(const pc_model *model, const char *spec, int nstages,
                                      const char *by, const pc_cost_config *cfg, double mb,
                                      GError **error);

/* ------------------------------------------------------------------------------------------ */
/* One simulated configuration */

/* The prediction of one iteration of one configuration, self-contained (copies of what the
 * engine returned, plus costs and memory). */
typedef struct {
  int nstages, nmicro, replicas;
  int batch;             /* global minibatch */
  int mb;                /* samples per microbatch: batch / (replicas * nmicro) */
  double makespan;       /* iteration seconds, all-reduce included */
  pc_sim_stage *stages;  /* (nstages) engine statistics; busy includes the all-reduce */
  size_t *memory;        /* (nstages) pc_runtime_bytes(model, part, s, mb, peak_inflight) */
  pc_stage_costs *costs; /* owned */
  pc_schedule *sched;    /* owned */
  pc_span **timeline;    /* (nstages) owned copies, parallel to sched's op lists */
} pc_prediction;

/* Builds the schedule (validated), the costs and runs the engine for PART of MODEL.
 * Errors: batch < 1, nmicro < 1, replicas < 1, batch not divisible by replicas * nmicro
 * (PC_ERROR_USAGE), and those of the costs, the schedule and the engine. */
pc_prediction *pc_predict(pc_engine *engine, const pc_model *model, const pc_partition *part,
                          pc_schedule_kind kind, int batch, int nmicro,
                          const pc_cost_config *cfg, GError **error);
void pc_prediction_free(pc_prediction *p);

/* Runs P's op lists again on ENGINE with the compute ops (FWD, BWD, BWD_W, OPT) taking
 * DURATIONS[s][i] seconds (op i of stage s; other ops' entries are not read) and messages and
 * overheads as P's costs model them: a measured iteration replayed (`pipecast-sim run
 * --durations`), so that what the schedule and message model alone get wrong shows apart from
 * the compute costs. Replaces P's timeline, statistics and makespan, and its per-stage costs by
 * the means of the durations (the all-reduce, which a measured OPT holds, by 0). Errors: those
 * of pc_engine_run (a negative or NaN duration is PC_ERROR_USAGE). */
bool pc_prediction_replay(pc_engine *engine, pc_prediction *p, double *const *durations,
                          GError **error);

/* Mean bubble fraction over the stages, and the largest memory of a stage. */
double pc_prediction_bubble(const pc_prediction *p);
size_t pc_prediction_peak_memory(const pc_prediction *p);

/* Ideal pipeline speedup P * M / (M + P - 1). */
double pc_ideal_speedup(int nstages, int nmicro);

#endif
