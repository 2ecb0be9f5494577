/* error.h — error reporting for libpipecast.
 *
 * Recoverable failures (bad files, bad specs, I/O) return false/NULL and fill a GError in the
 * PC_ERROR domain, following GLib's error-reporting rules. Programmer errors hit PC_ASSERT, which
 * prints file:line and aborts. Library code never calls exit(). */
#ifndef PC_ERROR_H
#define PC_ERROR_H

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

#define PC_ERROR (pc_error_quark())

/* Codes of the PC_ERROR domain. Every one of them is a user-facing input or environment error:
 * command-line front ends map them to exit status 2 (PC_ERROR_IO included: a missing file is bad
 * input too), all but PC_ERROR_WRITE. */
typedef enum {
  PC_ERROR_PARSE,     /* syntax of a model file, spec string or table */
  PC_ERROR_SHAPE,     /* a layer does not fit the shape it receives */
  PC_ERROR_PARTITION, /* a partition that is not valid for the model */
  PC_ERROR_SCHEDULE,  /* a schedule that cannot run (deadlock, unmatched message) */
  PC_ERROR_USAGE,     /* a flag or value out of range */
  PC_ERROR_IO,        /* a file that cannot be read or written */
  PC_ERROR_FORMAT,    /* a data, weights or profile file with the wrong contents */
  PC_ERROR_WRITE,     /* an output that could not be written (a full disk, an I/O error): not
                         the input's fault, so front ends exit 1 */
} pc_error_code;

GQuark pc_error_quark(void);

/* Abort with file:line when a condition the code relies on does not hold. */
#define PC_ASSERT(cond)                                                                        \
  do {                                                                                         \
    if (G_UNLIKELY(!(cond))) {                                                                 \
      fprintf(stderr, "%s:%d: internal error: assertion failed: %s\n", __FILE__, __LINE__,     \
              #cond);                                                                          \
      abort();                                                                                 \
    }                                                                                          \
  } while (0)

/* Exit status a front end uses for usage and input errors. */
#define PC_EXIT_INPUT 2

/* The exit status for ERROR: 1 for PC_ERROR_WRITE, else PC_EXIT_INPUT. */
int pc_error_status(const GError *error);

/* Prints "PREFIX: MESSAGE" and a newline on stderr, with every byte that is not printable UTF-8
 * (a stray byte of a file, a control character other than tab and newline) written as \xHH. */
void pc_error_print(const char *prefix, const char *message);

#endif
