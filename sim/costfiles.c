/* costfiles.c — the readers of the simulator's measured inputs: profile, net and GEMM-rate TSV
 * files (costfiles.h; formats in docs/simulator.md). */
#include "costfiles.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "error.h"
#include "files.h"
#include "job.h"
#include "runtime.h"
#include "timing.h"

/* ------------------------------------------------------------------------------------------ */
/* TSV lines */

/* A TSV file split into lines; fields of each data line split on tabs and spaces. Read row by
 * row with tsv_next, which skips blank lines, hands `# key value` comments to the reader, checks
 * the header (the first other line) and the field count of every row. */
typedef struct {
  const char *filename;
  gchar **lines;
  int nlines;
  const char *const *cols; /* the header's column names */
  int ncols;               /* how many the header has */
  int nextra;              /* cols[ncols ..] may follow them, all or none (tsv_optional) */
  bool extra;              /* the header has them: ncols counts them */
  int line;                /* index of the row tsv_next returned last */
  bool header;             /* the header line was seen */
  bool failed;             /* tsv_next stopped on an error */
} tsv;

static void tsv_init(tsv *t, const char *text, const char *filename, const char *const *cols,
                     int ncols) {
  *t = (tsv){.filename = filename, .cols = cols, .ncols = ncols, .line = -1};
  t->lines = g_strsplit(text, "\n", -1);
  t->nlines = (int)g_strv_length(t->lines);
  for (int i = 0; i < t->nlines; i++) {
    size_t n = strlen(t->lines[i]);
    if (n && t->lines[i][n - 1] == '\r') t->lines[i][n - 1] = '\0';
  }
}

/* The header may end with NEXTRA more columns of t->cols, all of them or none. */
static void tsv_optional(tsv *t, int nextra) { t->nextra = nextra; }


static void tsv_clear(tsv *t) { g_strfreev(t->lines); }

/* Fields of line i (0-based), empty fields dropped; g_strfreev() it. */
static gchar **tsv_fields(const tsv *t, int i, int *n) {
  gchar **raw = g_strsplit_set(t->lines[i], "\t ", -1);
  int k = 0;
  for (int j = 0; raw[j]; j++) {
    if (raw[j][0] == '\0') g_free(raw[j]);
    else raw[k++] = raw[j];
  }
  raw[k] = NULL;
  *n = k;
  return raw;
}

static bool tsv_blank(const char *line) {
  while (*line == ' ' || *line == '\t') line++;
  return *line == '\0';
}

/* Line i is a comment; fills key/value of `# key value` metadata (else NULL). */
static bool tsv_comment(const char *line, char **key, char **value) {
  *key = *value = NULL;
  while (*line == ' ' || *line == '\t') line++;
  if (*line != '#') return false;
  gchar **f = g_strsplit_set(line + 1, "\t ", -1);
  int k = 0;
  for (int j = 0; f[j]; j++)
    if (f[j][0]) {
      if (k == 0) *key = g_strdup(f[j]);
      else if (k == 1) *value = g_strdup(f[j]);
      k++;
    }
  g_strfreev(f);
  if (k != 2) {
    g_free(*key);
    g_free(*value);
    *key = *value = NULL;
  }
  return true;
}

/* A finite number >= 0 in field WHAT of line i. */
static bool tsv_number(const tsv *t, int i, const char *field, const char *what, double *out,
                       GError **error) {
  char *end;
  errno = 0;
  double v = g_ascii_strtod(field, &end);
  if (*field == '\0' || *end != '\0' || errno == ERANGE) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s:%d: %s: expected a number, got '%s'",
                t->filename, i + 1, what, field);
    return false;
  }
  if (!isfinite(v) || v < 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                "%s:%d: %s is %s: expected a finite number >= 0", t->filename, i + 1, what,
                field);
    return false;
  }
  *out = v;
  return true;
}

/* The column names cols[0 .. n) as a header line would have them. */
static char *tsv_want(const tsv *t, int n) {
  GString *want = g_string_new(NULL);
  for (int c = 0; c < n; c++) g_string_append_printf(want, c ? "\\t%s" : "%s", t->cols[c]);
  return g_string_free(want, FALSE);
}

/* Checks the header line i against the expected column names (with the optional ones or
 * without). */
static bool tsv_header(tsv *t, int i, GError **error) {
  int n;
  gchar **f = tsv_fields(t, i, &n);
  bool ok = n == t->ncols || (t->nextra > 0 && n == t->ncols + t->nextra);
  for (int c = 0; ok && c < n; c++) ok = strcmp(f[c], t->cols[c]) == 0;
  g_strfreev(f);
  if (ok && n > t->ncols) {
    t->ncols = n;
    t->extra = true;
  }
  if (!ok) {
    char *want = tsv_want(t, t->ncols), *more = tsv_want(t, t->ncols + t->nextra);
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s:%d: bad header '%s': expected '%s'%s%s%s",
                t->filename, i + 1, t->lines[i], want, t->nextra ? " or '" : "",
                t->nextra ? more : "", t->nextra ? "'" : "");
    g_free(want);
    g_free(more);
  }
  return ok;
}

/* A reader's handler of `# key value` lines (key and value may be NULL for a plain comment). */
typedef bool (*tsv_meta_fn)(void *ud, const tsv *t, int line, const char *key, const char *value,
                            GError **error);

/* The fields of the next data row, exactly t->ncols of them (g_strfreev() them); NULL at the end
 * of the file, or on an error (then t->failed and *error are set). */
static gchar **tsv_next(tsv *t, tsv_meta_fn meta, void *ud, GError **error) {
  while (++t->line < t->nlines) {
    int i = t->line;
    char *key, *value;
    if (tsv_blank(t->lines[i])) continue;
    if (tsv_comment(t->lines[i], &key, &value)) {
      bool ok = meta == NULL || meta(ud, t, i, key, value, error);
      g_free(key);
      g_free(value);
      if (!ok) break;
      continue;
    }
    if (!t->header) {
      t->header = true;
      if (!tsv_header(t, i, error)) break;
      continue;
    }
    int n;
    gchar **f = tsv_fields(t, i, &n);
    if (n == t->ncols) return f;
    g_strfreev(f);
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s:%d: expected %d fields, got %d",
                t->filename, i + 1, t->ncols, n);
    break;
  }
  t->failed = t->line < t->nlines;
  return NULL;
}

/* After the last row: false, with the message, when the file had no header or no row. */
static bool tsv_finish(const tsv *t, int rows, GError **error) {
  if (t->failed) return false;
  if (!t->header) {
    char *want = tsv_want(t, t->ncols);
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s: no header line (expected '%s')",
                t->filename, want);
    g_free(want);
    return false;
  }
  if (rows == 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s: no rows after the header", t->filename);
    return false;
  }
  return true;
}

static char *read_text(const char *path, GError **error) {
  char *text = NULL;
  size_t len;
  return pc_file_read(path, PC_MAX_TABLE_BYTES, &text, &len, error) ? text : NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Profile */

typedef struct {
  double mb, fwd, bwd, opt;
  double b, w; /* the split backward's halves (profiles with bwd_b_s and bwd_w_s) */
  int line;
} prof_row;

typedef struct {
  char *name;
  char *kind;
  int line;     /* first row */
  GArray *rows; /* prof_row, ascending mb */
} prof_layer;

struct pc_profile {
  char *filename;
  char *model;
  double overhead;
  GPtrArray *layers; /* prof_layer *, in order of first appearance */
  bool pooled;       /* made from samples files (pc_profile_load_samples) */
  bool split;        /* rows have the split backward's halves */
  pc_optim_kind optim; /* whose step opt_s timed (`# optimizer`; SGD when absent) */
  GHashTable *by_name;
  GPtrArray *params;   /* prof_param *: the `# param NAME=VALUE` lines of every file read */
};

typedef struct {
  char *name, *value, *file;
  int line;
} prof_param;

static void prof_param_free(gpointer p) {
  prof_param *q = p;
  g_free(q->name);
  g_free(q->value);
  g_free(q->file);
  g_free(q);
}

static void prof_layer_free(gpointer p) {
  prof_layer *l = p;
  g_free(l->name);
  g_free(l->kind);
  g_array_unref(l->rows);
  g_free(l);
}

void pc_profile_free(pc_profile *p) {
  if (p == NULL) return;
  g_free(p->filename);
  g_free(p->model);
  g_hash_table_unref(p->by_name);
  g_ptr_array_unref(p->layers);
  g_ptr_array_unref(p->params);
  g_free(p);
}

static int cmp_row(const void *a, const void *b) {
  double x = ((const prof_row *)a)->mb, y = ((const prof_row *)b)->mb;
  return (x > y) - (x < y);
}

static bool profile_meta(void *ud, const tsv *t, int line, const char *key, const char *value,
                         GError **error) {
  pc_profile *p = ud;
  if (key && strcmp(key, "model") == 0) {
    g_free(p->model);
    p->model = g_strdup(value);
  } else if (key && strcmp(key, "overhead_s") == 0) {
    return tsv_number(t, line, value, "overhead_s", &p->overhead, error);
  } else if (key && strcmp(key, "param") == 0 && strchr(value, '=') != NULL) {
    prof_param *q = g_new0(prof_param, 1);
    const char *eq = strchr(value, '=');
    q->name = g_strndup(value, (gsize)(eq - value));
    q->value = g_strdup(eq + 1);
    q->file = g_strdup(t->filename);
    q->line = line + 1;
    g_ptr_array_add(p->params, q);
  } else if (key && strcmp(key, "optimizer") == 0) {
    if (pc_job_parse_optimizer(value, &p->optim, NULL)) return true;
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s:%d: optimizer '%s': expected sgd or adamw",
                t->filename, line + 1, value);
    return false;
  }
  return true;
}

static pc_profile *profile_new(const char *filename) {
  pc_profile *p = g_new0(pc_profile, 1);
  p->filename = g_strdup(filename);
  p->layers = g_ptr_array_new_with_free_func(prof_layer_free);
  p->by_name = g_hash_table_new(g_str_hash, g_str_equal);
  p->params = g_ptr_array_new_with_free_func(prof_param_free);
  return p;
}

/* Row R of layer NAME (of KIND) from FILENAME:r.line; a kind that differs from the layer's earlier
 * rows, or a second row at the same size, is an error. */
static bool profile_add(pc_profile *p, const char *name, const char *kind, prof_row r,
                        const char *filename, GError **error) {
  if (r.mb < 1) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s:%d: mb is %g: expected at least 1",
                filename, r.line, r.mb);
    return false;
  }
  prof_layer *l = g_hash_table_lookup(p->by_name, name);
  if (l == NULL) {
    l = g_new0(prof_layer, 1);
    l->name = g_strdup(name);
    l->kind = g_strdup(kind);
    l->line = r.line;
    l->rows = g_array_new(FALSE, FALSE, sizeof(prof_row));
    g_ptr_array_add(p->layers, l);
    g_hash_table_insert(p->by_name, l->name, l);
  } else if (strcmp(l->kind, kind) != 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s:%d: layer '%s' is %s here but %s on line %d",
                filename, r.line, name, kind, l->kind, l->line);
    return false;
  }
  for (guint k = 0; k < l->rows->len; k++) {
    const prof_row *o = &g_array_index(l->rows, prof_row, k);
    if (o->mb == r.mb) {
      g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                  "%s:%d: duplicate row for layer '%s' at mb %g (first on line %d)", filename,
                  r.line, name, r.mb, o->line);
      return false;
    }
  }
  g_array_append_val(l->rows, r);
  return true;
}

static void profile_sort(pc_profile *p) {
  for (guint k = 0; k < p->layers->len; k++) {
    prof_layer *l = g_ptr_array_index(p->layers, k);
    g_array_sort(l->rows, cmp_row);
  }
}

/* The split columns of row I (fields F from column AT on) when the file has them. */
static bool split_numbers(const tsv *t, int i, gchar **f, int at, prof_row *r, GError **error) {
  if (!t->extra) return true;
  return tsv_number(t, i, f[at], "bwd_b_s", &r->b, error) &&
         tsv_number(t, i, f[at + 1], "bwd_w_s", &r->w, error);
}

pc_profile *pc_profile_parse(const char *text, const char *filename, GError **error) {
  static const char *const cols[] = {"layer", "kind", "mb", "fwd_s", "bwd_s", "opt_s",
                                     "bwd_b_s", "bwd_w_s"};
  tsv t;
  tsv_init(&t, text, filename, cols, 6);
  tsv_optional(&t, 2);
  pc_profile *p = profile_new(filename);
  bool ok = true;
  int nrows = 0;
  gchar **f;
  while (ok && (f = tsv_next(&t, profile_meta, p, error))) {
    int i = t.line;
    prof_row r = {.line = i + 1};
    ok = tsv_number(&t, i, f[2], "mb", &r.mb, error) &&
         tsv_number(&t, i, f[3], "fwd_s", &r.fwd, error) &&
         tsv_number(&t, i, f[4], "bwd_s", &r.bwd, error) &&
         tsv_number(&t, i, f[5], "opt_s", &r.opt, error) &&
         split_numbers(&t, i, f, 6, &r, error) && profile_add(p, f[0], f[1], r, filename, error);
    nrows += ok;
    g_strfreev(f);
  }
  ok = ok && tsv_finish(&t, nrows, error);
  p->split = t.extra;
  tsv_clear(&t);
  if (!ok) {
    pc_profile_free(p);
    return NULL;
  }
  profile_sort(p);
  return p;
}

bool pc_profile_stat_from_name(const char *name, pc_profile_stat *stat, GError **error) {
  static const char *const names[] = {"median", "mean", "min"};
  for (int s = 0; s < (int)G_N_ELEMENTS(names); s++)
    if (name && strcmp(name, names[s]) == 0) {
      *stat = (pc_profile_stat)s;
      return true;
    }
  g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--profile-stat '%s': expected median, mean or min",
              name ? name : "");
  return false;
}

/* The samples of one (layer, mb) pooled over files. */
typedef struct {
  char *name, *kind, *file;
  double mb;
  int line;      /* first sample */
  GArray *v[5];  /* fwd, bwd, opt seconds, the backward's halves */
} pool_entry;

static void pool_entry_free(gpointer e_) {
  pool_entry *e = e_;
  g_free(e->name);
  g_free(e->kind);
  g_free(e->file);
  for (int w = 0; w < 5; w++) g_array_unref(e->v[w]);
  g_free(e);
}

static double reduce(GArray *v, pc_profile_stat stat) {
  double *x = (double *)(void *)v->data, r = 0;
  int n = (int)v->len;
  if (stat == PC_PROFILE_MEDIAN) return pc_median(x, n);
  if (stat == PC_PROFILE_MIN) {
    r = x[0];
    for (int i = 1; i < n; i++) r = MIN(r, x[i]);
    return r;
  }
  for (int i = 0; i < n; i++) r += x[i];
  return r / n;
}

/* Adds the rows of one samples file to the pool (ORDER: entries by first appearance); the
 * first file decides whether all have the split backward's columns. */
static bool pool_file(pc_profile *p, const char *path, bool first, GHashTable *pool,
                      GPtrArray *order, GError **error) {
  static const char *const cols[] = {"layer", "kind", "mb", "rank", "rep", "fwd_s",
                                     "bwd_s", "opt_s", "bwd_b_s", "bwd_w_s"};
  char *text = read_text(path, error);
  if (text == NULL) return false;
  tsv t;
  tsv_init(&t, text, path, cols, 8);
  tsv_optional(&t, 2);
  bool ok = true;
  int nrows = 0;
  gchar **f;
  while (ok && (f = tsv_next(&t, profile_meta, p, error))) {
    int i = t.line;
    double mb, rank, rep, v[5];
    prof_row halves = {0};
    if (first) p->split = t.extra;
    if (t.extra != p->split) {
      g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                  "%s:%d: %s the columns bwd_b_s and bwd_w_s, and the first samples file %s: "
                  "pool files of one kind (all taken with pipecast-exec profile --split or none)",
                  path, i + 1, t.extra ? "has" : "lacks", p->split ? "has them" : "does not");
      ok = false;
    }
    ok = ok && tsv_number(&t, i, f[2], "mb", &mb, error) &&
         tsv_number(&t, i, f[3], "rank", &rank, error) &&
         tsv_number(&t, i, f[4], "rep", &rep, error) &&
         tsv_number(&t, i, f[5], "fwd_s", &v[0], error) &&
         tsv_number(&t, i, f[6], "bwd_s", &v[1], error) &&
         tsv_number(&t, i, f[7], "opt_s", &v[2], error) &&
         split_numbers(&t, i, f, 8, &halves, error);
    v[3] = halves.b;
    v[4] = halves.w;
    if (ok) {
      char *key = g_strdup_printf("%s\t%.17g", f[0], mb);
      pool_entry *e = g_hash_table_lookup(pool, key);
      if (e == NULL) {
        e = g_new0(pool_entry, 1);
        *e = (pool_entry){.name = g_strdup(f[0]), .kind = g_strdup(f[1]), .file = g_strdup(path),
                          .mb = mb, .line = i + 1};
        for (int w = 0; w < 5; w++) e->v[w] = g_array_new(FALSE, FALSE, sizeof(double));
        g_hash_table_insert(pool, key, e);
        g_ptr_array_add(order, e);
      } else {
        g_free(key);
        if (strcmp(e->kind, f[1]) != 0) {
          g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                      "%s:%d: layer '%s' is %s here but %s in %s:%d", path, i + 1, f[0], f[1],
                      e->kind, e->file, e->line);
          ok = false;
        }
      }
      for (int w = 0; ok && w < 5; w++) g_array_append_val(e->v[w], v[w]);
    }
    nrows += ok;
    g_strfreev(f);
  }
  ok = ok && tsv_finish(&t, nrows, error);
  tsv_clear(&t);
  g_free(text);
  return ok;
}

pc_profile *pc_profile_load_samples(const char *const *paths, int n, pc_profile_stat stat,
                                    GError **error) {
  PC_ASSERT(n >= 1);
  pc_profile *p = profile_new(paths[0]);
  p->pooled = true;
  GHashTable *pool = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  GPtrArray *order = g_ptr_array_new_with_free_func(pool_entry_free);
  bool ok = true;
  for (int k = 0; ok && k < n; k++) ok = pool_file(p, paths[k], k == 0, pool, order, error);
  for (guint k = 0; ok && k < order->len; k++) {
    pool_entry *e = g_ptr_array_index(order, k);
    prof_row r = {.mb = e->mb, .line = e->line, .fwd = reduce(e->v[0], stat),
                  .bwd = reduce(e->v[1], stat), .opt = reduce(e->v[2], stat),
                  .b = reduce(e->v[3], stat), .w = reduce(e->v[4], stat)};
    ok = profile_add(p, e->name, e->kind, r, e->file, error);
  }
  g_hash_table_unref(pool);
  g_ptr_array_unref(order);
  if (!ok) {
    pc_profile_free(p);
    return NULL;
  }
  profile_sort(p);
  return p;
}

bool pc_profile_is_samples(const char *path, bool *is, GError **error) {
  char *text = read_text(path, error);
  if (text == NULL) return false;
  bool samples = false;
  gchar **lines = g_strsplit(text, "\n", -1);
  for (int i = 0; lines[i]; i++) {
    char *key, *value;
    if (tsv_blank(lines[i])) continue;
    if (tsv_comment(lines[i], &key, &value)) {
      g_free(key);
      g_free(value);
      continue;
    }
    samples = g_str_has_prefix(lines[i], "layer\tkind\tmb\trank\trep\t");
    break;
  }
  g_strfreev(lines);
  g_free(text);
  *is = samples;
  return true;
}

pc_profile *pc_profile_load(const char *path, GError **error) {
  char *text = read_text(path, error);
  if (text == NULL) return NULL;
  pc_profile *p = pc_profile_parse(text, path, error);
  g_free(text);
  return p;
}

const char *pc_profile_model(const pc_profile *p) { return p->model; }

double pc_profile_overhead(const pc_profile *p) { return p->overhead; }

bool pc_profile_pooled(const pc_profile *p) { return p->pooled; }

/* Whether two parameter values are one: equal numbers, or equal text. */
static bool same_value(const char *a, const char *b) {
  char *ea, *eb;
  double x = g_ascii_strtod(a, &ea), y = g_ascii_strtod(b, &eb);
  if (ea != a && *ea == '\0' && eb != b && *eb == '\0') return x == y;
  return strcmp(a, b) == 0;
}

bool pc_profile_check(const pc_profile *p, const pc_model *model, GError **error) {
  for (guint k = 0; k < p->params->len; k++) {
    const prof_param *q = g_ptr_array_index(p->params, k);
    for (int i = 0; i < model->nparams; i++) {
      const pc_model_param *mp = &model->params[i];
      if (strcmp(mp->name, q->name) == 0 && !same_value(mp->value, q->value)) {
        g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                    "%s:%d: profiled with %s=%s, but the model has %s=%s (give the --set the "
                    "profile was taken with)", q->file, q->line, q->name, q->value, mp->name,
                    mp->value);
        return false;
      }
    }
  }
  for (int i = 0; i < model->nlayers; i++) {
    const pc_layer *ml = &model->layers[i];
    const prof_layer *l = g_hash_table_lookup(p->by_name, ml->name);
    if (l == NULL) {
      g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                  "%s: no rows for layer '%s' of model %s%s%s%s", p->filename, ml->name,
                  model->name, p->model ? " (the profile is of model " : "",
                  p->model ? p->model : "", p->model ? ")" : "");
      return false;
    }
    const char *kind = pc_layer_ops_of(ml->kind)->name;
    if (strcmp(kind, l->kind) != 0) {
      g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                  "%s:%d: layer '%s' is %s in the profile but %s in model %s", p->filename,
                  l->line, l->name, l->kind, kind, model->name);
      return false;
    }
  }
  for (guint k = 0; k < p->layers->len; k++) {
    const prof_layer *l = g_ptr_array_index(p->layers, k);
    if (pc_model_find(model, l->name) < 0) {
      g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s:%d: layer '%s' is not in model %s",
                  p->filename, l->line, l->name, model->name);
      return false;
    }
  }
  return true;
}

/* The fraction first: (y1 - y0) * (x - x0) overflows to an infinity for large finite values,
 * where an interpolation must stay between y0 and y1. */
static double line_at(double x0, double y0, double x1, double y1, double x) {
  return y0 + (y1 - y0) * ((x - x0) / (x1 - x0));
}

/* The seconds of layer NAME at MB: fwd, bwd, b, w interpolated between the sizes profiled
 * (extrapolated linearly beyond them when EXTRAPOLATE, never below 0), opt the mean over the
 * rows (it does not depend on the microbatch). */
enum { AT_FWD, AT_BWD, AT_B, AT_W, AT_N };

static bool layer_at(const pc_profile *p, const char *name, double mb, bool extrapolate,
                     double v[AT_N], double *opt, bool *extrapolated, GError **error) {
  const prof_layer *l = g_hash_table_lookup(p->by_name, name);
  if (l == NULL) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s: no rows for layer '%s'", p->filename,
                name);
    return false;
  }
  const prof_row *r = (const prof_row *)(void *)l->rows->data;
  int n = (int)l->rows->len;
  double o = 0;
  for (int k = 0; k < n; k++) o += r[k].opt;
  if (opt) *opt = o / n;
  bool outside = mb < r[0].mb || mb > r[n - 1].mb;
  if (outside && !extrapolate) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "%s: layer '%s' was profiled for microbatches of %g to %g samples, not %g "
                "(--extrapolate extends the measurements linearly)",
                p->filename, name, r[0].mb, r[n - 1].mb, mb);
    return false;
  }
  if (outside && extrapolated) *extrapolated = true;
  int a = 0;
  if (outside) a = mb < r[0].mb || n == 1 ? 0 : n - 2;
  else
    while (a + 1 < n && r[a + 1].mb <= mb) a++;
  for (int k = 0; k < AT_N; k++) {
    double y0 = k == AT_FWD ? r[a].fwd : k == AT_BWD ? r[a].bwd : k == AT_B ? r[a].b : r[a].w;
    if (r[a].mb == mb) v[k] = y0;
    else if (n == 1) v[k] = y0 * mb / r[0].mb;
    else {
      const prof_row *q = &r[a + 1];
      double y1 = k == AT_FWD ? q->fwd : k == AT_BWD ? q->bwd : k == AT_B ? q->b : q->w;
      v[k] = line_at(r[a].mb, y0, q->mb, y1, mb);
    }
    if (outside) v[k] = fmax(v[k], 0);
  }
  return true;
}

bool pc_profile_layer(const pc_profile *p, const char *name, double mb, bool extrapolate,
                      double *fwd, double *bwd, double *opt, bool *extrapolated,
                      GError **error) {
  double v[AT_N];
  if (!layer_at(p, name, mb, extrapolate, v, opt, extrapolated, error)) return false;
  if (fwd) *fwd = v[AT_FWD];
  if (bwd) *bwd = v[AT_BWD];
  return true;
}

bool pc_profile_split(const pc_profile *p) { return p->split; }

pc_optim_kind pc_profile_optimizer(const pc_profile *p) { return p->optim; }

bool pc_profile_layer_split(const pc_profile *p, const char *name, double mb, bool extrapolate,
                            double *b, double *w, GError **error) {
  PC_ASSERT(p->split);
  double v[AT_N];
  if (!layer_at(p, name, mb, extrapolate, v, NULL, NULL, error)) return false;
  *b = v[AT_B];
  *w = v[AT_W];
  return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Net */

static const char *const link_names[PC_LINK_COUNT] = {"intra", "inter"};

void pc_net_free(pc_net *net) {
  if (net == NULL) return;
  for (int l = 0; l < PC_LINK_COUNT; l++) g_free(net->pieces[l]);
  g_free(net);
}

pc_net *pc_net_default(void) {
  pc_net *net = g_new0(pc_net, 1);
  for (int l = 0; l < PC_LINK_COUNT; l++) {
    net->npieces[l] = 1;
    net->pieces[l] = g_new(pc_net_piece, 1);
    net->pieces[l][0] = (pc_net_piece){.bytes = 0, .latency = 0.5e-6,
                                       .seconds_per_byte = 1.0 / 5e9};
  }
  net->send_overhead = 0.5e-6;
  net->recv_overhead = 0.5e-6;
  return net;
}

static bool net_meta(void *ud, const tsv *t, int line, const char *key, const char *value,
                     GError **error) {
  static const struct {
    const char *key;
    size_t offset; /* of the double in pc_net */
  } keys[] = {
    {"send_overhead_s", offsetof(pc_net, send_overhead)},
    {"recv_overhead_s", offsetof(pc_net, recv_overhead)},
    {"ring_reduce_seconds_per_byte", offsetof(pc_net, ring_reduce_per_byte)},
    {"ring_gather_seconds_per_byte", offsetof(pc_net, ring_gather_per_byte)},
    {"overlap_ring_slowdown", offsetof(pc_net, overlap_slowdown)},
    {"overlap_compute_share", offsetof(pc_net, overlap_share)},
  };
  for (size_t k = 0; key && k < G_N_ELEMENTS(keys); k++)
    if (strcmp(key, keys[k].key) == 0)
      return tsv_number(t, line, value, key, (double *)((char *)ud + keys[k].offset), error);
  return true;
}

pc_net *pc_net_parse(const char *text, const char *filename, GError **error) {
  static const char *const cols[] = {"link", "bytes", "latency_s", "seconds_per_byte"};
  tsv t;
  tsv_init(&t, text, filename, cols, 4);
  pc_net *net = g_new0(pc_net, 1);
  GArray *pieces[PC_LINK_COUNT];
  for (int l = 0; l < PC_LINK_COUNT; l++) pieces[l] = g_array_new(FALSE, FALSE, sizeof(pc_net_piece));
  bool ok = true;
  gchar **f;
  while (ok && (f = tsv_next(&t, net_meta, net, error))) {
    int i = t.line, link = -1;
    for (int l = 0; l < PC_LINK_COUNT; l++)
      if (strcmp(f[0], link_names[l]) == 0) link = l;
    if (link < 0) {
      g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                  "%s:%d: unknown link '%s': expected intra or inter", filename, i + 1, f[0]);
      ok = false;
    }
    pc_net_piece pc = {0};
    ok = ok && tsv_number(&t, i, f[1], "bytes", &pc.bytes, error) &&
         tsv_number(&t, i, f[2], "latency_s", &pc.latency, error) &&
         tsv_number(&t, i, f[3], "seconds_per_byte", &pc.seconds_per_byte, error);
    if (ok && pieces[link]->len &&
        g_array_index(pieces[link], pc_net_piece, pieces[link]->len - 1).bytes >= pc.bytes) {
      g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                  "%s:%d: message sizes of link %s must increase: %g after %g", filename, i + 1,
                  f[0], pc.bytes,
                  g_array_index(pieces[link], pc_net_piece, pieces[link]->len - 1).bytes);
      ok = false;
    }
    if (ok) g_array_append_val(pieces[link], pc);
    g_strfreev(f);
  }
  ok = ok && tsv_finish(&t, (int)(pieces[PC_LINK_INTRA]->len + pieces[PC_LINK_INTER]->len), error);
  for (int l = 0; l < PC_LINK_COUNT; l++) {
    net->npieces[l] = (int)pieces[l]->len;
    net->pieces[l] = (pc_net_piece *)(void *)g_array_free(pieces[l], FALSE);
  }
  if (ok && net->npieces[PC_LINK_INTRA] == 0) { /* calibrated with one rank per node */
    pc_net *d = pc_net_default();
    g_free(net->pieces[PC_LINK_INTRA]);
    net->pieces[PC_LINK_INTRA] = g_steal_pointer(&d->pieces[PC_LINK_INTRA]);
    net->npieces[PC_LINK_INTRA] = d->npieces[PC_LINK_INTRA];
    net->intra_builtin = true;
    pc_net_free(d);
  }
  tsv_clear(&t);
  if (!ok) {
    pc_net_free(net);
    return NULL;
  }
  return net;
}

pc_net *pc_net_load(const char *path, GError **error) {
  char *text = read_text(path, error);
  if (text == NULL) return NULL;
  pc_net *n = pc_net_parse(text, path, error);
  g_free(text);
  return n;
}

bool pc_net_has(const pc_net *net, pc_link link) { return net->npieces[link] > 0; }

static const pc_net_piece *net_piece(const pc_net *net, pc_link link, double bytes) {
  PC_ASSERT(net->npieces[link] > 0);
  const pc_net_piece *p = net->pieces[link];
  int k = 0;
  while (k + 1 < net->npieces[link] && p[k + 1].bytes <= bytes) k++;
  return &p[k];
}

double pc_net_time(const pc_net *net, pc_link link, double bytes) {
  const pc_net_piece *p = net_piece(net, link, bytes);
  return p->latency + bytes * p->seconds_per_byte;
}

double pc_net_cpu(const pc_net *net, pc_link link, double bytes) {
  double share = net->overlap_share;
  if (link != PC_LINK_INTER || !pc_net_has(net, PC_LINK_INTER) || !(share > 0 && share < 1))
    return 0;
  double slow = net->overlap_slowdown >= 1 ? net->overlap_slowdown : 1; /* as the all-reduce's */
  double ring = net->ring_gather_per_byte > 0 ? net->ring_gather_per_byte
                                              : net_piece(net, link, bytes)->seconds_per_byte;
  /* in a ring step each rank sends a chunk and receives one: half the loss to each end */
  return bytes * (1 - share) * slow * ring / 2;
}

double pc_net_allreduce(const pc_net *net, pc_link link, double bytes, int d) {
  if (d <= 1) return 0;
  double chunk = bytes / d, piece = (double)PC_ALLREDUCE_PIECE * sizeof(float);
  const pc_net_piece *p = net_piece(net, link, fmin(chunk, piece));
  bool measured = link == (pc_net_has(net, PC_LINK_INTER) ? PC_LINK_INTER : PC_LINK_INTRA);
  double ag = measured && net->ring_gather_per_byte > 0 ? net->ring_gather_per_byte
                                                        : p->seconds_per_byte;
  double rs = measured && net->ring_reduce_per_byte > 0 ? net->ring_reduce_per_byte
                                                        : fmax(p->seconds_per_byte, 1.0 / 4e9);
  return (d - 1) * (2 * ceil(chunk / piece) * p->latency + chunk * (rs + ag));
}

/* ------------------------------------------------------------------------------------------ */
/* GEMM rates */

void pc_gemm_free(pc_gemm *g) {
  if (g == NULL) return;
  g_free(g->m);
  g_free(g->nn);
  g_free(g->k);
  g_free(g->gflops);
  g_free(g);
}

pc_gemm *pc_gemm_parse(const char *text, const char *filename, GError **error) {
  static const char *const cols[] = {"m", "n", "k", "gflops"};
  tsv t;
  tsv_init(&t, text, filename, cols, 4);
  GArray *v[4];
  for (int c = 0; c < 4; c++) v[c] = g_array_new(FALSE, FALSE, sizeof(double));
  bool ok = true;
  gchar **f;
  while (ok && (f = tsv_next(&t, NULL, NULL, error))) {
    for (int c = 0; ok && c < 4; c++) {
      double x;
      ok = tsv_number(&t, t.line, f[c], cols[c], &x, error);
      if (ok && x <= 0) {
        g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s:%d: %s is %s: expected > 0",
                    filename, t.line + 1, cols[c], f[c]);
        ok = false;
      }
      if (ok) g_array_append_val(v[c], x);
    }
    g_strfreev(f);
  }
  ok = ok && tsv_finish(&t, (int)v[0]->len, error);
  tsv_clear(&t);
  pc_gemm *g = g_new0(pc_gemm, 1);
  g->n = (int)v[3]->len;
  g->m = (double *)(void *)g_array_free(v[0], FALSE);
  g->nn = (double *)(void *)g_array_free(v[1], FALSE);
  g->k = (double *)(void *)g_array_free(v[2], FALSE);
  g->gflops = (double *)(void *)g_array_free(v[3], FALSE);
  if (!ok) {
    pc_gemm_free(g);
    return NULL;
  }
  return g;
}

pc_gemm *pc_gemm_load(const char *path, GError **error) {
  char *text = read_text(path, error);
  if (text == NULL) return NULL;
  pc_gemm *g = pc_gemm_parse(text, path, error);
  g_free(text);
  return g;
}

static double sat(double x) { return x / (x + PC_GEMM_HALF_DIM); }

double pc_gemm_rate(const pc_gemm *g, double m, double n, double k) {
  m = fmax(m, 1);
  n = fmax(n, 1);
  k = fmax(k, 1);
  if (g == NULL || g->n == 0) return PC_GEMM_PEAK_GFLOPS * 1e9 * sat(m) * sat(n) * sat(k);
  int best = 0;
  double bd = INFINITY;
  for (int i = 0; i < g->n; i++) {
    double a = log(m / g->m[i]), b = log(n / g->nn[i]), c = log(k / g->k[i]);
    double d = a * a + b * b + c * c;
    if (d < bd) {
      bd = d;
      best = i;
    }
  }
  return g->gflops[best] * 1e9;
}
