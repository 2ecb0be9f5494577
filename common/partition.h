/* partition.h — cutting a model into pipeline stages, and the notation that says how.
 *
 * A partition is a list of contiguous ranges of layers in file order, one per stage. It is
 * written as a spec string:
 *   by names   "conv1..layer2.1 | layer2.2..fc"   (a name may be a layer or a scope such as
 *              layer2.1, which stands for every layer under it)
 *   by counts  "8,8,8,8"                          (layers per stage, in file order)
 *   computed   "auto:flops", "auto:params"        (exact: minimises the largest stage)
 *   markers    "split"                            (the `split` statements in the model file)
 * and any partition can be printed back as a names spec (pc_partition_format).
 *
 * Every tensor produced in one stage and read in a later one is a transfer (pc_xfer): the
 * producer's stage sends it straight to each consuming stage, skipping the stages in between
 * (the skip tensor of a residual block cut in the middle is one). Gradients travel the same
 * transfers backwards. */
#ifndef PC_PARTITION_H
#define PC_PARTITION_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "model.h"

typedef struct {
  int nstages;
  int *first; /* (nstages + 1): stage s holds layers [first[s], first[s+1]); first[nstages] = nlayers */
} pc_partition;

/* One tensor crossing a stage boundary, forward direction (its gradient goes dst -> src). */
typedef struct {
  int tensor;        /* index of the producing layer; its output is the tensor */
  int src;           /* producing stage */
  int dst;           /* consuming stage, > src */
  int64_t bytes;     /* per sample (float32) */
} pc_xfer;

typedef enum {
  PC_PARTITION_BY_FLOPS,  /* forward + backward FLOPs */
  PC_PARTITION_BY_PARAMS, /* parameter count */
} pc_partition_by;

/* Parses SPEC for MODEL. nstages is the stage count wanted by "auto:*" specs (ignored, and may
 * be 0, for the others). NULL and PC_ERROR_PARTITION / PC_ERROR_PARSE on a spec that is not
 * valid for the model; the message names the offending part of the spec. */
pc_partition *pc_partition_parse(const pc_model *model, const char *spec, int nstages,
                                 GError **error);

/* The exact contiguous partition of nlayers layers into nstages stages that minimises the
 * largest stage cost, where cost(i, j, ctx) is the cost of a stage holding layers [i, j) (any
 * function: a sum of per-layer weights, or one that also charges the tensors crossing the
 * stage's ends). Dynamic programming over every cut, O(nstages * nlayers^2) calls of cost; among
 * the optimal partitions each cut is the earliest, so the result is deterministic. *bottleneck
 * (may be NULL) gets the largest stage cost. NULL with PC_ERROR_PARTITION when nstages < 1 or
 * nstages > nlayers. */
pc_partition *pc_partition_min_max(int nlayers, int nstages,
                                   double (*cost)(int i, int j, void *ctx), void *ctx,
                                   double *bottleneck, GError **error);

/* pc_partition_min_max where a stage costs the sum of its layers' weights cost[i]. */
pc_partition *pc_partition_balance(const double *cost, int nlayers, int nstages, GError **error);

/* auto:time: the exact contiguous partition into NSTAGES stages minimising the largest stage time, where
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

/* auto:flops / auto:params for MODEL. */
pc_partition *pc_partition_auto(const pc_model *model, pc_partition_by by, int nstages,
                                 GError **error);

/* The whole model in one stage. */
pc_partition *pc_partition_whole(const pc_model *model);

/* Stages given by layer counts. */
pc_partition *pc_partition_from_counts(const pc_model *model, const int *counts, int nstages,
                                       GError **error);

/* Checks that every layer is in exactly one stage, stages contiguous and non-empty. */
bool pc_partition_validate(const pc_model *model, const pc_partition *part, GError **error);

/* "a..b | c | d..e" with layer names; round-trips through pc_partition_parse. g_free() it. */
char *pc_partition_format(const pc_model *model, const pc_partition *part);

/* Stage that holds layer i. */
int pc_partition_stage_of(const pc_partition *part, int layer);

/* The transfers of PART, ordered by (src, tensor, dst). g_array_unref() it. Element: pc_xfer. */
GArray *pc_partition_transfers(const pc_model *model, const pc_partition *part);

pc_partition *pc_partition_copy(const pc_partition *part);
void pc_partition_free(pc_partition *part);
bool pc_partition_equal(const pc_partition *a, const pc_partition *b);

#endif
