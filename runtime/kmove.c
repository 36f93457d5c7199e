/* Element movement for the data-movement kernels (see kmove.h). */
#include "runtime/kmove.h"

#include <math.h>
#include <stdlib.h>

qc_status qc_mover_init(const qc_kctx *k, qc_mover *m, qc_dtype dt) {
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  memset(m, 0, sizeof *m);
  m->dt = dt;
  if (dt == QC_DT_UNDEFINED || t->block_elems > 1)
    return qc_k_error(k, "cannot move elements of dtype %s one by one", t->name);
  m->str = dt == QC_STRING;
  m->esz = m->str ? sizeof(char *) : (t->bits % 8 == 0 ? t->bits / 8u : 0);
  return QC_OK;
}

static bool set_string(char **slot, const char *s) {
  char *d = strdup(s ? s : "");
  if (!d) return false;
  free(*slot);
  *slot = d;
  return true;
}

bool qc_move(const qc_mover *m, void *dst, int64_t j, const void *src, int64_t i, int64_t n) {
  if (n <= 0) return true;
  if (m->str) {
    char **d = (char **)dst + j;
    char *const *s = (char *const *)src + i;
    for (int64_t k = 0; k < n; k++)
      if (!set_string(&d[k], s[k])) return false;
    return true;
  }
  if (m->esz) {
    memcpy((char *)dst + (size_t)j * m->esz, (const char *)src + (size_t)i * m->esz,
           (size_t)n * m->esz);
    return true;
  }
  for (int64_t k = 0; k < n; k++)
    qc_elem_set_code(m->dt, dst, (size_t)(j + k), qc_elem_code(m->dt, src, (size_t)(i + k)));
  return true;
}

bool qc_move_fill(const qc_mover *m, void *dst, int64_t j, const void *elem, int64_t n) {
  if (n <= 0) return true;
  if (m->str) {
    char **d = (char **)dst + j;
    const char *s = *(char *const *)elem;
    for (int64_t k = 0; k < n; k++)
      if (!set_string(&d[k], s)) return false;
    return true;
  }
  if (m->esz) {
    char *d = (char *)dst + (size_t)j * m->esz;
    bool zero = true;
    for (size_t b = 0; b < m->esz; b++) zero = zero && ((const char *)elem)[b] == 0;
    if (zero) {
      memset(d, 0, (size_t)n * m->esz);
      return true;
    }
    for (int64_t k = 0; k < n; k++) memcpy(d + (size_t)k * m->esz, elem, m->esz);
    return true;
  }
  uint64_t c = qc_elem_code(m->dt, elem, 0);
  for (int64_t k = 0; k < n; k++) qc_elem_set_code(m->dt, dst, (size_t)(j + k), c);
  return true;
}

bool qc_move_blocks(const qc_mover *m, void *dst, int64_t dst_off, int64_t dst_stride,
                    const void *src, int64_t src_off, int64_t src_stride, int64_t block,
                    int64_t count) {
  for (int64_t b = 0; b < count; b++)
    if (!qc_move(m, dst, dst_off + b * dst_stride, src, src_off + b * src_stride, block))
      return false;
  return true;
}

/* ---- mapped gather --------------------------------------------------------------------------- */

bool qc_maps_init(qc_axis_maps *m, int32_t rank, const int64_t *dims) {
  memset(m, 0, sizeof *m);
  m->rank = rank;
  int64_t total = 1;
  for (int32_t d = 0; d < rank; d++) {
    m->dims[d] = dims[d];
    total += dims[d];
  }
  m->block = malloc(sizeof(int64_t) * (size_t)total);
  if (!m->block) return false;
  int64_t off = 0;
  for (int32_t d = 0; d < rank; d++) {
    m->map[d] = m->block + off;
    off += dims[d];
  }
  return true;
}

void qc_maps_free(qc_axis_maps *m) {
  free(m->block);
  memset(m, 0, sizeof *m);
}

bool qc_maps_transpose(qc_axis_maps *m, int32_t rank, const int64_t *src_dims,
                       const int64_t *perm) {
  int64_t st[QC_MAX_RANK], od[QC_MAX_RANK];
  qc_strides_of(rank, src_dims, st);
  for (int32_t d = 0; d < rank; d++) od[d] = src_dims[perm ? perm[d] : d];
  if (!qc_maps_init(m, rank, od)) return false;
  for (int32_t d = 0; d < rank; d++) {
    int64_t s = st[perm ? perm[d] : d];
    for (int64_t o = 0; o < od[d]; o++) m->map[d][o] = o * s;
  }
  return true;
}

typedef struct mapped_job {
  const qc_mover *mv;
  void *dst;
  const qc_axis_maps *m;
  const void *src;
  const void *fill;
  int64_t row_len;  /* output elements per row (last dim) */
  bool last_contig; /* last map is map[0] + o, without fills */
  bool ok;
} mapped_job;

static bool mapped_rows(mapped_job *j, int64_t begin, int64_t end) {
  const qc_axis_maps *m = j->m;
  int32_t r = m->rank;
  int64_t n = j->row_len;
  const int64_t *last = m->map[r - 1];
  for (int64_t row = begin; row < end; row++) {
    /* Decompose the row index over the leading axes. */
    int64_t rem = row, base = 0;
    bool fill_row = false;
    for (int32_t d = r - 2; d >= 0; d--) {
      int64_t o = rem % m->dims[d];
      rem /= m->dims[d];
      int64_t v = m->map[d][o];
      if (v == QC_MAP_FILL) fill_row = true;
      else base += v;
    }
    int64_t out = row * n;
    if (fill_row) {
      if (j->fill && !qc_move_fill(j->mv, j->dst, out, j->fill, n)) return false;
      continue;
    }
    if (j->last_contig) {
      if (!qc_move(j->mv, j->dst, out, j->src, base + last[0], n)) return false;
      continue;
    }
    for (int64_t o = 0; o < n; o++) {
      if (last[o] == QC_MAP_FILL) {
        if (j->fill && !qc_move_fill(j->mv, j->dst, out + o, j->fill, 1)) return false;
      } else if (!qc_move(j->mv, j->dst, out + o, j->src, base + last[o], 1)) {
        return false;
      }
    }
  }
  return true;
}

static void mapped_chunk(void *ctx, int64_t begin, int64_t end) {
  mapped_job *j = ctx;
  (void)mapped_rows(j, begin, end); /* only string moves fail, and those run serially */
}

bool qc_move_mapped(const qc_kctx *k, const qc_mover *mv, void *dst, const qc_axis_maps *m,
                    const void *src, const void *fill) {
  int64_t zero = 0;
  qc_axis_maps scalar;
  if (m->rank == 0) { /* one element */
    memset(&scalar, 0, sizeof scalar);
    scalar.rank = 1;
    scalar.dims[0] = 1;
    scalar.map[0] = &zero;
    m = &scalar;
  }
  mapped_job j = {mv, dst, m, src, fill, m->dims[m->rank - 1], true, true};
  int64_t rows = qc_dims_prod(m->dims, 0, m->rank - 1);
  if (j.row_len == 0 || rows == 0) return true;
  const int64_t *last = m->map[m->rank - 1];
  for (int64_t o = 0; o < j.row_len && j.last_contig; o++)
    j.last_contig = last[o] != QC_MAP_FILL && last[o] == last[0] + o;
  /* Sub-byte elements share bytes between rows: only whole-byte rows may run in parallel. */
  bool parallel = !mv->str && (mv->esz || (j.row_len * qc_dtype_traits_of(mv->dt)->bits) % 8 == 0);
  if (!parallel || rows * j.row_len < 65536) return mapped_rows(&j, 0, rows);
  int64_t grain = 65536 / j.row_len + 1;
  qc_k_parallel_for(k, rows, grain, mapped_chunk, &j);
  return true;
}

/* ---- helpers ----------------------------------------------------------------------------------- */

void qc_strides_of(int32_t rank, const int64_t *dims, int64_t *strides) {
  int64_t s = 1;
  for (int32_t d = rank - 1; d >= 0; d--) {
    strides[d] = s;
    s *= dims[d];
  }
}

int64_t qc_dims_prod(const int64_t *dims, int32_t a, int32_t b) {
  int64_t p = 1;
  for (int32_t d = a; d < b; d++) p *= dims[d];
  return p;
}


int qc_elem_compare(qc_dtype dt, const void *a, int64_t i, const void *b, int64_t j) {
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  switch (t->kind) {
  case QC_KIND_STRING: {
    const char *x = ((char *const *)a)[i], *y = ((char *const *)b)[j];
    int c = strcmp(x ? x : "", y ? y : "");
    return (c > 0) - (c < 0);
  }
  case QC_KIND_INT:
  case QC_KIND_BOOL:
    if (!t->is_signed) {
      uint64_t x = qc_elem_code(dt, a, (size_t)i), y = qc_elem_code(dt, b, (size_t)j);
      return (x > y) - (x < y);
    } else {
      int64_t x = qc_elem_i64(dt, a, (size_t)i), y = qc_elem_i64(dt, b, (size_t)j);
      return (x > y) - (x < y);
    }
  default: {
    double x = qc_elem_f64(dt, a, (size_t)i), y = qc_elem_f64(dt, b, (size_t)j);
    bool nx = isnan(x), ny = isnan(y);
    if (nx || ny) return nx - ny; /* NaN sorts last */
    return (x > y) - (x < y);
  }
  }
}

bool qc_sort_stable(int64_t *idx, int64_t n, int (*cmp)(void *ctx, int64_t x, int64_t y),
                    void *ctx) {
  if (n < 2) return true;
  int64_t *tmp = malloc(sizeof(int64_t) * (size_t)n);
  if (!tmp) return false;
  /* Bottom-up merge sort: insertion-sorted runs of 16, then merges. */
  const int64_t run = 16;
  for (int64_t s = 0; s < n; s += run) {
    int64_t e = s + run < n ? s + run : n;
    for (int64_t i = s + 1; i < e; i++) {
      int64_t v = idx[i], j = i;
      while (j > s && cmp(ctx, idx[j - 1], v) > 0) {
        idx[j] = idx[j - 1];
        j--;
      }
      idx[j] = v;
    }
  }
  int64_t *a = idx, *b = tmp;
  for (int64_t w = run; w < n; w *= 2) {
    for (int64_t s = 0; s < n; s += 2 * w) {
      int64_t m = s + w < n ? s + w : n, e = s + 2 * w < n ? s + 2 * w : n;
      int64_t i = s, j = m, o = s;
      while (i < m && j < e) b[o++] = cmp(ctx, a[j], a[i]) < 0 ? a[j++] : a[i++];
      while (i < m) b[o++] = a[i++];
      while (j < e) b[o++] = a[j++];
    }
    int64_t *t = a;
    a = b;
    b = t;
  }
  if (a != idx) memcpy(idx, a, sizeof(int64_t) * (size_t)n);
  free(tmp);
  return true;
}
