/* files.c — bounded inputs and safely replaced outputs; see files.h. */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

/* ------------------------------------------------------------------------------------------ */
/* Inputs */

static const char *kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISFIFO(m)) return "a FIFO";
  return "not a regular file";
}

static bool io_fail(GError **error, int code, const char *path, const char *what, int err) {
  g_set_error(error, PC_ERROR, code, "%s: %s: %s", path, what, g_strerror(err));
  return false;
}

/* Opens PATH without blocking on a FIFO that has no writer; *st gets what it is. */
static int open_input(const char *path, struct stat *st, GError **error) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return io_fail(error, PC_ERROR_IO, path, "cannot open", errno), -1;
  if (fstat(fd, st) != 0) {
    io_fail(error, PC_ERROR_IO, path, "cannot read", errno);
    close(fd);
    return -1;
  }
  return fd;
}

static bool too_large(GError **error, const char *path, size_t max) {
  g_set_error(error, PC_ERROR, PC_ERROR_IO, "%s: larger than the %zu MiB this reader accepts",
              path, max >> 20);
  return false;
}

bool pc_file_read(const char *path, size_t max, char **text, size_t *len, GError **error) {
  struct stat st;
  int fd = open_input(path, &st, error);
  if (fd < 0) return false;
  bool ok = true;
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
    g_set_error(error, PC_ERROR, PC_ERROR_IO, "%s: %s, not a file to read", path,
                kind_of(st.st_mode));
    ok = false;
  } else if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) {
    ok = too_large(error, path, max);
  } else if (S_ISFIFO(st.st_mode)) {
    /* a pipe: wait for its writer; one that never had a writer reads as empty */
    ok = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == 0 ||
         io_fail(error, PC_ERROR_IO, path, "cannot read", errno);
  }
  GByteArray *buf = g_byte_array_new();
  for (guint8 chunk[65536]; ok;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ok = io_fail(error, PC_ERROR_IO, path, "cannot read", errno);
    if (n <= 0) break;
    if (buf->len + (size_t)n > max) ok = too_large(error, path, max);
    else g_byte_array_append(buf, chunk, (guint)n);
  }
  close(fd);
  if (!ok) {
    g_byte_array_unref(buf);
    return false;
  }
  *len = buf->len;
  g_byte_array_append(buf, (const guint8 *)"", 1);
  *text = (char *)g_byte_array_free(buf, FALSE);
  return true;
}

FILE *pc_file_open_regular(const char *path, size_t *size, GError **error) {
  struct stat st;
  int fd = open_input(path, &st, error);
  if (fd < 0) return NULL;
  if (!S_ISREG(st.st_mode)) {
    g_set_error(error, PC_ERROR, PC_ERROR_IO, "%s: %s, not a file to read", path,
                kind_of(st.st_mode));
    close(fd);
    return NULL;
  }
  FILE *f = fdopen(fd, "rb");
  if (f == NULL) {
    io_fail(error, PC_ERROR_IO, path, "cannot read", errno);
    close(fd);
    return NULL;
  }
  *size = (size_t)st.st_size;
  return f;
}

/* ------------------------------------------------------------------------------------------ */
/* Outputs */

struct pc_output {
  FILE *f;
  char *flag;    /* "--times PATH" or "PATH": the message's prefix */
  char *target;  /* PATH with its links followed */
  char *tmp;     /* the temporary file beside it; NULL when written through */
};

/* PATH with symbolic links followed to the last one's target (which need not exist). */
static char *follow_links(const char *path) {
  char *p = g_strdup(path);
  struct stat st;
  for (int hops = 0; hops < 40 && lstat(p, &st) == 0 && S_ISLNK(st.st_mode); hops++) {
    char *to = g_file_read_link(p, NULL);
    if (to == NULL) break;
    if (!g_path_is_absolute(to)) {
      char *dir = g_path_get_dirname(p), *joined = g_build_filename(dir, to, NULL);
      g_free(dir);
      g_free(to);
      to = joined;
    }
    g_free(p);
    p = to;
  }
  return p;
}

static char *prefix_of(const char *flag, const char *path) {
  return flag ? g_strdup_printf("%s %s", flag, path) : g_strdup(path);
}

/* The check of pc_output_check; *through: a character device, written without a rename. */
/* A pipe this process was handed (standard output, process substitution), not a named FIFO. */
static bool handed_pipe(const char *path) {
  return g_str_has_prefix(path, "/dev/fd/") || g_str_has_prefix(path, "/proc/self/fd/") ||
         strcmp(path, "/dev/stdout") == 0 || strcmp(path, "/dev/stderr") == 0;
}

static char *check_target(const char *flag, const char *path, bool *through, GError **error) {
  if (path == NULL || *path == '\0') {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "%s: an empty file name", flag ? flag : "output");
    return NULL;
  }
  struct stat st;
  *through = false;
  const char *why = NULL;
  char *target = NULL;
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) { /* links followed by stat */
    *through = S_ISCHR(st.st_mode) || (S_ISFIFO(st.st_mode) && handed_pipe(path));
    if (!*through)
      why = S_ISFIFO(st.st_mode) ? "a named FIFO: a run would block until something reads it"
                                 : kind_of(st.st_mode);
    else if (access(path, W_OK) != 0) why = "not writable";
    target = g_strdup(path);
  } else {
    target = follow_links(path);
    char *dir = g_path_get_dirname(target);
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) why = "its folder does not exist";
    else if (access(dir, W_OK | X_OK) != 0) why = "its folder is not writable";
    g_free(dir);
  }
  if (why) {
    char *pre = prefix_of(flag, path);
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "%s: cannot write there (%s)", pre, why);
    g_free(pre);
    g_clear_pointer(&target, g_free);
  }
  return target;
}

bool pc_path_same(const char *a, const char *b) {
  struct stat sa, sb;
  if (stat(a, &sa) == 0 && stat(b, &sb) == 0) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  char *ca = g_canonicalize_filename(a, NULL), *cb = g_canonicalize_filename(b, NULL);
  bool same = strcmp(ca, cb) == 0;
  g_free(ca);
  g_free(cb);
  return same;
}

bool pc_output_check(const char *flag, const char *path, GError **error) {
  bool through;
  char *target = check_target(flag, path, &through, error);
  g_free(target);
  return target != NULL;
}

pc_output *pc_output_open(const char *flag, const char *path, GError **error) {
  bool through;
  char *target = check_target(flag, path, &through, error);
  if (target == NULL) return NULL;
  pc_output *o = g_new0(pc_output, 1);
  o->flag = prefix_of(flag, path);
  o->target = target;
  int fd;
  if (through) {
    fd = open(target, O_WRONLY | O_CLOEXEC);
  } else {
    o->tmp = g_strconcat(target, ".tmp-XXXXXX", NULL);
    fd = g_mkstemp_full(o->tmp, O_WRONLY | O_CLOEXEC, 0666);
    struct stat st;
    if (fd >= 0 && stat(target, &st) == 0) (void)fchmod(fd, st.st_mode & 07777);
  }
  if (fd >= 0 && (o->f = fdopen(fd, "wb")) == NULL) close(fd);
  if (o->f == NULL) {
    io_fail(error, PC_ERROR_WRITE, o->flag, "cannot create the file", errno);
    g_clear_pointer(&o->tmp, g_free); /* nothing to remove */
    pc_output_discard(o);
    return NULL;
  }
  return o;
}

FILE *pc_output_stream(pc_output *out) { return out->f; }

static void output_free(pc_output *o) {
  g_free(o->flag);
  g_free(o->target);
  g_free(o->tmp);
  g_free(o);
}

void pc_output_discard(pc_output *out) {
  if (out == NULL) return;
  if (out->f) fclose(out->f);
  if (out->tmp) unlink(out->tmp);
  output_free(out);
}

bool pc_sync_dir(const char *dir, GError **error) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  bool ok = fd >= 0 && (fsync(fd) == 0 || errno == EINVAL || errno == ENOTSUP);
  if (!ok) io_fail(error, PC_ERROR_WRITE, dir, "cannot sync the folder", errno);
  if (fd >= 0) close(fd);
  return ok;
}

bool pc_output_commit(pc_output *out, GError **error) {
  FILE *f = g_steal_pointer(&out->f);
  bool ok = fflush(f) == 0 && !ferror(f);
  int err = ok ? 0 : errno ? errno : EIO;
  if (ok && out->tmp && fsync(fileno(f)) != 0) ok = false, err = errno;
  if (fclose(f) != 0 && ok) ok = false, err = errno;
  if (ok && out->tmp && rename(out->tmp, out->target) != 0) ok = false, err = errno;
  if (!ok) {
    io_fail(error, PC_ERROR_WRITE, out->flag, "writing failed", err);
    pc_output_discard(out);
    return false;
  }
  if (out->tmp) {
    char *dir = g_path_get_dirname(out->target);
    ok = pc_sync_dir(dir, error);
    g_free(dir);
  }
  output_free(out);
  return ok;
}

bool pc_output_write(const char *flag, const char *path, const void *data, size_t len,
                     GError **error) {
  pc_output *o = pc_output_open(flag, path, error);
  if (o == NULL) return false;
  if (len && fwrite(data, 1, len, o->f) != len) {
    int err = errno;
    io_fail(error, PC_ERROR_WRITE, o->flag, "writing failed", err ? err : EIO);
    pc_output_discard(o);
    return false;
  }
  return pc_output_commit(o, error);
}
