/*
 * Calibration data as a stream of batches (passes/quant/qpass.h), read one batch at a time
 * so that memory stays bounded by one batch whatever the size of the data set.
 *
 * Two sources:
 *
 *   data=DIR    ONNX-test-data style tensors. Every sub-directory of DIR (in name order) is
 *               one batch; a DIR with no sub-directories is itself the only batch. A batch
 *               holds one file per graph input, found as <input name>.npy, <input name>.pb,
 *               input_<i>.npy or input_<i>.pb. Each tensor must have the graph input's
 *               dtype and rank, its static dimensions, and the same size for a symbolic
 *               dimension wherever that dimension appears in the batch; errors name the
 *               input and the file.
 *
 *   text=FILE   text through the model's tokenizer (tokenizer=...). Feeds the inputs
 *               input_ids, attention_mask (ones), token_type_ids (zeros) and position_ids
 *               (0..n-1); a graph with any other input cannot take text.
 *                 chunks  the whole text encoded without special tokens, cut into
 *                         windows of seq-len tokens (a partial last window is dropped):
 *                         decoder LMs, as Quark's and llm-compressor's calibration sets
 *                 lines   one sample per non-blank line, encoded with the special tokens
 *                         ([CLS] ... [SEP]) and cut at seq-len tokens: sentence encoders
 *                 auto    lines for graphs with an attention_mask or token_type_ids input,
 *                         else chunks
 *               Each batch is one sample: [1, n].
 *
 * Reading files and tokenizers is the frontend's job: this file calls quarc/tensor_io.h
 * and quarc/tokenizer.h, the one place where passes/ reaches into frontend/.
 */
#include "passes/quant/qpass.h"

#include "ir/internal.h"
#include "quarc/tensor_io.h"
#include "quarc/tokenizer.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

typedef enum { SRC_DIR, SRC_CHUNKS, SRC_LINES } src_kind;

struct qc_calib_stream {
  const qc_graph *g;
  src_kind kind;
  int64_t count, next;
  /* SRC_DIR: batch directories */
  char **dirs;
  int64_t n_dirs;
  /* text */
  int32_t *ids;   /* SRC_CHUNKS: the whole text; SRC_LINES: unused */
  size_t n_ids;
  int64_t seq_len;
  char *text;     /* SRC_LINES: the file, lines cut in place */
  char **lines;
  int32_t *line_no;
  int64_t n_lines;
  qc_tokenizer *tok;
  const char *text_path;
};

void qc_calib_batch_free(qc_calib_batch *b) {
  if (!b) return;
  for (int32_t i = 0; i < b->n; i++) qc_rvalue_release(&b->inputs[i]);
  free(b->inputs);
  free(b->label);
  memset(b, 0, sizeof *b);
}

void qc_calib_close(qc_calib_stream *s) {
  if (!s) return;
  for (int64_t i = 0; i < s->n_dirs; i++) free(s->dirs[i]);
  free(s->dirs);
  free(s->ids);
  free(s->text);
  free(s->lines);
  free(s->line_no);
  qc_tokenizer_free(s->tok);
  free(s);
}

int64_t qc_calib_count(const qc_calib_stream *s) { return s->count; }

static bool has_input(const qc_graph *g, const char *name) {
  for (int32_t i = 0; i < qc_graph_num_inputs(g); i++)
    if (strcmp(qc_graph_value(g, qc_graph_input(g, i))->name, name) == 0) return true;
  return false;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static char *path_join(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", a, b);
  return p;
}

static qc_status open_dir(qc_calib_stream *s, const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return qc_status_new(errno == ENOENT ? QC_CODE_NOT_FOUND : QC_CODE_IO,
                         "calibration data '%s': %s", dir, strerror(errno));
  int64_t cap = 0;
  bool files = false;
  qc_status st = QC_OK;
  struct dirent *e;
  while (!st && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char *p = path_join(dir, e->d_name);
    if (!p) {
      st = QC_OOM();
      break;
    }
    if (!is_dir(p)) {
      files = files || is_file(p);
      free(p);
      continue;
    }
    if (s->n_dirs == cap) {
      cap = cap ? cap * 2 : 16;
      char **nd = realloc(s->dirs, sizeof *nd * (size_t)cap);
      if (!nd) {
        free(p);
        st = QC_OOM();
        break;
      }
      s->dirs = nd;
    }
    s->dirs[s->n_dirs++] = p;
  }
  closedir(d);
  if (st) return st;
  if (s->n_dirs == 0) {
    if (!files)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "calibration data '%s': the directory is empty",
                           dir);
    s->dirs = malloc(sizeof *s->dirs);
    if (!s->dirs || !(s->dirs[0] = strdup(dir))) return QC_OOM();
    s->n_dirs = 1;
  }
  qsort(s->dirs, (size_t)s->n_dirs, sizeof *s->dirs, cmp_str);
  s->count = s->n_dirs;
  return QC_OK;
}

static const char *const TEXT_INPUTS[] = {"input_ids", "attention_mask", "token_type_ids",
                                          "position_ids"};

static qc_status open_text(qc_calib_stream *s, const qc_calib_options *o) {
  const qc_graph *g = s->g;
  for (int32_t i = 0; i < qc_graph_num_inputs(g); i++) {
    const char *name = qc_graph_value(g, qc_graph_input(g, i))->name;
    bool known = false;
    for (size_t k = 0; k < sizeof TEXT_INPUTS / sizeof *TEXT_INPUTS; k++)
      known = known || strcmp(name, TEXT_INPUTS[k]) == 0;
    if (!known)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                           "calibration text '%s': the graph input '%s' cannot be fed from text "
                           "(text feeds input_ids, attention_mask, token_type_ids, position_ids); "
                           "give data=DIR instead",
                           o->text, name);
  }
  if (!has_input(g, "input_ids"))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "calibration text '%s': the graph has no input 'input_ids'", o->text);
  if (!o->tokenizer || !*o->tokenizer)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "calibration text '%s' needs a tokenizer (tokenizer=PATH)", o->text);
  QC_RETURN_IF_ERROR(qc_tokenizer_load(o->tokenizer, &s->tok));
  const char *mode = o->text_mode && *o->text_mode ? o->text_mode : "auto";
  if (strcmp(mode, "auto") == 0)
    mode = has_input(g, "attention_mask") || has_input(g, "token_type_ids") ? "lines" : "chunks";
  size_t len = 0;
  QC_RETURN_IF_ERROR(qc_read_file(o->text, &s->text, &len));
  s->text_path = o->text;
  s->seq_len = o->seq_len;
  if (strcmp(mode, "chunks") == 0) {
    s->kind = SRC_CHUNKS;
    if (s->seq_len <= 0)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                           "calibration text '%s': chunks need seq-len > 0", o->text);
    QC_RETURN_IF_ERROR(qc_status_wrap(qc_tokenizer_encode(s->tok, s->text, len, false, &s->ids,
                                                          &s->n_ids),
                                      "calibration text '%s'", o->text));
    s->count = (int64_t)(s->n_ids / (size_t)s->seq_len);
    if (s->count == 0)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                           "calibration text '%s': %zu tokens, fewer than one window of %lld",
                           o->text, s->n_ids, (long long)s->seq_len);
  } else if (strcmp(mode, "lines") == 0) {
    s->kind = SRC_LINES;
    int64_t cap = 0, no = 0;
    for (char *p = s->text; p && *p;) {
      char *nl = strchr(p, '\n');
      if (nl) *nl = 0;
      no++;
      bool blank = true;
      for (char *c = p; *c && blank; c++) blank = *c == ' ' || *c == '\t' || *c == '\r';
      if (!blank) {
        if (s->n_lines == cap) {
          cap = cap ? cap * 2 : 256;
          char **nl2 = realloc(s->lines, sizeof *nl2 * (size_t)cap);
          int32_t *nn = realloc(s->line_no, sizeof *nn * (size_t)cap);
          if (nl2) s->lines = nl2;
          if (nn) s->line_no = nn;
          if (!nl2 || !nn) return QC_OOM();
        }
        s->lines[s->n_lines] = p;
        s->line_no[s->n_lines++] = (int32_t)no;
      }
      p = nl ? nl + 1 : NULL;
    }
    s->count = s->n_lines;
    if (s->count == 0)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "calibration text '%s' has no text", o->text);
  } else {
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "calibration text mode '%s' is not one of auto, lines, chunks", mode);
  }
  return QC_OK;
}

qc_status qc_calib_open(const qc_graph *g, const qc_calib_options *o, qc_calib_stream **out) {
  *out = NULL;
  bool has_data = o->data && *o->data, has_text = o->text && *o->text;
  if (has_data == has_text)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         has_data ? "give calibration data or text, not both"
                                  : "no calibration data: give data=DIR or text=FILE");
  qc_calib_stream *s = calloc(1, sizeof *s);
  if (!s) return QC_OOM();
  s->g = g;
  s->kind = SRC_DIR;
  qc_status st = has_data ? open_dir(s, o->data) : open_text(s, o);
  if (st) {
    qc_calib_close(s);
    return st;
  }
  if (o->batches > 0 && o->batches < s->count) s->count = o->batches;
  *out = s;
  return QC_OK;
}

/* ---- batches ----------------------------------------------------------------------------- */

typedef struct binding {
  int64_t sym, size;
  int32_t input;
} binding;

/* Check a tensor read from `file` against graph input i; bindings of symbolic dims are
 * shared across the inputs of one batch. */
static qc_status check_input(const qc_graph *g, int32_t i, const char *file, const qc_tensor *t,
                             binding *b, int *nb) {
  const qc_value *in = qc_graph_value(g, qc_graph_input(g, i));
  const qc_type *ty = &in->type;
  char want[256], got[256];
  qc_type tt = qc_type_tensor(t->dtype, t->rank, t->dims);
  qc_type_format(g, ty, want, sizeof want);
  qc_type_format(g, &tt, got, sizeof got);
  if (ty->kind != QC_TYPE_TENSOR)
    return qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "calibration input '%s' (%s): the graph input is not a tensor", in->name,
                         file);
  if (ty->dtype && ty->dtype != t->dtype)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "calibration input '%s' (%s): dtype %s, but the graph input is %s",
                         in->name, file, qc_dtype_name(t->dtype), want);
  bool ok = ty->rank < 0 || ty->rank == t->rank;
  for (int32_t d = 0; ok && ty->rank >= 0 && d < ty->rank; d++) {
    int64_t dim = ty->dims[d];
    if (dim >= 0) {
      ok = dim == t->dims[d];
      continue;
    }
    if (dim == QC_DIM_UNKNOWN) continue;
    int k = 0;
    while (k < *nb && b[k].sym != dim) k++;
    if (k == *nb) {
      if (*nb < 64) b[(*nb)++] = (binding){dim, t->dims[d], i};
    } else if (b[k].size != t->dims[d]) {
      return qc_status_new(
          QC_CODE_INVALID_ARGUMENT,
          "calibration input '%s' (%s): shape %s, but dimension '%s' is %lld in input '%s'",
          in->name, file, got, qc_graph_sym_name(g, dim), (long long)b[k].size,
          qc_graph_value(g, qc_graph_input(g, b[k].input))->name);
    }
  }
  if (!ok)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "calibration input '%s' (%s): shape %s, but the graph input is %s",
                         in->name, file, got, want);
  return QC_OK;
}

static qc_status next_dir(qc_calib_stream *s, qc_calib_batch *b) {
  const qc_graph *g = s->g;
  const char *dir = s->dirs[s->next];
  binding bind[64];
  int nb = 0;
  b->label = strdup(dir);
  if (!b->label) return QC_OOM();
  for (int32_t i = 0; i < b->n; i++) {
    const char *name = qc_graph_value(g, qc_graph_input(g, i))->name;
    char cand[4][512];
    snprintf(cand[0], sizeof cand[0], "%s/%s.npy", dir, name);
    snprintf(cand[1], sizeof cand[1], "%s/%s.pb", dir, name);
    snprintf(cand[2], sizeof cand[2], "%s/input_%d.npy", dir, i);
    snprintf(cand[3], sizeof cand[3], "%s/input_%d.pb", dir, i);
    int k = 0;
    while (k < 4 && !is_file(cand[k])) k++;
    if (k == 4)
      return qc_status_new(QC_CODE_NOT_FOUND,
                           "calibration batch '%s': no file for graph input '%s' (looked for "
                           "%s.npy, %s.pb, input_%d.npy, input_%d.pb)",
                           dir, name, name, name, i, i);
    qc_data_value v;
    QC_RETURN_IF_ERROR(qc_status_wrap(qc_value_read_file(cand[k], QC_TYPE_TENSOR, &v),
                                      "calibration input '%s'", name));
    qc_status st = check_input(g, i, cand[k], &v.tensor, bind, &nb);
    if (!st) b->inputs[i] = qc_rvalue_tensor(&v.tensor);
    qc_data_value_release(&v);
    if (st) return st;
  }
  return QC_OK;
}

/* A [1, n] tensor of graph input i's dtype filled by fill(j). */
static qc_status text_tensor(const qc_graph *g, int32_t i, int64_t n, const int32_t *ids,
                             int kind, qc_rvalue *out) {
  const qc_value *in = qc_graph_value(g, qc_graph_input(g, i));
  qc_dtype dt = in->type.dtype ? in->type.dtype : QC_I64;
  if (!qc_dtype_is_int(dt))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "graph input '%s' is %s: text feeds integer inputs only", in->name,
                         qc_dtype_name(dt));
  int64_t dims[2] = {1, n};
  qc_tensor t;
  QC_RETURN_IF_ERROR(qc_tensor_alloc(&t, NULL, dt, 2, dims));
  for (int64_t j = 0; j < n; j++) {
    int64_t v = kind == 0 ? ids[j] : kind == 1 ? 1 : kind == 2 ? 0 : j;
    qc_elem_set_i64(dt, qc_tensor_data(&t), (size_t)j, v);
  }
  *out = qc_rvalue_tensor(&t);
  qc_tensor_release(&t);
  return QC_OK;
}

static qc_status next_text(qc_calib_stream *s, qc_calib_batch *b) {
  const qc_graph *g = s->g;
  const int32_t *ids;
  int64_t n;
  int32_t *line_ids = NULL;
  char label[64];
  if (s->kind == SRC_CHUNKS) {
    ids = s->ids + (size_t)(s->next * s->seq_len);
    n = s->seq_len;
    snprintf(label, sizeof label, "tokens %lld..%lld", (long long)(s->next * s->seq_len),
             (long long)((s->next + 1) * s->seq_len));
  } else {
    const char *line = s->lines[s->next];
    size_t cnt;
    QC_RETURN_IF_ERROR(qc_status_wrap(qc_tokenizer_encode(s->tok, line, strlen(line), true,
                                                          &line_ids, &cnt),
                                      "%s:%d", s->text_path, s->line_no[s->next]));
    ids = line_ids;
    n = (int64_t)cnt;
    if (s->seq_len > 0 && n > s->seq_len) n = s->seq_len;
    snprintf(label, sizeof label, "line %d", s->line_no[s->next]);
  }
  size_t ll = strlen(s->text_path) + strlen(label) + 4;
  b->label = malloc(ll);
  qc_status st = b->label ? QC_OK : QC_OOM();
  if (b->label) snprintf(b->label, ll, "%s: %s", s->text_path, label);
  for (int32_t i = 0; i < b->n && !st; i++) {
    const char *name = qc_graph_value(g, qc_graph_input(g, i))->name;
    int kind = 0;
    for (int k = 0; k < 4; k++)
      if (strcmp(name, TEXT_INPUTS[k]) == 0) kind = k;
    st = text_tensor(g, i, n, ids, kind, &b->inputs[i]);
  }
  free(line_ids);
  return st;
}

qc_status qc_calib_next(qc_calib_stream *s, qc_calib_batch *b, bool *done) {
  *done = s->next >= s->count;
  if (*done) return QC_OK;
  memset(b, 0, sizeof *b);
  b->n = qc_graph_num_inputs(s->g);
  b->inputs = calloc((size_t)(b->n ? b->n : 1), sizeof *b->inputs);
  if (!b->inputs) return QC_OOM();
  qc_status st = s->kind == SRC_DIR ? next_dir(s, b) : next_text(s, b);
  if (st) qc_calib_batch_free(b);
  else s->next++;
  return st;
}
