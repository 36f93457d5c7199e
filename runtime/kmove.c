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

static bool set_string(char **slot, const char *s) { return qc_string_store(slot, s ? s : "", -1); }

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
  qc_strides(rank, src_dims, st);
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

/* Typed loop for a gathered row of 1/2/4/8-byte elements (Expand, Tile, transposes whose
 * last axis is not contiguous); false when the element size has no such loop. */
#define GATHER_ROW(T)                                                                              \
  do {                                                                                             \
    const T *s = (const T *)j->src + base;                                                         \
    T *d = (T *)j->dst + out, f = 0;                                                               \
    if (j->fill) memcpy(&f, j->fill, sizeof f);                                                    \
    for (int64_t o = 0; o < n; o++) d[o] = last[o] == QC_MAP_FILL ? f : s[last[o]];                \
  } while (0)

static bool gather_row(const mapped_job *j, int64_t out, int64_t base, const int64_t *last,
                       int64_t n) {
  switch (j->mv->str ? 0 : j->mv->esz) {
  case 1:
    GATHER_ROW(uint8_t);
    return true;
  case 2:
    GATHER_ROW(uint16_t);
    return true;
  case 4:
    GATHER_ROW(uint32_t);
    return true;
  case 8:
    GATHER_ROW(uint64_t);
    return true;
  default:
    return false;
  }
}

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
      if (v == QC_MAP_FILL)
        fill_row = true;
      else
        base += v;
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
    if (gather_row(j, out, base, last, n)) continue;
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

/* Transposing gathers (the last output axis strided in the source, another output axis p
 * contiguous there) read one element per cache line row by row; they run in square tiles
 * of the (p, last) plane instead. The other axes are "outer": each outer index is one
 * plane. */
enum { TILE = 32 };

typedef struct tiled_job {
  const qc_axis_maps *m;
  size_t esz;
  void *dst;
  const void *src;
  int32_t p; /* the axis contiguous in the source */
  int64_t out_st[QC_MAX_RANK];
  int64_t tiles_p; /* tiles along p per plane */
} tiled_job;

#define TILE_COPY(T)                                                                               \
  do {                                                                                             \
    const T *s = (const T *)j->src + sb;                                                           \
    T *d = (T *)j->dst + db;                                                                       \
    for (int64_t l = 0; l < nl; l += TILE) {                                                       \
      int64_t l1 = l + TILE < nl ? l + TILE : nl;                                                  \
      for (int64_t i = i0; i < i1; i++)                                                            \
        for (int64_t c = l; c < l1; c++) d[i * osp + c] = s[i + last[c]];                          \
    }                                                                                              \
  } while (0)

static void tiled_chunk(void *ctx, int64_t begin, int64_t end) {
  const tiled_job *j = ctx;
  const qc_axis_maps *m = j->m;
  int32_t r = m->rank, p = j->p;
  const int64_t *last = m->map[r - 1];
  int64_t np = m->dims[p], nl = m->dims[r - 1], osp = j->out_st[p];
  for (int64_t u = begin; u < end; u++) {
    int64_t plane = u / j->tiles_p, i0 = (u % j->tiles_p) * TILE;
    int64_t i1 = i0 + TILE < np ? i0 + TILE : np;
    /* Source and destination offsets of the plane: decompose over the outer axes. */
    int64_t rem = plane, sb = m->map[p][0], db = 0;
    for (int32_t d = r - 2; d >= 0; d--) {
      if (d == p) continue;
      int64_t o = rem % m->dims[d];
      rem /= m->dims[d];
      sb += m->map[d][o];
      db += o * j->out_st[d];
    }
    /* Rows i0..i1 of the plane, columns tile by tile: a TILE x TILE block touches TILE source
     * lines and TILE destination lines. */
    switch (j->esz) {
    case 1:
      TILE_COPY(uint8_t);
      break;
    case 2:
      TILE_COPY(uint16_t);
      break;
    case 4:
      TILE_COPY(uint32_t);
      break;
    default:
      TILE_COPY(uint64_t);
      break;
    }
  }
}

/* Use the tiled path when it applies: no fills, 1/2/4/8-byte elements, the last axis not
 * contiguous, and some other axis with source stride 1. */
static bool try_tiled(const qc_kctx *k, const qc_mover *mv, void *dst, const qc_axis_maps *m,
                      const void *src) {
  int32_t r = m->rank;
  if (mv->str || !(mv->esz == 1 || mv->esz == 2 || mv->esz == 4 || mv->esz == 8) || r < 2)
    return false;
  int32_t p = -1;
  for (int32_t d = 0; d < r; d++) {
    const int64_t *mp = m->map[d];
    bool unit = m->dims[d] > 1;
    for (int64_t o = 0; o < m->dims[d]; o++) {
      if (mp[o] == QC_MAP_FILL) return false;
      unit = unit && mp[o] == mp[0] + o;
    }
    if (d == r - 1 && unit) return false; /* rows are contiguous: the row path is better */
    if (unit && d < r - 1 && (p < 0 || m->dims[d] > m->dims[p])) p = d;
  }
  if (p < 0 || m->dims[r - 1] < 4) return false;
  tiled_job j = {m, mv->esz, dst, src, p, {0}, 0};
  qc_strides(r, m->dims, j.out_st);
  j.tiles_p = (m->dims[p] + TILE - 1) / TILE;
  int64_t planes = qc_shape_numel(r, m->dims) / (m->dims[p] * m->dims[r - 1]);
  int64_t units = planes * j.tiles_p;
  int64_t per_unit = TILE * m->dims[r - 1];
  qc_k_parallel_for(k, units, 65536 / per_unit + 1, tiled_chunk, &j);
  return true;
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
  int64_t rows = qc_shape_numel(m->rank - 1, m->dims);
  if (j.row_len == 0 || rows == 0) return true;
  const int64_t *last = m->map[m->rank - 1];
  for (int64_t o = 0; o < j.row_len && j.last_contig; o++)
    j.last_contig = last[o] != QC_MAP_FILL && last[o] == last[0] + o;
  if (!j.last_contig && try_tiled(k, mv, dst, m, src)) return true;
  /* Sub-byte elements share bytes between rows: only whole-byte rows may run in parallel. */
  bool parallel = !mv->str && (mv->esz || (j.row_len * qc_dtype_traits_of(mv->dt)->bits) % 8 == 0);
  if (!parallel || rows * j.row_len < 65536) return mapped_rows(&j, 0, rows);
  int64_t grain = 65536 / j.row_len + 1;
  qc_k_parallel_for(k, rows, grain, mapped_chunk, &j);
  return true;
}

/* ---- helpers --------------------------------------------------------------------------------- */

qc_status qc_k_attr_ints_or(const qc_kctx *k, const char *name, int32_t n, int64_t dflt,
                            int64_t *out) {
  int64_t got;
  QC_RETURN_IF_ERROR(qc_k_attr_ints(k, name, out, n, &got));
  if (got < 0)
    for (int32_t i = 0; i < n; i++) out[i] = dflt;
  else if (got != n)
    return qc_k_error(k, "attribute '%s' has %lld entries, expected %d", name, (long long)got, n);
  return QC_OK;
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
