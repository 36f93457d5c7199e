/* Data values <-> interpreter values, and result comparison (see conformance_util.h).
 *
 * Comparison rules: dtypes and shapes exactly; f32/f64/f16/bf16 and complex elements
 * within |got - want| <= atol + rtol * |want| (NaN equals NaN, infinities equal when
 * their signs are); every other type (integers, bool, strings, and the quantized float
 * formats fp8/fp4/e8m0) exactly, NaN codes being equal to each other. */
#include "conformance_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

qc_status conf_to_rvalue(const qc_data_value *d, const qc_type *type, qc_rvalue *out) {
  memset(out, 0, sizeof *out);
  bool optional = d->kind == QC_TYPE_OPTIONAL || d->kind == QC_TYPE_OPTIONAL_SEQUENCE;
  qc_dtype elem = d->elem ? d->elem : type ? type->dtype : QC_DT_UNDEFINED;
  if (optional && !d->present) {
    out->kind = QC_RV_NONE;
    out->optional = 1;
    out->elem = elem;
    return QC_OK;
  }
  if (d->kind == QC_TYPE_TENSOR || d->kind == QC_TYPE_OPTIONAL) {
    *out = qc_rvalue_tensor(&d->tensor);
    out->optional = optional;
    return QC_OK;
  }
  out->kind = QC_RV_SEQUENCE;
  out->optional = optional;
  out->elem = elem;
  out->n_items = d->n_items;
  out->items = calloc((size_t)d->n_items + 1, sizeof(qc_tensor));
  if (!out->items) return qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory");
  for (int32_t i = 0; i < d->n_items; i++) qc_tensor_copy_ref(&out->items[i], &d->items[i]);
  return QC_OK;
}

static void shape_str(const qc_tensor *t, char *buf, size_t n) {
  int o = snprintf(buf, n, "%s[", qc_dtype_name(t->dtype));
  for (int32_t i = 0; i < t->rank && (size_t)o + 24 < n; i++)
    o += snprintf(buf + o, n - (size_t)o, "%s%lld", i ? "," : "", (long long)t->dims[i]);
  snprintf(buf + o, n - (size_t)o, "]");
}

static bool close_enough(double a, double b) {
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
  if (isinf(a) || isinf(b)) return a == b;
  return fabs(a - b) <= CONF_ATOL + CONF_RTOL * fabs(b);
}

bool conf_tensor_equal(const qc_tensor *got, const qc_tensor *want, char *why, size_t n) {
  char a[160], b[160];
  shape_str(got, a, sizeof a);
  shape_str(want, b, sizeof b);
  if (got->dtype != want->dtype || got->rank != want->rank ||
      memcmp(got->dims, want->dims, sizeof(int64_t) * (size_t)got->rank) != 0) {
    snprintf(why, n, "got %s, expected %s", a, b);
    return false;
  }
  int64_t numel = qc_tensor_numel(want);
  if (numel == 0) return true;
  const void *gd = qc_tensor_data(got), *wd = qc_tensor_data(want);
  if (!gd || !wd) {
    snprintf(why, n, "%s has no data", gd ? "the expected value" : "the result");
    return false;
  }
  qc_dtype dt = want->dtype;
  const qc_dtype_traits *tr = qc_dtype_traits_of(dt);
  int64_t bad = 0, first = -1;
  double fg = 0, fw = 0;
  const char *sg = NULL, *sw = NULL;
  for (int64_t i = 0; i < numel; i++) {
    bool eq;
    switch (dt) {
    case QC_F32:
    case QC_F64:
    case QC_F16:
    case QC_BF16: {
      double x = qc_elem_f64(dt, gd, (size_t)i), y = qc_elem_f64(dt, wd, (size_t)i);
      eq = close_enough(x, y);
      if (!eq && first < 0) fg = x, fw = y;
      break;
    }
    case QC_C64:
    case QC_C128: {
      double x0, x1, y0, y1;
      if (dt == QC_C64) {
        const float *g = gd, *w = wd;
        x0 = g[2 * i], x1 = g[2 * i + 1], y0 = w[2 * i], y1 = w[2 * i + 1];
      } else {
        const double *g = gd, *w = wd;
        x0 = g[2 * i], x1 = g[2 * i + 1], y0 = w[2 * i], y1 = w[2 * i + 1];
      }
      eq = close_enough(x0, y0) && close_enough(x1, y1);
      if (!eq && first < 0) fg = x0, fw = y0;
      break;
    }
    case QC_STRING: {
      const char *x = ((const char *const *)gd)[i], *y = ((const char *const *)wd)[i];
      eq = strcmp(x ? x : "", y ? y : "") == 0;
      if (!eq && first < 0) sg = x, sw = y;
      break;
    }
    default: {
      uint64_t x = qc_elem_code(dt, gd, (size_t)i), y = qc_elem_code(dt, wd, (size_t)i);
      eq = x == y;
      if (!eq && tr->kind == QC_KIND_FLOAT)
        eq = isnan(qc_float_decode(dt, (uint32_t)x)) && isnan(qc_float_decode(dt, (uint32_t)y));
      if (!eq && first < 0) {
        fg = tr->kind == QC_KIND_FLOAT ? qc_float_decode(dt, (uint32_t)x) : qc_elem_f64(dt, gd, (size_t)i);
        fw = tr->kind == QC_KIND_FLOAT ? qc_float_decode(dt, (uint32_t)y) : qc_elem_f64(dt, wd, (size_t)i);
      }
      break;
    }
    }
    if (!eq) {
      if (first < 0) first = i;
      bad++;
    }
  }
  if (!bad) return true;
  if (dt == QC_STRING)
    snprintf(why, n, "%lld of %lld elements differ; first at %lld: got '%s', expected '%s'",
             (long long)bad, (long long)numel, (long long)first, sg ? sg : "", sw ? sw : "");
  else
    snprintf(why, n, "%lld of %lld elements differ; first at %lld: got %.9g, expected %.9g",
             (long long)bad, (long long)numel, (long long)first, fg, fw);
  return false;
}

bool conf_compare(const qc_rvalue *got, const qc_data_value *want, char *why, size_t n) {
  bool optional = want->kind == QC_TYPE_OPTIONAL || want->kind == QC_TYPE_OPTIONAL_SEQUENCE;
  if (optional && !want->present) {
    if (got->kind != QC_RV_NONE) {
      snprintf(why, n, "got a value, expected an empty optional");
      return false;
    }
    return true;
  }
  if (want->kind == QC_TYPE_TENSOR || want->kind == QC_TYPE_OPTIONAL) {
    if (got->kind != QC_RV_TENSOR) {
      snprintf(why, n, "got %s, expected a tensor",
               got->kind == QC_RV_NONE ? "nothing" : "a sequence");
      return false;
    }
    return conf_tensor_equal(&got->t, &want->tensor, why, n);
  }
  if (got->kind != QC_RV_SEQUENCE) {
    snprintf(why, n, "got %s, expected a sequence",
             got->kind == QC_RV_NONE ? "nothing" : "a tensor");
    return false;
  }
  if (got->n_items != want->n_items) {
    snprintf(why, n, "got a sequence of %d items, expected %d", got->n_items, want->n_items);
    return false;
  }
  for (int32_t i = 0; i < want->n_items; i++) {
    char inner[512];
    if (!conf_tensor_equal(&got->items[i], &want->items[i], inner, sizeof inner)) {
      snprintf(why, n, "sequence item %d: %s", i, inner);
      return false;
    }
  }
  return true;
}

/* ---- graph comparison --------------------------------------------------------------------- */

static bool types_same(const qc_graph *ga, const qc_type *a, const qc_graph *gb, const qc_type *b) {
  if (a->kind != b->kind || a->dtype != b->dtype || a->rank != b->rank) return false;
  for (int32_t i = 0; i < a->rank; i++) {
    const char *sa = qc_graph_sym_name(ga, a->dims[i]), *sb = qc_graph_sym_name(gb, b->dims[i]);
    if (sa || sb) {
      if (!sa || !sb || strcmp(sa, sb) != 0) return false;
    } else if (a->dims[i] != b->dims[i]) {
      return false;
    }
  }
  return true;
}

#define DIFF(...)                                                                                  \
  do {                                                                                             \
    snprintf(why, n, __VA_ARGS__);                                                                 \
    return false;                                                                                  \
  } while (0)

static bool attr_same(const qc_attr *x, const qc_attr *y, char *why, size_t n) {
  if (strcmp(x->name, y->name) != 0 || x->kind != y->kind || x->n != y->n)
    DIFF("attribute '%s' (kind %d, n %d) vs '%s' (kind %d, n %d)", x->name, x->kind, x->n, y->name,
         y->kind, y->n);
  switch (x->kind) {
  case QC_ATTR_INT:
    if (x->u.i != y->u.i) DIFF("attribute '%s': %lld vs %lld", x->name, (long long)x->u.i, (long long)y->u.i);
    break;
  case QC_ATTR_FLOAT:
    if (x->u.f != y->u.f && !(isnan(x->u.f) && isnan(y->u.f)))
      DIFF("attribute '%s': %g vs %g", x->name, x->u.f, y->u.f);
    break;
  case QC_ATTR_STRING:
    if (memcmp(x->u.s, y->u.s, (size_t)x->n) != 0) DIFF("attribute '%s' differs", x->name);
    break;
  case QC_ATTR_INTS:
    if (x->n && memcmp(x->u.ints, y->u.ints, sizeof(int64_t) * (size_t)x->n) != 0)
      DIFF("attribute '%s' differs", x->name);
    break;
  case QC_ATTR_FLOATS:
    for (int32_t i = 0; i < x->n; i++)
      if (x->u.floats[i] != y->u.floats[i] && !(isnan(x->u.floats[i]) && isnan(y->u.floats[i])))
        DIFF("attribute '%s' differs at %d", x->name, i);
    break;
  case QC_ATTR_STRINGS:
    for (int32_t i = 0; i < x->n; i++)
      if (x->u.strs.len[i] != y->u.strs.len[i] ||
          memcmp(x->u.strs.v[i], y->u.strs.v[i], (size_t)x->u.strs.len[i]) != 0)
        DIFF("attribute '%s' differs at %d", x->name, i);
    break;
  case QC_ATTR_TENSOR:
    if (!qc_tensor_equal(x->u.t, y->u.t)) DIFF("attribute '%s': tensors differ", x->name);
    break;
  case QC_ATTR_TENSORS:
    for (int32_t i = 0; i < x->n; i++)
      if (!qc_tensor_equal(&x->u.tensors[i], &y->u.tensors[i]))
        DIFF("attribute '%s': tensor %d differs", x->name, i);
    break;
  case QC_ATTR_GRAPH: {
    char inner[1024];
    if (!conf_graph_equal(x->u.g, y->u.g, inner, sizeof inner))
      DIFF("attribute '%s': %s", x->name, inner);
    break;
  }
  case QC_ATTR_GRAPHS:
    for (int32_t i = 0; i < x->n; i++) {
      char inner[1024];
      if (!conf_graph_equal(x->u.graphs[i], y->u.graphs[i], inner, sizeof inner))
        DIFF("attribute '%s' graph %d: %s", x->name, i, inner);
    }
    break;
  case QC_ATTR_TYPE:
    if (x->u.type->kind != y->u.type->kind || x->u.type->dtype != y->u.type->dtype ||
        x->u.type->rank != y->u.type->rank)
      DIFF("attribute '%s': types differ", x->name);
    break;
  default: break;
  }
  return true;
}

bool conf_graph_equal(const qc_graph *a, const qc_graph *b, char *why, size_t n) {
  if (strcmp(qc_graph_name(a), qc_graph_name(b)) != 0)
    DIFF("graph name '%s' vs '%s'", qc_graph_name(a), qc_graph_name(b));
  if (qc_graph_num_opsets(a) != qc_graph_num_opsets(b)) DIFF("number of opsets differs");
  for (int32_t i = 0; i < qc_graph_num_opsets(a); i++) {
    const char *d;
    int64_t v;
    qc_graph_opset_at(a, i, &d, &v);
    if (qc_graph_opset(b, d) != v) DIFF("opset of domain '%s' differs", d);
  }
  if (qc_graph_num_meta(a) != qc_graph_num_meta(b))
    DIFF("%d vs %d metadata entries", qc_graph_num_meta(a), qc_graph_num_meta(b));
  for (int32_t i = 0; i < qc_graph_num_meta(a); i++) {
    const char *k, *v;
    qc_graph_meta_at(a, i, &k, &v);
    const char *w = qc_graph_meta(b, k);
    if (!w || strcmp(v, w) != 0) DIFF("metadata '%s': '%s' vs '%s'", k, v, w ? w : "(none)");
  }
  if (qc_graph_num_values(a) != qc_graph_num_values(b))
    DIFF("%d vs %d values", qc_graph_num_values(a), qc_graph_num_values(b));
  for (qc_vid v = 0; v < qc_graph_num_values(a); v++) {
    const qc_value *x = qc_graph_value(a, v), *y = qc_graph_value(b, v);
    if (strcmp(x->name, y->name) != 0) DIFF("value %d: '%s' vs '%s'", v, x->name, y->name);
    if (x->kind != y->kind || x->node != y->node || x->index != y->index)
      DIFF("value '%s': kind/definition differs", x->name);
    if (!types_same(a, &x->type, b, &y->type)) DIFF("value '%s': types differ", x->name);
    if (x->kind == QC_VALUE_CONST && !qc_tensor_equal(&x->cst, &y->cst))
      DIFF("constant '%s': data differs", x->name);
  }
  if (qc_graph_num_inputs(a) != qc_graph_num_inputs(b)) DIFF("number of inputs differs");
  for (int32_t i = 0; i < qc_graph_num_inputs(a); i++)
    if (qc_graph_input(a, i) != qc_graph_input(b, i)) DIFF("input %d differs", i);
  if (qc_graph_num_outputs(a) != qc_graph_num_outputs(b)) DIFF("number of outputs differs");
  for (int32_t i = 0; i < qc_graph_num_outputs(a); i++)
    if (qc_graph_output(a, i) != qc_graph_output(b, i)) DIFF("output %d differs", i);
  if (qc_graph_num_nodes(a) != qc_graph_num_nodes(b))
    DIFF("%d vs %d nodes", qc_graph_num_nodes(a), qc_graph_num_nodes(b));
  for (qc_nid k = 0; k < qc_graph_num_nodes(a); k++) {
    const qc_node *x = qc_graph_node(a, k), *y = qc_graph_node(b, k);
    if (x->op != y->op || strcmp(x->name, y->name) != 0 || x->n_in != y->n_in ||
        x->n_out != y->n_out || x->n_attr != y->n_attr)
      DIFF("node %d ('%s' %s) differs in op, name, arity or attribute count", k, x->name,
           qc_op_name(x->op));
    if (memcmp(x->in, y->in, sizeof(qc_vid) * (size_t)x->n_in) != 0 ||
        memcmp(x->out, y->out, sizeof(qc_vid) * (size_t)x->n_out) != 0)
      DIFF("node %d ('%s'): inputs or outputs differ", k, x->name);
    for (int32_t j = 0; j < x->n_attr; j++) {
      char inner[1024];
      if (!attr_same(&x->attr[j], &y->attr[j], inner, sizeof inner))
        DIFF("node %d ('%s' %s): %s", k, x->name, qc_op_name(x->op), inner);
    }
  }
  return true;
}
