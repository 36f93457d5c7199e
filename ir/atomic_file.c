/* Atomic file writing. The data goes to an unnamed file (O_TMPFILE) in the target's
 * directory, so a process killed mid-write leaves nothing behind; commit links it under a
 * temporary name and renames it over the target. Where O_TMPFILE is unsupported a named
 * temporary is used and removed on failure. */
#include "quarc/io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct qc_atomic_file {
  int fd;
  char *path;
  char *tmp;   /* named temporary (fallback), else NULL */
  uint64_t off;
};

static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return strdup(".");
  if (slash == path) return strdup("/");
  return strndup(path, (size_t)(slash - path));
}

qc_status qc_atomic_open(const char *path, qc_atomic_file **out) {
  *out = NULL;
  qc_atomic_file *f = calloc(1, sizeof *f);
  if (!f) return qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory");
  f->path = strdup(path);
  char *dir = dir_of(path);
  if (!f->path || !dir) {
    free(dir);
    qc_atomic_abort(f);
    return qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory");
  }
  f->fd = -1;
#ifdef O_TMPFILE
  f->fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
#endif
  if (f->fd < 0) {
    size_t n = strlen(path) + 32;
    f->tmp = malloc(n);
    if (f->tmp) {
      snprintf(f->tmp, n, "%s.tmp.%ld", path, (long)getpid());
      f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    }
  }
  free(dir);
  if (f->fd < 0) {
    qc_status s = qc_status_new(QC_CODE_IO, "%s: cannot create: %s", path, strerror(errno));
    qc_atomic_abort(f);
    return s;
  }
  *out = f;
  return QC_OK;
}

qc_status qc_atomic_write(qc_atomic_file *f, const void *data, size_t n) {
  const char *p = data;
  while (n) {
    ssize_t w = write(f->fd, p, n > (1u << 30) ? (1u << 30) : n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return qc_status_new(QC_CODE_IO, "%s: write failed: %s", f->path, strerror(errno));
    }
    p += w;
    n -= (size_t)w;
    f->off += (uint64_t)w;
  }
  return QC_OK;
}

uint64_t qc_atomic_tell(const qc_atomic_file *f) { return f->off; }

qc_status qc_atomic_commit(qc_atomic_file *f) {
  qc_status s = QC_OK;
  if (fsync(f->fd) != 0 && errno != EINVAL)
    s = qc_status_new(QC_CODE_IO, "%s: fsync failed: %s", f->path, strerror(errno));
  if (!s && !f->tmp) {
    /* Give the unnamed file a temporary name, then rename it into place. */
    size_t n = strlen(f->path) + 32;
    char *tmp = malloc(n), proc[64];
    if (!tmp) s = qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory");
    else {
      snprintf(tmp, n, "%s.tmp.%ld", f->path, (long)getpid());
      snprintf(proc, sizeof proc, "/proc/self/fd/%d", f->fd);
      unlink(tmp);
      if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) != 0)
        s = qc_status_new(QC_CODE_IO, "%s: cannot link the written file: %s", f->path,
                          strerror(errno));
      f->tmp = tmp;
      if (s) {
        free(f->tmp);
        f->tmp = NULL;
      }
    }
  }
  if (!s && rename(f->tmp, f->path) != 0)
    s = qc_status_new(QC_CODE_IO, "%s: rename failed: %s", f->path, strerror(errno));
  if (!s) {
    free(f->tmp);
    f->tmp = NULL; /* nothing to remove */
  }
  qc_atomic_abort(f);
  return s;
}

void qc_atomic_abort(qc_atomic_file *f) {
  if (!f) return;
  if (f->fd >= 0) close(f->fd);
  if (f->tmp) unlink(f->tmp);
  free(f->tmp);
  free(f->path);
  free(f);
}
