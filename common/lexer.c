/* lexer.c — turns model-language text into tokens; see lexer.h. */
#include "lexer.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pc_lexer_init(pc_lexer *lx, const char *src, size_t len) {
  *lx = (pc_lexer){.src = src, .pos = 0, .len = len, .line = 1, .column = 1};
}

static int peek(const pc_lexer *lx, size_t ahead) {
  return lx->pos + ahead < lx->len ? (unsigned char)lx->src[lx->pos + ahead] : -1;
}

static void advance(pc_lexer *lx) {
  if (lx->src[lx->pos] == '\n') {
    lx->line++;
    lx->column = 1;
  } else {
    lx->column++;
  }
  lx->pos++;
}

static void set_text(pc_token *tok, const char *s, size_t n) {
  if (n >= sizeof tok->text) {
    n = sizeof tok->text - 1;
    tok->too_long = true;
  }
  memcpy(tok->text, s, n);
  tok->text[n] = '\0';
}

/* Digits at the current position into *v; false on overflow. */
static bool lex_digits(pc_lexer *lx, int64_t *v) {
  bool ok = true;
  *v = 0;
  while (peek(lx, 0) >= 0 && isdigit(peek(lx, 0))) {
    int d = peek(lx, 0) - '0';
    if (*v > (INT64_MAX - d) / 10) ok = false;
    else *v = *v * 10 + d;
    advance(lx);
  }
  return ok;
}

static void lex_number(pc_lexer *lx, pc_token *tok) {
  size_t start = lx->pos;
  int64_t v;
  bool ok = lex_digits(lx, &v);
  int c = peek(lx, 0);
  if (c == 'x' && peek(lx, 1) >= 0 && isdigit(peek(lx, 1))) {
    /* A shape: 3x32x32. */
    tok->kind = PC_TOK_SHAPE;
    tok->dims[0] = v;
    tok->ndims = 1;
    while (peek(lx, 0) == 'x' && peek(lx, 1) >= 0 && isdigit(peek(lx, 1))) {
      advance(lx);
      int64_t d;
      ok = lex_digits(lx, &d) && ok;
      if (tok->ndims < 3) tok->dims[tok->ndims] = d;
      tok->ndims++;
    }
  } else if (c == '.' || c == 'e' || c == 'E') {
    /* A float: 0.1, 1e-5, 2.5E3. */
    bool is_float = c == '.';
    if (c == '.') {
      advance(lx);
      while (peek(lx, 0) >= 0 && isdigit(peek(lx, 0))) advance(lx);
    }
    c = peek(lx, 0);
    if (c == 'e' || c == 'E') {
      size_t k = 1;
      if (peek(lx, k) == '+' || peek(lx, k) == '-') k++;
      if (peek(lx, k) >= 0 && isdigit(peek(lx, k))) {
        is_float = true;
        while (k--) advance(lx);
        while (peek(lx, 0) >= 0 && isdigit(peek(lx, 0))) advance(lx);
      }
    }
    if (is_float) {
      char buf[64];
      size_t n = MIN(lx->pos - start, sizeof buf - 1);
      memcpy(buf, lx->src + start, n);
      buf[n] = '\0';
      tok->kind = PC_TOK_FLOAT;
      errno = 0;
      tok->fval = strtod(buf, NULL);
      if (errno == ERANGE) ok = false;
    } else {
      tok->kind = PC_TOK_INT;
      tok->ival = v;
    }
  } else {
    tok->kind = PC_TOK_INT;
    tok->ival = v;
  }
  if (!ok) tok->too_long = true;
  set_text(tok, lx->src + start, lx->pos - start);
}

void pc_lexer_next(pc_lexer *lx, pc_token *tok) {
  bool space = lx->pos == 0;
  for (;;) {
    int c = peek(lx, 0);
    if (c == ' ' || c == '\t' || c == '\r') {
      advance(lx);
      space = true;
    } else if (c == '#') {
      while (peek(lx, 0) >= 0 && peek(lx, 0) != '\n') advance(lx);
    } else if (c == '\\' && peek(lx, 1) == '\n') { /* line continuation */
      advance(lx);
      advance(lx);
      space = true;
    } else {
      break;
    }
  }
  *tok = (pc_token){.line = lx->line, .column = lx->column, .space_before = space};
  int c = peek(lx, 0);
  if (c < 0) {
    tok->kind = PC_TOK_EOF;
    return;
  }
  if (c == '\n') {
    advance(lx);
    tok->kind = PC_TOK_NEWLINE;
    strcpy(tok->text, "\\n");
    return;
  }
  size_t start = lx->pos;
  if (isalpha(c) || c == '_') {
    while (peek(lx, 0) >= 0 && (isalnum(peek(lx, 0)) || peek(lx, 0) == '_')) advance(lx);
    tok->kind = PC_TOK_IDENT;
    set_text(tok, lx->src + start, lx->pos - start);
    return;
  }
  if (isdigit(c)) {
    lex_number(lx, tok);
    return;
  }
  static const char *const two[] = {"<=", ">=", "==", "!=", "&&", "||"};
  for (size_t i = 0; i < G_N_ELEMENTS(two); i++) {
    if (c == two[i][0] && peek(lx, 1) == two[i][1]) {
      advance(lx);
      advance(lx);
      tok->kind = PC_TOK_PUNCT;
      set_text(tok, two[i], 2);
      return;
    }
  }
  advance(lx);
  if (strchr("{}()=,;$+-*/%<>!", c)) {
    tok->kind = PC_TOK_PUNCT;
  } else {
    tok->kind = PC_TOK_BAD;
    /* Keep a whole UTF-8 sequence together so the message shows the character. */
    while (peek(lx, 0) >= 0 && (peek(lx, 0) & 0xC0) == 0x80) advance(lx);
  }
  set_text(tok, lx->src + start, lx->pos - start);
}

const char *pc_token_describe(const pc_token *tok, char *buf, size_t size) {
  switch (tok->kind) {
  case PC_TOK_EOF: snprintf(buf, size, "end of file"); break;
  case PC_TOK_NEWLINE: snprintf(buf, size, "end of line"); break;
  default: snprintf(buf, size, "'%s'", tok->text); break;
  }
  return buf;
}
