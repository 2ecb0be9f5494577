/* lexer.h — tokens of the pipecast model language (models/README.md).
 *
 * Line oriented: newlines are tokens. '#' starts a comment to the end of the line. Each token
 * records its line and column (1-based) and whether white space preceded it, so that the parser
 * can glue adjacent parts into one layer name (`fc$i`, `block${i+1}`). Not public API. */
#ifndef PC_LEXER_H
#define PC_LEXER_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum {
  PC_TOK_EOF,
  PC_TOK_NEWLINE,
  PC_TOK_IDENT,
  PC_TOK_INT,
  PC_TOK_FLOAT,
  PC_TOK_SHAPE, /* 3x32x32 */
  PC_TOK_PUNCT, /* text holds it: { } ( ) = , ; $ + - * / % < > <= >= == != ! && || */
  PC_TOK_BAD,   /* a character the language has no use for */
} pc_tok_kind;

typedef struct {
  pc_tok_kind kind;
  char text[64];   /* the token as written, truncated to fit */
  int64_t ival;    /* INT */
  double fval;     /* FLOAT */
  int64_t dims[3]; /* SHAPE */
  int ndims;
  int line, column;
  bool space_before; /* white space (or start of line) right before it */
  bool too_long;     /* an INT that does not fit in 64 bits, or a token over 63 chars */
} pc_token;

typedef struct {
  const char *src;
  size_t pos, len;
  int line, column;
} pc_lexer;

void pc_lexer_init(pc_lexer *lx, const char *src, size_t len);
/* Reads the next token; never fails (bad characters come back as PC_TOK_BAD). */
void pc_lexer_next(pc_lexer *lx, pc_token *tok);
/* "end of file", "end of line", "'foo'" — for "expected X, got Y" messages. */
const char *pc_token_describe(const pc_token *tok, char *buf, size_t size);

#endif
