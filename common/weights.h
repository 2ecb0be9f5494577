/* weights.h — weights files: named float32 tensors, written atomically.
 *
 * Format (version 1), a text header then the data:
 *
 *   pipecast-weights 1
 *   model NAME
 *   tensors N
 *   NAME COUNT            (N lines, e.g. "layer1.0.conv1.weight 4096")
 *   data                  (this line, then the N tensors' COUNT float32 each, little-endian, in
 *                          the header's order, and nothing after them)
 *
 * Tensor names are PyTorch's state_dict names ("fc1.weight", "bn1.running_var"), so a file can
 * be compared with a PyTorch model of the same layers. The same format serves the one-process
 * trainer's --save/--load and each stage's part of a checkpoint (momentum buffers are named
 * "<tensor>.momentum"). */
#ifndef PC_WEIGHTS_H
#define PC_WEIGHTS_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

/* Writes PATH through PATH.tmp and a rename, so a crash leaves either the old file or the new
 * one. Extra header lines `meta KEY VALUE` carry `meta` (NULL-terminated key, value pairs). */
bool pc_weights_save(const char *path, const char *model, int n, const char *const *names,
                     float *const *data, const size_t *counts, const char *const *meta,
                     GError **error);

/* Reads into the caller's buffers every tensor it names; each must be in the file with the same
 * count. With `exact`, the file must hold no other tensor (a file for another model, or another
 * stage, is refused). `model` is checked against the file's when not NULL. meta_out (may be NULL)
 * receives the meta lines as a new hash table (g_hash_table_unref it). PC_ERROR_IO or
 * PC_ERROR_FORMAT with a message naming the file and the tensor. */
bool pc_weights_load(const char *path, const char *model, int n, const char *const *names,
                     float *const *data, const size_t *counts, bool exact, GHashTable **meta_out,
                     GError **error);

#endif
