/* costfiles.h — the simulator's measured inputs, read from the TSV files that
 * `pipecast-exec profile` and `pipecast-exec calibrate` write: per-layer seconds (profile), the
 * links' piecewise alpha-beta (net) and GEMM rates. The formats and every default are documented
 * in docs/simulator.md.
 *
 * Every reader reports a bad file as PC_ERROR_FORMAT (PC_ERROR_IO when it cannot be read) with
 * "FILE:LINE: what is wrong". Nothing here keeps global state. */
#ifndef PC_COSTFILES_H
#define PC_COSTFILES_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels.h"
#include "model.h"

/* ------------------------------------------------------------------------------------------ */
/* Profile: measured per-layer seconds (`pipecast-exec profile`) */

/* A profile file in memory. Rows are grouped by layer, microbatch sizes ascending. */
typedef struct pc_profile pc_profile;

/* Reads a profile TSV: `#` comment lines (`# key value` metadata: `model`, `overhead_s`), the
 * header `layer kind mb fwd_s bwd_s opt_s` (tab-separated; `bwd_b_s bwd_w_s`, the backward's
 * halves, may follow), and at least one row. Errors (with
 * FILE:LINE): bad header, a field that is not a number, a negative, NaN or infinite cost, a
 * microbatch size < 1, a duplicate (layer, mb) row, a layer whose kind differs between rows,
 * no rows. */
pc_profile *pc_profile_load(const char *path, GError **error);

/* The same from text; FILENAME is used in messages. */
pc_profile *pc_profile_parse(const char *text, const char *filename, GError **error);

/* The statistic that pools samples into a profile row. */
typedef enum { PC_PROFILE_MEDIAN, PC_PROFILE_MEAN, PC_PROFILE_MIN } pc_profile_stat;

/* "median", "mean" or "min"; else PC_ERROR_USAGE naming --profile-stat. */
bool pc_profile_stat_from_name(const char *name, pc_profile_stat *stat, GError **error);

/* A profile from the N samples files PATHS (`pipecast-exec profile --samples`: the header
 * `layer kind mb rank rep fwd_s bwd_s opt_s`, perhaps `bwd_b_s bwd_w_s` after in every file or
 * in none, a row per rank and repetition): each (layer, mb)
 * row is STAT of each column over every sample of every file. Metadata comes from the files'
 * comments (the last `# model` and `# overhead_s` seen). Errors as pc_profile_load's, naming
 * FILE:LINE. */
pc_profile *pc_profile_load_samples(const char *const *paths, int n, pc_profile_stat stat,
                                    GError **error);

/* Whether PROFILE was pooled from samples files (pc_profile_load_samples). */
bool pc_profile_pooled(const pc_profile *profile);

/* *IS: whether PATH is a samples file (its header, after any comments, is the samples header).
 * false when PATH cannot be read (PC_ERROR_IO naming it). */
bool pc_profile_is_samples(const char *path, bool *is, GError **error);

void pc_profile_free(pc_profile *profile);

/* The `# model NAME` metadata, or NULL. */
const char *pc_profile_model(const pc_profile *profile);

/* The per-op fixed overhead (`# overhead_s`; 0 when absent), seconds. */
double pc_profile_overhead(const pc_profile *profile);

/* Checks that PROFILE describes MODEL: the parameters its files recorded (`# param`) are the
 * model's, every layer of the model has rows (else an error naming the first missing layer),
 * every row names a layer of the model with its kind (else an error naming FILE:LINE and the
 * layer). */
bool pc_profile_check(const pc_profile *profile, const pc_model *model, GError **error);

/* Seconds of forward and backward of layer NAME for a microbatch of MB samples: exact at a
 * measured size, linear interpolation between the two measured sizes around MB, and outside the
 * measured range an error (PC_ERROR_USAGE, naming the layer and the range) unless EXTRAPOLATE,
 * which extends the line through the two nearest sizes (through the origin when only one size
 * was measured), clamped at 0, and sets *extrapolated (when not NULL) to true. *opt gets the
 * optimizer step's seconds (the mean of the layer's rows). Any output pointer may be NULL. */
bool pc_profile_layer(const pc_profile *profile, const char *name, double mb, bool extrapolate,
                      double *fwd, double *bwd, double *opt, bool *extrapolated, GError **error);

/* The profile times the backward's halves too (pipecast-exec profile --split: columns bwd_b_s,
 * the input gradient, and bwd_w_s, the weight gradient, as zero-bubble schedules run them). */
bool pc_profile_split(const pc_profile *profile);
/* The optimizer whose step the profile's opt_s timed (`# optimizer sgd|adamw`; SGD without). */
pc_optim_kind pc_profile_optimizer(const pc_profile *profile);
/* Those halves of layer NAME at MB, as pc_profile_layer finds its seconds; only for a profile
 * that has them. */
bool pc_profile_layer_split(const pc_profile *profile, const char *name, double mb,
                            bool extrapolate, double *b, double *w, GError **error);

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
  double overlap_slowdown; /* `# overlap_ring_slowdown`: the ring's time beside computation over
                            * its time alone; 0 when absent (then 1) */
  double overlap_share;    /* `# overlap_compute_share`: computation's rate beside the ring over
                            * its rate alone; 0 when absent (then 1) */
  bool intra_builtin; /* the file has no intra row (one rank per node): the built-in one */
} pc_net;

/* Reads a net TSV: `#` comments (`# send_overhead_s X`, `# recv_overhead_s X`,
 * `# ring_reduce_seconds_per_byte X`, `# ring_gather_seconds_per_byte X`; 0 when absent), the
 * header `link bytes latency_s seconds_per_byte`, rows with link `intra` or `inter`. Errors (FILE:LINE):
 * bad header, unknown link, a field that is not a number, negative/NaN/infinite values, sizes
 * not strictly increasing within a link, no rows. A file without `intra` rows (calibrated with
 * one rank per node) gets the built-in intra link (intra_builtin). */
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
/* Seconds of each end's computation a message of BYTES on LINK takes: between nodes, what the
 * calibration saw the ring take from computation beside it (1 - overlap_compute_share of the
 * ring's time beside it; the link's rate where the ring's is not recorded), per byte sent or
 * received; 0 within a node or without overlap_compute_share. */
double pc_net_cpu(const pc_net *net, pc_link link, double bytes);

/* The executor's ring all-reduce (exec/allreduce.h) of BYTES among D ranks over LINK: D - 1
 * reduce-scatter and D - 1 all-gather steps, each passing a chunk of c = BYTES/D in k messages
 * of at most PC_ALLREDUCE_PIECE floats: (D - 1) * (2 k latency + c (rs + ag)), with the latency
 * of the table's row for one message and, per chunk byte, rs and ag the measured
 * ring_reduce/ring_gather rates, which belong to the link calibrate's ring ran over (inter where
 * the file has it, else intra); on the other link, or where the file lacks them, ag is the row's
 * seconds_per_byte and rs the slower of it and a 4 GB/s sum. 0 when D <= 1. */
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

#endif
