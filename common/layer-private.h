/* layer-private.h — helpers shared by the layer kinds in common/layers/; not public API. */
#ifndef PC_LAYER_PRIVATE_H
#define PC_LAYER_PRIVATE_H

#include <stddef.h>

#include "error.h"
#include "layer.h"

/* The layer's attribute struct, typed. */
#define PC_ATTRS(l, type) ((const type *)(l)->attrs)

/* Shape checks that fill a PC_ERROR_SHAPE message saying what was expected. */
bool pc_layer_need_image(pc_layer *l, GError **error);
bool pc_layer_need_flat(pc_layer *l, GError **error);
/* A flat input (C) or a sequence (T, C), which row-wise kinds treat as T rows of C. */
bool pc_layer_need_rows(pc_layer *l, GError **error);
/* Of such an input: the size of a row (its last dimension), and rows per sample (T, or 1). */
size_t pc_layer_row(const pc_layer *l);
size_t pc_layer_rows(const pc_layer *l);
/* Sets l->out's H and W for a sliding window (conv, pools); checks it fits. */
bool pc_layer_window_out(pc_layer *l, int64_t k, int64_t stride, int64_t pad, GError **error);

int64_t pc_layer_zero_params(const pc_layer *l);
int64_t pc_layer_saves_nothing(const pc_layer *l);
double pc_layer_out_elems(const pc_layer *l);
double pc_layer_in_elems(const pc_layer *l);

#endif
