/* checkpoint.c — checkpoints committed whole, of one run; see checkpoint.h. */
#include "checkpoint.h"

#include <errno.h>
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "files.h"
#include "weights.h"

#define MAGIC "pipecast-checkpoint 1"
#define FOLDER_MAX 64 /* "iter-N-XXXXXX" */

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


/* Removes the folder PATH and the files in it. */
static void remove_folder(const char *path) {
  GDir *d = g_dir_open(path, 0, NULL);
  if (d) {
    const char *f;
    while ((f = g_dir_read_name(d))) {
      char *p = g_build_filename(path, f, NULL);
      remove(p);
      g_free(p);
    }
    g_dir_close(d);
  }
  remove(path);
}

/* Removes DIR's iter-* folders other than KEEP (stale or superseded) and the temporary files a
 * killed commit left. */
static void remove_others(const char *dir, const char *keep) {
  GDir *d = g_dir_open(dir, 0, NULL);
  if (d == NULL) return;
  const char *name;
  while ((name = g_dir_read_name(d))) {
    char *p = g_build_filename(dir, name, NULL);
    if (g_str_has_prefix(name, "iter-") && strcmp(name, keep) != 0) remove_folder(p);
    else if (g_str_has_prefix(name, "checkpoint.tmp-")) remove(p);
    g_free(p);
  }
  g_dir_close(d);
}

/* ------------------------------------------------------------------------------------------ */
/* DIR/checkpoint */

typedef struct {
  long iteration, stages;
  char *model, *config, *optimizer, *run, *folder; /* optimizer, run: NULL when absent */
} pointer;

static void pointer_clear(pointer *p) {
  g_free(p->model);
  g_free(p->config);
  g_free(p->optimizer);
  g_free(p->run);
  g_free(p->folder);
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

static long whole_number(const char *s, long max) {
  char *end = NULL;
  errno = 0;
  long v = s && *s ? strtol(s, &end, 10) : -1;
  return s && *s && !*end && errno == 0 && v >= 0 && v <= max ? v : -1;
}

static bool is_run_id(const char *s) {
  size_t n = 0;
  for (; s[n]; n++)
    if (!g_ascii_isxdigit(s[n])) return false;
  return n == PC_RUN_ID_LEN;
}

/* A folder of DIR named by the checkpoint: iter-..., no path. */
static bool is_folder(const char *s) {
  return g_str_has_prefix(s, "iter-") && strlen(s) < FOLDER_MAX && strchr(s, '/') == NULL;
}

/* Reads DIR/checkpoint into P. PC_ERROR_IO when there is none, PC_ERROR_FORMAT when corrupt. */
static bool pointer_read(const char *dir, pointer *p, GError **error) {
  char *path = g_build_filename(dir, "checkpoint", NULL), *text = NULL;
  size_t len;
  *p = (pointer){0};
  GError *io = NULL;
  if (!pc_file_read(path, PC_MAX_MODEL_BYTES, &text, &len, &io)) {
    g_set_error(error, PC_ERROR, PC_ERROR_IO, "%s: no checkpoint there (%s)", dir, io->message);
    g_error_free(io);
    g_free(path);
    return false;
  }
  char *it = field(text, "iteration"), *st = field(text, "stages");
  p->iteration = whole_number(it, INT_MAX);
  p->stages = whole_number(st, INT_MAX);
  p->model = field(text, "model");
  p->config = field(text, "config");
  p->optimizer = field(text, "optimizer");
  p->run = field(text, "run");
  p->folder = field(text, "folder");
  bool ok = g_str_has_prefix(text, MAGIC "\n") && memchr(text, '\0', len) == NULL &&
            p->iteration >= 0 && p->stages >= 0 && p->model && p->config &&
            (p->run == NULL) == (p->folder == NULL) && (!p->run || is_run_id(p->run)) &&
            (!p->folder || is_folder(p->folder));
  if (!ok) g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s: not a pipecast checkpoint (corrupt)",
                       path);
  else if (p->folder == NULL) p->folder = g_strdup_printf("iter-%ld", p->iteration);
  g_free(it);
  g_free(st);
  g_free(text);
  g_free(path);
  if (!ok) pointer_clear(p);
  return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* Configs: "KEY=VALUE KEY=VALUE ...", a value running to the next KEY= (a spec holds blanks) */

static bool starts_item(const char *word) {
  const char *c = word;
  while (*c == '_' || g_ascii_islower(*c)) c++;
  return c > word && *c == '=';
}

static GPtrArray *config_items(const char *config) {
  GPtrArray *items = g_ptr_array_new_with_free_func(g_free);
  gchar **words = g_strsplit(config, " ", -1);
  for (gchar **w = words; *w; w++) {
    if (starts_item(*w) || items->len == 0) {
      g_ptr_array_add(items, g_strdup(*w));
    } else {
      char **last = (char **)&items->pdata[items->len - 1];
      char *joined = g_strconcat(*last, " ", *w, NULL);
      g_free(*last);
      *last = joined;
    }
  }
  g_strfreev(words);
  return items;
}

/* How config A (the checkpoint's) differs from B (this run's): the first item that does. */
static char *config_difference(const char *a, const char *b) {
  GPtrArray *x = config_items(a), *y = config_items(b);
  char *d = NULL;
  for (guint i = 0; !d && i < MAX(x->len, y->len); i++) {
    const char *u = i < x->len ? x->pdata[i] : "(nothing)", *v = i < y->len ? y->pdata[i] : "(nothing)";
    if (strcmp(u, v) != 0) d = g_strdup_printf("'%s', this run has '%s'", u, v);
  }
  g_ptr_array_unref(x);
  g_ptr_array_unref(y);
  return d ? d : g_strdup_printf("'%s', this run has '%s'", a, b);
}

/* ------------------------------------------------------------------------------------------ */

bool pc_checkpoint_check_dir(const char *dir, GError **error) {
  if (*dir == '\0') {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--checkpoint: an empty folder name");
    return false;
  }
  char *bare = g_strdup(dir); /* "ck/" names ck, whose parent is "." */
  for (size_t n = strlen(bare); n > 1 && bare[n - 1] == '/'; n--) bare[n - 1] = '\0';
  char *parent = g_path_get_dirname(bare);
  g_free(bare);
  bool exists = g_file_test(dir, G_FILE_TEST_EXISTS);
  bool ok = exists ? g_file_test(dir, G_FILE_TEST_IS_DIR) && access(dir, W_OK | X_OK) == 0
                   : g_file_test(parent, G_FILE_TEST_IS_DIR) && access(parent, W_OK) == 0;
  if (!ok)
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--checkpoint %s: %s", dir,
                exists ? "not a writable folder" : "cannot be created (no writable parent folder)");
  g_free(parent);
  return ok;
}

/* Rank 0's part of pc_checkpoint_begin: whether DIR may take this run's checkpoints. */
static bool may_write(const char *dir, const char *resume_dir, const char *run, bool replace,
                      GError **error) {
  char *path = g_build_filename(dir, "checkpoint", NULL);
  bool held = g_file_test(path, G_FILE_TEST_EXISTS);
  g_free(path);
  if (!held || replace) return true;
  pointer p;
  GError *why = NULL;
  bool readable = pointer_read(dir, &p, &why);
  bool same_run = readable && p.run && strcmp(p.run, run) == 0;
  struct stat a, b; /* the same folder, under any name */
  bool resumed_here = resume_dir && stat(resume_dir, &a) == 0 && stat(dir, &b) == 0 &&
                      a.st_dev == b.st_dev && a.st_ino == b.st_ino;
  if (!same_run && !resumed_here) {
    char *what = readable ? g_strdup_printf("iteration %ld of %s, run %s", p.iteration, p.model,
                                            p.run ? p.run : "without an ID")
                          : g_strdup(why->message);
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "--checkpoint %s holds the checkpoint of another run (%s): continue that run "
                "with --resume %s, choose another folder, or add --checkpoint-replace to "
                "replace it (at this run's first checkpoint)", dir, what, dir);
    g_free(what);
  }
  if (readable) pointer_clear(&p);
  g_clear_error(&why);
  return same_run || resumed_here;
}

bool pc_checkpoint_begin(const char *dir, const char *resume_dir, const char *resumed_run,
                         bool replace, char run[PC_RUN_ID_LEN + 1], GError **error) {
  int rank, ok = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) {
    if (resumed_run && *resumed_run) g_strlcpy(run, resumed_run, PC_RUN_ID_LEN + 1);
    else g_snprintf(run, PC_RUN_ID_LEN + 1, "%08x%08x", g_random_int(), g_random_int());
    ok = dir == NULL || may_write(dir, resume_dir, run, replace, error);
  }
  MPI_Bcast(run, PC_RUN_ID_LEN + 1, MPI_CHAR, 0, MPI_COMM_WORLD);
  MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (!ok && rank != 0)
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--checkpoint %s: refused on rank 0", dir);
  return ok;
}

/* Rank 0: a new folder DIR/iter-N-XXXXXX for the checkpoint's stage files; its name into NAME. */
static bool new_folder(const char *dir, int iteration, char name[FOLDER_MAX], GError **error) {
  char *tmpl = g_strdup_printf("%s/iter-%d-XXXXXX", dir, iteration);
  bool ok = g_mkdir_with_parents(dir, 0755) == 0 && g_mkdtemp_full(tmpl, 0755) != NULL;
  if (ok) {
    char *base = g_path_get_basename(tmpl);
    g_strlcpy(name, base, FOLDER_MAX);
    g_free(base);
  } else {
    g_set_error(error, PC_ERROR, PC_ERROR_WRITE, "--checkpoint %s: cannot create %s: %s", dir,
                tmpl, g_strerror(errno));
  }
  g_free(tmpl);
  return ok;
}

/* Rank 0, once every stage file is in DIR/NAME: DIR/checkpoint names it. */
static bool commit(const char *dir, const char *name, int iteration, const pc_checkpoint_job *job,
                   const char *run, GError **error) {
  char *text = g_strdup_printf(MAGIC "\niteration %d\nmodel %s\nstages %d\nconfig %s\n"
                               "optimizer %s\nrun %s\nfolder %s\n", iteration, job->model,
                               job->nstages, job->config, job->optimizer, run, name);
  char *path = g_build_filename(dir, "checkpoint", NULL);
  bool ok = pc_sync_dir(dir, error) && pc_output_write(NULL, path, text, strlen(text), error);
  if (!ok) g_prefix_error(error, "--checkpoint %s: ", dir);
  g_free(path);
  g_free(text);
  return ok;
}

bool pc_checkpoint_save(const char *dir, int iteration, const pc_checkpoint_job *job,
                        const char *run, pc_runtime *const *rts, const int *stages, int n,
                        int replica, GError **error) {
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  char name[FOLDER_MAX] = "";
  int ok = rank != 0 || new_folder(dir, iteration, name, error);
  MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Bcast(name, FOLDER_MAX, MPI_CHAR, 0, MPI_COMM_WORLD);
  for (int k = 0; ok && replica == 0 && k < n; k++) {
    tensors t;
    tensors_get(&t, rts[k]);
    char *file = g_strdup_printf("stage-%d.pcw", stages[k]);
    char *it = g_strdup_printf("%d", iteration);
    char *path = g_build_filename(dir, name, file, NULL);
    const char *meta[] = {"iteration", it, "run", run, "checkpoint", name, NULL};
    ok = pc_weights_save(path, job->model, t.n, t.names, t.data, t.counts, meta, error);
    if (!ok) g_prefix_error(error, "--checkpoint %s: ", dir);
    g_free(path);
    g_free(it);
    g_free(file);
    tensors_clear(&t);
  }
  int all = 0;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (rank == 0 && *name) {
    ok = all && commit(dir, name, iteration, job, run, error);
    char *folder = g_build_filename(dir, name, NULL);
    if (ok) remove_others(dir, name);
    else remove_folder(folder); /* never committed */
    g_free(folder);
  }
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return all;
}

/* The optimizer whose state a recorded setting keeps: AdamW's moments or SGD's momentum. */
static const char *state_of(const char *optimizer) {
  return optimizer && g_str_has_prefix(optimizer, "optimizer=adamw") ? "adamw" : "sgd";
}

/* The stage file of P's checkpoint must say it is: its iteration, and its run and folder. */
static bool belongs(const char *spath, const pointer *p, GHashTable *meta, GError **error) {
  const char *it = g_hash_table_lookup(meta, "iteration"), *run = g_hash_table_lookup(meta, "run"),
             *ck = g_hash_table_lookup(meta, "checkpoint");
  if (whole_number(it, INT_MAX) != p->iteration) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s: holds iteration %s, the checkpoint says "
                "%ld", spath, it ? it : "(none)", p->iteration);
    return false;
  }
  if (p->run && (!run || !ck || strcmp(run, p->run) != 0 || strcmp(ck, p->folder) != 0)) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s: belongs to another checkpoint (run %s, "
                "folder %s), not the committed one (run %s, folder %s)", spath,
                run ? run : "(none)", ck ? ck : "(none)", p->run, p->folder);
    return false;
  }
  return true;
}

bool pc_checkpoint_load(const char *dir, const pc_checkpoint_job *job, pc_runtime *const *rts,
                        const int *stages, int n, pc_checkpoint_info *info, GError **error) {
  pointer p;
  if (!pointer_read(dir, &p, error)) {
    g_prefix_error(error, "--resume ");
    return false;
  }
  char *path = g_build_filename(dir, "checkpoint", NULL);
  bool ok = false;
  if (strcmp(p.model, job->model) != 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s: a checkpoint of the model '%s', not '%s'",
                path, p.model, job->model);
  } else if (p.stages != job->nstages) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                "%s: a checkpoint of %ld stages, this run has %d", path, p.stages, job->nstages);
  } else if (strcmp(state_of(p.optimizer), state_of(job->optimizer)) != 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "%s: holds the state of --optimizer %s (%s), not of %s: resume with --optimizer "
                "%s", path, state_of(p.optimizer), p.optimizer ? p.optimizer : "",
                state_of(job->optimizer), state_of(p.optimizer));
  } else if (strcmp(p.config, job->config) != 0 &&
             !(job->config_before && strcmp(p.config, job->config_before) == 0)) {
    char *d = config_difference(p.config, job->config);
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s: written by a run with %s", path, d);
    g_free(d);
  } else {
    ok = true;
    for (int k = 0; ok && k < n; k++) {
      tensors t;
      tensors_get(&t, rts[k]);
      char *file = g_strdup_printf("stage-%d.pcw", stages[k]);
      char *spath = g_build_filename(dir, p.folder, file, NULL);
      GHashTable *meta = NULL;
      ok = pc_weights_load(spath, job->model, t.n, t.names, t.data, t.counts, true, &meta,
                           error) &&
           belongs(spath, &p, meta, error);
      if (meta) g_hash_table_unref(meta);
      g_free(spath);
      g_free(file);
      tensors_clear(&t);
    }
  }
  if (ok) {
    info->iteration = (int)p.iteration;
    g_strlcpy(info->run, p.run ? p.run : "", sizeof info->run);
    info->optimizer = g_steal_pointer(&p.optimizer);
  }
  pointer_clear(&p);
  g_free(path);
  return ok;
}
