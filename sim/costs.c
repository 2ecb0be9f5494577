/* costs.c — the simulator's cost models: readers of the profile, net and GEMM-rate TSV files,
 * analytic layer costs, the pc_sim_costs of one pipeline (with the ring all-reduce of a
 * pipeline x data-parallel layout), the auto:time partition, and one simulated configuration
 * (pc_predict) that `pipecast-sim run` and `sweep` share. See costs.h and docs/simulator.md. */
#include "costs.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "error.h"
#include "runtime.h"

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
  int ncols;
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

/* Checks the header line i against the expected column names. */
static bool tsv_header(const tsv *t, int i, const char *const *cols, int ncols, GError **error) {
  int n;
  gchar **f = tsv_fields(t, i, &n);
  bool ok = n == ncols;
  for (int c = 0; ok && c < ncols; c++) ok = strcmp(f[c], cols[c]) == 0;
  g_strfreev(f);
  if (!ok) {
    GString *want = g_string_new(NULL);
    for (int c = 0; c < ncols; c++) g_string_append_printf(want, c ? "\\t%s" : "%s", cols[c]);
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s:%d: bad header '%s': expected '%s'",
                t->filename, i + 1, t->lines[i], want->str);
    g_string_free(want, TRUE);
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
      if (!tsv_header(t, i, t->cols, t->ncols, error)) break;
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
    GString *want = g_string_new(NULL);
    for (int c = 0; c < t->ncols; c++) g_string_append_printf(want, c ? "\\t%s" : "%s", t->cols[c]);
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s: no header line (expected '%s')",
                t->filename, want->str);
    g_string_free(want, TRUE);
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
  GError *e = NULL;
  if (!g_file_get_contents(path, &text, NULL, &e)) {
    g_set_error(error, PC_ERROR, PC_ERROR_IO, "%s", e->message);
    g_error_free(e);
    return NULL;
  }
  return text;
}

/* ------------------------------------------------------------------------------------------ */
/* Profile */

typedef struct {
  double mb, fwd, bwd, opt;
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
  GHashTable *by_name;
};

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
  }
  return true;
}

pc_profile *pc_profile_parse(const char *text, const char *filename, GError **error) {
  static const char *const cols[] = {"layer", "kind", "mb", "fwd_s", "bwd_s", "opt_s"};
  tsv t;
  tsv_init(&t, text, filename, cols, 6);
  pc_profile *p = g_new0(pc_profile, 1);
  p->filename = g_strdup(filename);
  p->layers = g_ptr_array_new_with_free_func(prof_layer_free);
  p->by_name = g_hash_table_new(g_str_hash, g_str_equal);
  bool ok = true;
  int nrows = 0;
  gchar **f;
  while (ok && (f = tsv_next(&t, profile_meta, p, error))) {
    int i = t.line;
    prof_row r = {.line = i + 1};
    ok = tsv_number(&t, i, f[2], "mb", &r.mb, error) &&
         tsv_number(&t, i, f[3], "fwd_s", &r.fwd, error) &&
         tsv_number(&t, i, f[4], "bwd_s", &r.bwd, error) &&
         tsv_number(&t, i, f[5], "opt_s", &r.opt, error);
    if (ok && r.mb < 1) {
      g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s:%d: mb is %s: expected at least 1",
                  filename, i + 1, f[2]);
      ok = false;
    }
    if (ok) {
      prof_layer *l = g_hash_table_lookup(p->by_name, f[0]);
      if (l == NULL) {
        l = g_new0(prof_layer, 1);
        l->name = g_strdup(f[0]);
        l->kind = g_strdup(f[1]);
        l->line = i + 1;
        l->rows = g_array_new(FALSE, FALSE, sizeof(prof_row));
        g_ptr_array_add(p->layers, l);
        g_hash_table_insert(p->by_name, l->name, l);
      } else if (strcmp(l->kind, f[1]) != 0) {
        g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                    "%s:%d: layer '%s' is %s here but %s on line %d", filename, i + 1, f[0], f[1],
                    l->kind, l->line);
        ok = false;
      }
      for (guint k = 0; ok && k < l->rows->len; k++) {
        const prof_row *o = &g_array_index(l->rows, prof_row, k);
        if (o->mb == r.mb) {
          g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                      "%s:%d: duplicate row for layer '%s' at mb %g (first on line %d)",
                      filename, i + 1, f[0], r.mb, o->line);
          ok = false;
        }
      }
      if (ok) {
        g_array_append_val(l->rows, r);
        nrows++;
      }
    }
    g_strfreev(f);
  }
  ok = ok && tsv_finish(&t, nrows, error);
  tsv_clear(&t);
  if (!ok) {
    pc_profile_free(p);
    return NULL;
  }
  for (guint k = 0; k < p->layers->len; k++) {
    prof_layer *l = g_ptr_array_index(p->layers, k);
    g_array_sort(l->rows, cmp_row);
  }
  return p;
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

bool pc_profile_check(const pc_profile *p, const pc_model *model, GError **error) {
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

bool pc_profile_layer(const pc_profile *p, const char *name, double mb, bool extrapolate,
                      double *fwd, double *bwd, double *opt, bool *extrapolated,
                      GError **error) {
  const prof_layer *l = g_hash_table_lookup(p->by_name, name);
  if (l == NULL) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s: no rows for layer '%s'", p->filename,
                name);
    return false;
  }
  const prof_row *r = (const prof_row *)(void *)l->rows->data;
  int n = (int)l->rows->len;
  double f, b, o = 0;
  for (int k = 0; k < n; k++) o += r[k].opt;
  o /= n;
  if (mb < r[0].mb || mb > r[n - 1].mb) {
    if (!extrapolate) {
      g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                  "%s: layer '%s' was profiled for microbatches of %g to %g samples, not %g "
                  "(--extrapolate extends the measurements linearly)",
                  p->filename, name, r[0].mb, r[n - 1].mb, mb);
      return false;
    }
    if (extrapolated) *extrapolated = true;
    if (n == 1) {
      f = r[0].fwd * mb / r[0].mb;
      b = r[0].bwd * mb / r[0].mb;
    } else {
      int a = mb < r[0].mb ? 0 : n - 2;
      f = line_at(r[a].mb, r[a].fwd, r[a + 1].mb, r[a + 1].fwd, mb);
      b = line_at(r[a].mb, r[a].bwd, r[a + 1].mb, r[a + 1].bwd, mb);
    }
    f = fmax(f, 0);
    b = fmax(b, 0);
  } else {
    int a = 0;
    while (a + 1 < n && r[a + 1].mb <= mb) a++;
    if (r[a].mb == mb) {
      f = r[a].fwd;
      b = r[a].bwd;
    } else {
      f = line_at(r[a].mb, r[a].fwd, r[a + 1].mb, r[a + 1].fwd, mb);
      b = line_at(r[a].mb, r[a].bwd, r[a + 1].mb, r[a + 1].bwd, mb);
    }
  }
  if (fwd) *fwd = f;
  if (bwd) *bwd = b;
  if (opt) *opt = o;
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
  if (ok && pieces[PC_LINK_INTRA]->len == 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s: no row for link 'intra'", filename);
    ok = false;
  }
  for (int l = 0; l < PC_LINK_COUNT; l++) {
    net->npieces[l] = (int)pieces[l]->len;
    net->pieces[l] = (pc_net_piece *)(void *)g_array_free(pieces[l], FALSE);
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

double pc_net_allreduce(const pc_net *net, pc_link link, double bytes, int d) {
  if (d <= 1) return 0;
  double chunk = bytes / d, piece = (double)PC_ALLREDUCE_PIECE * sizeof(float);
  const pc_net_piece *p = net_piece(net, link, fmin(chunk, piece));
  double ag = net->ring_gather_per_byte > 0 ? net->ring_gather_per_byte : p->seconds_per_byte;
  double rs = net->ring_reduce_per_byte > 0 ? net->ring_reduce_per_byte
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

/* ------------------------------------------------------------------------------------------ */
/* Per-layer costs */

static void analytic_layer(const pc_layer *l, const pc_cost_config *cfg, double mb, double bw,
                           double *fwd, double *bwd, double *opt) {
  double ff = pc_layer_fwd_flops(l) * mb, bf = pc_layer_bwd_flops(l) * mb;
  double in = 0;
  for (int k = 0; k < l->ninputs; k++) in += (double)pc_shape_numel(&l->in[k]);
  double out = (double)pc_shape_numel(&l->out);
  if (l->kind == PC_LAYER_KIND_FC) {
    /* forward (mb, in) . (in, out); backward dX (mb, out) . (out, in), dW (out, mb) . (mb, in) */
    *fwd = ff / pc_gemm_rate(cfg->gemm, mb, out, in);
    *bwd = 0.5 * bf / pc_gemm_rate(cfg->gemm, mb, in, out) +
           0.5 * bf / pc_gemm_rate(cfg->gemm, out, in, mb);
  } else if (l->kind == PC_LAYER_KIND_CONV) {
    const pc_conv_attrs *a = l->attrs;
    double oc = (double)l->out.d[0], cols = mb * (double)(l->out.d[1] * l->out.d[2]);
    double kk = (double)(l->in[0].d[0] * a->k * a->k);
    /* forward W (oc, kk) . X (kk, cols); backward dW (oc, cols) . X^T, dX W^T (kk, oc) . dY */
    *fwd = ff / pc_gemm_rate(cfg->gemm, oc, cols, kk);
    *bwd = 0.5 * bf / pc_gemm_rate(cfg->gemm, oc, kk, cols) +
           0.5 * bf / pc_gemm_rate(cfg->gemm, kk, cols, oc);
  } else {
    /* forward reads the inputs and writes the output; backward reads the output gradient and
     * what it kept, and writes the input gradients */
    *fwd = 4.0 * mb * (in + out) / bw;
    *bwd = 4.0 * mb * (2 * in + out) / bw;
  }
  /* SGD with momentum: read w, g, v; write w, v; zero g — 6 floats per parameter */
  *opt = 24.0 * (double)pc_layer_params(l) / bw;
}

bool pc_costs_layers(const pc_model *model, const pc_cost_config *cfg, double mb, double *fwd,
                     double *bwd, double *opt, double *overhead, bool *extrapolated,
                     GError **error) {
  double bw = cfg->bandwidth > 0 ? cfg->bandwidth : PC_COSTS_DEFAULT_BANDWIDTH;
  if (extrapolated) *extrapolated = false;
  if (cfg->profile) {
    *overhead = pc_profile_overhead(cfg->profile);
    for (int i = 0; i < model->nlayers; i++)
      if (!pc_profile_layer(cfg->profile, model->layers[i].name, mb, cfg->extrapolate, &fwd[i],
                            &bwd[i], &opt[i], extrapolated, error))
        return false;
    return true;
  }
  *overhead = PC_COSTS_DEFAULT_OVERHEAD;
  for (int i = 0; i < model->nlayers; i++)
    analytic_layer(&model->layers[i], cfg, mb, bw, &fwd[i], &bwd[i], &opt[i]);
  return true;
}

bool pc_cost_config_load(pc_cost_config *cfg, const char *profile, const char *net,
                         const char *gemm, GError **error) {
  pc_profile *p = NULL;
  pc_net *n = NULL;
  pc_gemm *g = NULL;
  if ((profile && (p = pc_profile_load(profile, error)) == NULL) ||
      (net && (n = pc_net_load(net, error)) == NULL) ||
      (gemm && (g = pc_gemm_load(gemm, error)) == NULL)) {
    pc_profile_free(p);
    pc_net_free(n);
    return false;
  }
  cfg->profile = p;
  cfg->net = n;
  cfg->gemm = g;
  return true;
}

void pc_cost_config_clear(pc_cost_config *cfg) {
  pc_profile_free((pc_profile *)cfg->profile);
  pc_net_free((pc_net *)cfg->net);
  pc_gemm_free((pc_gemm *)cfg->gemm);
  cfg->profile = NULL;
  cfg->net = NULL;
  cfg->gemm = NULL;
}

char *pc_cost_config_describe(const pc_cost_config *cfg, const char *profile_path,
                              const char *net_path, const char *gemm_path) {
  GString *s = g_string_new("costs: ");
  double bw = cfg->bandwidth > 0 ? cfg->bandwidth : PC_COSTS_DEFAULT_BANDWIDTH;
  if (cfg->profile) {
    g_string_append_printf(s, "profile %s (%g us per op)%s", profile_path,
                           pc_profile_overhead(cfg->profile) * 1e6,
                           cfg->extrapolate ? ", linear extrapolation allowed" : "");
  } else {
    if (cfg->gemm)
      g_string_append_printf(s, "analytic: FLOPs at the GEMM rates of %s", gemm_path);
    else
      g_string_append_printf(s, "analytic: FLOPs at the default GEMM rate curve (%g GFLOP/s "
                             "peak)", PC_GEMM_PEAK_GFLOPS);
    g_string_append_printf(s, ", %g GB/s for other layers, %g us per op", bw / 1e9,
                           PC_COSTS_DEFAULT_OVERHEAD * 1e6);
  }
  g_string_append(s, "\nlinks: ");
  if (cfg->net) {
    g_string_append_printf(s, "%s (intra%s; send/recv overheads %g/%g us)", net_path,
                           pc_net_has(cfg->net, PC_LINK_INTER) ? " and inter" : " only",
                           cfg->net->send_overhead * 1e6, cfg->net->recv_overhead * 1e6);
  } else {
    g_string_append(s, "built-in shared memory link (0.5 us + bytes / 5 GB/s; send/recv "
                       "overheads 0.5 us)");
  }
  g_string_append(s, "\n");
  return g_string_free(s, FALSE);
}

/* ------------------------------------------------------------------------------------------ */
/* Costs of one pipeline */

static double sc_compute(void *ud, int stage, const pc_op *op) {
  const pc_stage_costs *sc = ud;
  switch ((pc_op_kind)op->kind) {
  case PC_OP_FWD: return sc->fwd[stage];
  case PC_OP_BWD: return sc->bwd[stage];
  case PC_OP_OPT: return sc->opt[stage] + sc->allreduce[stage];
  default: return 0;
  }
}

static double sc_message(void *ud, const pc_xfer *x, bool grad) {
  (void)grad;
  const pc_stage_costs *sc = ud;
  if (sc->xfer_base) {
    ptrdiff_t i = x - sc->xfer_base;
    if (i >= 0 && i < sc->nxfers) return sc->message[i];
  }
  for (int i = 0; i < sc->nxfers; i++)
    if (sc->xfers[i].tensor == x->tensor && sc->xfers[i].src == x->src &&
        sc->xfers[i].dst == x->dst)
      return sc->message[i];
  return NAN; /* not a transfer of this partition: the engine reports it */
}

/* Whether ranks of stages a and b sit on different nodes in some replica. */
static bool crosses_nodes(int a, int b, int nstages, int replicas, int rpn) {
  if (rpn <= 0) return false;
  for (int d = 0; d < replicas; d++) {
    long long ra = (long long)d * nstages + a, rb = (long long)d * nstages + b;
    if (ra / rpn != rb / rpn) return true;
  }
  return false;
}

void pc_stage_costs_free(pc_stage_costs *sc) {
  if (sc == NULL) return;
  g_free(sc->fwd);
  g_free(sc->bwd);
  g_free(sc->opt);
  g_free(sc->allreduce);
  g_free(sc->grad_bytes);
  g_free(sc->ar_link);
  g_free(sc->message);
  g_free(sc->xfer_link);
  g_free(sc->xfers);
  if (sc->own_net) pc_net_free(sc->own_net);
  g_free(sc);
}

pc_stage_costs *pc_stage_costs_new(const pc_model *model, const pc_partition *part,
                                   const GArray *xfers, double mb, const pc_cost_config *cfg,
                                   GError **error) {
  int L = model->nlayers, P = part->nstages;
  int D = cfg->replicas > 1 ? cfg->replicas : 1;
  if (cfg->profile && !pc_profile_check(cfg->profile, model, error)) return NULL;
  double *lf = g_new(double, (size_t)L), *lb = g_new(double, (size_t)L),
         *lo = g_new(double, (size_t)L), overhead;
  bool extra = false;
  if (!pc_costs_layers(model, cfg, mb, lf, lb, lo, &overhead, &extra, error)) {
    g_free(lf);
    g_free(lb);
    g_free(lo);
    return NULL;
  }
  pc_stage_costs *sc = g_new0(pc_stage_costs, 1);
  sc->nstages = P;
  sc->extrapolated = extra;
  sc->fwd = g_new0(double, (size_t)P);
  sc->bwd = g_new0(double, (size_t)P);
  sc->opt = g_new0(double, (size_t)P);
  sc->allreduce = g_new0(double, (size_t)P);
  sc->grad_bytes = g_new0(double, (size_t)P);
  sc->ar_link = g_new0(pc_link, (size_t)P);
  const pc_net *net = cfg->net;
  if (net == NULL) net = sc->own_net = pc_net_default();
  bool inter = pc_net_has(net, PC_LINK_INTER);
  for (int s = 0; s < P; s++) {
    double f = overhead, b = overhead, o = overhead;
    int64_t params = 0;
    for (int i = part->first[s]; i < part->first[s + 1]; i++) {
      f += lf[i];
      b += lb[i];
      o += lo[i];
      params += pc_layer_params(&model->layers[i]);
    }
    sc->fwd[s] = f;
    sc->bwd[s] = b;
    sc->opt[s] = o;
    sc->grad_bytes[s] = 4.0 * (double)params;
    bool spans = false;
    for (int d = 1; d < D && cfg->ranks_per_node > 0 && !spans; d++)
      spans = ((long long)d * P + s) / cfg->ranks_per_node != s / cfg->ranks_per_node;
    sc->ar_link[s] = spans && inter ? PC_LINK_INTER : PC_LINK_INTRA;
    sc->allreduce[s] = pc_net_allreduce(net, sc->ar_link[s], sc->grad_bytes[s], D);
  }
  sc->nxfers = (int)xfers->len;
  sc->xfers = g_new0(pc_xfer, (size_t)MAX(sc->nxfers, 1));
  sc->message = g_new0(double, (size_t)MAX(sc->nxfers, 1));
  sc->xfer_link = g_new0(pc_link, (size_t)MAX(sc->nxfers, 1));
  for (int x = 0; x < sc->nxfers; x++) {
    const pc_xfer *xf = &g_array_index(xfers, pc_xfer, x);
    sc->xfers[x] = *xf;
    sc->xfer_link[x] = inter && crosses_nodes(xf->src, xf->dst, P, D, cfg->ranks_per_node)
                           ? PC_LINK_INTER : PC_LINK_INTRA;
    sc->message[x] = pc_net_time(net, sc->xfer_link[x], (double)xf->bytes * mb);
  }
  sc->costs = (pc_sim_costs){.compute = sc_compute, .message = sc_message,
                             .send_overhead = net->send_overhead,
                             .recv_overhead = net->recv_overhead, .ud = sc};
  g_free(lf);
  g_free(lb);
  g_free(lo);
  return sc;
}

/* ------------------------------------------------------------------------------------------ */
/* auto:time */

/* The cost of every stage [i, j), precomputed: cost[i * w + j]. */
typedef struct {
  const double *cost;
  size_t w;
} stage_costs;

static double stage_cost(int i, int j, void *ctx) {
  const stage_costs *sc = ctx;
  return sc->cost[(size_t)i * sc->w + (size_t)j];
}

pc_partition *pc_partition_min_time(const pc_model *model, const double *compute,
                                    const double *tensor, double stage_fixed, int nstages,
                                    double *bottleneck, GError **error) {
  int L = model->nlayers;
  size_t w = (size_t)L + 1;
  /* lastuse[t]: the last layer reading t's output (-1: none) */
  int *lastuse = g_new(int, (size_t)L);
  for (int t = 0; t < L; t++) lastuse[t] = -1;
  for (int c = 0; c < L; c++)
    for (int k = 0; k < model->layers[c].ninputs; k++) {
      int t = model->layers[c].inputs[k];
      if (t >= 0) lastuse[t] = MAX(lastuse[t], c);
    }
  /* cost[i * w + j]: time of a stage holding [i, j) */
  double *cost = g_new0(double, w * w);
  int *seen = g_new(int, (size_t)L);
  for (int t = 0; t < L; t++) seen[t] = -1;
  for (int i = 0; i < L; i++) {
    double comp = stage_fixed, in = 0;
    for (int j = i + 1; j <= L; j++) {
      const pc_layer *l = &model->layers[j - 1];
      comp += compute[j - 1];
      for (int k = 0; k < l->ninputs; k++) {
        int t = l->inputs[k];
        if (t >= 0 && t < i && seen[t] != i) {
          seen[t] = i;
          in += tensor[t];
        }
      }
      double out = 0;
      for (int t = i; t < j; t++)
        if (lastuse[t] >= j) out += tensor[t];
      cost[(size_t)i * w + (size_t)j] = comp + in + out;
    }
  }
  stage_costs sc = {cost, w};
  pc_partition *p = pc_partition_min_max(L, nstages, stage_cost, &sc, bottleneck, error);
  g_free(cost);
  g_free(seen);
  g_free(lastuse);
  return p;
}

pc_partition *pc_costs_partition_time(const pc_model *model, const pc_cost_config *cfg,
                                      double mb, int nstages, double *bottleneck,
                                      GError **error) {
  if (cfg->profile == NULL) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "partitioning by time needs measured layer times: give --profile FILE");
    return NULL;
  }
  if (!pc_profile_check(cfg->profile, model, error)) return NULL;
  int L = model->nlayers;
  double *f = g_new(double, (size_t)L), *b = g_new(double, (size_t)L),
         *o = g_new(double, (size_t)L), *tensor = g_new(double, (size_t)L), overhead;
  pc_partition *p = NULL;
  if (pc_costs_layers(model, cfg, mb, f, b, o, &overhead, NULL, error)) {
    pc_net *own = cfg->net ? NULL : pc_net_default();
    const pc_net *net = cfg->net ? cfg->net : own;
    for (int i = 0; i < L; i++) {
      f[i] += b[i];
      tensor[i] = 2 * pc_net_time(net, PC_LINK_INTRA,
                                  (double)pc_layer_out_bytes(&model->layers[i]) * mb) +
                  net->send_overhead + net->recv_overhead;
    }
    p = pc_partition_min_time(model, f, tensor, 2 * overhead, nstages, bottleneck, error);
    pc_net_free(own);
  }
  g_free(f);
  g_free(b);
  g_free(o);
  g_free(tensor);
  return p;
}

pc_partition *pc_costs_make_partition(const pc_model *model, const char *spec, int nstages,
                                      const char *by, const pc_cost_config *cfg, double mb,
                                      GError **error) {
  if (by && strcmp(by, "flops") != 0 && strcmp(by, "params") != 0 && strcmp(by, "time") != 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--by '%s': expected flops, params or time", by);
    return NULL;
  }
  if (nstages < 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--stages must be positive, got %d", nstages);
    return NULL;
  }
  if (spec && by) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "--by goes with --stages; with --partition write auto:%s instead", by);
    return NULL;
  }
  if (spec) {
    char *s = g_strstrip(g_strdup(spec));
    bool time = strcmp(s, "auto:time") == 0;
    g_free(s);
    if (!time) return pc_partition_parse(model, spec, nstages, error);
    if (nstages < 1) {
      g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                  "partition 'auto:time' needs a stage count (--stages N)");
      return NULL;
    }
    return pc_costs_partition_time(model, cfg, mb, nstages, NULL, error);
  }
  if (nstages > 0) {
    if (by && strcmp(by, "time") == 0)
      return pc_costs_partition_time(model, cfg, mb, nstages, NULL, error);
    return pc_partition_auto(model, by && strcmp(by, "params") == 0 ? PC_PARTITION_BY_PARAMS
                                                                     : PC_PARTITION_BY_FLOPS,
                             nstages, error);
  }
  if (model->nsplits > 0) return pc_partition_parse(model, "split", 0, error);
  int n = model->nlayers;
  return pc_partition_from_counts(model, &n, 1, error);
}

/* ------------------------------------------------------------------------------------------ */
/* One simulated configuration */

void pc_prediction_free(pc_prediction *p) {
  if (p == NULL) return;
  if (p->timeline)
    for (int s = 0; s < p->nstages; s++) g_free(p->timeline[s]);
  g_free(p->timeline);
  g_free(p->stages);
  g_free(p->memory);
  pc_stage_costs_free(p->costs);
  pc_schedule_free(p->sched);
  g_free(p);
}

/* Copies what the engine returned (valid until its next run) into P. */
static void take_result(pc_prediction *p, const pc_sim_result *res) {
  p->makespan = res->makespan;
  p->stages = g_memdup2(res->stages, sizeof(pc_sim_stage) * (size_t)p->nstages);
  p->timeline = g_new0(pc_span *, (size_t)p->nstages);
  for (int s = 0; s < p->nstages; s++)
    p->timeline[s] =
        g_memdup2(res->timeline[s], sizeof(pc_span) * (size_t)p->sched->stages[s].nops);
}

pc_prediction *pc_predict(pc_engine *engine, const pc_model *model, const pc_partition *part,
                          pc_schedule_kind kind, int batch, int nmicro,
                          const pc_cost_config *cfg, GError **error) {
  int D = cfg->replicas > 0 ? cfg->replicas : 1;
  if (batch < 1 || nmicro < 1 || cfg->replicas < 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "batch (%d), microbatches (%d) and replicas (%d) must be positive", batch, nmicro,
                cfg->replicas);
    return NULL;
  }
  if (nmicro > batch / D || batch % D != 0 || (batch / D) % nmicro != 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "a batch of %d over %d replica%s does not split into %d equal microbatches%s",
                batch, D, D == 1 ? "" : "s", nmicro,
                D > 1 ? " per replica" : "");
    return NULL;
  }
  pc_prediction *p = g_new0(pc_prediction, 1);
  p->nstages = part->nstages;
  p->nmicro = nmicro;
  p->replicas = D;
  p->batch = batch;
  p->mb = batch / D / nmicro;
  GArray *xfers = pc_partition_transfers(model, part);
  p->sched = pc_schedule_new(kind, part->nstages, nmicro, (const pc_xfer *)(void *)xfers->data,
                             (int)xfers->len, error);
  if (p->sched && pc_schedule_validate(p->sched, error))
    p->costs = pc_stage_costs_new(model, part, xfers, p->mb, cfg, error);
  g_array_unref(xfers);
  const pc_sim_result *res = NULL;
  if (p->costs) {
    p->costs->xfer_base = p->sched->xfers;
    res = pc_engine_run(engine, p->sched, &p->costs->costs, error);
  }
  if (res == NULL) {
    pc_prediction_free(p);
    return NULL;
  }
  take_result(p, res);
  p->memory = g_new0(size_t, (size_t)p->nstages);
  for (int s = 0; s < p->nstages; s++)
    p->memory[s] = pc_runtime_bytes(model, part, s, (size_t)p->mb, res->stages[s].peak_inflight);
  return p;
}

/* Replay: the op lists run again with given compute durations, messages as modelled. */
typedef struct {
  const pc_sim_costs *model; /* the prediction's costs: messages and overheads */
  const pc_schedule *sched;
  double *const *durations;
} replay_costs;

static double replay_compute(void *ud, int stage, const pc_op *op) {
  const replay_costs *rc = ud;
  return rc->durations[stage][op - rc->sched->stages[stage].ops];
}

static double replay_message(void *ud, const pc_xfer *x, bool grad) {
  const replay_costs *rc = ud;
  return rc->model->message ? rc->model->message(rc->model->ud, x, grad) : 0.0;
}

bool pc_prediction_replay(pc_engine *engine, pc_prediction *p, double *const *durations,
                          GError **error) {
  replay_costs rc = {&p->costs->costs, p->sched, durations};
  pc_sim_costs c = p->costs->costs;
  c.compute = replay_compute;
  c.message = replay_message;
  c.ud = &rc;
  const pc_sim_result *res = pc_engine_run(engine, p->sched, &c, error);
  if (res == NULL) return false;
  for (int s = 0; s < p->nstages; s++) {
    const pc_stage_ops *st = &p->sched->stages[s];
    double sum[PC_OP_KIND_COUNT] = {0};
    int n[PC_OP_KIND_COUNT] = {0};
    for (int i = 0; i < st->nops; i++) {
      pc_op_kind k = (pc_op_kind)st->ops[i].kind;
      if (k == PC_OP_SEND || k == PC_OP_RECV) continue; /* their entries are not read */
      sum[k] += durations[s][i];
      n[k]++;
    }
    p->costs->fwd[s] = n[PC_OP_FWD] ? sum[PC_OP_FWD] / n[PC_OP_FWD] : 0.0;
    p->costs->bwd[s] = n[PC_OP_BWD] ? sum[PC_OP_BWD] / n[PC_OP_BWD] : 0.0;
    p->costs->opt[s] = n[PC_OP_OPT] ? sum[PC_OP_OPT] / n[PC_OP_OPT] : 0.0;
    p->costs->allreduce[s] = 0.0; /* a measured OPT holds its all-reduce */
    g_free(p->timeline[s]);
  }
  g_free(p->timeline);
  g_free(p->stages);
  take_result(p, res);
  return true;
}

double pc_prediction_bubble(const pc_prediction *p) {
  double b = 0;
  for (int s = 0; s < p->nstages; s++) b += p->stages[s].bubble;
  return b / p->nstages;
}

size_t pc_prediction_peak_memory(const pc_prediction *p) {
  size_t m = 0;
  for (int s = 0; s < p->nstages; s++) m = MAX(m, p->memory[s]);
  return m;
}

double pc_ideal_speedup(int nstages, int nmicro) {
  return (double)nstages * nmicro / (nmicro + nstages - 1);
}
