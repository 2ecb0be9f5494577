/* sim-test-util.h — helpers shared by the simulator tests: transfer lists and schedule building. */
#ifndef PC_TEST_SIM_UTIL_H
#define PC_TEST_SIM_UTIL_H

#include <glib.h>

#include "engine.h"
#include "error.h"
#include "schedule.h"

/* One transfer between each pair of adjacent stages: i -> i+1. g_free() it. */
static inline pc_xfer *test_chain(int nstages, int *nxfers) {
  *nxfers = nstages - 1;
  pc_xfer *x = g_new0(pc_xfer, nstages > 1 ? nstages - 1 : 1);
  for (int i = 0; i + 1 < nstages; i++)
    x[i] = (pc_xfer){.tensor = i, .src = i, .dst = i + 1, .bytes = 4096};
  return x;
}

/* Schedule of KIND on NSTAGES ranks of the kind's chunks, a chain of virtual stages; aborts the
 * test on error. */
static inline pc_schedule *test_chain_schedule(pc_schedule_kind kind, int nstages, int nmicro) {
  int nx;
  pc_xfer *x = test_chain(nstages * pc_schedule_default_chunks(kind), &nx);
  GError *err = NULL;
  pc_schedule *s = pc_schedule_new(kind, nstages, nmicro, x, nx, &err);
  g_assert_no_error(err);
  g_assert_nonnull(s);
  g_free(x);
  return s;
}

/* Index of an op that must exist. */
static inline int test_find(const pc_schedule *s, int stage, pc_op_kind kind, int mb, bool grad,
                            int xfer) {
  int i = pc_schedule_find_op(s, stage, kind, mb, 0, grad, xfer);
  g_assert_cmpint(i, >=, 0);
  return i;
}

#endif
