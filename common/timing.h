/* timing.h — the clock and the statistic that every timing in pipecast uses (the executor's
 * reports, profiles and calibration, and the benchmarks). */
#ifndef PC_TIMING_H
#define PC_TIMING_H

/* Seconds on the monotonic clock. */
double pc_now_s(void);

/* The median of v[0..n-1] (n >= 1; the mean of the middle two for an even n); sorts v. */
double pc_median(double *v, int n);

#endif
