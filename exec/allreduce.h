/* allreduce.h — the gradient all-reduce of data-parallel replicas: a ring over point-to-point
 * messages, summed with the kernels' vectorised accumulate.
 *
 * The buffer is cut into D chunks, one per replica. Reduce-scatter: in D - 1 steps each rank
 * sends one chunk to the next rank of the ring and adds the chunk it receives from the previous
 * one, so that rank r ends holding the whole sum of chunk (r + 1) mod D; all-gather: D - 1 more
 * steps pass the summed chunks around. Every chunk is summed by one rank and copied to the
 * others, so all replicas hold the same bits. Chunks travel in pieces of PC_ALLREDUCE_PIECE
 * floats, two in flight, so a piece is added while the next one arrives; the only memory besides
 * the buffer is two pieces of scratch. pipecast-sim prices the same algorithm
 * (pc_net_allreduce). Open MPI's MPI_Iallreduce (libnbc) reached 0.7-1.1 GB/s on this machine's
 * shared memory, its blocking MPI_Allreduce 1.6-4.8 GB/s; the waits here are the executor's
 * timed waits, so a lost replica ends the job with --timeout. */
#ifndef PC_ALLREDUCE_H
#define PC_ALLREDUCE_H

#include <mpi.h>
#include <stddef.h>

#include "runtime.h"

/* Waits for *req (the executor's timed wait); `what` names the wait in a timeout message. A NULL
 * wait function is a plain MPI_Wait. */
typedef void (*pc_wait_fn)(void *ctx, MPI_Request *req, const char *what);

/* A wait that tests REQ and sleeps a few microseconds in between, so that a thread waiting beside
 * the computation leaves its core to it: the communication thread's (progress.c) and calibrate's.
 * CTX: NULL, or a pc_sleepy_limit; past its timeout (> 0) the job ends naming the stage. */
typedef struct {
  double timeout;
  int stage;
} pc_sleepy_limit;
void pc_sleepy_wait(void *ctx, MPI_Request *req, const char *what);
#define PC_SLEEPY_US 40

/* buf (n floats) becomes the elementwise sum of every rank's buf in comm. phase_s (NULL, or two
 * doubles) receives the seconds of the reduce-scatter and of the all-gather (calibrate). */
void pc_ring_allreduce(float *buf, size_t n, MPI_Comm comm, pc_wait_fn wait, void *ctx,
                       double *phase_s);

#endif
