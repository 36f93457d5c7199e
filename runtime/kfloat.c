/* f32 staging of kernel operands (see kfloat.h). */
#include "runtime/kfloat.h"
#include "runtime/kutil.h"

float *qc_kf_scratch(const qc_kctx *k, int64_t n) {
  if (n < 0 || (uint64_t)n > SIZE_MAX / sizeof(float)) return NULL;
  return qc_k_alloc(k, sizeof(float) * (size_t)n);
}

void qc_kf_scratch_free(const qc_kctx *k, float *p, int64_t n) {
  if (p) qc_k_free(k, p, sizeof(float) * (size_t)(n > 0 ? n : 0));
}

bool qc_kf_dtype_ok(qc_dtype dt) {
  return dt == QC_F32 || dt == QC_F64 || dt == QC_F16 || dt == QC_BF16;
}

qc_status qc_kf_load(const qc_kctx *k, const qc_tensor *t, qc_kf_in *out) {
  memset(out, 0, sizeof *out);
  if (!t) return QC_OK;
  out->n = qc_tensor_numel(t);
  if (t->dtype == QC_F32) {
    out->p = qc_tensor_data(t);
    return QC_OK;
  }
  const qc_dtype_traits *tr = qc_dtype_traits_of(t->dtype);
  if (tr->kind != QC_KIND_FLOAT && tr->kind != QC_KIND_INT && tr->kind != QC_KIND_BOOL &&
      tr->kind != QC_KIND_BLOCK)
    return qc_k_error(k, "cannot compute on a %s tensor", tr->name);
  out->owned = qc_kf_scratch(k, out->n);
  if (!out->owned) return QC_OOM();
  qc_convert_to_f32(t->dtype, qc_tensor_data(t), out->owned, (size_t)out->n);
  out->p = out->owned;
  return QC_OK;
}

void qc_kf_release(const qc_kctx *k, qc_kf_in *v) {
  qc_kf_scratch_free(k, v->owned, v->n);
  memset(v, 0, sizeof *v);
}

qc_status qc_kf_out_alloc(qc_kctx *k, int32_t i, qc_dtype dt, int32_t rank, const int64_t *dims,
                          qc_kf_out *o) {
  memset(o, 0, sizeof *o);
  QC_RETURN_IF_ERROR(qc_k_out(k, i, dt, rank, dims, &o->t));
  o->n = qc_tensor_numel(o->t);
  if (dt == QC_F32) {
    o->p = qc_tensor_data(o->t);
    return QC_OK;
  }
  o->p = qc_kf_scratch(k, o->n);
  if (!o->p) return QC_OOM();
  memset(o->p, 0, sizeof(float) * (size_t)o->n);
  o->staged = true;
  return QC_OK;
}

qc_status qc_kf_out_finish(const qc_kctx *k, qc_kf_out *o) {
  if (!o->staged) return QC_OK;
  bool ok = qc_convert_from_f32(o->p, o->t->dtype, qc_tensor_data(o->t), (size_t)o->n, 0);
  qc_kf_out_discard(k, o);
  if (!ok) return qc_k_error(k, "cannot produce a %s output", qc_dtype_name(o->t->dtype));
  return QC_OK;
}

void qc_kf_out_discard(const qc_kctx *k, qc_kf_out *o) {
  if (o->staged) qc_kf_scratch_free(k, o->p, o->n);
  o->p = NULL;
  o->staged = false;
}
