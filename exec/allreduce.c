/* allreduce.c — the ring all-reduce of exec/allreduce.h. */
#include "allreduce.h"

#include <glib.h>

#include "exec.h"
#include "kernels.h"

typedef struct {
  float *buf;
  size_t n;
  int d, next, prev; /* ring size, the ranks sent to and received from */
  float *scratch;    /* (2, PC_ALLREDUCE_PIECE): pieces received for the sum */
  MPI_Comm comm;
  pc_wait_fn wait; /* NULL: MPI_Wait */
  void *ctx;
} ring;

static void ring_wait(const ring *g, MPI_Request *req, const char *what) {
  if (g->wait) g->wait(g->ctx, req, what);
  else MPI_Wait(req, MPI_STATUS_IGNORE);
}

/* [*lo, *hi) of chunk c. */
static void chunk(const ring *g, int c, size_t *lo, size_t *hi) {
  *lo = g->n * (size_t)c / (size_t)g->d;
  *hi = g->n * (size_t)(c + 1) / (size_t)g->d;
}

/* Piece k of [lo, hi): its start and length (0 past the end). */
static size_t piece(size_t lo, size_t hi, size_t k, size_t *at) {
  *at = lo + k * PC_ALLREDUCE_PIECE;
  return *at >= hi ? 0 : MIN(PC_ALLREDUCE_PIECE, hi - *at);
}

/* One step: send chunk `out` to the next rank, receive chunk `in` from the previous one, adding it
 * to buf (reduce) or storing it (gather). Two pieces are in flight: piece k + 1 arrives while
 * piece k is added. */
static void step(const ring *g, int out, int in, bool reduce, const char *what) {
  size_t olo, ohi, ilo, ihi;
  chunk(g, out, &olo, &ohi);
  chunk(g, in, &ilo, &ihi);
  size_t pieces = (MAX(ohi - olo, ihi - ilo) + PC_ALLREDUCE_PIECE - 1) / PC_ALLREDUCE_PIECE;
  MPI_Request send[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
  MPI_Request recv[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
  for (size_t k = 0; k <= pieces; k++) {
    size_t at, len;
    if (k < pieces) { /* post piece k */
      int b = (int)(k % 2);
      float *into = g->scratch + (size_t)b * PC_ALLREDUCE_PIECE;
      if ((len = piece(ilo, ihi, k, &at)) > 0)
        MPI_Irecv(reduce ? into : g->buf + at, (int)len, MPI_FLOAT, g->prev, 0, g->comm, &recv[b]);
      if ((len = piece(olo, ohi, k, &at)) > 0)
        MPI_Isend(g->buf + at, (int)len, MPI_FLOAT, g->next, 0, g->comm, &send[b]);
    }
    if (k > 0) { /* finish piece k - 1 */
      int b = (int)((k - 1) % 2);
      ring_wait(g, &recv[b], what);
      if (reduce && (len = piece(ilo, ihi, k - 1, &at)) > 0)
        pc_accumulate(g->buf + at, g->scratch + (size_t)b * PC_ALLREDUCE_PIECE, len);
      ring_wait(g, &send[b], what);
    }
  }
}

void pc_ring_allreduce(float *buf, size_t n, MPI_Comm comm, pc_wait_fn wait, void *ctx,
                       double *phase_s) {
  int d, r;
  MPI_Comm_size(comm, &d);
  MPI_Comm_rank(comm, &r);
  if (d == 1 || n == 0) return;
  ring g = {buf, n, d, (r + 1) % d, (r + d - 1) % d, g_new(float, 2 * PC_ALLREDUCE_PIECE), comm,
            wait, ctx};
  double t0 = MPI_Wtime();
  for (int s = 0; s < d - 1; s++) /* reduce-scatter: r ends with the sum of chunk r + 1 */
    step(&g, (r - s + d) % d, (r - s - 1 + d) % d, true,
         "in the all-reduce of the gradients (reduce-scatter)");
  double t1 = MPI_Wtime();
  for (int s = 0; s < d - 1; s++) /* all-gather: pass the summed chunks around */
    step(&g, (r + 1 - s + d) % d, (r - s + d) % d, false,
         "in the all-reduce of the gradients (all-gather)");
  if (phase_s) phase_s[0] = t1 - t0, phase_s[1] = MPI_Wtime() - t1;
  g_free(g.scratch);
}

void pc_sleepy_wait(void *ctx, MPI_Request *req, const char *what) {
  const pc_sleepy_limit *l = ctx;
  double start = MPI_Wtime();
  for (int done = 0;;) {
    MPI_Test(req, &done, MPI_STATUS_IGNORE);
    if (done) return;
    if (l && l->timeout > 0 && MPI_Wtime() - start > l->timeout)
      pc_exec_die("stage %d timed out after %g s waiting %s", l->stage, l->timeout, what);
    g_usleep(PC_SLEEPY_US);
  }
}
