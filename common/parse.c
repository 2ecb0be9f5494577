/* parse.c — the pipecast model language: parser (text -> syntax tree) and evaluator (syntax
 * tree -> pc_model). The language is described in models/README.md.
 *
 * The tree is evaluated rather than the text because a block's body runs once per call with
 * other arguments, and repeat bodies run many times. Every error carries file:line:column. */
#include <string.h>

#include "error.h"
#include "files.h"
#include "lexer.h"
#include "model.h"

#define MAX_DEPTH 64          /* nested block calls */
#define MAX_LAYERS 1000000    /* guards against `repeat 1000000000` */
/* Bounds that keep hostile input from exhausting the stack, the clock or 64-bit sizes: */
#define MAX_NESTING 200       /* brackets, braces, unary operators and `else if` in the text */
#define MAX_EXPR_HEIGHT 1000  /* operators on one path of an expression tree (1+1+...+1) */
#define MAX_EVAL_NESTING 1000 /* statements inside statements while evaluating, calls included */
#define MAX_STEPS 4000000     /* statements evaluated and repeat iterations, in all */
#define MAX_SIZE 2147483648.0 /* 2^31: an integer attribute, a dimension, a tensor's elements */
#define MAX_WORK 4.6e18       /* ~2^62: elements in x (largest integer attribute)^3, per layer */

/* ------------------------------------------------------------------------------------------ */
/* Syntax tree. All nodes live in one arena (a GPtrArray that frees them). */

typedef enum { E_INT, E_FLOAT, E_SHAPE, E_VAR, E_UNARY, E_BINARY } expr_kind;

typedef struct expr {
  expr_kind kind;
  int line, column;
  int64_t ival;
  double fval;
  pc_shape shape;
  int height;         /* 1 for a leaf, else 1 + the highest operand's */
  char op[3];         /* UNARY and BINARY */
  const char *var;    /* VAR */
  struct expr *a, *b; /* operands */
} expr;

/* A name written as adjacent parts: literal text, $var or ${expr}. */
typedef struct {
  const char *literal; /* or */
  struct expr *e;      /* interpolated: $var or ${expr} */
} name_part;

typedef struct {
  int line, column;
  GPtrArray *parts; /* name_part * */
} name_ast;

typedef struct {
  const char *key;
  expr *value;
  int line, column;
} attr_ast;

typedef enum { S_PARAM, S_INPUT, S_BLOCK, S_LAYER, S_SEQ, S_REPEAT, S_IF, S_RESIDUAL, S_SPLIT,
               S_CALL } stmt_kind;

typedef struct stmt {
  stmt_kind kind;
  int line, column;
  const char *ident;  /* PARAM name, BLOCK name, CALL block, LAYER kind word, REPEAT variable */
  int layer_kind;     /* LAYER */
  expr *e;            /* PARAM value, INPUT shape, REPEAT count, IF condition */
  name_ast *name;     /* LAYER, SEQ, CALL, RESIDUAL (the add), optional except SEQ */
  name_ast *name2;    /* RESIDUAL: the shortcut's scope, optional */
  GPtrArray *attrs;   /* LAYER: attr_ast * */
  GPtrArray *args;    /* CALL: expr *; BLOCK: const char * (parameter names) */
  GPtrArray *body;    /* SEQ, REPEAT, IF (then), RESIDUAL (main path), BLOCK */
  GPtrArray *body2;   /* IF (else), RESIDUAL (shortcut); NULL when absent */
} stmt;

typedef struct {
  pc_lexer lx;
  pc_token cur, next;
  const char *file;
  GPtrArray *arena;         /* every allocation of the tree (g_free) */
  GPtrArray *arrays;        /* every GPtrArray of the tree */
  GHashTable *block_names;  /* blocks defined so far, for a hint on misuse */
  GError **error;
  int nesting;              /* open brackets, braces, unary operators and `else if`s */
} parser;

static void *arena_new(parser *p, size_t size) {
  void *m = g_malloc0(size);
  g_ptr_array_add(p->arena, m);
  return m;
}

static GPtrArray *arena_array(parser *p) {
  GPtrArray *a = g_ptr_array_new();
  g_ptr_array_add(p->arrays, a);
  return a;
}

static const char *arena_strdup(parser *p, const char *s) {
  char *d = g_strdup(s);
  g_ptr_array_add(p->arena, d);
  return d;
}

/* ------------------------------------------------------------------------------------------ */
/* Errors */

G_GNUC_PRINTF(5, 6)
static void fail_at(GError **error, const char *file, int line, int column, const char *fmt,
                    ...) {
  if (error == NULL || *error != NULL) return;
  va_list ap;
  va_start(ap, fmt);
  char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error(error, PC_ERROR, PC_ERROR_PARSE, "%s:%d:%d: %s", file, line, column, msg);
  g_free(msg);
}

static bool expected(parser *p, const char *what) {
  char got[96];
  fail_at(p->error, p->file, p->cur.line, p->cur.column, "expected %s, got %s", what,
          pc_token_describe(&p->cur, got, sizeof got));
  return false;
}

/* ------------------------------------------------------------------------------------------ */
/* Parser */

static bool lex_ok(parser *p, const pc_token *t) {
  if (t->kind == PC_TOK_BAD) {
    fail_at(p->error, p->file, t->line, t->column, "unexpected character '%s'", t->text);
    return false;
  }
  if (t->too_long) {
    fail_at(p->error, p->file, t->line, t->column, "'%s%s' is too long or too large", t->text,
            t->kind == PC_TOK_IDENT ? "..." : "");
    return false;
  }
  return true;
}

static bool advance(parser *p) {
  p->cur = p->next;
  pc_lexer_next(&p->lx, &p->next);
  return lex_ok(p, &p->cur);
}

static bool is_punct(const pc_token *t, const char *s) {
  return t->kind == PC_TOK_PUNCT && strcmp(t->text, s) == 0;
}

static bool is_word(const pc_token *t, const char *s) {
  return t->kind == PC_TOK_IDENT && strcmp(t->text, s) == 0;
}

static bool accept_punct(parser *p, const char *s, const char *what) {
  if (!is_punct(&p->cur, s)) return expected(p, what);
  return advance(p);
}

static bool at_end_of_stmt(parser *p) {
  return p->cur.kind == PC_TOK_NEWLINE || p->cur.kind == PC_TOK_EOF || is_punct(&p->cur, ";") ||
         is_punct(&p->cur, "}");
}

static bool end_stmt(parser *p) {
  if (!at_end_of_stmt(p)) return expected(p, "end of line");
  if (p->cur.kind == PC_TOK_NEWLINE || is_punct(&p->cur, ";")) return advance(p);
  return true;
}

static expr *parse_expr(parser *p);

static expr *new_expr(parser *p, expr_kind kind, const pc_token *at) {
  expr *e = arena_new(p, sizeof *e);
  e->kind = kind;
  e->line = at->line;
  e->column = at->column;
  e->height = 1;
  return e;
}

/* Enters one more level of nesting at token AT; false (with the error) past MAX_NESTING. Every
 * successful nest_enter is paired with p->nesting--. */
static bool nest_enter(parser *p, const pc_token *at) {
  if (p->nesting >= MAX_NESTING) {
    fail_at(p->error, p->file, at->line, at->column, "nested more than %d deep", MAX_NESTING);
    return false;
  }
  p->nesting++;
  return true;
}

/* Sets the height of operator node E from its operands; false past MAX_EXPR_HEIGHT. */
static bool set_height(parser *p, expr *e) {
  e->height = 1 + MAX(e->a->height, e->b ? e->b->height : 0);
  if (e->height > MAX_EXPR_HEIGHT) {
    fail_at(p->error, p->file, e->line, e->column, "expression with more than %d operators in a row",
            MAX_EXPR_HEIGHT);
    return false;
  }
  return true;
}

static expr *parse_primary(parser *p) {
  pc_token t = p->cur;
  expr *e;
  switch (t.kind) {
  case PC_TOK_INT:
    e = new_expr(p, E_INT, &t);
    e->ival = t.ival;
    return advance(p) ? e : NULL;
  case PC_TOK_FLOAT:
    e = new_expr(p, E_FLOAT, &t);
    e->fval = t.fval;
    return advance(p) ? e : NULL;
  case PC_TOK_SHAPE:
    if (t.ndims != 3) {
      fail_at(p->error, p->file, t.line, t.column,
              "a shape has 3 dimensions (CxHxW), '%s' has %d", t.text, t.ndims);
      return NULL;
    }
    e = new_expr(p, E_SHAPE, &t);
    e->shape.ndim = 3;
    for (int i = 0; i < 3; i++) e->shape.d[i] = t.dims[i];
    return advance(p) ? e : NULL;
  case PC_TOK_IDENT:
    e = new_expr(p, E_VAR, &t);
    e->var = arena_strdup(p, t.text);
    return advance(p) ? e : NULL;
  default:
    break;
  }
  if (is_punct(&t, "(")) {
    if (!nest_enter(p, &t)) return NULL;
    if (!advance(p)) return NULL;
    e = parse_expr(p);
    if (e == NULL || !accept_punct(p, ")", "')'")) return NULL;
    p->nesting--;
    return e;
  }
  if (is_punct(&t, "-") || is_punct(&t, "!")) {
    if (!nest_enter(p, &t)) return NULL;
    if (!advance(p)) return NULL;
    e = new_expr(p, E_UNARY, &t);
    g_strlcpy(e->op, t.text, sizeof e->op);
    e->a = parse_primary(p);
    p->nesting--;
    return e->a && set_height(p, e) ? e : NULL;
  }
  expected(p, "a value (a number, a shape like 3x32x32, a parameter or '(')");
  return NULL;
}

/* Binary operators by precedence level, lowest first. */
static const char *const levels[][7] = {
  {"||", NULL},
  {"&&", NULL},
  {"==", "!=", "<", "<=", ">", ">=", NULL},
  {"+", "-", NULL},
  {"*", "/", "%", NULL},
};

static expr *parse_level(parser *p, size_t level) {
  if (level == G_N_ELEMENTS(levels)) return parse_primary(p);
  expr *left = parse_level(p, level + 1);
  while (left) {
    const char *op = NULL;
    for (int i = 0; levels[level][i]; i++)
      if (is_punct(&p->cur, levels[level][i])) op = levels[level][i];
    if (op == NULL) break;
    pc_token at = p->cur;
    if (!advance(p)) return NULL;
    expr *e = new_expr(p, E_BINARY, &at);
    g_strlcpy(e->op, op, sizeof e->op);
    e->a = left;
    e->b = parse_level(p, level + 1);
    if (e->b == NULL || !set_height(p, e)) return NULL;
    left = e;
  }
  return left;
}

static expr *parse_expr(parser *p) {
  return parse_level(p, 0);
}

static bool starts_name(const pc_token *t) {
  return t->kind == PC_TOK_IDENT || t->kind == PC_TOK_INT || is_punct(t, "$");
}

/* name: part { adjacent part }, part: IDENT | INT | $IDENT | ${expr} */
static name_ast *parse_name(parser *p) {
  name_ast *n = arena_new(p, sizeof *n);
  n->line = p->cur.line;
  n->column = p->cur.column;
  n->parts = arena_array(p);
  bool first = true;
  while (starts_name(&p->cur) && (first || !p->cur.space_before)) {
    name_part *part = arena_new(p, sizeof *part);
    if (is_punct(&p->cur, "$")) {
      pc_token dollar = p->cur;
      if (!advance(p)) return NULL;
      expr *e;
      if (is_punct(&p->cur, "{") && !p->cur.space_before) {
        if (!advance(p)) return NULL;
        e = parse_expr(p);
        if (e == NULL || !accept_punct(p, "}", "'}' closing '${'")) return NULL;
      } else if (p->cur.kind == PC_TOK_IDENT && !p->cur.space_before) {
        e = new_expr(p, E_VAR, &p->cur);
        e->var = arena_strdup(p, p->cur.text);
        if (!advance(p)) return NULL;
      } else {
        fail_at(p->error, p->file, dollar.line, dollar.column,
                "expected a parameter name or '{' right after '$'");
        return NULL;
      }
      part->e = e;
    } else {
      part->literal = arena_strdup(p, p->cur.text);
      if (!advance(p)) return NULL;
    }
    g_ptr_array_add(n->parts, part);
    first = false;
  }
  if (first) {
    expected(p, "a name");
    return NULL;
  }
  return n;
}

static GPtrArray *parse_body(parser *p, bool top, const pc_token *open);

/* '{' body '}' */
static GPtrArray *parse_braced(parser *p) {
  if (!is_punct(&p->cur, "{")) {
    expected(p, "'{'");
    return NULL;
  }
  pc_token open = p->cur;
  if (!nest_enter(p, &open)) return NULL;
  if (!advance(p)) return NULL;
  GPtrArray *body = parse_body(p, false, &open);
  if (body == NULL) return NULL;
  p->nesting--;
  return advance(p) ? body : NULL; /* the '}' */
}

static stmt *new_stmt(parser *p, stmt_kind kind, const pc_token *at) {
  stmt *s = arena_new(p, sizeof *s);
  s->kind = kind;
  s->line = at->line;
  s->column = at->column;
  return s;
}

static const char *const keywords[] = {"param", "input", "block", "seq", "repeat", "if",
                                       "else", "residual", "shortcut", "split", "as", NULL};

static bool is_keyword(const char *w) {
  for (int i = 0; keywords[i]; i++)
    if (strcmp(keywords[i], w) == 0) return true;
  return false;
}

static char *kinds_list(void) {
  GString *s = g_string_new(NULL);
  for (int k = 0; k < PC_LAYER_KIND_COUNT; k++) {
    if (k == PC_LAYER_KIND_ADD) continue; /* made by `residual` */
    g_string_append_printf(s, "%s%s", s->len ? ", " : "", pc_layer_ops_of(k)->name);
  }
  return g_string_free(s, FALSE);
}

static stmt *parse_layer(parser *p) {
  pc_token at = p->cur;
  int kind = pc_layer_kind_from_name(at.text);
  if (kind < 0 || kind == PC_LAYER_KIND_ADD) {
    char *kinds = kinds_list();
    if (g_hash_table_contains(p->block_names, at.text))
      fail_at(p->error, p->file, at.line, at.column,
              "'%s' is a block: call it with arguments, as in %s(...)", at.text, at.text);
    else if (kind == PC_LAYER_KIND_ADD)
      fail_at(p->error, p->file, at.line, at.column,
              "'add' is made by `residual { ... }`, not written by hand");
    else
      fail_at(p->error, p->file, at.line, at.column,
              "unknown layer kind '%s' (expected a layer kind: %s; or a statement: param, input, "
              "block, seq, repeat, if, residual, split)",
              at.text, kinds);
    g_free(kinds);
    return NULL;
  }
  stmt *s = new_stmt(p, S_LAYER, &at);
  s->ident = arena_strdup(p, at.text);
  s->layer_kind = kind;
  s->attrs = arena_array(p);
  if (!advance(p)) return NULL;
  /* A name, unless what follows is already `key=value`. */
  if (starts_name(&p->cur) && !(p->cur.kind == PC_TOK_IDENT && is_punct(&p->next, "="))) {
    if ((s->name = parse_name(p)) == NULL) return NULL;
  }
  while (!at_end_of_stmt(p)) {
    if (p->cur.kind != PC_TOK_IDENT || !is_punct(&p->next, "=")) {
      expected(p, "an attribute key=value or end of line");
      return NULL;
    }
    attr_ast *a = arena_new(p, sizeof *a);
    a->key = arena_strdup(p, p->cur.text);
    a->line = p->cur.line;
    a->column = p->cur.column;
    if (!advance(p) || !advance(p)) return NULL; /* key and '=' */
    if ((a->value = parse_expr(p)) == NULL) return NULL;
    g_ptr_array_add(s->attrs, a);
  }
  return s;
}

static stmt *parse_stmt(parser *p, bool top) {
  pc_token at = p->cur;
  if (at.kind != PC_TOK_IDENT) {
    expected(p, "a layer or a statement");
    return NULL;
  }
  const char *w = at.text;
  stmt *s;
  if (strcmp(w, "param") == 0 || strcmp(w, "block") == 0) {
    if (!top) {
      fail_at(p->error, p->file, at.line, at.column, "'%s' is only allowed at the top level", w);
      return NULL;
    }
  }
  if (strcmp(w, "param") == 0) {
    s = new_stmt(p, S_PARAM, &at);
    if (!advance(p)) return NULL;
    if (p->cur.kind != PC_TOK_IDENT) {
      expected(p, "a parameter name");
      return NULL;
    }
    s->ident = arena_strdup(p, p->cur.text);
    if (!advance(p) || !accept_punct(p, "=", "'='")) return NULL;
    if ((s->e = parse_expr(p)) == NULL) return NULL;
  } else if (strcmp(w, "input") == 0) {
    s = new_stmt(p, S_INPUT, &at);
    if (!advance(p) || (s->e = parse_expr(p)) == NULL) return NULL;
  } else if (strcmp(w, "block") == 0) {
    s = new_stmt(p, S_BLOCK, &at);
    if (!advance(p)) return NULL;
    if (p->cur.kind != PC_TOK_IDENT || is_keyword(p->cur.text) ||
        pc_layer_kind_from_name(p->cur.text) >= 0) {
      expected(p, "a block name (not a keyword or layer kind)");
      return NULL;
    }
    s->ident = arena_strdup(p, p->cur.text);
    s->args = arena_array(p);
    if (!advance(p) || !accept_punct(p, "(", "'(' and the block's parameters")) return NULL;
    while (!is_punct(&p->cur, ")")) {
      if (s->args->len && !accept_punct(p, ",", "',' or ')'")) return NULL;
      if (p->cur.kind != PC_TOK_IDENT || is_keyword(p->cur.text)) {
        expected(p, "a parameter name");
        return NULL;
      }
      g_ptr_array_add(s->args, (gpointer)arena_strdup(p, p->cur.text));
      if (!advance(p)) return NULL;
    }
    if (!advance(p)) return NULL;
    g_hash_table_add(p->block_names, (gpointer)s->ident);
    if ((s->body = parse_braced(p)) == NULL) return NULL;
  } else if (strcmp(w, "seq") == 0) {
    s = new_stmt(p, S_SEQ, &at);
    if (!advance(p) || (s->name = parse_name(p)) == NULL) return NULL;
    if ((s->body = parse_braced(p)) == NULL) return NULL;
  } else if (strcmp(w, "repeat") == 0) {
    s = new_stmt(p, S_REPEAT, &at);
    if (!advance(p) || (s->e = parse_expr(p)) == NULL) return NULL;
    if (is_word(&p->cur, "as")) {
      if (!advance(p)) return NULL;
      if (p->cur.kind != PC_TOK_IDENT || is_keyword(p->cur.text)) {
        expected(p, "a variable name after 'as'");
        return NULL;
      }
      s->ident = arena_strdup(p, p->cur.text);
      if (!advance(p)) return NULL;
    }
    if ((s->body = parse_braced(p)) == NULL) return NULL;
  } else if (strcmp(w, "if") == 0) {
    s = new_stmt(p, S_IF, &at);
    if (!advance(p) || (s->e = parse_expr(p)) == NULL) return NULL;
    if ((s->body = parse_braced(p)) == NULL) return NULL;
    if (is_word(&p->cur, "else")) {
      if (!advance(p)) return NULL;
      if (is_word(&p->cur, "if")) {
        if (!nest_enter(p, &p->cur)) return NULL;
        stmt *inner = parse_stmt(p, false);
        if (inner == NULL) return NULL;
        p->nesting--;
        s->body2 = arena_array(p);
        g_ptr_array_add(s->body2, inner);
        return s; /* the inner `if` ended the statement */
      }
      if ((s->body2 = parse_braced(p)) == NULL) return NULL;
    }
  } else if (strcmp(w, "residual") == 0) {
    s = new_stmt(p, S_RESIDUAL, &at);
    if (!advance(p)) return NULL;
    if (starts_name(&p->cur) && (s->name = parse_name(p)) == NULL) return NULL;
    if ((s->body = parse_braced(p)) == NULL) return NULL;
    if (is_word(&p->cur, "shortcut")) {
      if (!advance(p)) return NULL;
      if (starts_name(&p->cur) && (s->name2 = parse_name(p)) == NULL) return NULL;
      if ((s->body2 = parse_braced(p)) == NULL) return NULL;
    }
  } else if (strcmp(w, "split") == 0) {
    s = new_stmt(p, S_SPLIT, &at);
    if (!advance(p)) return NULL;
  } else if (is_keyword(w)) {
    fail_at(p->error, p->file, at.line, at.column, "'%s' cannot start a statement", w);
    return NULL;
  } else if (is_punct(&p->next, "(")) {
    s = new_stmt(p, S_CALL, &at);
    s->ident = arena_strdup(p, w);
    s->args = arena_array(p);
    if (!advance(p) || !advance(p)) return NULL; /* name and '(' */
    while (!is_punct(&p->cur, ")")) {
      if (s->args->len && !accept_punct(p, ",", "',' or ')'")) return NULL;
      expr *e = parse_expr(p);
      if (e == NULL) return NULL;
      g_ptr_array_add(s->args, e);
    }
    if (!advance(p)) return NULL;
    if (starts_name(&p->cur) && (s->name = parse_name(p)) == NULL) return NULL;
  } else {
    s = parse_layer(p);
    if (s == NULL) return NULL;
  }
  return end_stmt(p) ? s : NULL;
}

/* Statements up to the '}' that closes `open` (left current), or to end of file at top level. */
static GPtrArray *parse_body(parser *p, bool top, const pc_token *open) {
  GPtrArray *body = arena_array(p);
  for (;;) {
    if (p->cur.kind == PC_TOK_NEWLINE || is_punct(&p->cur, ";")) {
      if (!advance(p)) return NULL;
      continue;
    }
    if (p->cur.kind == PC_TOK_EOF) {
      if (!top) {
        fail_at(p->error, p->file, p->cur.line, p->cur.column,
                "unterminated block: the '{' at line %d, column %d has no matching '}'",
                open->line, open->column);
        return NULL;
      }
      return body;
    }
    if (is_punct(&p->cur, "}")) {
      if (top) {
        fail_at(p->error, p->file, p->cur.line, p->cur.column, "'}' with no '{' to close");
        return NULL;
      }
      return body;
    }
    stmt *s = parse_stmt(p, top);
    if (s == NULL) return NULL;
    g_ptr_array_add(body, s);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Values and evaluation */

typedef enum { V_INT, V_FLOAT, V_SHAPE } value_type;

typedef struct {
  value_type t;
  int64_t i;
  double f;
  pc_shape s;
} value;

static const char *type_name(value_type t) {
  return t == V_INT ? "an integer" : t == V_FLOAT ? "a number" : "a shape";
}

static char *value_format(const value *v) {
  char buf[PC_SHAPE_STRLEN];
  switch (v->t) {
  case V_INT: return g_strdup_printf("%lld", (long long)v->i);
  case V_FLOAT: return g_strdup_printf("%g", v->f);
  default: return g_strdup(pc_shape_format(&v->s, buf, sizeof buf));
  }
}

/* Variables visible to an expression: repeat variables and block arguments, then parameters. */
typedef struct frame {
  const struct frame *parent;
  GHashTable *vars; /* const char * -> value * */
} frame;

/* Where unnamed layers get their names. */
typedef struct scope {
  char *prefix;            /* "layer1.0." ("" at the top) */
  bool numbered;           /* seq: children are named 0, 1, 2, ... by position */
  int counter;             /* children so far (numbered scopes) */
  GHashTable *kind_counts; /* kind or block name -> count so far (other scopes) */
} scope;

typedef struct {
  const char *file;
  GError **error;
  frame globals;
  GHashTable *overrides;   /* name -> value * from --set */
  GPtrArray *param_list;   /* pc_model_param * */
  GHashTable *blocks;      /* name -> stmt * */
  const GPtrArray *top;    /* top-level statements, for "used before defined" */
  GArray *layers;          /* pc_layer */
  GHashTable *names;       /* full layer name -> index + 1 */
  GHashTable *scopes;      /* full scope name -> line */
  GArray *splits;          /* int */
  int split_line;          /* line of the last split marker */
  bool have_input;
  pc_shape input;
  int cursor;              /* tensor the next layer reads: a layer, or -1 (the input) */
  int depth;
  int nesting;             /* statements being evaluated, one inside the other */
  int64_t steps;           /* statements evaluated and repeat iterations so far */
} eval;

#define FAIL(ev, node, ...) (fail_at((ev)->error, (ev)->file, (node)->line, (node)->column, \
                                     __VA_ARGS__), false)

static const value *lookup_var(const frame *f, const char *name) {
  for (; f; f = f->parent) {
    const value *v = g_hash_table_lookup(f->vars, name);
    if (v) return v;
  }
  return NULL;
}

static bool eval_expr(eval *ev, const frame *f, const expr *e, value *out);

static bool as_number(eval *ev, const expr *e, const value *v, double *d) {
  if (v->t == V_SHAPE) return FAIL(ev, e, "expected a number here, got a shape");
  *d = v->t == V_INT ? (double)v->i : v->f;
  return true;
}

static bool eval_binary(eval *ev, const frame *f, const expr *e, value *out) {
  value a, b;
  if (!eval_expr(ev, f, e->a, &a)) return false;
  const char *op = e->op;
  /* Short-circuit logic. */
  if (strcmp(op, "&&") == 0 || strcmp(op, "||") == 0) {
    if (a.t != V_INT) return FAIL(ev, e->a, "'%s' needs integers (0 is false)", op);
    bool and = op[0] == '&';
    if (and ? a.i == 0 : a.i != 0) {
      *out = (value){.t = V_INT, .i = !and};
      return true;
    }
    if (!eval_expr(ev, f, e->b, &b)) return false;
    if (b.t != V_INT) return FAIL(ev, e->b, "'%s' needs integers (0 is false)", op);
    *out = (value){.t = V_INT, .i = b.i != 0};
    return true;
  }
  if (!eval_expr(ev, f, e->b, &b)) return false;
  bool cmp = strchr("=!<>", op[0]) != NULL;
  if (a.t == V_SHAPE || b.t == V_SHAPE) {
    if ((strcmp(op, "==") == 0 || strcmp(op, "!=") == 0) && a.t == b.t) {
      bool eq = pc_shape_equal(&a.s, &b.s);
      *out = (value){.t = V_INT, .i = op[0] == '=' ? eq : !eq};
      return true;
    }
    return FAIL(ev, e, "'%s' cannot be applied to a shape", op);
  }
  if (a.t == V_INT && b.t == V_INT) {
    int64_t x = a.i, y = b.i, r = 0;
    bool overflow = false;
    switch (op[0]) {
    case '+': overflow = __builtin_add_overflow(x, y, &r); break;
    case '-': overflow = __builtin_sub_overflow(x, y, &r); break;
    case '*': overflow = __builtin_mul_overflow(x, y, &r); break;
    case '/':
    case '%':
      if (y == 0) return FAIL(ev, e, "division by zero");
      if (x == INT64_MIN && y == -1) overflow = true;
      else r = op[0] == '/' ? x / y : x % y;
      break;
    case '=': r = x == y; break;
    case '!': r = x != y; break;
    case '<': r = op[1] ? x <= y : x < y; break;
    case '>': r = op[1] ? x >= y : x > y; break;
    default: PC_ASSERT(!"operator");
    }
    if (overflow) return FAIL(ev, e, "integer overflow in '%s'", op);
    *out = (value){.t = V_INT, .i = r};
    return true;
  }
  double x, y;
  if (!as_number(ev, e->a, &a, &x) || !as_number(ev, e->b, &b, &y)) return false;
  if (cmp) {
    bool r = op[0] == '=' ? x == y : op[0] == '!' ? x != y : op[0] == '<' ? (op[1] ? x <= y : x < y)
                                                                         : (op[1] ? x >= y : x > y);
    *out = (value){.t = V_INT, .i = r};
    return true;
  }
  double r;
  switch (op[0]) {
  case '+': r = x + y; break;
  case '-': r = x - y; break;
  case '*': r = x * y; break;
  case '/':
    if (y == 0) return FAIL(ev, e, "division by zero");
    r = x / y;
    break;
  default: return FAIL(ev, e, "'%s' needs integers", op);
  }
  *out = (value){.t = V_FLOAT, .f = r};
  return true;
}

static bool eval_expr(eval *ev, const frame *f, const expr *e, value *out) {
  switch (e->kind) {
  case E_INT: *out = (value){.t = V_INT, .i = e->ival}; return true;
  case E_FLOAT: *out = (value){.t = V_FLOAT, .f = e->fval}; return true;
  case E_SHAPE: *out = (value){.t = V_SHAPE, .s = e->shape}; return true;
  case E_VAR: {
    const value *v = lookup_var(f, e->var);
    if (v == NULL) return FAIL(ev, e, "unknown parameter '%s'", e->var);
    *out = *v;
    return true;
  }
  case E_UNARY: {
    value a;
    if (!eval_expr(ev, f, e->a, &a)) return false;
    if (e->op[0] == '!') {
      if (a.t != V_INT) return FAIL(ev, e, "'!' needs an integer");
      *out = (value){.t = V_INT, .i = a.i == 0};
    } else if (a.t == V_INT) {
      if (a.i == INT64_MIN) return FAIL(ev, e, "integer overflow in '-'");
      *out = (value){.t = V_INT, .i = -a.i};
    } else if (a.t == V_FLOAT) {
      *out = (value){.t = V_FLOAT, .f = -a.f};
    } else {
      return FAIL(ev, e, "'-' cannot be applied to a shape");
    }
    return true;
  }
  case E_BINARY: return eval_binary(ev, f, e, out);
  }
  PC_ASSERT(!"expression kind");
  return false;
}

static bool eval_int(eval *ev, const frame *f, const expr *e, const char *what, int64_t *out) {
  value v;
  if (!eval_expr(ev, f, e, &v)) return false;
  if (v.t != V_INT) return FAIL(ev, e, "%s must be an integer, got %s", what, type_name(v.t));
  *out = v.i;
  return true;
}

static char *eval_name(eval *ev, const frame *f, const name_ast *n) {
  GString *s = g_string_new(NULL);
  for (guint i = 0; i < n->parts->len; i++) {
    const name_part *part = g_ptr_array_index(n->parts, i);
    if (part->literal) {
      g_string_append(s, part->literal);
      continue;
    }
    int64_t v;
    if (!eval_int(ev, f, part->e, "a value in a name", &v)) {
      g_string_free(s, TRUE);
      return NULL;
    }
    g_string_append_printf(s, "%lld", (long long)v);
  }
  return g_string_free(s, FALSE);
}

/* ------------------------------------------------------------------------------------------ */
/* Scopes and names */

static void scope_init(scope *sc, const char *prefix, bool numbered) {
  sc->prefix = g_strdup(prefix);
  sc->numbered = numbered;
  sc->counter = 0;
  sc->kind_counts = g_hash_table_new(g_str_hash, g_str_equal);
}

static void scope_clear(scope *sc) {
  g_free(sc->prefix);
  g_hash_table_unref(sc->kind_counts);
}

/* The local name of the next child of `sc`: the explicit one, or 0, 1, ... in a seq, or
 * <what>1, <what>2, ... elsewhere. Every child takes its position, named or not. */
static char *child_name(eval *ev, const frame *f, scope *sc, const name_ast *explicit_name,
                        const char *what) {
  int index = sc->counter++;
  int count = GPOINTER_TO_INT(g_hash_table_lookup(sc->kind_counts, what)) + 1;
  g_hash_table_insert(sc->kind_counts, (gpointer)what, GINT_TO_POINTER(count));
  if (explicit_name) return eval_name(ev, f, explicit_name);
  if (sc->numbered) return g_strdup_printf("%d", index);
  return g_strdup_printf("%s%d", what, count);
}

/* Claims a scope name, so that two scopes never share a name and scopes stay contiguous. */
static bool claim_scope(eval *ev, const stmt *s, const char *full) {
  int line = GPOINTER_TO_INT(g_hash_table_lookup(ev->scopes, full));
  if (line) return FAIL(ev, s, "the name '%s' is already used (line %d)", full, line);
  if (g_hash_table_contains(ev->names, full))
    return FAIL(ev, s, "the name '%s' is already a layer", full);
  g_hash_table_insert(ev->scopes, g_strdup(full), GINT_TO_POINTER(s->line));
  return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Layers */

static const pc_attr_spec *find_attr(const pc_layer_ops *ops, const char *key) {
  for (const pc_attr_spec *a = ops->attrs; a && a->name; a++)
    if (strcmp(a->name, key) == 0) return a;
  return NULL;
}

static char *attr_list(const pc_layer_ops *ops) {
  GString *s = g_string_new(NULL);
  for (const pc_attr_spec *a = ops->attrs; a && a->name; a++)
    g_string_append_printf(s, "%s%s", s->len ? ", " : "", a->name);
  return g_string_free(s, FALSE);
}

static bool set_attrs(eval *ev, const frame *f, const stmt *s, const pc_layer_ops *ops,
                      void *attrs) {
  for (const pc_attr_spec *a = ops->attrs; a && a->name; a++) {
    if (a->type == PC_ATTR_INT) *(int64_t *)((char *)attrs + a->offset) = (int64_t)a->fallback;
    else *(double *)((char *)attrs + a->offset) = a->fallback;
  }
  GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
  bool ok = true;
  for (guint i = 0; ok && i < s->attrs->len; i++) {
    const attr_ast *aa = g_ptr_array_index(s->attrs, i);
    const pc_attr_spec *spec = find_attr(ops, aa->key);
    if (spec == NULL) {
      char *list = attr_list(ops);
      ok = FAIL(ev, aa, "%s has no attribute '%s' (%s%s)", ops->name, aa->key,
                *list ? "it takes: " : "it takes none", list);
      g_free(list);
      break;
    }
    if (!g_hash_table_add(seen, (gpointer)aa->key)) {
      ok = FAIL(ev, aa, "attribute '%s' given twice", aa->key);
      break;
    }
    value v;
    if (!(ok = eval_expr(ev, f, aa->value, &v))) break;
    if (spec->type == PC_ATTR_INT) {
      if (v.t != V_INT) {
        ok = FAIL(ev, aa, "%s: '%s' must be an integer, got %s", ops->name, aa->key,
                  type_name(v.t));
      } else if ((double)v.i < spec->min) {
        ok = FAIL(ev, aa, "%s: '%s' must be at least %g, got %lld", ops->name, aa->key, spec->min,
                  (long long)v.i);
      } else if ((double)v.i > MAX_SIZE) {
        ok = FAIL(ev, aa, "%s: '%s' is %lld, more than %.0f", ops->name, aa->key, (long long)v.i,
                  MAX_SIZE);
      } else {
        *(int64_t *)((char *)attrs + spec->offset) = v.i;
      }
    } else {
      double d = v.t == V_INT ? (double)v.i : v.f;
      if (v.t == V_SHAPE) ok = FAIL(ev, aa, "%s: '%s' must be a number, got a shape", ops->name,
                                    aa->key);
      else if (!(d >= spec->min)) ok = FAIL(ev, aa, "%s: '%s' must be at least %g, got %g",
                                            ops->name, aa->key, spec->min, d);
      else *(double *)((char *)attrs + spec->offset) = d;
    }
  }
  for (const pc_attr_spec *a = ops->attrs; ok && a && a->name; a++)
    if (a->required && !g_hash_table_contains(seen, a->name))
      ok = FAIL(ev, s, "%s needs the attribute %s=...", ops->name, a->name);
  g_hash_table_unref(seen);
  return ok;
}

static pc_shape tensor_shape(const eval *ev, int t) {
  return t < 0 ? ev->input : g_array_index(ev->layers, pc_layer, t).out;
}

/* Elements of S in floating point (no overflow), or -1 when a dimension is out of [1, MAX_SIZE]. */
static double shape_elems(const pc_shape *s) {
  double n = 1;
  for (int i = 0; i < s->ndim; i++) {
    if (s->d[i] < 1 || (double)s->d[i] > MAX_SIZE) return -1;
    n *= (double)s->d[i];
  }
  return n;
}

/* Whether the sizes of layer L stay far enough from 64-bit overflow for the layer table's
 * integer arithmetic (parameters, bytes, MACs): its output at most MAX_SIZE elements, and its
 * input's elements times the cube of its largest integer attribute at most MAX_WORK. */
static bool layer_size_ok(const pc_layer *l, const pc_layer_ops *ops, const char **why) {
  double out = shape_elems(&l->out);
  if (out < 0 || out > MAX_SIZE) {
    *why = "its output is too large";
    return false;
  }
  double in = 0, attr = 1;
  /* a sequence's kinds work row by row: with T·C and the output each within MAX_SIZE, a row's
   * size is what meets the attributes */
  for (int i = 0; i < l->ninputs; i++)
    in = MAX(in, l->in[i].ndim == 2 ? (double)l->in[i].d[1] : shape_elems(&l->in[i]));
  for (const pc_attr_spec *a = ops->attrs; l->attrs && a && a->name; a++)
    if (a->type == PC_ATTR_INT) attr = MAX(attr, (double)*(const int64_t *)((const char *)l->attrs + a->offset));
  if (in * attr * attr * attr > MAX_WORK) {
    *why = "its sizes are too large (input elements x largest attribute^3 over 2^62)";
    return false;
  }
  return true;
}

/* Appends a layer reading `inputs`; it becomes the cursor. Takes `name` and `attrs`. */
static bool add_layer(eval *ev, const stmt *s, pc_layer_kind kind, char *name, void *attrs,
                      int ninputs, const int *inputs) {
  pc_layer l = {.name = name, .kind = kind, .index = (int)ev->layers->len, .tie = -1,
                .ninputs = ninputs, .attrs = attrs, .line = s->line, .column = s->column};
  bool ok = true;
  if (!ev->have_input) {
    ok = FAIL(ev, s, "no input shape before the first layer (write e.g. `input 3x32x32`)");
  } else if (ev->layers->len >= MAX_LAYERS) {
    ok = FAIL(ev, s, "the model has more than %d layers", MAX_LAYERS);
  } else if (g_hash_table_contains(ev->names, name)) {
    int prev = GPOINTER_TO_INT(g_hash_table_lookup(ev->names, name)) - 1;
    ok = FAIL(ev, s, "the name '%s' is already used (line %d)", name,
              g_array_index(ev->layers, pc_layer, prev).line);
  } else if (g_hash_table_contains(ev->scopes, name)) {
    ok = FAIL(ev, s, "the name '%s' is already a scope", name);
  }
  if (ok) {
    for (int i = 0; i < ninputs; i++) {
      l.inputs[i] = inputs[i];
      l.in[i] = tensor_shape(ev, inputs[i]);
    }
    GError *shape_error = NULL;
    const char *why = NULL;
    if (!pc_layer_ops_of(kind)->infer(&l, &shape_error)) {
      ok = FAIL(ev, s, "layer '%s': %s", name, shape_error->message);
      g_error_free(shape_error);
    } else if (!layer_size_ok(&l, pc_layer_ops_of(kind), &why)) {
      ok = FAIL(ev, s, "layer '%s': %s", name, why);
    }
  }
  if (!ok) {
    g_free(name);
    g_free(attrs);
    return false;
  }
  g_hash_table_insert(ev->names, g_strdup(name), GINT_TO_POINTER(l.index + 1));
  g_array_append_val(ev->layers, l);
  ev->cursor = l.index;
  return true;
}

static bool eval_layer(eval *ev, const frame *f, scope *sc, const stmt *s) {
  const pc_layer_ops *ops = pc_layer_ops_of(s->layer_kind);
  char *local = child_name(ev, f, sc, s->name, ops->name);
  if (local == NULL) return false;
  char *name = g_strconcat(sc->prefix, local, NULL);
  g_free(local);
  void *attrs = ops->attrs_size ? g_malloc0(ops->attrs_size) : NULL;
  if (!set_attrs(ev, f, s, ops, attrs)) {
    g_free(name);
    g_free(attrs);
    return false;
  }
  int input = ev->cursor;
  return add_layer(ev, s, s->layer_kind, name, attrs, 1, &input);
}

/* ------------------------------------------------------------------------------------------ */
/* Statements */

static bool eval_body(eval *ev, const frame *f, scope *sc, const GPtrArray *body);

static bool eval_param(eval *ev, const stmt *s) {
  if (g_hash_table_contains(ev->globals.vars, s->ident))
    return FAIL(ev, s, "parameter '%s' is declared twice", s->ident);
  value *v = g_new(value, 1);
  if (!eval_expr(ev, &ev->globals, s->e, v)) {
    g_free(v);
    return false;
  }
  pc_model_param *mp = g_new0(pc_model_param, 1);
  mp->name = g_strdup(s->ident);
  const value *o = g_hash_table_lookup(ev->overrides, s->ident);
  if (o) {
    bool fits = o->t == v->t || (v->t == V_FLOAT && o->t == V_INT);
    if (!fits) {
      char *def = value_format(v);
      g_set_error(ev->error, PC_ERROR, PC_ERROR_USAGE,
                  "--set %s: the parameter '%s' is %s (default %s), not %s", s->ident, s->ident,
                  type_name(v->t), def, type_name(o->t));
      g_free(def);
      g_free(v);
      g_free(mp->name);
      g_free(mp);
      return false;
    }
    *v = o->t == v->t ? *o : (value){.t = V_FLOAT, .f = (double)o->i};
    mp->overridden = true;
    g_hash_table_remove(ev->overrides, s->ident);
  }
  mp->value = value_format(v);
  g_ptr_array_add(ev->param_list, mp);
  g_hash_table_insert(ev->globals.vars, (gpointer)s->ident, v);
  return true;
}

static bool eval_input(eval *ev, const frame *f, const stmt *s) {
  if (ev->have_input) return FAIL(ev, s, "the input shape is given twice");
  if (ev->layers->len) return FAIL(ev, s, "the input shape must come before the first layer");
  value v;
  if (!eval_expr(ev, f, s->e, &v)) return false;
  if (v.t == V_INT) {
    ev->input = (pc_shape){.ndim = 1, .d = {v.i, 0, 0}};
  } else if (v.t == V_SHAPE) {
    ev->input = v.s;
  } else {
    return FAIL(ev, s->e, "the input must be a size (1024) or a shape (3x32x32), got a number");
  }
  for (int i = 0; i < ev->input.ndim; i++)
    if (ev->input.d[i] < 1) return FAIL(ev, s->e, "the input's dimensions must be positive");
  double elems = shape_elems(&ev->input);
  if (elems < 0 || elems > MAX_SIZE)
    return FAIL(ev, s->e, "the input is too large (over %.0f elements, or a dimension over)",
                MAX_SIZE);
  ev->have_input = true;
  return true;
}

static const stmt *later_block(const eval *ev, const char *name) {
  for (guint i = 0; i < ev->top->len; i++) {
    const stmt *t = g_ptr_array_index(ev->top, i);
    if (t->kind == S_BLOCK && strcmp(t->ident, name) == 0) return t;
  }
  return NULL;
}

static bool eval_call(eval *ev, const frame *f, scope *sc, const stmt *s) {
  const stmt *def = g_hash_table_lookup(ev->blocks, s->ident);
  if (def == NULL) {
    const stmt *later = later_block(ev, s->ident);
    if (later)
      return FAIL(ev, s, "block '%s' is used before it is defined (line %d)", s->ident,
                  later->line);
    return FAIL(ev, s, "unknown block '%s' (define it first with `block %s(...) { ... }`)",
                s->ident, s->ident);
  }
  if (s->args->len != def->args->len)
    return FAIL(ev, s, "block '%s' takes %u argument%s, got %u", s->ident, def->args->len,
                def->args->len == 1 ? "" : "s", s->args->len);
  if (ev->depth >= MAX_DEPTH)
    return FAIL(ev, s, "blocks nested more than %d deep (does '%s' call itself?)", MAX_DEPTH,
                s->ident);
  frame local = {.parent = &ev->globals,
                 .vars = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free)};
  bool ok = true;
  for (guint i = 0; ok && i < s->args->len; i++) {
    value *v = g_new(value, 1);
    ok = eval_expr(ev, f, g_ptr_array_index(s->args, i), v);
    g_hash_table_insert(local.vars, g_ptr_array_index(def->args, i), v);
  }
  char *localname = ok ? child_name(ev, f, sc, s->name, s->ident) : NULL;
  if (localname) {
    char *full = g_strconcat(sc->prefix, localname, NULL);
    if (claim_scope(ev, s, full)) {
      scope inner;
      char *prefix = g_strconcat(full, ".", NULL);
      scope_init(&inner, prefix, false);
      ev->depth++;
      ok = eval_body(ev, &local, &inner, def->body);
      ev->depth--;
      scope_clear(&inner);
      g_free(prefix);
    } else {
      ok = false;
    }
    g_free(full);
    g_free(localname);
  } else {
    ok = false;
  }
  g_hash_table_unref(local.vars);
  return ok;
}

static bool eval_seq(eval *ev, const frame *f, scope *sc, const stmt *s, const name_ast *name,
                     const GPtrArray *body) {
  char *localname = child_name(ev, f, sc, name, "seq");
  if (localname == NULL) return false;
  char *full = g_strconcat(sc->prefix, localname, NULL);
  g_free(localname);
  bool ok = claim_scope(ev, s, full);
  if (ok) {
    scope inner;
    char *prefix = g_strconcat(full, ".", NULL);
    scope_init(&inner, prefix, true);
    ok = eval_body(ev, f, &inner, body);
    scope_clear(&inner);
    g_free(prefix);
  }
  g_free(full);
  return ok;
}

static bool eval_residual(eval *ev, const frame *f, scope *sc, const stmt *s) {
  int start = ev->cursor;
  const guint before = ev->layers->len;
  if (!eval_body(ev, f, sc, s->body)) return false;
  if (ev->layers->len == before) return FAIL(ev, s, "the main path of `residual` has no layers");
  int inputs[2] = {ev->cursor, start};
  ev->cursor = start;
  if (s->body2) { /* a shortcut that makes no layers (an `if` not taken) is the identity */
    bool ok = s->name2 ? eval_seq(ev, f, sc, s, s->name2, s->body2)
                       : eval_body(ev, f, sc, s->body2);
    if (!ok) return false;
    inputs[1] = ev->cursor;
  }
  char *local = child_name(ev, f, sc, s->name, "add");
  if (local == NULL) return false;
  char *name = g_strconcat(sc->prefix, local, NULL);
  g_free(local);
  return add_layer(ev, s, PC_LAYER_KIND_ADD, name, NULL, 2, inputs);
}

static bool eval_stmt_in(eval *ev, const frame *f, scope *sc, const stmt *s);

static bool eval_stmt(eval *ev, const frame *f, scope *sc, const stmt *s) {
  if (++ev->steps > MAX_STEPS)
    return FAIL(ev, s, "the model takes more than %d steps to evaluate", MAX_STEPS);
  if (ev->nesting >= MAX_EVAL_NESTING)
    return FAIL(ev, s, "statements nested more than %d deep, block calls included",
                MAX_EVAL_NESTING);
  ev->nesting++;
  bool ok = eval_stmt_in(ev, f, sc, s);
  ev->nesting--;
  return ok;
}

static bool eval_stmt_in(eval *ev, const frame *f, scope *sc, const stmt *s) {
  switch (s->kind) {
  case S_PARAM: return eval_param(ev, s);
  case S_INPUT: return eval_input(ev, f, s);
  case S_BLOCK:
    if (g_hash_table_contains(ev->blocks, s->ident)) {
      const stmt *prev = g_hash_table_lookup(ev->blocks, s->ident);
      return FAIL(ev, s, "block '%s' is already defined (line %d)", s->ident, prev->line);
    }
    g_hash_table_insert(ev->blocks, (gpointer)s->ident, (gpointer)s);
    return true;
  case S_LAYER: return eval_layer(ev, f, sc, s);
  case S_SEQ: return eval_seq(ev, f, sc, s, s->name, s->body);
  case S_REPEAT: {
    int64_t n;
    if (!eval_int(ev, f, s->e, "the repeat count", &n)) return false;
    if (n < 0) return FAIL(ev, s->e, "the repeat count must not be negative, got %lld",
                           (long long)n);
    if (n > MAX_LAYERS) return FAIL(ev, s->e, "the repeat count %lld is too large", (long long)n);
    /* The counter lives in a frame of its own, one value updated in place: no allocation per
     * iteration. Without a counter the body sees the enclosing frame. */
    value counter = {.t = V_INT};
    frame local = {.parent = f, .vars = NULL};
    if (s->ident) {
      local.vars = g_hash_table_new(g_str_hash, g_str_equal);
      g_hash_table_insert(local.vars, (gpointer)s->ident, &counter);
    }
    bool ok = true;
    for (int64_t i = 0; ok && i < n; i++) {
      if (++ev->steps > MAX_STEPS) {
        ok = FAIL(ev, s, "the model takes more than %d steps to evaluate", MAX_STEPS);
        break;
      }
      counter.i = i;
      ok = eval_body(ev, s->ident ? &local : f, sc, s->body);
    }
    if (local.vars) g_hash_table_unref(local.vars);
    return ok;
  }
  case S_IF: {
    int64_t c;
    if (!eval_int(ev, f, s->e, "the condition", &c)) return false;
    if (c) return eval_body(ev, f, sc, s->body);
    return s->body2 ? eval_body(ev, f, sc, s->body2) : true;
  }
  case S_RESIDUAL: return eval_residual(ev, f, sc, s);
  case S_SPLIT: {
    int at = (int)ev->layers->len;
    if (at == 0) return FAIL(ev, s, "`split` before the first layer");
    if (ev->splits->len && g_array_index(ev->splits, int, ev->splits->len - 1) == at)
      return FAIL(ev, s, "two `split` markers with no layer between them (line %d)",
                  ev->split_line);
    g_array_append_val(ev->splits, at);
    ev->split_line = s->line;
    return true;
  }
  case S_CALL: return eval_call(ev, f, sc, s);
  }
  PC_ASSERT(!"statement kind");
  return false;
}

static bool eval_body(eval *ev, const frame *f, scope *sc, const GPtrArray *body) {
  for (guint i = 0; i < body->len; i++)
    if (!eval_stmt(ev, f, sc, g_ptr_array_index(body, i))) return false;
  return true;
}

/* ------------------------------------------------------------------------------------------ */
/* --set overrides */

static bool parse_sets(const char *sets, GHashTable *out, GError **error) {
  if (sets == NULL) return true;
  gchar **items = g_strsplit(sets, ",", -1);
  bool ok = true;
  for (gchar **it = items; ok && *it; it++) {
    char *item = g_strstrip(*it);
    if (*item == '\0') continue;
    char *eq = strchr(item, '=');
    const char *bad = NULL;
    if (eq == NULL) bad = "expected name=value";
    else {
      *eq = '\0';
      char *name = g_strstrip(item), *text = g_strstrip(eq + 1);
      bool ident = *name && (g_ascii_isalpha(*name) || *name == '_');
      for (const char *c = name; ident && *c; c++) ident = g_ascii_isalnum(*c) || *c == '_';
      pc_lexer lx;
      pc_token t, end;
      pc_lexer_init(&lx, text, strlen(text));
      pc_lexer_next(&lx, &t);
      bool neg = t.kind == PC_TOK_PUNCT && strcmp(t.text, "-") == 0;
      if (neg) pc_lexer_next(&lx, &t);
      pc_lexer_next(&lx, &end);
      value *v = g_new0(value, 1);
      if (!ident) bad = "the name must be a parameter name";
      else if (end.kind != PC_TOK_EOF || t.too_long) bad = "expected a number or a shape like 3x224x224";
      else if (t.kind == PC_TOK_INT) *v = (value){.t = V_INT, .i = neg ? -t.ival : t.ival};
      else if (t.kind == PC_TOK_FLOAT) *v = (value){.t = V_FLOAT, .f = neg ? -t.fval : t.fval};
      else if (t.kind == PC_TOK_SHAPE && !neg && t.ndims == 3) {
        v->t = V_SHAPE;
        v->s.ndim = 3;
        for (int i = 0; i < 3; i++) v->s.d[i] = t.dims[i];
      } else bad = "expected a number or a shape like 3x224x224";
      if (bad == NULL && g_hash_table_contains(out, name)) bad = "given twice";
      if (bad) {
        *eq = '=';
        g_free(v);
      } else {
        g_hash_table_insert(out, g_strdup(name), v);
      }
    }
    if (bad) {
      g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--set '%s': %s", item, bad);
      ok = false;
    }
  }
  g_strfreev(items);
  return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* Entry points */

static void free_param(gpointer data) {
  pc_model_param *mp = data;
  g_free(mp->name);
  g_free(mp->value);
  g_free(mp);
}

static char *model_name_of(const char *filename) {
  char *base = g_path_get_basename(filename);
  char *dot = strrchr(base, '.');
  if (dot && dot != base) *dot = '\0';
  return base;
}

/* The embedding is the one layer reading the model's input (which then holds token ids), and
 * a tied fc takes its weight: sets each such fc's `tie`. */
static bool check_sequence_kinds(const char *file, pc_layer *layers, int n, GError **error) {
  int embed = -1;
  for (int i = 0; i < n; i++) {
    const pc_layer *l = &layers[i];
    if (l->kind == PC_LAYER_KIND_EMBED && embed >= 0) {
      fail_at(error, file, l->line, l->column,
              "a second embed ('%s'; '%s' is the first): a model has one", l->name,
              layers[embed].name);
      return false;
    }
    if (l->kind == PC_LAYER_KIND_EMBED) embed = i;
  }
  for (int i = 0; i < n && embed >= 0; i++) {
    const pc_layer *l = &layers[i];
    for (int k = 0; k < l->ninputs; k++)
      if (l->inputs[k] == -1 && i != embed) {
        fail_at(error, file, l->line, l->column,
                "layer '%s' reads the model's input, which holds token ids for the embed '%s': "
                "only the embed may read it", l->name, layers[embed].name);
        return false;
      }
  }
  for (int i = 0; i < n; i++) {
    pc_layer *l = &layers[i];
    if (l->kind != PC_LAYER_KIND_FC || !((const pc_fc_attrs *)l->attrs)->tied) continue;
    if (embed < 0) {
      fail_at(error, file, l->line, l->column,
              "fc '%s' is tied=1 but the model has no embed to tie it to", l->name);
      return false;
    }
    const pc_embed_attrs *e = layers[embed].attrs;
    const pc_fc_attrs *a = l->attrs;
    long long row = (long long)l->in[0].d[l->in[0].ndim - 1];
    if (a->out != e->vocab || row != e->dim) {
      fail_at(error, file, l->line, l->column,
              "fc '%s' is tied to the embed '%s', whose weight is %lldx%lld (vocab x dim): it "
              "needs out=%lld and inputs of %lld, has out=%lld and inputs of %lld", l->name,
              layers[embed].name, (long long)e->vocab, (long long)e->dim, (long long)e->vocab,
              (long long)e->dim, (long long)a->out, row);
      return false;
    }
    for (int j = 0; j < i; j++)
      if (layers[j].tie >= 0) {
        fail_at(error, file, l->line, l->column,
                "fc '%s' is tied=1 too: one layer ('%s') is tied to the embed already", l->name,
                layers[j].name);
        return false;
      }
    l->tie = embed;
  }
  return true;
}

pc_model *pc_model_parse(const char *text, const char *filename, const char *sets,
                         GError **error) {
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  parser p = {.file = filename, .error = error,
              .arena = g_ptr_array_new_with_free_func(g_free),
              .arrays = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref),
              .block_names = g_hash_table_new(g_str_hash, g_str_equal)};
  pc_lexer_init(&p.lx, text, strlen(text));
  pc_lexer_next(&p.lx, &p.next);
  pc_model *model = NULL;
  GPtrArray *top = advance(&p) ? parse_body(&p, true, NULL) : NULL;
  eval ev = {.file = filename, .error = error, .cursor = -1,
             .globals = {.vars = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free)},
             .overrides = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
             .param_list = g_ptr_array_new_with_free_func(free_param),
             .blocks = g_hash_table_new(g_str_hash, g_str_equal),
             .top = top,
             .layers = g_array_new(FALSE, TRUE, sizeof(pc_layer)),
             .names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
             .scopes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
             .splits = g_array_new(FALSE, FALSE, sizeof(int))};
  bool ok = top != NULL && parse_sets(sets, ev.overrides, error);
  if (ok) {
    scope sc;
    scope_init(&sc, "", false);
    ok = eval_body(&ev, &ev.globals, &sc, top);
    scope_clear(&sc);
  }
  if (ok && g_hash_table_size(ev.overrides)) {
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, ev.overrides);
    g_hash_table_iter_next(&it, &key, NULL);
    GString *names = g_string_new(NULL);
    for (guint i = 0; i < ev.param_list->len; i++)
      g_string_append_printf(names, "%s%s", i ? ", " : "",
                             ((pc_model_param *)g_ptr_array_index(ev.param_list, i))->name);
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--set %s: %s has no parameter '%s' (%s%s)",
                (char *)key, filename, (char *)key, names->len ? "it has: " : "it has none",
                names->str);
    g_string_free(names, TRUE);
    ok = false;
  }
  if (ok && ev.layers->len == 0) {
    fail_at(error, filename, 1, 1,
            "empty model: expected `input SHAPE` and at least one layer");
    ok = false;
  }
  if (ok) {
    for (guint i = 0; i + 1 < ev.layers->len; i++) {
      const pc_layer *l = &g_array_index(ev.layers, pc_layer, i);
      if (l->kind == PC_LAYER_KIND_SOFTMAX_XENT) {
        fail_at(error, filename, l->line, l->column,
                "softmax_xent must be the last layer ('%s' is followed by more)", l->name);
        ok = false;
        break;
      }
    }
  }
  if (ok) ok = check_sequence_kinds(filename, (pc_layer *)ev.layers->data, (int)ev.layers->len,
                                    error);
  if (ok && ev.splits->len &&
      g_array_index(ev.splits, int, ev.splits->len - 1) == (int)ev.layers->len) {
    fail_at(error, filename, ev.split_line, 1, "`split` after the last layer");
    ok = false;
  }
  if (ok) {
    model = g_new0(pc_model, 1);
    model->name = model_name_of(filename);
    model->path = g_strdup(filename);
    model->input = ev.input;
    model->nlayers = (int)ev.layers->len;
    model->layers = (pc_layer *)g_array_free(ev.layers, FALSE);
    ev.layers = NULL;
    model->nsplits = (int)ev.splits->len;
    model->splits = (int *)g_array_free(ev.splits, FALSE);
    ev.splits = NULL;
    model->index = ev.names; /* every layer's name, to its index + 1 */
    ev.names = NULL;
    model->nparams = (int)ev.param_list->len;
    model->params = g_new0(pc_model_param, ev.param_list->len);
    for (guint i = 0; i < ev.param_list->len; i++) {
      pc_model_param *mp = g_ptr_array_index(ev.param_list, i);
      model->params[i] = *mp;
      mp->name = mp->value = NULL;
    }
  }
  if (ev.layers) {
    for (guint i = 0; i < ev.layers->len; i++) {
      g_free(g_array_index(ev.layers, pc_layer, i).name);
      g_free(g_array_index(ev.layers, pc_layer, i).attrs);
    }
    g_array_free(ev.layers, TRUE);
  }
  if (ev.splits) g_array_free(ev.splits, TRUE);
  g_hash_table_unref(ev.globals.vars);
  g_hash_table_unref(ev.overrides);
  g_ptr_array_unref(ev.param_list);
  g_hash_table_unref(ev.blocks);
  if (ev.names) g_hash_table_unref(ev.names);
  g_hash_table_unref(ev.scopes);
  g_hash_table_unref(p.block_names);
  g_ptr_array_unref(p.arrays);
  g_ptr_array_unref(p.arena);
  return model;
}

pc_model *pc_model_load(const char *path, const char *sets, GError **error) {
  char *text = NULL;
  size_t len = 0;
  if (!pc_file_read(path, PC_MAX_MODEL_BYTES, &text, &len, error)) return NULL;
  if (memchr(text, '\0', len)) {
    const char *nul = memchr(text, '\0', len);
    int line = 1;
    for (const char *c = text; c < nul; c++) line += *c == '\n';
    g_set_error(error, PC_ERROR, PC_ERROR_PARSE, "%s:%d: a NUL byte: this is not a model file",
                path, line);
    g_free(text);
    return NULL;
  }
  pc_model *m = pc_model_parse(text, path, sets, error);
  g_free(text);
  return m;
}
