/* runtime.h — one pipeline stage of a model (or the whole model) made runnable.
 *
 * A runtime owns the memory of one pipeline stage (or of the whole model, for the one-process
 * trainer), all of it sized and allocated up front in one block per kind, as llm.c does:
 * parameters, their gradients, the optimizer's state (SGD's momentum, or AdamW's two moments),
 * non-trained buffers (batch norm's running
 * statistics), and, for each of `slots` microbatches in flight, every layer's output and the
 * state kept from forward to backward. Nothing is allocated while training.
 *
 * Tensors crossing the stage's boundary are the partition's transfers (pc_xfer): each has an
 * activation buffer and a gradient buffer per slot (pc_runtime_xfer_act, pc_runtime_xfer_grad)
 * that the caller receives into or sends from. The model's input is read by whichever stage
 * holds its consumers, from pc_runtime_data.
 *
 * Gradient sums follow one fixed order whatever the partition (gradients from later stages
 * first, then this range's layers in reverse file order), so a pipelined run ends with the same
 * bits as the one-process run with the same microbatching. */
#ifndef PC_RUNTIME_H
#define PC_RUNTIME_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels.h"
#include "model.h"
#include "partition.h"

/* Floats per message of the executor's gradient all-reduce among replicas (exec/allreduce.h),
 * which pipecast-sim prices message by message. */
#define PC_ALLREDUCE_PIECE ((size_t)262144)



typedef struct pc_runtime pc_runtime;

/* The runtime of stage `stage` of PART (a one-stage partition for the whole model), for
 * microbatches of `mb` samples with `slots` of them in flight. Parameters are initialised from
 * `seed` and each layer's name, so every partition starts from the same weights. NULL with
 * PC_ERROR_USAGE when the memory needed exceeds `max_bytes` (0: no limit), giving the estimate. */
pc_runtime *pc_runtime_new(const pc_model *model, const pc_partition *part, int stage, size_t mb,
                           int slots, uint64_t seed, size_t max_bytes, GError **error);
/* What a runtime holds beyond its stage's layers (pc_runtime_new_layout; NULL: the defaults). */
typedef struct {
  bool split;          /* a split backward (pc_runtime_backward_input, then
                        * pc_runtime_backward_weights): each slot also keeps the output
                        * gradient of every layer whose kind splits, for its weights */
  pc_optim_kind optim; /* the optimizer whose state it keeps and whose steps it takes: SGD's
                        * momentum, or AdamW's two moments */
} pc_runtime_layout;
pc_runtime *pc_runtime_new_layout(const pc_model *model, const pc_partition *part, int stage,
                                  size_t mb, int slots, uint64_t seed, size_t max_bytes,
                                  const pc_runtime_layout *layout, GError **error);
void pc_runtime_free(pc_runtime *rt);

/* Bytes pc_runtime_new (pc_runtime_new_layout) would allocate for these arguments. */
size_t pc_runtime_bytes(const pc_model *model, const pc_partition *part, int stage, size_t mb,
                        int slots);
size_t pc_runtime_bytes_layout(const pc_model *model, const pc_partition *part, int stage,
                               size_t mb, int slots, const pc_runtime_layout *layout);

/* Bytes allocated, by kind: parameters+gradients+optimizer state+buffers, and activations. */
size_t pc_runtime_param_bytes(const pc_runtime *rt);
size_t pc_runtime_activation_bytes(const pc_runtime *rt);

/* The transfers of the partition (pc_partition_transfers), shared with the caller. */
const GArray *pc_runtime_transfers(const pc_runtime *rt);

/* Activation of transfer x in slot, (mb, numel) floats: for a transfer into this stage the buffer
 * to receive into before the forward; for one out of it the producing layer's output, to send
 * after the forward. NULL for transfers that do not touch this stage. */
float *pc_runtime_xfer_act(pc_runtime *rt, int x, int slot);
/* Gradient of transfer x in slot: for a transfer out of this stage the buffer to receive into
 * before the backward; for one into it the gradient the backward wrote, to send. */
float *pc_runtime_xfer_grad(pc_runtime *rt, int x, int slot);

/* The model's input for the microbatch in slot, (mb, numel(input)), when this stage reads it
 * (else NULL). */
float *pc_runtime_data(pc_runtime *rt, int slot);

/* Labels of the microbatch in `slot` (for a range holding the loss layer), (mb, positions)
 * int32 (pc_model_positions). */
int32_t *pc_runtime_labels(pc_runtime *rt, int slot);

/* Forward of the microbatch in `slot`. With train false batch norm uses running statistics.
 * Returns the first layer whose output holds a NaN or an infinity, or -1: each output is checked
 * right after its layer made it, while it is still in cache (every output, not only what leaves
 * the stage: a ReLU turns NaN into 0 and would hide it). */
int pc_runtime_forward(pc_runtime *rt, int slot, bool train);
/* Backward of the microbatch in `slot`; gradients of the parameters accumulate. `scale` is the
 * loss gradient's scale: 1 / (minibatch size). */
void pc_runtime_backward(pc_runtime *rt, int slot, float scale);

/* A split backward (a runtime laid out with split): the input gradients of slot's
 * microbatch through the stage, keeping each splitting layer's output gradient in the slot,
 * and later its weight gradients, which accumulate as pc_runtime_backward's do. */
void pc_runtime_backward_input(pc_runtime *rt, int slot, float scale);
void pc_runtime_backward_weights(pc_runtime *rt, int slot);
/* Optimizer step O (the runtime's own kind, pc_runtime_layout) over every parameter of the
 * range, then gradients back to zero. Returns the first layer whose gradient held a NaN or an
 * infinity (checked in the same pass), or -1. */
int pc_runtime_step(pc_runtime *rt, const pc_optim *o);
/* The sum of the squares of LAYER's parameter gradients (pc_sum_squares; 0 without
 * parameters; a tied weight counts at its owner only): the pieces of the global gradient norm,
 * added up in layer order. */
double pc_runtime_grad_sum_squares(const pc_runtime *rt, int layer);
/* Tied weights (pc_layer.tie): the embedding and each layer tied to it hold a copy of the
 * weight, with a gradient each; before the norm and the step both gradients become their sum,
 * so both copies step alike. The gradient of LAYER's weight (count floats), NULL when the
 * runtime does not hold LAYER. */
float *pc_runtime_weight_grad(pc_runtime *rt, int layer, size_t *count);
/* The sum for every tied pair the runtime holds both layers of. */
void pc_runtime_tie_grads(pc_runtime *rt);
/* The optimizer the runtime keeps state for (pc_runtime_layout). */
pc_optim_kind pc_runtime_optim(const pc_runtime *rt);

/* Loss of the last forward in `slot`: sum over its samples, and how many were right (a
 * sequence counts the share of its positions that were). */
double pc_runtime_loss_sum(const pc_runtime *rt, int slot);
double pc_runtime_correct(const pc_runtime *rt, int slot);

/* Named tensors of the range's state, in a fixed order: "<layer>.weight", "<layer>.bias",
 * "<layer>.running_mean", "<layer>.running_var" (PyTorch's names), then with `optimizer` the
 * optimizer's state: SGD's "<layer>.weight.momentum", ..., or AdamW's "<layer>.weight.exp_avg",
 * ... then "<layer>.weight.exp_avg_sq", .... Returns the count; fills names, data and counts
 * when they are not NULL. */
int pc_runtime_tensors(pc_runtime *rt, bool optimizer, const char **names, float **data,
                       size_t *counts);

/* All parameters and their gradients as flat arrays (for all-reduce and for tests). */
float *pc_runtime_params(pc_runtime *rt, size_t *count);
float *pc_runtime_grads(pc_runtime *rt, size_t *count);
/* Where layer LAYER's parameters start in those arrays (layers in order, each one's contiguous);
 * the stage's end layer gives the count. */
size_t pc_runtime_param_offset(const pc_runtime *rt, int layer);

/* The layer output of the last forward in slot (for tests and profiles). */
const float *pc_runtime_layer_output(const pc_runtime *rt, int layer, int slot);

/* A function the runtime calls after each layer of pc_runtime_forward, pc_runtime_backward and
 * pc_runtime_step (not of the pieces below), with DATA; NULL: none. The executor uses it to keep its messages
 * moving while the stage computes (exec/train.c). */
typedef void (*pc_runtime_hook)(void *data);
void pc_runtime_set_between_layers(pc_runtime *rt, pc_runtime_hook hook, void *data);

/* The pieces of a pass, for profiling: pc_runtime_forward is forward_layer (false: the output
 * holds a NaN or an infinity) over the stage's layers in order; pc_runtime_backward is
 * backward_begin (the gradients no layer of the stage zeroes are zeroed, gradients from later
 * stages added) then backward_layer in reverse order (each zeroes an input's gradient before the
 * first contribution to it); pc_runtime_step is step_layer in order. */
bool pc_runtime_forward_layer(pc_runtime *rt, int layer, int slot, bool train);
void pc_runtime_backward_begin(pc_runtime *rt, int slot, float scale);
void pc_runtime_backward_layer(pc_runtime *rt, int layer, int slot);
bool pc_runtime_step_layer(pc_runtime *rt, int layer, const pc_optim *o);
/* The pieces of a split backward: pc_runtime_backward_input is backward_begin then
 * backward_input_layer in reverse order; pc_runtime_backward_weights is backward_weights_layer
 * in reverse order (false, doing nothing, for a layer whose kind does not split). */
void pc_runtime_backward_input_layer(pc_runtime *rt, int layer, int slot);
bool pc_runtime_backward_weights_layer(pc_runtime *rt, int layer, int slot);

#endif
