/* allreduce.c — the ring all-reduce of exec/allreduce.h. */
#include "allreduce.h"

#include <glib.h>

#include "kernels.h"

/* [*lo, *hi) of chunk c of n floats cut into d. */
static void chunk(size_t n, int d, int c, size_t *lo, size_t *hi) {
  *lo = n * (size_t)c / (size_t)d;
  *hi = n * (size_t)(c + 1) / (size_t)d;
}

/* Piece k of [lo, hi): its start and length (0 past the end). */
static size_t piece(size_t lo, size_t hi, size_t k, size_t *at) {
  *at = lo + k * PC_ALLREDUCE_PIECE;
  return *at >= hi ? 0 : MIN(PC_ALLREDUCE_PIECE, hi - *at);
}

/* One step of the ring: send chunk `out` to `next`, receive chunk `in` from `prev`, adding it to
 * buf (reduce) or storing it (gather). Pieces go two at a time: piece k + 1 is on its way while
 * piece k is added. */
static void step(float *buf, size_t n, int d, int out, int in, int next, int prev, bool reduce,
                 float *scratch, MPI_Comm comm, pc_wait_fn wait, void *ctx, const char *what) {
  size_t olo, ohi, ilo, ihi;
  chunk(n, d, out, &olo, &ohi);
  chunk(n, d, in, &ilo, &ihi);
  size_t pieces = (MAX(ohi - olo, ihi - ilo) + PC_ALLREDUCE_PIECE - 1) / PC_ALLREDUCE_PIECE;
  MPI_Request send[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
  MPI_Request recv[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
  for (size_t k = 0; k <= pieces; k++) {
    size_t at, len;
    if (k < pieces) { /* post piece k */
      int b = (int)(k % 2);
      if ((len = piece(ilo, ihi, k, &at)) > 0)
        MPI_Irecv(reduce ? scratch + (size_t)b * PC_ALLREDUCE_PIECE : buf + at, (int)len,
                  MPI_FLOAT, prev, 0, comm, &recv[b]);
      if ((len = piece(olo, ohi, k, &at)) > 0)
        MPI_Isend(buf + at, (int)len, MPI_FLOAT, next, 0, comm, &send[b]);
    }
    if (k > 0) { /* finish piece k - 1 */
      int b = (int)((k - 1) % 2);
      wait(ctx, &recv[b], what);
      if (reduce && (len = piece(ilo, ihi, k - 1, &at)) > 0)
        pc_accumulate(buf + at, scratch + (size_t)b * PC_ALLREDUCE_PIECE, len);
      wait(ctx, &send[b], what);
    }
  }
}

void pc_ring_allreduce(float *buf, size_t n, MPI_Comm comm, pc_wait_fn wait, void *ctx,
                       double *phase_s) {
  int d, r;
  MPI_Comm_size(comm, &d);
  MPI_Comm_rank(comm, &r);
  if (d == 1 || n == 0) return;
  float *scratch = g_new(float, 2 * PC_ALLREDUCE_PIECE);
  int next = (r + 1) % d, prev = (r + d - 1) % d;
  double t0 = MPI_Wtime();
  for (int s = 0; s < d - 1; s++) /* reduce-scatter: r ends with the sum of chunk r + 1 */
    step(buf, n, d, (r - s + d) % d, (r - s - 1 + d) % d, next, prev, true, scratch, comm, wait,
         ctx, "in the all-reduce of the gradients (reduce-scatter)");
  double t1 = MPI_Wtime();
  for (int s = 0; s < d - 1; s++) /* all-gather: pass the summed chunks around */
    step(buf, n, d, (r + 1 - s + d) % d, (r - s + d) % d, next, prev, false, scratch, comm, wait,
         ctx, "in the all-reduce of the gradients (all-gather)");
  if (phase_s) phase_s[0] = t1 - t0, phase_s[1] = MPI_Wtime() - t1;
  g_free(scratch);
}
