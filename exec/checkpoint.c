/* checkpoint.c — atomic checkpoints of every stage; see checkpoint.h. */
#include "checkpoint.h"

#include <errno.h>
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "weights.h"

#define MAGIC "pipecast-checkpoint 1"

typedef struct {
  int n;
  const char **names;
  float **data;
  size_t *counts;
} tensors;

static void tensors_get(tensors *t, pc_runtime *rt) {
  t->n = pc_runtime_tensors(rt, true, NULL, NULL, NULL);
  t->names = g_new(const char *, (size_t)t->n);
  t->data = g_new(float *, (size_t)t->n);
  t->counts = g_new(size_t, (size_t)t->n);
  pc_runtime_tensors(rt, true, t->names, t->data, t->counts);
}

static void tensors_clear(tensors *t) {
  g_free(t->names);
  g_free(t->data);
  g_free(t->counts);
}

static char *stage_path(const char *dir, int iteration, int stage) {
  char *sub = g_strdup_printf("iter-%d", iteration), *file = g_strdup_printf("stage-%d.pcw", stage);
  char *p = g_build_filename(dir, sub, file, NULL);
  g_free(sub);
  g_free(file);
  return p;
}

/* Removes DIR/iter-* folders other than iter-KEEP (stale or superseded). */
static void remove_others(const char *dir, int keep) {
  GDir *d = g_dir_open(dir, 0, NULL);
  if (d == NULL) return;
  const char *name;
  char *keep_name = g_strdup_printf("iter-%d", keep);
  while ((name = g_dir_read_name(d))) {
    if (!g_str_has_prefix(name, "iter-") || strcmp(name, keep_name) == 0) continue;
    char *sub = g_build_filename(dir, name, NULL);
    GDir *s = g_dir_open(sub, 0, NULL);
    if (s) {
      const char *f;
      while ((f = g_dir_read_name(s))) {
        char *p = g_build_filename(sub, f, NULL);
        remove(p);
        g_free(p);
      }
      g_dir_close(s);
    }
    remove(sub);
    g_free(sub);
  }
  g_free(keep_name);
  g_dir_close(d);
}

bool pc_checkpoint_save(const char *dir, int iteration, const char *model, int nstages,
                        const char *config, pc_runtime *rt, int stage, int replica,
                        GError **error) {
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  char *sub = g_strdup_printf("%s/iter-%d", dir, iteration);
  int ok = 1;
  if (rank == 0 && g_mkdir_with_parents(sub, 0755) != 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_IO, "--checkpoint %s: cannot create %s: %s", dir, sub,
                g_strerror(errno));
    ok = 0;
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (ok && replica == 0) {
    tensors t;
    tensors_get(&t, rt);
    char *path = stage_path(dir, iteration, stage), *it = g_strdup_printf("%d", iteration);
    const char *meta[] = {"iteration", it, NULL};
    ok = pc_weights_save(path, model, t.n, t.names, t.data, t.counts, meta, error);
    g_free(it);
    g_free(path);
    tensors_clear(&t);
  }
  int all = 0;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (all && rank == 0) {
    char *text = g_strdup_printf(MAGIC "\niteration %d\nmodel %s\nstages %d\nconfig %s\n",
                                 iteration, model, nstages, config);
    char *path = g_build_filename(dir, "checkpoint", NULL);
    GError *io = NULL;
    /* g_file_set_contents writes a temporary file and renames it into place: the commit. */
    if (!g_file_set_contents(path, text, -1, &io)) {
      g_set_error(error, PC_ERROR, PC_ERROR_IO, "--checkpoint %s: %s", dir, io->message);
      g_error_free(io);
      ok = 0;
    } else {
      remove_others(dir, iteration);
    }
    g_free(path);
    g_free(text);
  }
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  g_free(sub);
  return all;
}

/* The value of "KEY value" in the checkpoint file's text, or NULL. */
static char *field(const char *text, const char *key) {
  gchar **lines = g_strsplit(text, "\n", -1);
  char *v = NULL;
  size_t n = strlen(key);
  for (gchar **l = lines; *l && !v; l++)
    if (strncmp(*l, key, n) == 0 && (*l)[n] == ' ') v = g_strdup(*l + n + 1);
  g_strfreev(lines);
  return v;
}

bool pc_checkpoint_load(const char *dir, const char *model, int nstages, const char *config,
                        pc_runtime *rt, int stage, int *iteration, GError **error) {
  char *path = g_build_filename(dir, "checkpoint", NULL), *text = NULL;
  GError *io = NULL;
  bool ok = g_file_get_contents(path, &text, NULL, &io);
  if (!ok) {
    g_set_error(error, PC_ERROR, PC_ERROR_IO, "--resume %s: no checkpoint there (%s)", dir,
                io->message);
    g_error_free(io);
    g_free(path);
    return false;
  }
  char *it = field(text, "iteration"), *m = field(text, "model"), *st = field(text, "stages"),
       *cf = field(text, "config"), *end = NULL, *st_end = NULL;
  errno = 0;
  long iter = it ? strtol(it, &end, 10) : -1;
  bool iter_ok = it && *it && !*end && errno == 0 && iter >= 0 && iter <= INT_MAX;
  errno = 0;
  long stages = st ? strtol(st, &st_end, 10) : -1;
  if (st && (!*st || *st_end || errno)) stages = -1;
  if (!g_str_has_prefix(text, MAGIC "\n") || !iter_ok || !m || !st || !cf) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s: not a pipecast checkpoint (corrupt)", path);
    ok = false;
  } else if (strcmp(m, model) != 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s: a checkpoint of the model '%s', not '%s'",
                path, m, model);
    ok = false;
  } else if (stages != nstages) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                "%s: a checkpoint of %s stages, this run has %d", path, st, nstages);
    ok = false;
  } else if (strcmp(cf, config) != 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                "%s: written by a run with '%s'; this run has '%s'", path, cf, config);
    ok = false;
  }
  if (ok) {
    tensors t;
    tensors_get(&t, rt);
    char *spath = stage_path(dir, (int)iter, stage);
    GHashTable *meta = NULL;
    ok = pc_weights_load(spath, model, t.n, t.names, t.data, t.counts, true, &meta, error);
    if (ok) {
      const char *mi = g_hash_table_lookup(meta, "iteration");
      char *mi_end = NULL;
      errno = 0;
      if (mi == NULL || strtol(mi, &mi_end, 10) != iter || *mi_end || errno) {
        g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s: holds iteration %s, the checkpoint "
                    "says %ld", spath, mi ? mi : "(none)", iter);
        ok = false;
      }
      g_hash_table_unref(meta);
    }
    g_free(spath);
    tensors_clear(&t);
    *iteration = (int)iter;
  }
  g_free(it);
  g_free(m);
  g_free(st);
  g_free(cf);
  g_free(text);
  g_free(path);
  return ok;
}
