/* job.c — the job resolver: the batch rules, the partition policy, the rank count. */
#include "job.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "error.h"

bool pc_job_check_batch(int batch, int replicas, int micro, GError **error) {
  const struct {
    const char *flag;
    int v;
  } pos[] = {{"--batch", batch}, {"--microbatches", micro}, {"--replicas", replicas}};
  for (size_t i = 0; i < G_N_ELEMENTS(pos); i++)
    if (pos[i].v < 1) {
      g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "%s must be positive, got %d", pos[i].flag,
                  pos[i].v);
      return false;
    }
  if (batch % replicas != 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--batch %d is not divisible by --replicas %d",
                batch, replicas);
    return false;
  }
  int per = batch / replicas;
  if (micro > per) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "--microbatches %d is more than the %d samples of a%s minibatch", micro, per,
                replicas > 1 ? " replica's" : "");
    return false;
  }
  if (per % micro != 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "the minibatch of %d samples%s is not divisible by --microbatches %d", per,
                replicas > 1 ? " per replica" : "", micro);
    return false;
  }
  return true;
}

bool pc_job_parse_by(const char *by, pc_partition_by *out, bool *time, GError **error) {
  *out = PC_PARTITION_BY_FLOPS;
  *time = false;
  if (by == NULL || strcmp(by, "flops") == 0) return true;
  if (strcmp(by, "params") == 0) *out = PC_PARTITION_BY_PARAMS;
  else if (strcmp(by, "time") == 0) *time = true;
  else {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--by '%s': expected flops, params or time", by);
    return false;
  }
  return true;
}

bool pc_job_parse_schedule(const char *name, pc_schedule_kind *out, GError **error) {
  int kind = pc_schedule_kind_from_name(name ? name : "gpipe");
  if (kind < 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "--schedule '%s': expected gpipe, 1f1b, interleaved, zb-h1 or zb-v", name);
    return false;
  }
  *out = (pc_schedule_kind)kind;
  return true;
}

/* The memory limit of this process's cgroup (Slurm's and containers' limit; v2 or v1), or 0. */
static size_t cgroup_limit(void) {
  char *text = NULL;
  size_t bytes = 0;
  if (!g_file_get_contents("/proc/self/cgroup", &text, NULL, NULL)) return 0;
  gchar **lines = g_strsplit(text, "\n", -1);
  for (gchar **l = lines; *l; l++) {
    gchar **f = g_strsplit(*l, ":", 3); /* ID:CONTROLLERS:PATH */
    char *file = NULL, *limit = NULL;
    if (g_strv_length(f) == 3 && strcmp(f[0], "0") == 0 && *f[1] == '\0')
      file = g_build_filename("/sys/fs/cgroup", f[2], "memory.max", NULL);
    else if (g_strv_length(f) == 3 && strcmp(f[1], "memory") == 0)
      file = g_build_filename("/sys/fs/cgroup/memory", f[2], "memory.limit_in_bytes", NULL);
    if (file && g_file_get_contents(file, &limit, NULL, NULL) && g_ascii_isdigit(*limit)) {
      size_t v = (size_t)g_ascii_strtoull(limit, NULL, 10);
      if (v > 0 && (bytes == 0 || v < bytes)) bytes = v;
    }
    g_free(limit);
    g_free(file);
    g_strfreev(f);
  }
  g_strfreev(lines);
  g_free(text);
  return bytes;
}

size_t pc_job_machine_memory(void) {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  size_t bytes = pages > 0 && page > 0 ? (size_t)pages * (size_t)page : 0;
  struct rlimit as;
  if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY && as.rlim_cur < bytes)
    bytes = (size_t)as.rlim_cur;
  size_t cg = cgroup_limit();
  return cg > 0 && cg < bytes ? cg : bytes;
}

/* Per stage and microbatch a forward and a backward pass and up to four messages; one optimizer
 * step per stage. */
bool pc_job_check_size(int nstages, int micro, double bytes_per_op, size_t memory,
                       GError **error) {
  double ops = (double)nstages * micro * 6 + nstages;
  if (ops > PC_JOB_MAX_OPS) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "%d stage%s x %d microbatches would make about %.3g ops, more than the %d a job "
                "may have: use fewer microbatches", nstages, nstages == 1 ? "" : "s", micro, ops,
                PC_JOB_MAX_OPS);
    return false;
  }
  double bytes = ops * bytes_per_op;
  if (memory > 0 && bytes > (double)memory) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "%d stage%s x %d microbatches would make about %.3g ops, needing an estimated "
                "%.1f GiB, more than the %.1f GiB this process may use: use fewer microbatches",
                nstages, nstages == 1 ? "" : "s", micro, ops, bytes / 1073741824.0,
                memory / 1073741824.0);
    return false;
  }
  return true;
}

int pc_job_chunks(const pc_job_request *req, GError **error) {
  pc_schedule_kind kind;
  if (!pc_job_parse_schedule(req->schedule, &kind, error)) return 0;
  if (req->chunks == 0) return pc_schedule_default_chunks(kind);
  if (req->chunks < 1 || req->chunks > PC_SCHEDULE_MAX_CHUNKS) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--chunks must be 1 to %d, got %d",
                PC_SCHEDULE_MAX_CHUNKS, req->chunks);
    return 0;
  }
  return req->chunks;
}

int pc_job_eval_micro(int64_t samples, int replicas, size_t mb, int nchunks, GError **error) {
  int64_t micro = samples / ((int64_t)replicas * (int64_t)mb);
  if (micro >= 1 && micro <= PC_JOB_MAX_OPS / 8 / nchunks) return (int)micro;
  g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
              "--eval-every: %" G_GINT64_FORMAT " test samples %s (microbatches of %zu on %d "
              "replica%s)", samples, micro < 1 ? "make no microbatch of each replica's" :
              "make too many microbatches: give --eval-samples", mb, replicas,
              replicas == 1 ? "" : "s");
  return 0;
}

bool pc_job_parse_optimizer(const char *name, pc_optim_kind *kind, GError **error) {
  if (name == NULL || strcmp(name, "sgd") == 0) *kind = PC_OPTIM_SGD;
  else if (strcmp(name, "adamw") == 0) *kind = PC_OPTIM_ADAMW;
  else {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--optimizer '%s': expected sgd or adamw", name);
    return false;
  }
  return true;
}

bool pc_job_parse_zb_costs(const char *text, pc_schedule_kind kind, double costs[3],
                           GError **error) {
  costs[0] = costs[1] = costs[2] = 0;
  if (text == NULL) return true;
  gchar **f = g_strsplit_set(text, ":,", -1);
  bool ok = g_strv_length(f) == 3;
  for (int k = 0; ok && k < 3; k++) {
    char *end;
    errno = 0;
    costs[k] = g_ascii_strtod(g_strstrip(f[k]), &end);
    ok = *f[k] && *end == '\0' && errno == 0;
  }
  g_strfreev(f);
  if (!ok) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "--zb-costs '%s': expected FWD:BWD:BWD_W, three numbers like 1.5:2:1", text);
    costs[0] = costs[1] = costs[2] = 0;
    return false;
  }
  if (pc_schedule_check_zb_costs(kind, costs, error)) return true;
  g_prefix_error(error, "--zb-costs '%s': ", text);
  costs[0] = costs[1] = costs[2] = 0;
  return false;
}

pc_schedule *pc_job_schedule(const pc_model *model, const pc_partition *part,
                             pc_schedule_kind kind, int nmicro, int nchunks,
                             const double *zb_costs, GError **error) {
  int C = nchunks > 0 ? nchunks : pc_schedule_default_chunks(kind);
  if (part->nstages % C) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "the partition has %d stages: %d chunks per rank need a multiple of %d",
                part->nstages, C, C);
    return NULL;
  }
  if (!pc_job_check_size(part->nstages, nmicro, 0, 0, error)) return NULL;
  GArray *xfers = pc_partition_transfers(model, part);
  bool costed = zb_costs && (zb_costs[0] > 0 || zb_costs[1] > 0 || zb_costs[2] > 0);
  pc_schedule *s = pc_schedule_new_chunks(kind, part->nstages / C, nmicro, C,
                                          costed ? zb_costs : NULL,
                                          (const pc_xfer *)(void *)xfers->data, (int)xfers->len,
                                          error);
  g_array_unref(xfers);
  if (s && !pc_schedule_validate(s, error)) {
    pc_schedule_free(s);
    return NULL;
  }
  return s;
}

/* Balanced by the caller's measured layer times. */
static pc_partition *by_time(const pc_model *model, const pc_job_request *req, int mb,
                             int nstages, GError **error) {
  if (req->times == NULL) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "balancing by time needs measured layer times, which this command does not "
                "read (pipecast-sim run and sweep do, from --profile)");
    return NULL;
  }
  size_t L = (size_t)model->nlayers;
  double *compute = g_new0(double, L), *tensor = g_new0(double, L), fixed = 0;
  pc_partition *p = NULL;
  if (req->times(req->times_ud, model, mb, compute, tensor, &fixed, error))
    p = pc_partition_min_time(model, compute, tensor, fixed, nstages, NULL, error);
  g_free(compute);
  g_free(tensor);
  return p;
}

pc_partition *pc_job_partition(const pc_model *model, const pc_job_request *req, int mb,
                               pc_job_source *source, GError **error) {
  pc_partition_by by;
  bool time;
  if (req->stages < 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--stages must be positive, got %d",
                req->stages);
    return NULL;
  }
  if (!pc_job_parse_by(req->by, &by, &time, error)) return NULL;
  if (req->partition && req->by) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "--by goes with --stages; with --partition write auto:%s instead", req->by);
    return NULL;
  }
  int replicas = req->replicas > 0 ? req->replicas : 1;
  int C = pc_job_chunks(req, error);
  if (C == 0) return NULL;
  int from_ranks = req->ranks > 0 ? req->ranks / replicas * C : 0;
  if (req->partition) {
    *source = PC_JOB_FROM_SPEC;
    char *s = g_strstrip(g_strdup(req->partition));
    bool automatic = g_str_has_prefix(s, "auto:"), auto_time = strcmp(s, "auto:time") == 0;
    g_free(s);
    /* a stage count checks a written spec; an automatic one may take it from the ranks */
    int n = req->stages ? req->stages * C : automatic ? from_ranks : 0;
    if (!auto_time) return pc_partition_parse(model, req->partition, n, error);
    if (n < 1) {
      g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                  "partition 'auto:time' needs a stage count (--stages N)");
      return NULL;
    }
    return by_time(model, req, mb, n, error);
  }
  int n = req->stages * C;
  *source = PC_JOB_FROM_STAGES;
  if (n == 0) {
    bool markers = model->nsplits > 0 && (from_ranks == 0 || from_ranks == model->nsplits + 1);
    if (req->by && (markers || (from_ranks == 0 && C == 1))) {
      g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--by %s balances an automatic partition: "
                  "give --stages N (%s)", req->by,
                  markers ? "the model's split markers cut it otherwise" : "one stage otherwise");
      return NULL;
    }
    if (markers) {
      *source = PC_JOB_FROM_MARKERS;
      return pc_partition_parse(model, "split", 0, error);
    }
    *source = from_ranks ? PC_JOB_FROM_RANKS : PC_JOB_WHOLE;
    n = from_ranks ? from_ranks : C;
  }
  if (time) return by_time(model, req, mb, n, error);
  return pc_partition_auto(model, by, n, error);
}

pc_job *pc_job_resolve(const pc_model *model, const pc_job_request *req, GError **error) {
  int replicas = req->replicas == 0 ? 1 : req->replicas;
  int micro = req->micro == 0 ? 1 : req->micro;
  pc_schedule_kind kind;
  double zb_costs[3];
  if (!pc_job_parse_schedule(req->schedule, &kind, error) ||
      !pc_job_parse_zb_costs(req->zb_costs, kind, zb_costs, error) ||
      !pc_job_check_batch(req->batch, replicas, micro, error))
    return NULL;
  if (req->ranks > 0 && req->ranks % replicas != 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "%d ranks cannot hold %d replicas: the rank count must be stages x replicas",
                req->ranks, replicas);
    return NULL;
  }
  pc_job *job = g_new0(pc_job, 1);
  job->kind = kind;
  job->replicas = replicas;
  job->micro = micro;
  job->batch = req->batch;
  job->mb = req->batch / replicas / micro;
  job->part = pc_job_partition(model, req, job->mb, &job->source, error);
  if (job->part == NULL) goto fail;
  job->nchunks = pc_job_chunks(req, error);
  if (job->part->nstages % job->nchunks) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "the partition has %d stages: %d chunks per rank need a multiple of %d",
                job->part->nstages, job->nchunks, job->nchunks);
    goto fail;
  }
  job->nstages = job->part->nstages / job->nchunks;
  int need = job->nstages * replicas;
  if (req->ranks > 0 && need != req->ranks) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "the partition has %d stages%s, so the job needs %d ranks, but it has %d "
                "(mpirun -n %d)", job->nstages, replicas > 1 ? " times the replicas" : "", need,
                req->ranks, need);
    goto fail;
  }
  if (!pc_job_check_size(job->part->nstages, micro, req->bytes_per_op, req->memory, error))
    goto fail;
  job->sched = pc_job_schedule(model, job->part, kind, micro, job->nchunks, zb_costs, error);
  if (job->sched == NULL) goto fail;
  return job;
fail:
  pc_job_free(job);
  return NULL;
}

void pc_job_free(pc_job *job) {
  if (job == NULL) return;
  pc_partition_free(job->part);
  pc_schedule_free(job->sched);
  g_free(job);
}

void pc_job_join_sets(int *argc, char ***argv) {
  /* the rewritten command line and its one --set, kept for the process's life (parsing takes
   * the options out of the array) */
  static char **joined, *set;
  char **a = *argv;
  GPtrArray *out = g_ptr_array_new();
  GString *sets = NULL;
  int at = -1, more = 0;
  for (int i = 0; i < *argc; i++) {
    if (strcmp(a[i], "--") == 0) { /* the options end */
      for (; i < *argc; i++) g_ptr_array_add(out, a[i]);
      break;
    }
    const char *v = NULL;
    if (strcmp(a[i], "--set") == 0 && i + 1 < *argc) v = a[++i];
    else if (g_str_has_prefix(a[i], "--set=")) v = a[i] + strlen("--set=");
    if (v == NULL) {
      g_ptr_array_add(out, a[i]);
    } else if (sets == NULL) {
      sets = g_string_new(v);
      at = (int)out->len;
      g_ptr_array_add(out, NULL);
    } else {
      g_string_append_printf(sets, ",%s", v);
      more++;
    }
  }
  if (more == 0) { /* at most one --set: the command line as it is */
    g_ptr_array_free(out, TRUE);
    if (sets) g_string_free(sets, TRUE);
    return;
  }
  g_free(set);
  set = g_strconcat("--set=", sets->str, NULL);
  out->pdata[at] = set;
  g_string_free(sets, TRUE);
  *argc = (int)out->len;
  g_ptr_array_add(out, NULL);
  g_free(joined);
  joined = (char **)g_ptr_array_free(out, FALSE);
  *argv = joined;
}
