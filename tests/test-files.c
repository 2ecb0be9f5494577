/* test-files.c — common/files.h: inputs read within their bound (pipes yes, devices and folders
 * no, a FIFO with no writer never blocks); outputs replaced whole (the earlier file kept when a
 * write fails or is discarded, links followed, devices written through, no temporary file left);
 * and the op-list size bound of common/job.h. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "files.h"
#include "job.h"

static char *dir;

static char *in_dir(const char *name) { return g_build_filename(dir, name, NULL); }

static int by_name(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The files in DIR, sorted, joined by blanks. */
static char *listing(void) {
  GDir *d = g_dir_open(dir, 0, NULL);
  GPtrArray *names = g_ptr_array_new();
  const char *n;
  while ((n = g_dir_read_name(d))) g_ptr_array_add(names, (gpointer)n);
  g_ptr_array_sort(names, by_name);
  g_ptr_array_add(names, NULL);
  char *s = g_strjoinv(" ", (char **)names->pdata);
  g_ptr_array_unref(names);
  g_dir_close(d);
  return s;
}

static char *slurp(const char *path) {
  char *text = NULL;
  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  return text;
}

static void test_read(void) {
  char *path = in_dir("small.txt"), *text = NULL;
  size_t len = 0;
  GError *error = NULL;
  g_assert_true(g_file_set_contents(path, "0123456789", -1, NULL));
  g_assert_true(pc_file_read(path, 10, &text, &len, &error));
  g_assert_cmpuint(len, ==, 10);
  g_assert_cmpstr(text, ==, "0123456789");
  g_free(text);
  /* one byte over the bound */
  g_assert_false(pc_file_read(path, 9, &text, &len, &error));
  g_assert_error(error, PC_ERROR, PC_ERROR_IO);
  g_assert_nonnull(strstr(error->message, "larger than"));
  g_clear_error(&error);
  /* a device, a folder, a missing file */
  const char *refused[] = {"/dev/null", dir, "/nonexistent/x"};
  const char *why[] = {"a character device", "a directory", "cannot open"};
  for (int i = 0; i < 3; i++) {
    g_assert_false(pc_file_read(refused[i], 1 << 20, &text, &len, &error));
    g_assert_error(error, PC_ERROR, PC_ERROR_IO);
    g_assert_nonnull(strstr(error->message, why[i]));
    g_assert_nonnull(strstr(error->message, refused[i]));
    g_clear_error(&error);
  }
  /* a FIFO nobody writes to reads as empty instead of blocking */
  char *fifo = in_dir("fifo");
  g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
  g_assert_true(pc_file_read(fifo, 100, &text, &len, &error));
  g_assert_cmpuint(len, ==, 0);
  g_free(text);
  size_t size;
  g_assert_null(pc_file_open_regular(fifo, &size, &error));
  g_assert_error(error, PC_ERROR, PC_ERROR_IO);
  g_clear_error(&error);
  g_remove(fifo);
  g_remove(path);
  g_free(fifo);
  g_free(path);
}

static void test_write(void) {
  char *path = in_dir("out.csv");
  GError *error = NULL;
  g_assert_true(pc_output_write("--times", path, "old\n", 4, &error));
  g_assert_no_error(error);
  /* a discarded output leaves the earlier file and no temporary file */
  pc_output *o = pc_output_open("--times", path, &error);
  g_assert_nonnull(o);
  fputs("half of a new fi", pc_output_stream(o));
  pc_output_discard(o);
  char *text = slurp(path), *files = listing();
  g_assert_cmpstr(text, ==, "old\n");
  g_assert_cmpstr(files, ==, "out.csv");
  g_free(text);
  g_free(files);
  /* a committed one replaces it, keeping its mode */
  g_assert_cmpint(chmod(path, 0640), ==, 0);
  g_assert_true(pc_output_write("--times", path, "new\n", 4, &error));
  struct stat st;
  g_assert_cmpint(stat(path, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0640);
  text = slurp(path);
  g_assert_cmpstr(text, ==, "new\n");
  g_free(text);
  /* a link is followed: its target is written, the link stays */
  char *target = in_dir("target.csv"), *link = in_dir("link.csv");
  g_assert_cmpint(symlink("target.csv", link), ==, 0);
  g_assert_true(pc_output_write(NULL, link, "via link\n", 9, &error));
  g_assert_true(g_file_test(link, G_FILE_TEST_IS_SYMLINK));
  text = slurp(target);
  g_assert_cmpstr(text, ==, "via link\n");
  g_free(text);
  /* a device is written through: /dev/null takes it, /dev/full fails as a write (exit 1) */
  g_assert_true(pc_output_write("--save", "/dev/null", "x", 1, &error));
  if (!g_file_test("/dev/full", G_FILE_TEST_EXISTS)) {
    g_test_skip("no /dev/full here");
    return;
  }
  g_assert_false(pc_output_write("--save", "/dev/full", "x", 1, &error));
  g_assert_error(error, PC_ERROR, PC_ERROR_WRITE);
  g_assert_nonnull(strstr(error->message, "--save /dev/full: writing failed"));
  g_assert_cmpint(pc_error_status(error), ==, 1);
  g_clear_error(&error);
  g_assert_true(g_file_test("/dev/full", G_FILE_TEST_EXISTS) &&
                !g_file_test("/dev/full", G_FILE_TEST_IS_REGULAR));
  /* refused up front (exit 2): a folder, a FIFO, an empty name, a missing folder */
  char *fifo = in_dir("fifo"), *missing = in_dir("no/x.csv");
  g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
  const char *refused[] = {dir, fifo, "", missing};
  const char *why[] = {"(a directory)", "(a named FIFO", "an empty file name", "does not exist"};
  for (int i = 0; i < 4; i++) {
    g_assert_false(pc_output_check("--trace", refused[i], &error));
    g_assert_error(error, PC_ERROR, PC_ERROR_USAGE);
    g_assert_nonnull(strstr(error->message, why[i]));
    g_assert_cmpint(pc_error_status(error), ==, PC_EXIT_INPUT);
    g_clear_error(&error);
    g_assert_null(pc_output_open("--trace", refused[i], &error));
    g_clear_error(&error);
  }
  files = listing();
  g_assert_cmpstr(files, ==, "fifo link.csv out.csv target.csv");
  g_free(files);
  const char *made[] = {fifo, link, target, path};
  for (int i = 0; i < 4; i++) g_remove(made[i]);
  g_free(fifo);
  g_free(missing);
  g_free(link);
  g_free(target);
  g_free(path);
}

static void test_job_size(void) {
  GError *error = NULL;
  g_assert_true(pc_job_check_size(64, 1024, 96, 0, &error));
  g_assert_true(pc_job_check_size(4, 1000, 100, 24001 * 100 + 400, &error));
  g_assert_false(pc_job_check_size(4, 1000, 100, 24000 * 100, &error));
  g_assert_error(error, PC_ERROR, PC_ERROR_USAGE);
  g_assert_nonnull(strstr(error->message, "needing an estimated"));
  g_clear_error(&error);
  g_assert_false(pc_job_check_size(1, G_MAXINT, 0, 0, &error));
  g_assert_nonnull(strstr(error->message, "more than the"));
  g_clear_error(&error);
  g_assert_cmpuint(pc_job_machine_memory(), >, 0);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  GError *error = NULL;
  dir = g_dir_make_tmp("pc-files-XXXXXX", &error);
  g_assert_no_error(error);
  g_test_add_func("/files/read", test_read);
  g_test_add_func("/files/write", test_write);
  g_test_add_func("/files/job-size", test_job_size);
  int status = g_test_run();
  g_rmdir(dir);
  g_free(dir);
  return status;
}
