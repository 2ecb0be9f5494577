/* progress.c — keeps a rank's messages moving while it computes, and all-reduces data-parallel
 * gradients in buckets while the backward still runs.
 *
 * A pipeline stage posts MPI_Isend for a microbatch's activations, then computes the next one.
 * Whether the bytes move meanwhile depends on the MPI library: Open MPI's shared-memory transport
 * copies a large message in one go when the kernel lets one process read another's memory (CMA),
 * but without it (a kernel or container without CMA; TCP between nodes) a message above the
 * eager limit moves in fragments, each step only while sender or receiver is inside an MPI
 * call. A sender in a long run of matrix products then holds its neighbour idle
 * (experiments/bench-progress.sh measures it on one machine, experiments/bench-overlap.sh
 * across emulated nodes).
 *
 * Two remedies, chosen by PC_PROGRESS:
 *   layers  a call into MPI between layers (pc_progress_poke, the runtime's between-layers hook):
 *           an MPI_Iprobe on a communicator of the executor's own, on which nothing is ever sent;
 *           it only drives the progress engine. The gradient all-reduce runs at the optimizer
 *           step.
 *   thread  (the default with several ranks) the calls between layers, and a communication
 *           thread (MPI_THREAD_MULTIPLE). It runs the ring all-reduce of each gradient bucket as
 *           soon as the last backward has made it (pc_model_grad_buckets), as PyTorch's DDP
 *           does; and when the job spans nodes it calls into MPI every PC_PROGRESS_PERIOD_US
 *           while a large send is in flight (from its Isend until the stage sees it complete,
 *           between two layers or in a wait), so that a long layer does not hold the message
 *           up. Its waits sleep between tests: it never spins on a core the stage computes on,
 *           and it is idle while no send is in flight (calls all the time slow a pipeline
 *           down more than they help it).
 *   off     neither.
 * Whatever the mode, pc_progress_configure sets Open MPI's TCP transport (between nodes) to
 * send messages up to 4 MiB at once.
 * The ring of each bucket sums in a fixed order, so runs repeat bit for bit. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "allreduce.h"
#include "error.h"
#include "exec.h"

#define PC_PROGRESS_PERIOD_US 200

typedef enum { MODE_OFF, MODE_LAYERS, MODE_THREAD } progress_mode;

typedef struct {
  float *buf;
  size_t n;
  MPI_Comm comm;
  pc_sleepy_limit limit;
} bucket;

static struct {
  progress_mode mode;
  MPI_Comm comm;    /* nothing is sent on it: probing it drives the progress engine */
  bool across;      /* ranks span nodes: the thread drives large sends */
  GThread *thread;
  GMutex lock;
  GCond cond;
  GQueue queue;     /* buckets to reduce, in order */
  int pending;      /* buckets queued or being reduced */
  int sending;      /* large sends in flight (pc_progress_sending) */
  bool stopping;
} pg = {.comm = MPI_COMM_NULL};

void pc_progress_poke(void *data) {
  (void)data;
  int flag = 0;
  if (pg.comm != MPI_COMM_NULL)
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, pg.comm, &flag, MPI_STATUS_IGNORE);
}

static gpointer comm_thread(gpointer data) {
  (void)data;
  prctl(PR_SET_TIMERSLACK, 1000UL); /* sleeps of tens of microseconds, not the default 50 more */
  g_mutex_lock(&pg.lock);
  while (!pg.stopping) {
    bucket *b = g_queue_pop_head(&pg.queue);
    if (b) {
      g_mutex_unlock(&pg.lock);
      pc_ring_allreduce(b->buf, b->n, b->comm, pc_sleepy_wait, &b->limit, NULL);
      g_free(b);
      g_mutex_lock(&pg.lock);
      pg.pending--;
      g_cond_broadcast(&pg.cond);
    } else if (pg.sending > 0 && pg.across) {
      g_mutex_unlock(&pg.lock);
      pc_progress_poke(NULL);
      g_usleep(PC_PROGRESS_PERIOD_US);
      g_mutex_lock(&pg.lock);
    } else {
      g_cond_wait(&pg.cond, &pg.lock);
    }
  }
  g_mutex_unlock(&pg.lock);
  return NULL;
}

/* Between nodes, Open MPI's TCP transport moves bytes only inside MPI calls, and above its
 * eager limit (64 KiB by default) it sends a message's first fragment, then the rest once the
 * receiver has matched it and answered: a neighbour deep in its layers holds the activations
 * up, and the transfer stops overlapping the computation. So before MPI starts, messages up to
 * PC_TCP_EAGER_BYTES go at once (into the receive the stage posted early). The transport's own
 * progress thread (btl_tcp_progress_thread) is left to the user: it keeps large messages moving
 * while both ranks compute, but Open MPI's is known to hang and to crash in MPI_Finalize.
 * A setting the user made wins. */
void pc_progress_configure(void) {
  static const char *const limits[] = {"OMPI_MCA_btl_tcp_eager_limit",
                                       "OMPI_MCA_btl_tcp_rndv_eager_limit",
                                       "OMPI_MCA_btl_tcp_max_send_size"};
  bool mine = true;
  for (size_t i = 0; i < G_N_ELEMENTS(limits); i++) mine = mine && g_getenv(limits[i]) == NULL;
  char bytes[32];
  snprintf(bytes, sizeof bytes, "%d", PC_TCP_EAGER_BYTES);
  for (size_t i = 0; mine && i < G_N_ELEMENTS(limits); i++) g_setenv(limits[i], bytes, TRUE);
}

int pc_progress_thread_level(void) {
  const char *env = g_getenv("PC_PROGRESS");
  return env && strcmp(env, "thread") != 0 ? MPI_THREAD_SINGLE : MPI_THREAD_MULTIPLE;
}

bool pc_progress_start(GError **error) {
  const char *env = g_getenv("PC_PROGRESS");
  if (env != NULL && strcmp(env, "thread") != 0 && strcmp(env, "layers") != 0 &&
      strcmp(env, "off") != 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "PC_PROGRESS must be 'thread' (the default: a communication thread, and a call "
                "into MPI between layers), 'layers' (only the calls) or 'off', got '%s'", env);
    return false;
  }
  int size = 1, level = MPI_THREAD_SINGLE;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Query_thread(&level);
  pg.mode = env == NULL || strcmp(env, "thread") == 0 ? MODE_THREAD
            : strcmp(env, "layers") == 0             ? MODE_LAYERS
                                                      : MODE_OFF;
  if (size == 1) pg.mode = MODE_OFF;
  if (pg.mode == MODE_THREAD && level < MPI_THREAD_MULTIPLE) {
    if (env != NULL) {
      g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "PC_PROGRESS=thread: this MPI library does "
                  "not support MPI_THREAD_MULTIPLE; use PC_PROGRESS=layers");
      return false;
    }
    pg.mode = MODE_LAYERS;
  }
  if (pg.mode == MODE_OFF) return true;
  MPI_Comm_dup(MPI_COMM_WORLD, &pg.comm);
  if (pg.mode == MODE_THREAD) {
    MPI_Comm node;
    int here = 0;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &here);
    MPI_Comm_free(&node);
    pg.across = here < size;
    g_queue_init(&pg.queue);
    pg.thread = g_thread_new("pc-comm", comm_thread, NULL);
  }
  return true;
}

void pc_progress_stop(void) {
  if (pg.thread) {
    g_mutex_lock(&pg.lock);
    pg.stopping = true;
    g_cond_broadcast(&pg.cond);
    g_mutex_unlock(&pg.lock);
    g_thread_join(pg.thread);
    pg.thread = NULL;
  }
  if (pg.comm != MPI_COMM_NULL) MPI_Comm_free(&pg.comm);
}

bool pc_progress_threaded(void) { return pg.thread != NULL; }

void pc_progress_sending(int delta) {
  if (pg.thread == NULL) return;
  g_mutex_lock(&pg.lock);
  pg.sending += delta;
  g_cond_broadcast(&pg.cond);
  g_mutex_unlock(&pg.lock);
}

void pc_progress_reduce(float *buf, size_t n, MPI_Comm comm, double timeout, int stage) {
  PC_ASSERT(pg.thread != NULL);
  bucket *b = g_new(bucket, 1);
  *b = (bucket){buf, n, comm, {timeout, stage}};
  g_mutex_lock(&pg.lock);
  g_queue_push_tail(&pg.queue, b);
  pg.pending++;
  g_cond_broadcast(&pg.cond);
  g_mutex_unlock(&pg.lock);
}

void pc_progress_reduced(void) {
  if (pg.thread == NULL) return;
  g_mutex_lock(&pg.lock);
  while (pg.pending > 0) g_cond_wait(&pg.cond, &pg.lock);
  g_mutex_unlock(&pg.lock);
}
