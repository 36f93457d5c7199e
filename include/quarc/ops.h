/*
 * quarc/ops.h — the op registry.
 *
 * Every op quarc knows is declared once, as a row of the X-macro table
 * quarc/ops.def: identifier, domain, name, supported opset range, arity,
 * flags, shape-inference rule and attribute schema. This header turns the rows
 * into the qc_op enumeration (QC_OP_<ident>) and gives access to the schemas.
 * Plugins may register further ops at run time (qc_op_register).
 *
 *     qc_op op = qc_op_lookup("", "MatMul");            // QC_OP_MatMul
 *     const qc_op_schema *s = qc_op_schema_of(op);
 *     printf("%s takes %d..%d inputs\n", s->name, s->min_in, s->max_in);
 */
#ifndef QUARC_OPS_H
#define QUARC_OPS_H

#include "quarc/status.h"
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint16_t qc_op;

/** Op flags. */
enum {
  QC_OPF_ELEMENTWISE = 1u << 0,   /**< output[i] depends on input[i] only (with broadcasting) */
  QC_OPF_COMMUTATIVE = 1u << 1,   /**< inputs may be reordered */
  QC_OPF_RANDOM = 1u << 2,        /**< nondeterministic: never folded or merged */
  QC_OPF_SUBGRAPH = 1u << 3,      /**< has graph attributes */
  QC_OPF_SIDE_EFFECT = 1u << 4,   /**< must not be removed even if unused (e.g. observers) */
  QC_OPF_QDQ = 1u << 5,           /**< quantizes or dequantizes (QuantizeLinear, FakeQuant, ...) */
};

/* ---- the enumeration ------------------------------------------------------------------------- */

enum {
#define QC_OP(ident, ...) QC_OP_##ident,
#include "quarc/ops.def"
#undef QC_OP
  QC_OP_BUILTIN_COUNT,
  QC_OP_INVALID = 0xFFFF
};

/* ---- schemas ----------------------------------------------------------------------------- */

/** Attribute schema entry. `kind` is a qc_attr_kind (see graph.h). */
typedef struct qc_attr_schema {
  const char *name;
  uint8_t kind;
  uint8_t required;
  uint8_t has_default;
  int64_t dflt_i;
  double dflt_f;
  const char *dflt_s;
} qc_attr_schema;

struct qc_infer_ctx;
/** Shape/type inference for one node: reads input types and constant inputs from the
 *  context, checks them, and sets output types. */
typedef qc_status (*qc_infer_fn)(struct qc_infer_ctx *ctx);

typedef struct qc_op_schema {
  const char *domain; /**< "" = ai.onnx, "com.microsoft", "quarc", ... */
  const char *name;
  int32_t since;      /**< first supported opset version of the domain */
  int32_t until;      /**< last supported opset version (999 = open ended) */
  int16_t min_in, max_in;   /**< max -1 = variadic */
  int16_t min_out, max_out;
  uint32_t flags;
  qc_infer_fn infer;        /**< NULL: outputs stay unknown */
  const qc_attr_schema *attrs;
  int32_t n_attrs;
} qc_op_schema;

/** Schema of op; NULL for an unknown id. */
const qc_op_schema *qc_op_schema_of(qc_op op);
/** Number of registered ops (built-in and plugin). */
int32_t qc_op_count(void);
/** Find an op by domain and name ("ai.onnx" is accepted for ""). QC_OP_INVALID if unknown. */
qc_op qc_op_lookup(const char *domain, const char *name);
/** Register a new op (plugins). The schema and everything it points to must outlive the
 *  process (static storage). Fails if the domain/name pair exists. */
qc_status qc_op_register(const qc_op_schema *schema, qc_op *out) QC_MUST_USE;
/** The schema entry for attribute `name`, or NULL. */
const qc_attr_schema *qc_op_attr_schema(qc_op op, const char *name);
static inline const char *qc_op_name(qc_op op) {
  const qc_op_schema *s = qc_op_schema_of(op);
  return s ? s->name : "?";
}

#ifdef __cplusplus
}
#endif
#endif
