/* calibrate.c — `pipecast-exec calibrate`: the network and compute rates pipecast-sim needs.
 *
 * Network: an MPI ping-pong between pairs of ranks (all pairs at once, so a busy machine is
 * measured) over message sizes from 0 bytes to --max-bytes, once for each link the job's layout
 * has: pairs within a node (the `intra` rows) where every node holds two ranks or more, pairs of
 * neighbouring nodes (the `inter` rows) where the job spans two nodes or more; the one-way time
 * of each size is half the median round trip, and consecutive sizes give a piecewise alpha-beta
 * table:
 * time(B) = latency + B * seconds_per_byte for the segment holding B. It also measures the CPU
 * time a rank spends posting a non-blocking send and completing a receive (the per-message
 * overheads), the seconds per byte of the steps of the gradient all-reduce's ring, run among
 * all ranks at once, and how the ring and computation slow each other when they overlap (as
 * the executor overlaps the all-reduce with the backward). Compute: with --gemm FILE and a
 * MODEL, the single-thread rate of the model's fc layers (their forward kernel) and of sgemm at
 * its conv layers' GEMM shapes, for the given microbatch sizes. */
#define _GNU_SOURCE
#include <cblas.h>
#include <errno.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allreduce.h"
#include "error.h"
#include "exec.h"
#include "timing.h"
#include "kernels.h"
#include "model.h"
#include "runtime.h"

/* Seconds per chunk byte of one reduce-scatter and one all-gather step of the executor's ring
 * all-reduce (exec/allreduce.h) among all ranks at once, over 64 MiB per rank (median of 3). */
static void ring_rates(double *reduce_spb, double *gather_spb) {
  int d = pc_exec_size();
  size_t n = 64 * PC_ALLREDUCE_PIECE;
  float *buf = g_new0(float, n);
  double rs[3], ag[3], ph[2];
  for (int r = -1; r < 3; r++) {
    MPI_Barrier(MPI_COMM_WORLD);
    pc_ring_allreduce(buf, n, MPI_COMM_WORLD, NULL, NULL, ph);
    if (r >= 0) rs[r] = ph[0], ag[r] = ph[1];
  }
  double chunk = (double)n * sizeof(float) / d * (d - 1); /* bytes each rank passes per phase */
  *reduce_spb = pc_median(rs, 3) / chunk;
  *gather_spb = pc_median(ag, 3) / chunk;
  g_free(buf);
}

/* The ring beside computation, as the executor overlaps them with the backward: a thread runs
 * the ring over 64 MiB per rank with the communication thread's sleeping waits while the main
 * thread multiplies 256 x 256 matrices until the ring is done, on every rank at once.
 * *ring_slowdown: the ring's seconds over its seconds alone; *compute_share: the products' rate
 * meanwhile over their rate alone (medians of 3). */
typedef struct {
  float *buf;
  size_t n;
  double seconds;
  gint done;
} overlap_ring;

static gpointer overlap_thread(gpointer data) {
  overlap_ring *o = data;
  prctl(PR_SET_TIMERSLACK, 1000UL);
  double t0 = MPI_Wtime();
  pc_ring_allreduce(o->buf, o->n, MPI_COMM_WORLD, pc_sleepy_wait, NULL, NULL);
  o->seconds = MPI_Wtime() - t0;
  g_atomic_int_set(&o->done, 1);
  return NULL;
}

static void overlap_rates(double *ring_slowdown, double *compute_share) {
  enum { G = 256 };
  float *a = g_new(float, G * G), *b = g_new(float, G * G), *c = g_new(float, G * G);
  for (int i = 0; i < G * G; i++) a[i] = b[i] = (float)(i % 7) * 0.1f;
  overlap_ring o = {.n = 64 * PC_ALLREDUCE_PIECE};
  o.buf = g_new0(float, o.n);
  double alone[3], with[3], ring_alone[3], share[3];
  for (int r = 0; r < 3; r++) {
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    pc_ring_allreduce(o.buf, o.n, MPI_COMM_WORLD, pc_sleepy_wait, NULL, NULL);
    ring_alone[r] = MPI_Wtime() - t0;
    MPI_Barrier(MPI_COMM_WORLD);
    int k = 0;
    for (t0 = MPI_Wtime(); MPI_Wtime() - t0 < 0.2; k++)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, G, G, G, 1, a, G, b, G, 0, c, G);
    alone[r] = k / (MPI_Wtime() - t0);
    MPI_Barrier(MPI_COMM_WORLD);
    g_atomic_int_set(&o.done, 0);
    GThread *th = g_thread_new("pc-calibrate", overlap_thread, &o);
    k = 0;
    for (t0 = MPI_Wtime(); !g_atomic_int_get(&o.done); k++)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, G, G, G, 1, a, G, b, G, 0, c, G);
    double dt = MPI_Wtime() - t0;
    g_thread_join(th);
    with[r] = o.seconds;
    share[r] = k / dt / alone[r];
  }
  *ring_slowdown = pc_median(with, 3) / pc_median(ring_alone, 3);
  *compute_share = MIN(1.0, pc_median(share, 3));
  g_free(a);
  g_free(b);
  g_free(c);
  g_free(o.buf);
}

/* One-way seconds of a message of `bytes` between this rank and `peer` (median of reps). */
static double pingpong(char *buf, size_t bytes, int peer, bool first, int reps) {
  double *t = g_new(double, (size_t)reps);
  for (int r = -2; r < reps; r++) {
    double t0 = MPI_Wtime();
    if (first) {
      MPI_Send(buf, (int)bytes, MPI_BYTE, peer, 1, MPI_COMM_WORLD);
      MPI_Recv(buf, (int)bytes, MPI_BYTE, peer, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else {
      MPI_Recv(buf, (int)bytes, MPI_BYTE, peer, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      MPI_Send(buf, (int)bytes, MPI_BYTE, peer, 1, MPI_COMM_WORLD);
    }
    if (r >= 0) t[r] = (MPI_Wtime() - t0) / 2;
  }
  double m = pc_median(t, reps);
  g_free(t);
  return m;
}

/* Seconds of one sgemm (M,N,K), median of reps; with fc, of the fc forward kernel with M rows,
 * K inputs and N outputs, as the executor runs it (a few rows stream the weights). */
static double gemm_seconds(int M, int N, int K, bool fc, int reps) {
  float *a = g_new0(float, (size_t)M * K), *b = g_new0(float, (size_t)K * N),
        *c = g_new0(float, (size_t)M * N);
  for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)(i % 7) * 0.1f;
  for (size_t i = 0; i < (size_t)K * N; i++) b[i] = (float)(i % 5) * 0.1f;
  double *t = g_new(double, (size_t)reps);
  for (int r = -1; r < reps; r++) {
    double t0 = MPI_Wtime();
    if (fc)
      pc_fc_forward(c, a, b, NULL, (size_t)M, (size_t)K, (size_t)N);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
    if (r >= 0) t[r] = MPI_Wtime() - t0;
  }
  double m = pc_median(t, reps);
  g_free(t);
  g_free(a);
  g_free(b);
  g_free(c);
  return m;
}

/* The message overheads: posting an Isend, and completing an Irecv whose message is already
 * there (medians over 64 tries, on the active pairs; the others keep the barriers in step). */
static void overheads(char *buf, int peer, bool active, bool lead, double *send_ov,
                      double *recv_ov) {
  if (active) {
    double ts[64], tr[64];
    for (int r = 0; r < 64; r++) {
      MPI_Request q;
      MPI_Barrier(MPI_COMM_WORLD);
      if (lead) {
        double t0 = MPI_Wtime();
        MPI_Isend(buf, 8, MPI_BYTE, peer, 2, MPI_COMM_WORLD, &q);
        ts[r] = MPI_Wtime() - t0;
        MPI_Wait(&q, MPI_STATUS_IGNORE);
        MPI_Recv(buf, 8, MPI_BYTE, peer, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      } else {
        MPI_Recv(buf, 8, MPI_BYTE, peer, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Send(buf, 8, MPI_BYTE, peer, 3, MPI_COMM_WORLD);
      }
      tr[r] = 0;
    }
    for (int r = 0; r < 64; r++) {
      MPI_Request q;
      if (!lead) MPI_Send(buf, 8, MPI_BYTE, peer, 4, MPI_COMM_WORLD);
      MPI_Barrier(MPI_COMM_WORLD);
      if (lead) {
        double t0 = MPI_Wtime();
        MPI_Irecv(buf, 8, MPI_BYTE, peer, 4, MPI_COMM_WORLD, &q);
        MPI_Wait(&q, MPI_STATUS_IGNORE);
        tr[r] = MPI_Wtime() - t0;
      }
    }
    *send_ov = pc_median(ts, 64);
    *recv_ov = pc_median(tr, 64);
  } else {
    for (int r = 0; r < 64; r++) MPI_Barrier(MPI_COMM_WORLD);
    for (int r = 0; r < 64; r++) MPI_Barrier(MPI_COMM_WORLD);
  }
}

/* The rows of one link: piecewise alpha-beta from the one-way times of BYTES. */
static void write_link(FILE *f, const char *link, const GArray *bytes, const double *oneway) {
  for (guint i = 0; i < bytes->len; i++) {
    size_t b0 = g_array_index(bytes, size_t, i);
    guint j = i + 1 < bytes->len ? i + 1 : i; /* last segment continues the previous slope */
    guint k = j == i ? i - 1 : i;
    double x0 = (double)g_array_index(bytes, size_t, k), x1 = (double)g_array_index(bytes, size_t, j);
    double slope = (oneway[j] - oneway[k]) / (x1 - x0);
    if (slope < 0) slope = 0;
    double lat = oneway[i] - slope * (double)b0;
    if (lat < 0) lat = 0;
    fprintf(f, "%s\t%zu\t%.9e\t%.9e\n", link, b0, lat, slope);
  }
  size_t last = g_array_index(bytes, size_t, bytes->len - 1);
  fprintf(stderr, "calibrate: %s: one-way %.2f us at 0 B, %.2f GB/s at %zu B\n", link,
          oneway[0] * 1e6, (double)last / oneway[bytes->len - 1] / 1e9, last);
}

/* Rank 0: the net table to OUT or stdout, a link's rows where ONEWAY[link] is not NULL; 0, or 1
 * when it could not be written. */
typedef struct {
  double send_ov, recv_ov, ring_rs, ring_ag, slowdown, share;
  long long tcp_eager, tcp_thread; /* -1: unknown */
  char *tcp_cc;                     /* this node's TCP congestion control, or NULL */
} net_header;

/* The TCP congestion control of this rank's network namespace, or NULL where Linux does not say. */
static char *tcp_congestion_control(void) {
  char *text = NULL;
  if (!g_file_get_contents("/proc/sys/net/ipv4/tcp_congestion_control", &text, NULL, NULL))
    return NULL;
  g_strstrip(text);
  if (*text == '\0' || strpbrk(text, " \t\n")) g_clear_pointer(&text, g_free);
  return text;
}

/* The integer control variable NAME of this MPI (read through the MPI tool interface), or -1
 * when it has none: what Open MPI's TCP transport runs with (pc_progress_configure). */
static long long mpi_setting(const char *name) {
  int provided, n = 0;
  long long value = -1;
  if (MPI_T_init_thread(MPI_THREAD_SINGLE, &provided) != MPI_SUCCESS) return -1;
  MPI_T_cvar_get_num(&n);
  for (int i = 0; i < n && value < 0; i++) {
    char cvar[128], desc[8];
    int cvar_len = sizeof cvar, desc_len = sizeof desc, verbosity, bind, scope, size = 0, count;
    MPI_Datatype type;
    MPI_T_enum enumtype;
    if (MPI_T_cvar_get_info(i, cvar, &cvar_len, &verbosity, &type, &enumtype, desc, &desc_len,
                            &bind, &scope) != MPI_SUCCESS ||
        strcmp(cvar, name) != 0)
      continue;
    MPI_T_cvar_handle handle;
    MPI_Type_size(type, &size);
    if (bind != MPI_T_BIND_NO_OBJECT || (size != 4 && size != 8) ||
        MPI_T_cvar_handle_alloc(i, NULL, &handle, &count) != MPI_SUCCESS)
      continue;
    unsigned char raw[64] = {0};
    if (count == 1 && MPI_T_cvar_read(handle, raw) == MPI_SUCCESS) {
      int64_t v8;
      int32_t v4;
      if (size == 8) {
        memcpy(&v8, raw, 8);
      } else {
        memcpy(&v4, raw, 4);
        v8 = v4;
      }
      value = (long long)v8;
    }
    MPI_T_cvar_handle_free(&handle);
  }
  MPI_T_finalize();
  return value;
}

static int write_net(const char *out, const char *layout, const GArray *bytes,
                     double *const oneway[2], const net_header *h) {
  pc_output *o = NULL;
  FILE *f = pc_exec_output_open("calibrate", "--out", out, &o);
  if (f == NULL) return 1;
  fprintf(f, "# pipecast net v1\n# ranks %d (%s; pairs measured at once)\n"
             "# send_overhead_s %.9e\n# recv_overhead_s %.9e\n"
             "# ring_reduce_seconds_per_byte %.9e\n# ring_gather_seconds_per_byte %.9e\n"
             "# overlap_ring_slowdown %.4f\n# overlap_compute_share %.4f\n",
          pc_exec_size(), layout, h->send_ov, h->recv_ov, h->ring_rs, h->ring_ag, h->slowdown,
          h->share);
  if (h->tcp_eager >= 0) fprintf(f, "# tcp_eager_limit_bytes %lld\n", h->tcp_eager);
  if (h->tcp_thread >= 0) fprintf(f, "# tcp_progress_thread %lld\n", h->tcp_thread);
  if (h->tcp_cc) fprintf(f, "# tcp_congestion_control %s\n", h->tcp_cc);
  fputs("link\tbytes\tlatency_s\tseconds_per_byte\n", f);
  static const char *const names[2] = {"intra", "inter"};
  for (int l = 0; l < 2; l++)
    if (oneway[l]) write_link(f, names[l], bytes, oneway[l]);
  return pc_exec_output_close("calibrate", o) ? 0 : 1;
}

/* Where the ranks are: this rank's node and its index there, and every rank's peer for a
 * ping-pong within a node (peer[0]) and between nodes (peer[1]); -1 where it has none. */
typedef struct {
  int nodes, min_per_node, peer[2];
} layout;

static layout node_layout(void) {
  int rank = pc_exec_rank(), size = pc_exec_size(), local, nlocal;
  MPI_Comm node_comm, leaders;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node_comm);
  MPI_Comm_rank(node_comm, &local);
  MPI_Comm_size(node_comm, &nlocal);
  MPI_Comm_split(MPI_COMM_WORLD, local == 0 ? 0 : MPI_UNDEFINED, rank, &leaders);
  int node = 0;
  if (leaders != MPI_COMM_NULL) {
    MPI_Comm_rank(leaders, &node);
    MPI_Comm_free(&leaders);
  }
  MPI_Bcast(&node, 1, MPI_INT, 0, node_comm);
  MPI_Comm_free(&node_comm);
  int mine[2] = {node, local}, *all = g_new(int, 2 * (size_t)size);
  MPI_Allgather(mine, 2, MPI_INT, all, 2, MPI_INT, MPI_COMM_WORLD);
  layout l = {.nodes = 0, .min_per_node = nlocal, .peer = {-1, -1}};
  MPI_Allreduce(MPI_IN_PLACE, &l.min_per_node, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  for (int r = 0; r < size; r++) {
    l.nodes = MAX(l.nodes, all[2 * r] + 1);
    if (all[2 * r] == node && all[2 * r + 1] == (local ^ 1)) l.peer[0] = r;
    if (all[2 * r] == (node ^ 1) && all[2 * r + 1] == local) l.peer[1] = r;
  }
  g_free(all);
  return l;
}

/* The one-way times over BYTES for every link this job's layout has (NULL for the others):
 * pairs within a node when every node has two ranks or more, pairs of neighbouring nodes when
 * there are two nodes or more. The message overheads come from the first link measured. */
static void measure_links(const layout *l, const GArray *bytes, char *buf, int reps,
                          double *oneway[2], double *send_ov, double *recv_ov) {
  int rank = pc_exec_rank();
  bool has[2] = {l->min_per_node >= 2, l->nodes >= 2}, first = true;
  for (int k = 0; k < 2; k++) {
    oneway[k] = NULL;
    if (!has[k]) continue;
    int peer = l->peer[k];
    bool active = peer >= 0;
    oneway[k] = g_new0(double, bytes->len);
    for (guint i = 0; i < bytes->len; i++) {
      MPI_Barrier(MPI_COMM_WORLD);
      size_t b = g_array_index(bytes, size_t, i);
      int r = b >= (1 << 20) ? MAX(3, reps / 4) : reps;
      if (active) oneway[k][i] = pingpong(buf, b, peer, rank < peer, r);
    }
    if (first) overheads(buf, peer, active, rank < peer, send_ov, recv_ov);
    first = false;
  }
}

/* --gemm FILE: the rate of each GEMM shape of M's fc and conv layers at the microbatch
 * sizes SIZES, timed on every rank at once, the ranks' median written by rank 0. false when the
 * file could not be written. */
static bool gemm_rates(const pc_model *m, const char *sizes_text, const char *gemm) {
  int rank = pc_exec_rank(), size = pc_exec_size();
  bool ok = true;
  GArray *shapes = g_array_new(FALSE, FALSE, sizeof(int) * 4); /* M, N, K, fc */
  gchar **items = g_strsplit(sizes_text ? sizes_text : "1,2,4,8,16,32", ",", -1);
  for (gchar **it = items; *it; it++) {
    int mb = atoi(*it);
    if (mb < 1) continue;
    for (int l = 0; l < m->nlayers; l++) {
      const pc_layer *ly = &m->layers[l];
      int s[4];
      if (ly->kind == PC_LAYER_KIND_FC) {
        s[0] = mb; s[1] = (int)ly->out.d[0]; s[2] = (int)pc_shape_numel(&ly->in[0]); s[3] = 1;
      } else if (ly->kind == PC_LAYER_KIND_CONV) {
        const pc_conv_attrs *a = ly->attrs;
        s[0] = (int)a->out; s[1] = mb * (int)(ly->out.d[1] * ly->out.d[2]);
        s[2] = (int)(ly->in[0].d[0] * a->k * a->k); s[3] = 0;
      } else continue;
      bool seen = false;
      for (guint j = 0; j < shapes->len && !seen; j++)
        seen = memcmp(&g_array_index(shapes, int, 4 * j), s, sizeof s) == 0;
      if (!seen) g_array_append_vals(shapes, s, 1);
    }
  }
  g_strfreev(items);
  double *rate = g_new(double, shapes->len);
  for (guint j = 0; j < shapes->len; j++) {
    const int *s = (const int *)shapes->data + 4 * j;
    MPI_Barrier(MPI_COMM_WORLD);
    rate[j] = 2.0 * s[0] * s[1] * s[2] / gemm_seconds(s[0], s[1], s[2], s[3], 5) / 1e9;
  }
  double *all = rank == 0 ? g_new(double, (size_t)size * shapes->len) : NULL;
  MPI_Gather(rate, (int)shapes->len, MPI_DOUBLE, all, (int)shapes->len, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  if (rank == 0) {
    pc_output *o = NULL;
    FILE *f = pc_exec_output_open("calibrate", "--gemm", gemm, &o);
    if (f) {
      fprintf(f, "# pipecast gemm v1\n# model %s\n# ranks %d (all busy)\nm\tn\tk\tgflops\n",
              m->name, size);
      for (guint j = 0; j < shapes->len; j++) {
        double v[size];
        for (int r = 0; r < size; r++) v[r] = all[(size_t)r * shapes->len + j];
        const int *s = (const int *)shapes->data + 4 * j;
        fprintf(f, "%d\t%d\t%d\t%.3f\n", s[0], s[1], s[2], pc_median(v, size));
      }
      ok = pc_exec_output_close("calibrate", o);
    } else {
      ok = false;
    }
  }
  g_free(all);
  g_free(rate);
  g_array_unref(shapes);
  return ok;
}

int pc_cmd_calibrate(int argc, char **argv) {
  char *out = NULL, *gemm = NULL, *sets = NULL, *sizes_text = NULL;
  gint64 max_bytes = 64 << 20;
  int reps = 20;
  GOptionEntry entries[] = {
    {"out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Write the net table here (default: stdout)", "FILE"},
    {"max-bytes", 0, 0, G_OPTION_ARG_INT64, &max_bytes, "Largest message (64 MiB)", "B"},
    {"reps", 'r', 0, G_OPTION_ARG_INT, &reps, "Round trips per size (20)", "R"},
    {"gemm", 0, 0, G_OPTION_ARG_FILENAME, &gemm, "Also write the GEMM rates of MODEL's fc and conv shapes to FILE", "FILE"},
    {"set", 0, 0, G_OPTION_ARG_STRING, &sets, "Override model parameters", "K=V,..."},
    {"microbatch-sizes", 0, 0, G_OPTION_ARG_STRING, &sizes_text, "For --gemm (1,2,4,8,16,32)", "LIST"},
    G_OPTION_ENTRY_NULL,
  };
  GOptionContext *ctx = g_option_context_new("[MODEL] - network and GEMM rates for pipecast-sim");
  g_option_context_add_main_entries(ctx, entries, NULL);
  int status = PC_EXIT_INPUT;
  GError *error = NULL;
  pc_model *m = NULL;
  int rank = pc_exec_rank(), size = pc_exec_size();
  if (!pc_exec_parse(ctx, "calibrate", &argc, &argv)) goto done;
  if (size < 2 || reps < 1 || max_bytes < 1 || max_bytes > (1 << 30) || argc > 2 ||
      (gemm && argc != 2)) {
    g_set_error(&error, PC_ERROR, PC_ERROR_USAGE, "%s",
                size < 2 ? "needs at least 2 ranks for the ping-pong (mpirun -n 2)"
                : argc > 2 ? "expected at most one MODEL"
                : gemm && argc != 2 ? "--gemm needs a MODEL whose GEMM shapes to measure"
                                    : "--reps and --max-bytes must be positive (at most 1 GiB)");
    status = pc_exec_input_error("calibrate", error);
    goto done;
  }
  if ((out && !pc_output_check("--out", out, &error)) ||
      (gemm && !pc_output_check("--gemm", gemm, &error)) ||
      (argc == 2 && (m = pc_model_load(argv[1], sets, &error)) == NULL)) {
    status = pc_exec_input_error("calibrate", error);
    goto done;
  }
  /* Network. */
  GArray *bytes = g_array_new(FALSE, FALSE, sizeof(size_t));
  for (size_t b = 0; b <= (size_t)max_bytes; b = b ? b * 4 : 4) g_array_append_val(bytes, b);
  char *buf = g_malloc0((size_t)max_bytes);
  layout lay = node_layout();
  double *oneway[2];
  net_header h = {.tcp_eager = mpi_setting("btl_tcp_eager_limit"),
                  .tcp_thread = mpi_setting("btl_tcp_progress_thread"),
                  .tcp_cc = lay.nodes > 1 ? tcp_congestion_control() : NULL};
  measure_links(&lay, bytes, buf, reps, oneway, &h.send_ov, &h.recv_ov);
  ring_rates(&h.ring_rs, &h.ring_ag); /* every rank takes part in the ring */
  overlap_rates(&h.slowdown, &h.share);
  char *where = g_strdup_printf("%d node%s, at least %d rank%s each", lay.nodes,
                                lay.nodes == 1 ? "" : "s", lay.min_per_node,
                                lay.min_per_node == 1 ? "" : "s");
  status = rank == 0 ? write_net(out, where, bytes, oneway, &h) : 0;
  g_free(where);
  g_free(h.tcp_cc);
  g_free(oneway[0]);
  g_free(oneway[1]);
  g_free(buf);
  g_array_unref(bytes);
  /* GEMM rates of the model's shapes, measured by every rank at once, written by rank 0. */
  if (m && gemm && !gemm_rates(m, sizes_text, gemm)) status = 1;
done:
  pc_model_free(m);
  g_option_context_free(ctx);
  g_free(out);
  g_free(gemm);
  g_free(sets);
  g_free(sizes_text);
  return status;
}
