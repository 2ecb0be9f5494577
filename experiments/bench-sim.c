/* bench-sim.c — speed of schedule generation and of the discrete-event engine.
 *
 * For GPipe and 1F1B on a chain of P stages (one transfer between each pair of adjacent stages)
 * and M microbatches, times schedule generation and one simulated iteration, several runs, and
 * prints the medians as plain text: generation, engine, their sum, events and events per
 * second. The engine is created once and reused, as a sweep would; the first (cold) run, which
 * also sizes the engine's buffers, is printed separately.
 *
 *   bench-sim [P [M [RUNS]]]      defaults 256 1024 9 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine.h"
#include "error.h"
#include "timing.h"
#include "schedule.h"

int main(int argc, char **argv) {
  int P = argc > 1 ? atoi(argv[1]) : 256;
  int M = argc > 2 ? atoi(argv[2]) : 1024;
  int runs = argc > 3 ? atoi(argv[3]) : 9;
  if (P < 1 || M < 1 || runs < 1) {
    fprintf(stderr, "usage: bench-sim [STAGES [MICROBATCHES [RUNS]]]\n");
    return PC_EXIT_INPUT;
  }
  pc_xfer *x = g_new0(pc_xfer, 2 * (size_t)P); /* a chain of up to 2 chunks per rank */
  for (int i = 0; i + 1 < 2 * P; i++)
    x[i] = (pc_xfer){.tensor = i, .src = i, .dst = i + 1, .bytes = 1 << 20};
  pc_sim_uniform u = {.fwd = 1e-3, .bwd = 2e-3, .message = 1e-4, .send_overhead = 5e-6,
                      .recv_overhead = 5e-6};
  pc_sim_costs costs;
  pc_sim_costs_uniform(&costs, &u);

  printf("bench-sim: %d stages x %d microbatches, chain transfers, %d runs (medians)\n", P, M,
         runs);
  printf("%-11s %10s %10s %10s %10s %12s %14s %12s\n", "sched", "gen_s", "engine_s", "total_s",
         "cold_s", "events", "events_per_s", "makespan_s");
  double *gen = g_new(double, runs), *sim = g_new(double, runs), *tot = g_new(double, runs);
  for (int k = 0; k < PC_SCHEDULE_KIND_COUNT; k++) {
    pc_engine *e = pc_engine_new();
    uint64_t nevents = 0;
    double makespan = 0, cold = 0;
    for (int r = 0; r < runs; r++) {
      GError *err = NULL;
      double t0 = pc_now_s();
      int C = pc_schedule_default_chunks(k);
      pc_schedule *s = pc_schedule_new(k, P, M, x, P * C - 1, &err);
      double t1 = pc_now_s();
      const pc_sim_result *res = s ? pc_engine_run(e, s, &costs, &err) : NULL;
      double t2 = pc_now_s();
      if (res == NULL) {
        fprintf(stderr, "bench-sim: %s\n", err->message);
        return 1;
      }
      nevents = res->nevents;
      makespan = res->makespan;
      gen[r] = t1 - t0;
      sim[r] = t2 - t1;
      tot[r] = t2 - t0;
      if (r == 0)
        cold = tot[r];
      pc_schedule_free(s);
    }
    double g = pc_median(gen, runs), m = pc_median(sim, runs), t = pc_median(tot, runs);
    printf("%-11s %10.4f %10.4f %10.4f %10.4f %12" G_GUINT64_FORMAT " %14.3e %12.6f\n",
           pc_schedule_kind_name(k), g, m, t, cold, nevents, (double)nevents / m, makespan);
    pc_engine_free(e);
  }
  g_free(gen);
  g_free(sim);
  g_free(tot);
  g_free(x);
  return 0;
}
