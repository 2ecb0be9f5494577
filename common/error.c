/* error.c — the PC_ERROR domain and how front ends print its messages. */
#include "error.h"

#include <string.h>

G_DEFINE_QUARK(pc-error-quark, pc_error)

int pc_error_status(const GError *error) {
  return g_error_matches(error, PC_ERROR, PC_ERROR_WRITE) ? 1 : PC_EXIT_INPUT;
}

void pc_error_print(const char *prefix, const char *message) {
  GString *s = g_string_new(prefix);
  g_string_append(s, ": ");
  const char *p = message, *end = message + strlen(message);
  while (p < end) {
    gunichar c = g_utf8_get_char_validated(p, end - p);
    if (c == (gunichar)-1 || c == (gunichar)-2 || (g_unichar_iscntrl(c) && c != '\t' && c != '\n')) {
      g_string_append_printf(s, "\\x%02X", (unsigned char)*p++);
      continue;
    }
    const char *next = g_utf8_next_char(p);
    g_string_append_len(s, p, next - p);
    p = next;
  }
  g_string_append_c(s, '\n');
  fputs(s->str, stderr);
  g_string_free(s, TRUE);
}
