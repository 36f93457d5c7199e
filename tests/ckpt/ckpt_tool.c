/*
 * ckpt_tool — a small driver of quarc's checkpoint readers and writers for the Python peer
 * tests (tests/python/test_{safetensors,gguf,pth}_*.py). Every command reads with quarc and
 * writes with quarc, so a peer library (safetensors, gguf-py, pickle/zipfile) can check each
 * side. On failure it prints "error: <message>" to stdout and exits 1.
 *
 *   ckpt_tool st-check PATH             open a file, index or directory; print "ok N"
 *   ckpt_tool st-copy IN OUT            read IN (file/index/dir), write OUT (one file)
 *   ckpt_tool st-shard IN DIR BYTES     read IN, write a sharded checkpoint into DIR
 *   ckpt_tool gguf-check PATH           open a GGUF; print "ok <n_kv> <n_tensors>"
 *   ckpt_tool gguf-copy IN OUT          read a GGUF, write every key and tensor to OUT
 *   ckpt_tool gguf-to-st IN OUT         dequantize every GGUF tensor to F32 into a safetensors file
 *   ckpt_tool gguf-demo OUT             write a GGUF with every metadata type and every tensor
 *                                       type quarc can produce (see demo_gguf)
 *   ckpt_tool pth-check PATH            open a .pth; print "ok N"
 *   ckpt_tool pth-to-st IN OUT          read a .pth, write its tensors as safetensors
 *   ckpt_tool st-to-pth IN OUT [zip64]  read safetensors, write a .pth (zip64 records forced)
 */
#include "quarc/gguf.h"
#include "quarc/pth.h"
#include "quarc/safetensors.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(qc_status s) {
  printf("error: %s\n", qc_status_message(s));
  qc_status_free(s);
  return 1;
}

/* A growable list of named tensors. */
typedef struct tlist {
  char **names;
  qc_tensor *ts;
  size_t n, cap;
} tlist;

static void tl_add(tlist *l, const char *name, qc_tensor *t) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 16;
    l->names = realloc(l->names, l->cap * sizeof *l->names);
    l->ts = realloc(l->ts, l->cap * sizeof *l->ts);
    if (!l->names || !l->ts) abort();
  }
  l->names[l->n] = strdup(name);
  l->ts[l->n++] = *t; /* takes the reference */
}

static void tl_free(tlist *l) {
  for (size_t i = 0; i < l->n; i++) {
    free(l->names[i]);
    qc_tensor_release(&l->ts[i]);
  }
  free(l->names);
  free(l->ts);
}

/* ---- safetensors ------------------------------------------------------------------------------ */

static qc_status load_st(const char *path, tlist *l, qc_safetensors_set **set_out) {
  qc_safetensors_set *set;
  QC_RETURN_IF_ERROR(qc_safetensors_set_open(path, &set));
  for (int64_t i = 0; i < qc_safetensors_set_count(set); i++) {
    qc_tensor t;
    qc_status s = qc_safetensors_set_tensor(set, i, &t);
    if (s) {
      qc_safetensors_set_close(set);
      return s;
    }
    tl_add(l, qc_safetensors_set_entry_at(set, i, NULL)->name, &t);
  }
  *set_out = set;
  return QC_OK;
}

static void st_meta(const qc_safetensors_set *set, qc_safetensors_write_options *opt) {
  const qc_safetensors *sh = qc_safetensors_set_shard(set, 0);
  int64_t n = sh ? qc_safetensors_metadata_count(sh) : 0;
  const char **k = calloc((size_t)n + 1, sizeof *k), **v = calloc((size_t)n + 1, sizeof *v);
  for (int64_t i = 0; i < n; i++) qc_safetensors_metadata_at(sh, i, &k[i], &v[i]);
  opt->metadata_keys = k;
  opt->metadata_values = v;
  opt->n_metadata = (size_t)n;
}

static int cmd_st(int argc, char **argv) {
  const char *cmd = argv[1];
  tlist l = {0};
  qc_safetensors_set *set = NULL;
  qc_status s = load_st(argv[2], &l, &set);
  if (s) return fail(s);
  if (strcmp(cmd, "st-check") == 0) {
    printf("ok %zu\n", l.n);
  } else {
    qc_safetensors_write_options opt = {0};
    st_meta(set, &opt);
    if (strcmp(cmd, "st-copy") == 0 && argc == 4) {
      s = qc_safetensors_write(argv[3], (const char *const *)l.names, l.ts, l.n, &opt);
    } else if (strcmp(cmd, "st-shard") == 0 && argc == 5) {
      opt.max_shard_size = strtoull(argv[4], NULL, 10);
      int32_t n;
      s = qc_safetensors_write_sharded(argv[3], (const char *const *)l.names, l.ts, l.n, &opt, &n);
      if (!s) printf("shards %d\n", n);
    } else if (strcmp(cmd, "st-to-pth") == 0 && (argc == 4 || (argc == 5 && strcmp(argv[4], "zip64") == 0))) {
      qc_pth_write_options po = {NULL, argc == 5};
      s = qc_pth_write_opts(argv[3], (const char *const *)l.names, l.ts, l.n, &po);
    } else {
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "bad arguments for %s", cmd);
    }
    free((void *)opt.metadata_keys);
    free((void *)opt.metadata_values);
  }
  tl_free(&l);
  qc_safetensors_set_close(set);
  return s ? fail(s) : 0;
}

/* ---- GGUF -------------------------------------------------------------------------------------- */

static int cmd_gguf_check(const char *path) {
  qc_gguf *g;
  qc_status s = qc_gguf_open(path, &g);
  if (s) return fail(s);
  printf("ok %" PRId64 " %" PRId64 "\n", qc_gguf_kv_count(g), qc_gguf_tensor_count(g));
  qc_gguf_close(g);
  return 0;
}

static int cmd_gguf_copy(const char *in, const char *out) {
  qc_gguf *g;
  qc_status s = qc_gguf_open(in, &g);
  if (s) return fail(s);
  qc_gguf_writer *w;
  s = qc_gguf_writer_create(&w);
  for (int64_t i = 0; i < qc_gguf_kv_count(g) && !s; i++)
    s = qc_gguf_writer_set(w, qc_gguf_kv_key(g, i), qc_gguf_kv_value(g, i));
  for (int64_t i = 0; i < qc_gguf_tensor_count(g) && !s; i++) {
    const qc_gguf_tensor_info *ti = qc_gguf_tensor_info_at(g, i);
    qc_tensor t;
    if (ti->dtype != QC_DT_UNDEFINED) {
      s = qc_gguf_tensor(g, i, &t);
      if (!s) s = qc_gguf_writer_add_tensor(w, ti->name, &t);
      qc_tensor_release(&t);
    } else {
      /* a type quarc cannot compute on: copy its bytes */
      qc_buffer *file;
      s = qc_buffer_map_file(in, &file);
      if (!s) s = qc_gguf_writer_add_raw(w, ti->name, ti->ggml_type, ti->n_dims, ti->ne, file,
                                         (size_t)(qc_gguf_data_offset(g) + ti->offset));
      qc_buffer_release(file);
    }
  }
  if (!s) s = qc_gguf_writer_write(w, out);
  qc_gguf_writer_free(w);
  qc_gguf_close(g);
  return s ? fail(s) : 0;
}

/* A tensor's values as F32, same shape. */
static qc_status to_f32(const qc_tensor *t, qc_tensor *out) {
  QC_RETURN_IF_ERROR(qc_tensor_alloc(out, NULL, QC_F32, t->rank, t->dims));
  size_t n = (size_t)qc_tensor_numel(t);
  if (qc_dtype_is_block(t->dtype)) qc_block_dequantize(t->dtype, qc_tensor_data(t), qc_tensor_data(out), n);
  else qc_convert_to_f32(t->dtype, qc_tensor_data(t), qc_tensor_data(out), n);
  return QC_OK;
}

static int cmd_gguf_to_st(const char *in, const char *out) {
  qc_gguf *g;
  qc_status s = qc_gguf_open(in, &g);
  if (s) return fail(s);
  tlist l = {0};
  for (int64_t i = 0; i < qc_gguf_tensor_count(g) && !s; i++) {
    const qc_gguf_tensor_info *ti = qc_gguf_tensor_info_at(g, i);
    if (ti->dtype == QC_DT_UNDEFINED) {
      fprintf(stderr, "skipping %s (%s)\n", ti->name, qc_ggml_type_name(ti->ggml_type));
      continue;
    }
    qc_tensor t, f;
    s = qc_gguf_tensor(g, i, &t);
    if (!s) s = to_f32(&t, &f);
    qc_tensor_release(&t);
    if (!s) tl_add(&l, ti->name, &f);
  }
  if (!s) s = qc_safetensors_write(out, (const char *const *)l.names, l.ts, l.n, NULL);
  tl_free(&l);
  qc_gguf_close(g);
  return s ? fail(s) : 0;
}

/* The deterministic source values of demo tensor k (also recomputed by the Python test):
 * x[i] = sin(0.37 * i + k) * (1 + (i % 7)). */
static float demo_value(int k, int64_t i) { return (float)(sin(0.37 * (double)i + k) * (1.0 + (double)(i % 7))); }

static int cmd_gguf_demo(const char *out) {
  qc_gguf_writer *w;
  qc_status s = qc_gguf_writer_create(&w);
  if (s) return fail(s);
  uint8_t u8 = 200;
  int8_t i8 = -100;
  uint16_t u16 = 60000;
  int16_t i16 = -30000;
  uint32_t u32 = 4000000000u;
  int32_t i32 = -2000000000;
  float f32 = 3.25f;
  uint8_t b = 1;
  uint64_t u64 = 18000000000000000000ull;
  int64_t i64 = -9000000000000000000ll;
  double f64 = -2.5e300;
  const struct {
    const char *key;
    qc_gguf_type t;
    const void *p;
  } scalars[] = {{"demo.u8", QC_GGUF_UINT8, &u8},    {"demo.i8", QC_GGUF_INT8, &i8},
                 {"demo.u16", QC_GGUF_UINT16, &u16}, {"demo.i16", QC_GGUF_INT16, &i16},
                 {"demo.u32", QC_GGUF_UINT32, &u32}, {"demo.i32", QC_GGUF_INT32, &i32},
                 {"demo.f32", QC_GGUF_FLOAT32, &f32}, {"demo.bool", QC_GGUF_BOOL, &b},
                 {"demo.u64", QC_GGUF_UINT64, &u64}, {"demo.i64", QC_GGUF_INT64, &i64},
                 {"demo.f64", QC_GGUF_FLOAT64, &f64}};
  s = qc_gguf_writer_set_string(w, "general.architecture", "demo");
  if (!s) s = qc_gguf_writer_set_string(w, "general.name", "quarc demo \xc3\xa9\xe2\x82\xac");
  for (size_t i = 0; i < sizeof scalars / sizeof *scalars && !s; i++) {
    /* a scalar and a 3-element array of each fixed-size type, from host values */
    uint8_t arr[3 * 8];
    size_t es = scalars[i].t == QC_GGUF_UINT8 || scalars[i].t == QC_GGUF_INT8 || scalars[i].t == QC_GGUF_BOOL ? 1
                : scalars[i].t == QC_GGUF_UINT16 || scalars[i].t == QC_GGUF_INT16                              ? 2
                : scalars[i].t == QC_GGUF_UINT64 || scalars[i].t == QC_GGUF_INT64 ||
                        scalars[i].t == QC_GGUF_FLOAT64
                    ? 8
                    : 4;
    for (int k = 0; k < 3; k++) memcpy(arr + k * es, scalars[i].p, es);
    if (scalars[i].t == QC_GGUF_BOOL) arr[1] = 0;
    s = qc_gguf_writer_set_array(w, scalars[i].key, scalars[i].t, arr, 1);
    if (!s) {
      /* re-set as a scalar: the key keeps its position */
      uint8_t le[8];
      memcpy(le, scalars[i].p, es);
      qc_gguf_value v = {scalars[i].t, 0, 0, le, NULL};
      s = qc_gguf_writer_set(w, scalars[i].key, &v);
    }
    char akey[64];
    snprintf(akey, sizeof akey, "%s_array", scalars[i].key);
    if (!s) s = qc_gguf_writer_set_array(w, akey, scalars[i].t, arr, 3);
  }
  const char *strs[] = {"alpha", "", "\xe6\x97\xa5\xe6\x9c\xac", "with\nnewline"};
  if (!s) s = qc_gguf_writer_set_strings(w, "demo.strings", strs, 4);
  if (!s) s = qc_gguf_writer_set_array(w, "demo.empty", QC_GGUF_INT32, NULL, 0);
  if (!s) {
    /* nested: [[1, 2], [], [3]] of i32 and [["a"], ["b", "c"]] of strings */
    int32_t a1[2] = {1, 2}, a3[1] = {3};
    uint8_t le1[8], le3[4];
    for (int k = 0; k < 2; k++) memcpy(le1 + 4 * k, &a1[k], 4);
    memcpy(le3, a3, 4);
    qc_gguf_value inner[3] = {{QC_GGUF_ARRAY, QC_GGUF_INT32, 2, le1, NULL},
                              {QC_GGUF_ARRAY, QC_GGUF_INT32, 0, NULL, NULL},
                              {QC_GGUF_ARRAY, QC_GGUF_INT32, 1, le3, NULL}};
    qc_gguf_value outer = {QC_GGUF_ARRAY, QC_GGUF_ARRAY, 3, NULL, inner};
    s = qc_gguf_writer_set(w, "demo.nested_ints", &outer);
    qc_gguf_value sa = {QC_GGUF_STRING, 0, 1, "a", NULL}, sb = {QC_GGUF_STRING, 0, 1, "b", NULL},
                  sc = {QC_GGUF_STRING, 0, 1, "c", NULL};
    qc_gguf_value l0[1] = {sa}, l1[2] = {sb, sc};
    qc_gguf_value in2[2] = {{QC_GGUF_ARRAY, QC_GGUF_STRING, 1, NULL, l0}, {QC_GGUF_ARRAY, QC_GGUF_STRING, 2, NULL, l1}};
    qc_gguf_value out2 = {QC_GGUF_ARRAY, QC_GGUF_ARRAY, 2, NULL, in2};
    if (!s) s = qc_gguf_writer_set(w, "demo.nested_strings", &out2);
  }
  /* Tensors: every dtype with a ggml type that quarc can produce from floats. Q8_1 is left
   * out: gguf-py sizes its block as 40 bytes, ggml as 36. */
  static const qc_dtype types[] = {QC_F32,  QC_F16,  QC_BF16, QC_F64,  QC_I8,   QC_I16,        QC_I32,
                                   QC_I64,  QC_Q4_0, QC_Q4_1, QC_Q5_0, QC_Q5_1, QC_Q8_0, QC_GGML_MXFP4};
  tlist keep = {0};
  for (size_t k = 0; k < sizeof types / sizeof *types && !s; k++) {
    int64_t dims[2] = {3, 64};
    int64_t n = dims[0] * dims[1];
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++) x[i] = demo_value((int)k, i);
    if (qc_dtype_is_int(types[k]))
      for (int64_t i = 0; i < n; i++) x[i] = roundf(x[i] * 10.0f);
    qc_tensor t;
    s = qc_tensor_alloc(&t, NULL, types[k], 2, dims);
    if (!s && !qc_convert_from_f32(x, types[k], qc_tensor_data(&t), (size_t)n, QC_ENC_SATURATE))
      s = qc_status_new(QC_CODE_INTERNAL, "cannot produce %s", qc_dtype_name(types[k]));
    free(x);
    char name[64];
    snprintf(name, sizeof name, "demo.%s", qc_dtype_name(types[k]));
    if (!s) s = qc_gguf_writer_add_tensor(w, name, &t);
    if (!s) tl_add(&keep, name, &t);
    else qc_tensor_release(&t);
  }
  /* a 1-D and a 3-D tensor, to check the dimension order */
  if (!s) {
    qc_tensor t;
    int64_t d3[3] = {2, 3, 32};
    s = qc_tensor_alloc(&t, NULL, QC_F32, 3, d3);
    if (!s) {
      float *p = qc_tensor_data(&t);
      for (int i = 0; i < 2 * 3 * 32; i++) p[i] = (float)i;
      s = qc_gguf_writer_add_tensor(w, "demo.rank3", &t);
      qc_tensor_release(&t);
    }
  }
  if (!s) s = qc_gguf_writer_write(w, out);
  tl_free(&keep);
  qc_gguf_writer_free(w);
  return s ? fail(s) : 0;
}

/* ---- .pth ------------------------------------------------------------------------------------- */

static int cmd_pth(int argc, char **argv) {
  qc_pth *p;
  qc_status s = qc_pth_open(argv[2], &p);
  if (s) return fail(s);
  if (strcmp(argv[1], "pth-check") == 0) {
    s = qc_pth_verify(p);
    if (!s) printf("ok %" PRId64 "\n", qc_pth_count(p));
  } else if (argc == 4) {
    tlist l = {0};
    for (int64_t i = 0; i < qc_pth_count(p) && !s; i++) {
      qc_tensor t;
      s = qc_pth_tensor(p, i, &t);
      if (!s) tl_add(&l, qc_pth_name(p, i), &t);
    }
    if (!s) s = qc_safetensors_write(argv[3], (const char *const *)l.names, l.ts, l.n, NULL);
    tl_free(&l);
  } else {
    s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "bad arguments");
  }
  qc_pth_close(p);
  return s ? fail(s) : 0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: ckpt_tool COMMAND ARGS... (see the source)\n");
    return 2;
  }
  const char *c = argv[1];
  if (strncmp(c, "st-", 3) == 0) return cmd_st(argc, argv);
  if (strcmp(c, "gguf-check") == 0) return cmd_gguf_check(argv[2]);
  if (strcmp(c, "gguf-copy") == 0 && argc == 4) return cmd_gguf_copy(argv[2], argv[3]);
  if (strcmp(c, "gguf-to-st") == 0 && argc == 4) return cmd_gguf_to_st(argv[2], argv[3]);
  if (strcmp(c, "gguf-demo") == 0) return cmd_gguf_demo(argv[2]);
  if (strncmp(c, "pth-", 4) == 0) return cmd_pth(argc, argv);
  fprintf(stderr, "ckpt_tool: unknown command or arguments: %s\n", c);
  return 2;
}
