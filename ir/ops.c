/* The op registry: the built-in table expanded from quarc/ops.def, plus ops that
 * plugins register at run time. */
#include "infer_rules.h"
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>

#define F_EW QC_OPF_ELEMENTWISE
#define F_COMM QC_OPF_COMMUTATIVE
#define F_RAND QC_OPF_RANDOM
#define F_SUBG QC_OPF_SUBGRAPH
#define F_SIDE QC_OPF_SIDE_EFFECT
#define F_QDQ QC_OPF_QDQ

/* Attribute schema rows. */
#define A_INT(n, d, r) {#n, QC_ATTR_INT, r, !(r), d, 0, NULL},
#define A_FLOAT(n, d, r) {#n, QC_ATTR_FLOAT, r, !(r), 0, d, NULL},
#define A_STRING(n, d, r) {#n, QC_ATTR_STRING, r, !(r), 0, 0, d},
#define A_INTS(n, r) {#n, QC_ATTR_INTS, r, 0, 0, 0, NULL},
#define A_FLOATS(n, r) {#n, QC_ATTR_FLOATS, r, 0, 0, 0, NULL},
#define A_STRINGS(n, r) {#n, QC_ATTR_STRINGS, r, 0, 0, 0, NULL},
#define A_TENSOR(n, r) {#n, QC_ATTR_TENSOR, r, 0, 0, 0, NULL},
#define A_TENSORS(n, r) {#n, QC_ATTR_TENSORS, r, 0, 0, 0, NULL},
#define A_GRAPH(n, r) {#n, QC_ATTR_GRAPH, r, 0, 0, 0, NULL},
#define A_GRAPHS(n, r) {#n, QC_ATTR_GRAPHS, r, 0, 0, 0, NULL},
#define A_TYPE(n, r) {#n, QC_ATTR_TYPE, r, 0, 0, 0, NULL},
#define A_SPARSE(n, r) {#n, QC_ATTR_NONE, r, 0, 0, 0, NULL},

#define QC_OP(id, dom, name, since, until, mi, ma, mo, mao, flags, infer, ...)                     \
  static const qc_attr_schema attrs_##id[] = {__VA_ARGS__{NULL, 0, 0, 0, 0, 0, NULL}};
#include "quarc/ops.def"
#undef QC_OP

#define QC_OP(id, dom, name, since, until, mi, ma, mo, mao, flags, infer, ...)                     \
  [QC_OP_##id] = {dom,   name,          since,     until,                                          \
                  mi,    ma,            mo,        mao,                                            \
                  flags, qc_infer_##infer, attrs_##id,                                             \
                  (int32_t)(sizeof(attrs_##id) / sizeof(attrs_##id[0]) - 1)},
static const qc_op_schema BUILTIN[QC_OP_BUILTIN_COUNT] = {
#include "quarc/ops.def"
};
#undef QC_OP

/* Plugin ops, appended after the built-ins. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static const qc_op_schema **extra;
static int32_t n_extra, cap_extra;

const qc_op_schema *qc_op_schema_of(qc_op op) {
  if (op < QC_OP_BUILTIN_COUNT) return &BUILTIN[op];
  int32_t i = (int32_t)op - QC_OP_BUILTIN_COUNT;
  const qc_op_schema *s = NULL;
  pthread_mutex_lock(&reg_lock);
  if (i < n_extra) s = extra[i];
  pthread_mutex_unlock(&reg_lock);
  return s;
}

int32_t qc_op_count(void) {
  pthread_mutex_lock(&reg_lock);
  int32_t n = QC_OP_BUILTIN_COUNT + n_extra;
  pthread_mutex_unlock(&reg_lock);
  return n;
}

static bool domain_eq(const char *a, const char *b) {
  if (strcmp(a, "ai.onnx") == 0) a = "";
  if (strcmp(b, "ai.onnx") == 0) b = "";
  return strcmp(a, b) == 0;
}

qc_op qc_op_lookup(const char *domain, const char *name) {
  if (!domain) domain = "";
  /* The table is small (a few hundred rows); a linear scan over names is fast enough for
   * import, which looks each node up once. */
  for (int32_t i = 0; i < QC_OP_BUILTIN_COUNT; i++)
    if (strcmp(BUILTIN[i].name, name) == 0 && domain_eq(BUILTIN[i].domain, domain))
      return (qc_op)i;
  qc_op found = QC_OP_INVALID;
  pthread_mutex_lock(&reg_lock);
  for (int32_t i = 0; i < n_extra; i++)
    if (strcmp(extra[i]->name, name) == 0 && domain_eq(extra[i]->domain, domain)) {
      found = (qc_op)(QC_OP_BUILTIN_COUNT + i);
      break;
    }
  pthread_mutex_unlock(&reg_lock);
  return found;
}

qc_status qc_op_register(const qc_op_schema *schema, qc_op *out) {
  if (!schema || !schema->name || !schema->domain)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "op schema needs a domain and a name");
  if (qc_op_lookup(schema->domain, schema->name) != QC_OP_INVALID)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "op '%s%s%s' is already registered",
                         schema->domain, *schema->domain ? "." : "", schema->name);
  pthread_mutex_lock(&reg_lock);
  if (QC_OP_BUILTIN_COUNT + n_extra >= 0xFFFF) {
    pthread_mutex_unlock(&reg_lock);
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "too many ops");
  }
  if (n_extra == cap_extra) {
    int32_t nc = cap_extra ? cap_extra * 2 : 16;
    const qc_op_schema **p = realloc(extra, (size_t)nc * sizeof *p);
    if (!p) {
      pthread_mutex_unlock(&reg_lock);
      return QC_OOM();
    }
    extra = p;
    cap_extra = nc;
  }
  extra[n_extra] = schema;
  *out = (qc_op)(QC_OP_BUILTIN_COUNT + n_extra);
  n_extra++;
  pthread_mutex_unlock(&reg_lock);
  return QC_OK;
}

const qc_attr_schema *qc_op_attr_schema(qc_op op, const char *name) {
  const qc_op_schema *s = qc_op_schema_of(op);
  if (!s) return NULL;
  for (int32_t i = 0; i < s->n_attrs; i++)
    if (strcmp(s->attrs[i].name, name) == 0) return &s->attrs[i];
  return NULL;
}
