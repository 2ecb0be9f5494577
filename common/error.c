/* error.c — the PC_ERROR domain. */
#include "error.h"

G_DEFINE_QUARK(pc-error-quark, pc_error)
