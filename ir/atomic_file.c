/* Atomic file writing. The data goes to an unnamed file (O_TMPFILE) in the target's
 * directory, so a process killed mid-write leaves nothing behind; commit links it under a
 * temporary name and renames it over the target. Where O_TMPFILE is unsupported a named
 * temporary is used and removed on failure.
 *
 * Atomic directories (quarc/io.h) stage every file the same way in the directory's parent
 * and keep the descriptors open; the commit creates a hidden sibling directory, links the
 * files into it and renames it into place. */
#include "quarc/io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

struct qc_atomic_file {
  int fd;
  char *path;
  char *tmp;   /* named temporary (fallback), else NULL */
  uint64_t off;
  qc_atomic_dir *dir; /* staged into an atomic directory */
  char *name;         /* its name there */
};

typedef struct staged {
  char *name;
  int fd;     /* unnamed file, or -1 */
  char *tmp;  /* named fallback temporary, or NULL */
} staged;

struct qc_atomic_dir {
  char *path, *parent, *base;
  bool replace;
  staged *files;
  size_t n, cap;
  int open_files; /* files handed out and not yet committed or aborted */
};

static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return strdup(".");
  if (slash == path) return strdup("/");
  return strndup(path, (size_t)(slash - path));
}

static int fsync_path(const char *path) {
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  int r = fsync(fd);
  close(fd);
  return r;
}

static qc_status oom(void) { return qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory"); }

/* An unnamed file in `dir` (or a named temporary `fallback` where unsupported). */
static int open_tmp(const char *dir, const char *fallback, char **tmp_out) {
  int fd = -1;
  *tmp_out = NULL;
#ifdef O_TMPFILE
  fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
#endif
  if (fd < 0) {
    char *t = strdup(fallback);
    if (!t) return -1;
    fd = open(t, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) free(t);
    else *tmp_out = t;
  }
  return fd;
}

qc_status qc_atomic_open(const char *path, qc_atomic_file **out) {
  *out = NULL;
  qc_atomic_file *f = calloc(1, sizeof *f);
  if (!f) return oom();
  f->fd = -1;
  f->path = strdup(path);
  char *dir = dir_of(path);
  size_t n = strlen(path) + 32;
  char *fallback = malloc(n);
  if (!f->path || !dir || !fallback) {
    free(dir);
    free(fallback);
    qc_atomic_abort(f);
    return oom();
  }
  snprintf(fallback, n, "%s.tmp.%ld", path, (long)getpid());
  f->fd = open_tmp(dir, fallback, &f->tmp);
  free(dir);
  free(fallback);
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

static void free_file(qc_atomic_file *f) {
  free(f->tmp);
  free(f->path);
  free(f->name);
  free(f);
}

qc_status qc_atomic_commit(qc_atomic_file *f) {
  qc_status s = QC_OK;
  if (fsync(f->fd) != 0 && errno != EINVAL)
    s = qc_status_new(QC_CODE_IO, "%s: fsync failed: %s", f->path, strerror(errno));
  if (f->dir) {
    /* Hand the file to its directory; it is linked in at the directory's commit. */
    qc_atomic_dir *d = f->dir;
    d->open_files--;
    if (!s && d->n == d->cap) {
      size_t nc = d->cap ? d->cap * 2 : 8;
      staged *ns = realloc(d->files, nc * sizeof *ns);
      if (!ns) s = oom();
      else {
        d->files = ns;
        d->cap = nc;
      }
    }
    if (!s) {
      d->files[d->n++] = (staged){f->name, f->fd, f->tmp};
      f->name = NULL;
      f->tmp = NULL;
      f->fd = -1;
    } else {
      close(f->fd);
      if (f->tmp) unlink(f->tmp);
    }
    free_file(f);
    return s;
  }
  if (!s && !f->tmp) {
    /* A new file: link the unnamed file straight to its name, so that no temporary name
     * ever exists (a process killed here leaves nothing). */
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", f->fd);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, f->path, AT_SYMLINK_FOLLOW) == 0) {
      char *dir = dir_of(f->path);
      if (dir) fsync_path(dir);
      free(dir);
      qc_atomic_abort(f);
      return QC_OK;
    }
  }
  if (!s && !f->tmp) {
    /* Replacing a file: give the unnamed file a temporary name, then rename it over. */
    size_t n = strlen(f->path) + 32;
    char *tmp = malloc(n), proc[64];
    if (!tmp) s = oom();
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
  if (f->dir) f->dir->open_files--;
  if (f->fd >= 0) close(f->fd);
  if (f->tmp) unlink(f->tmp);
  free_file(f);
}

/* ---- atomic directories ------------------------------------------------------------------- */

/* Remove a directory tree (only regular files and directories: the staging directories
 * hold nothing else). */
static void remove_tree(const char *path) {
  DIR *dp = opendir(path);
  if (dp) {
    struct dirent *e;
    while ((e = readdir(dp))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      size_t n = strlen(path) + strlen(e->d_name) + 2;
      char *c = malloc(n);
      if (!c) continue;
      snprintf(c, n, "%s/%s", path, e->d_name);
      struct stat st;
      if (lstat(c, &st) == 0 && S_ISDIR(st.st_mode)) remove_tree(c);
      else unlink(c);
      free(c);
    }
    closedir(dp);
  }
  rmdir(path);
}

/* The hidden sibling for process `pid`: "<parent>/.<base>.quarc-tmp.<pid>". */
static char *sibling(const qc_atomic_dir *d, long pid) {
  size_t n = strlen(d->parent) + strlen(d->base) + 48;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/.%s.quarc-tmp.%ld", d->parent, d->base, pid);
  return p;
}

/* Remove hidden siblings whose process no longer exists (a commit killed half-way). */
static void sweep_stale(const qc_atomic_dir *d) {
  DIR *dp = opendir(d->parent);
  if (!dp) return;
  size_t bl = strlen(d->base);
  struct dirent *e;
  while ((e = readdir(dp))) {
    const char *nm = e->d_name;
    if (nm[0] != '.' || strncmp(nm + 1, d->base, bl) != 0 || strncmp(nm + 1 + bl, ".quarc-tmp.", 11))
      continue;
    char *end;
    long pid = strtol(nm + 1 + bl + 11, &end, 10);
    if (*end || pid <= 0 || pid == (long)getpid()) continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
    char *p = sibling(d, pid);
    if (p) remove_tree(p);
    free(p);
  }
  closedir(dp);
}

qc_status qc_atomic_dir_open(const char *path, bool replace, qc_atomic_dir **out) {
  *out = NULL;
  size_t len = strlen(path);
  while (len > 1 && path[len - 1] == '/') len--;
  qc_atomic_dir *d = calloc(1, sizeof *d);
  if (!d || !(d->path = strndup(path, len))) {
    free(d);
    return oom();
  }
  d->replace = replace;
  d->parent = dir_of(d->path);
  const char *slash = strrchr(d->path, '/');
  d->base = strdup(slash ? slash + 1 : d->path);
  if (!d->parent || !d->base) {
    qc_atomic_dir_abort(d);
    return oom();
  }
  if (!*d->base || !strcmp(d->base, ".") || !strcmp(d->base, "..")) {
    qc_status s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: not a directory name to create", path);
    qc_atomic_dir_abort(d);
    return s;
  }
  struct stat st;
  if (stat(d->parent, &st) != 0 || !S_ISDIR(st.st_mode)) {
    qc_status s = qc_status_new(QC_CODE_NOT_FOUND, "%s: the parent directory %s does not exist",
                                path, d->parent);
    qc_atomic_dir_abort(d);
    return s;
  }
  if (lstat(d->path, &st) == 0) {
    qc_status s = QC_OK;
    if (!S_ISDIR(st.st_mode))
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: exists and is not a directory", path);
    else if (!replace) {
      /* An empty directory may be taken over: rename() replaces it. */
      DIR *dp = opendir(d->path);
      struct dirent *e;
      bool empty = true;
      while (dp && (e = readdir(dp)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = false;
      if (dp) closedir(dp);
      if (!empty)
        s = qc_status_new(QC_CODE_INVALID_ARGUMENT,
                          "the directory exists and is not empty (remove it, or replace it with --force)");
    }
    if (s) {
      qc_atomic_dir_abort(d);
      return s;
    }
  }
  sweep_stale(d);
  *out = d;
  return QC_OK;
}

const char *qc_atomic_dir_path(const qc_atomic_dir *d) { return d->path; }

qc_status qc_atomic_dir_file(qc_atomic_dir *d, const char *name, qc_atomic_file **out) {
  *out = NULL;
  if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: '%s' is not a file name", d->path, name);
  for (size_t i = 0; i < d->n; i++)
    if (!strcmp(d->files[i].name, name))
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s/%s: written twice", d->path, name);
  qc_atomic_file *f = calloc(1, sizeof *f);
  if (!f) return oom();
  f->fd = -1;
  size_t n = strlen(d->path) + strlen(name) + 2;
  size_t fn = strlen(d->parent) + strlen(d->base) + strlen(name) + 48;
  char *fallback = malloc(fn);
  f->path = malloc(n);
  f->name = strdup(name);
  if (!f->path || !f->name || !fallback) {
    free(fallback);
    free_file(f);
    return oom();
  }
  snprintf(f->path, n, "%s/%s", d->path, name);
  snprintf(fallback, fn, "%s/.%s.%s.quarc-tmp.%ld", d->parent, d->base, name, (long)getpid());
  f->fd = open_tmp(d->parent, fallback, &f->tmp);
  free(fallback);
  if (f->fd < 0) {
    qc_status s = qc_status_new(QC_CODE_IO, "%s: cannot create: %s", f->path, strerror(errno));
    free_file(f);
    return s;
  }
  f->dir = d;
  d->open_files++;
  *out = f;
  return QC_OK;
}

qc_status qc_atomic_open_in(qc_atomic_dir *d, const char *name, qc_atomic_file **out) {
  return d ? qc_atomic_dir_file(d, name, out) : qc_atomic_open(name, out);
}

/* Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); -1 with errno otherwise. */
static int exchange(const char *a, const char *b) {
#if defined(__linux__) && defined(SYS_renameat2)
  return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, 2 /* RENAME_EXCHANGE */);
#else
  (void)a;
  (void)b;
  errno = ENOSYS;
  return -1;
#endif
}

qc_status qc_atomic_dir_commit(qc_atomic_dir *d) {
  qc_status s = QC_OK;
  if (d->open_files)
    s = qc_status_new(QC_CODE_INTERNAL, "%s: %d file(s) still being written", d->path, d->open_files);
  char *tmp = s ? NULL : sibling(d, (long)getpid());
  if (!s && !tmp) s = oom();
  if (!s) {
    remove_tree(tmp); /* a leftover of this very pid (reused) */
    if (mkdir(tmp, 0755) != 0)
      s = qc_status_new(QC_CODE_IO, "%s: cannot create %s: %s", d->path, tmp, strerror(errno));
  }
  for (size_t i = 0; i < d->n && !s; i++) {
    size_t n = strlen(tmp) + strlen(d->files[i].name) + 2;
    char *dst = malloc(n);
    if (!dst) {
      s = oom();
      break;
    }
    snprintf(dst, n, "%s/%s", tmp, d->files[i].name);
    int r;
    if (d->files[i].tmp) {
      r = rename(d->files[i].tmp, dst);
      if (r == 0) {
        free(d->files[i].tmp);
        d->files[i].tmp = NULL;
      }
    } else {
      char proc[64];
      snprintf(proc, sizeof proc, "/proc/self/fd/%d", d->files[i].fd);
      r = linkat(AT_FDCWD, proc, AT_FDCWD, dst, AT_SYMLINK_FOLLOW);
    }
    if (r != 0)
      s = qc_status_new(QC_CODE_IO, "%s/%s: cannot link the written file: %s", d->path,
                        d->files[i].name, strerror(errno));
    free(dst);
  }
  /* The directory is fsynced after the rename, through a descriptor opened now: the hidden
   * sibling exists only for the few system calls between mkdir and rename, the window in
   * which a killed process leaves it behind (a journaling file system keeps the links and
   * the rename in order, so a crash shows the whole directory or none). */
  int dfd = -1;
  if (!s && (dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
    s = qc_status_new(QC_CODE_IO, "%s: cannot open %s: %s", d->path, tmp, strerror(errno));
  if (!s) {
    struct stat st;
    bool exists = lstat(d->path, &st) == 0;
    if (exists && d->replace) {
      if (exchange(tmp, d->path) == 0) {
        remove_tree(tmp); /* now the old directory */
      } else if (errno == ENOSYS || errno == EINVAL) {
        /* No exchange: move the old one aside, then put the new one in place. */
        char *old = malloc(strlen(tmp) + 8);
        if (!old) s = oom();
        else {
          sprintf(old, "%s.old", tmp);
          remove_tree(old);
          if (rename(d->path, old) != 0 || rename(tmp, d->path) != 0)
            s = qc_status_new(QC_CODE_IO, "%s: cannot replace: %s", d->path, strerror(errno));
          else remove_tree(old);
          free(old);
        }
      } else {
        s = qc_status_new(QC_CODE_IO, "%s: cannot replace: %s", d->path, strerror(errno));
      }
    } else if (rename(tmp, d->path) != 0) {
      s = qc_status_new(QC_CODE_IO, "%s: cannot rename %s into place: %s", d->path, tmp,
                        strerror(errno));
    }
  }
  if (!s && fsync(dfd) != 0 && errno != EINVAL)
    s = qc_status_new(QC_CODE_IO, "%s: fsync failed: %s", d->path, strerror(errno));
  if (dfd >= 0) close(dfd);
  if (!s) fsync_path(d->parent);
  if (s && tmp) remove_tree(tmp);
  free(tmp);
  qc_atomic_dir_abort(d);
  return s;
}

void qc_atomic_dir_abort(qc_atomic_dir *d) {
  if (!d) return;
  for (size_t i = 0; i < d->n; i++) {
    if (d->files[i].fd >= 0) close(d->files[i].fd);
    if (d->files[i].tmp) unlink(d->files[i].tmp);
    free(d->files[i].tmp);
    free(d->files[i].name);
  }
  free(d->files);
  free(d->path);
  free(d->parent);
  free(d->base);
  free(d);
}
