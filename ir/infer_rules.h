/* Prototypes of the shape-inference rules named in quarc/ops.def (qc_infer_<rule>). */
#ifndef QUARC_IR_INFER_RULES_H
#define QUARC_IR_INFER_RULES_H

#include "quarc/infer.h"

#define QC_OP(id, dom, name, since, until, mi, ma, mo, mao, flags, infer, ...)                     \
  qc_status qc_infer_##infer(qc_infer_ctx *c);
#include "quarc/ops.def"
#undef QC_OP

#endif
