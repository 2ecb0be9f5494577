/* shape.h — the per-sample shape of a tensor: (C) for flat features or (C, H, W) for images.
 *
 * The batch dimension is never part of a shape: every tensor a layer reads or writes is laid
 * out as (N, C) or (N, C, H, W), row-major, with N the (micro)batch size chosen at run time. */
#ifndef PC_SHAPE_H
#define PC_SHAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PC_SHAPE_MAX_DIMS 3

typedef struct {
  int ndim;                   /* 1: (C); 3: (C, H, W) */
  int64_t d[PC_SHAPE_MAX_DIMS];
} pc_shape;

/* Elements per sample. */
int64_t pc_shape_numel(const pc_shape *s);
/* Equal rank and dimensions. */
bool pc_shape_equal(const pc_shape *a, const pc_shape *b);
/* Writes "1024" or "3x32x32" into buf (always NUL-terminated); returns buf. */
char *pc_shape_format(const pc_shape *s, char *buf, size_t size);

#define PC_SHAPE_STRLEN 64

#endif
