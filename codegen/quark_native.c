/*
 * Quark's native format (quarc/export.h, docs/export.md): what Quark's
 * ModelExporter.export_quark_model wrote (Quark <= 0.11; later versions read it):
 *
 *   config.json           json.dump(model.config.to_dict(), f, indent=4): the source config
 *                         in its own key order with "quantization_config" = QConfig.to_dict()
 *                         (Quark's key order) + "export" (JsonExporterConfig); no final newline
 *   model_state_dict.pth  torch.save(model.state_dict()) of the post-processed model, where a
 *                         quantized linear is a QParamsLinear: "P.weight" (packed exactly as in
 *                         the safetensors export), "P.bias", and its quantizers' buffers
 *                         "P.weight_quantizer.scale", "P.weight_quantizer.zero_point",
 *                         "P.input_quantizer.scale", "P.output_quantizer.scale", ... A
 *                         quantizer with stages (NVFP4) numbers them: "P.weight_quantizer.0.scale",
 *                         "P.weight_quantizer.1.scale", "P.input_quantizer.1.scale".
 *
 * The state dict lists modules in registration order (for Llama: embed_tokens, then per layer
 * self_attn.{q,k,v,o}_proj, mlp.{gate,up,down}_proj, input_layernorm, post_attention_layernorm,
 * then norm and lm_head; a tied lm_head.weight repeats the embedding), each module's weight and
 * bias before its quantizers. The zip archive is named after the file ("model_state_dict/").
 */
#include "codegen/export_internal.h"
#include "quarc/pth.h"

#include <stdio.h>
#include <stdlib.h>

/* Rank of a Llama-family parameter in the module registration order; -1 when unknown. */
static int64_t llama_rank(const char *name) {
  static const char *const LAYER[] = {"self_attn.q_proj.", "self_attn.k_proj.", "self_attn.v_proj.",
                                      "self_attn.o_proj.", "self_attn.q_norm.", "self_attn.k_norm.",
                                      "mlp.gate_proj.", "mlp.up_proj.", "mlp.down_proj.",
                                      "input_layernorm.", "post_attention_layernorm."};
  static const char *const PARAM[] = {"weight", "bias", "weight_quantizer.", "bias_quantizer.",
                                      "input_quantizer.", "output_quantizer."};
  int64_t base;
  const char *rest;
  if (!strncmp(name, "model.embed_tokens.", 19)) {
    base = 0;
    rest = name + 19;
  } else if (!strncmp(name, "model.layers.", 13)) {
    char *end;
    long long layer = strtoll(name + 13, &end, 10);
    if (end == name + 13 || *end != '.') return -1;
    rest = end + 1;
    int k = -1;
    for (size_t i = 0; i < sizeof LAYER / sizeof *LAYER && k < 0; i++)
      if (!strncmp(rest, LAYER[i], strlen(LAYER[i]))) k = (int)i;
    if (k < 0) return -1;
    rest += strlen(LAYER[k]);
    base = 1 + layer * 16 + k;
  } else if (!strncmp(name, "model.norm.", 11)) {
    base = (int64_t)1 << 40;
    rest = name + 11;
  } else if (!strncmp(name, "lm_head.", 8)) {
    base = ((int64_t)1 << 40) + 1;
    rest = name + 8;
  } else {
    return -1;
  }
  int p = 6;
  for (int i = 0; i < 6 && p == 6; i++)
    if (i < 2 ? !strcmp(rest, PARAM[i]) : !strncmp(rest, PARAM[i], strlen(PARAM[i]))) p = i;
  return base * 8 + p;
}

typedef struct ranked {
  int64_t rank;
  int32_t index;
} ranked;

static int cmp_ranked(const void *a, const void *b) {
  const ranked *x = a, *y = b;
  if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

qc_status qc_export_quark_native(const qc_graph *g, const char *dir, const qc_export_options *opt_in) {
  qc_export_options defaults = qc_export_options_default();
  const qc_export_options *opt = opt_in ? opt_in : &defaults;
  qc_arena ar;
  qc_arena_init(&ar, qc_allocator_default());
  qx_tensors t;
  qx_tensors_init(&t);
  qc_json *cfg = NULL;
  char *text = NULL;
  ranked *order = NULL;
  const char **names = NULL;
  qc_tensor *tensors = NULL;
  qc_atomic_dir *d = NULL;
  qc_status s = qx_prepare_export(g, QC_EXPORT_QUARK, opt, &ar, &t, &cfg);
  /* A tied lm_head is in the state dict too (sharing the embedding's storage). */
  if (!s && qc_json_is_true(qc_json_get(cfg, "tie_word_embeddings")) &&
      qx_tensors_find(&t, "lm_head.weight") < 0) {
    int32_t e = qx_tensors_find(&t, "model.embed_tokens.weight");
    if (e >= 0) {
      qc_tensor emb;
      qc_tensor_copy_ref(&emb, &t.t[e]);
      s = qx_tensors_take(&t, "lm_head.weight", &emb);
    }
  }
  bool llama = true;
  for (int32_t i = 0; !s && i < t.n; i++) llama = llama && llama_rank(t.name[i]) >= 0;
  if (!s) {
    order = malloc(sizeof *order * (size_t)(t.n ? t.n : 1));
    names = malloc(sizeof *names * (size_t)(t.n ? t.n : 1));
    tensors = malloc(sizeof *tensors * (size_t)(t.n ? t.n : 1));
    if (!order || !names || !tensors) s = QC_OOM();
  }
  if (!s) {
    for (int32_t i = 0; i < t.n; i++) order[i] = (ranked){llama ? llama_rank(t.name[i]) : 0, i};
    qsort(order, (size_t)t.n, sizeof *order, cmp_ranked);
    for (int32_t i = 0; i < t.n; i++) {
      names[i] = t.name[order[i].index];
      tensors[i] = t.t[order[i].index];
    }
  }
  size_t len = 0;
  if (!s && !(text = qc_json_write(cfg, 4, false, &len))) s = QC_OOM();
  if (!s) s = qc_atomic_dir_open(dir, opt->replace, &d);
  if (!s) s = qx_write_text(d, "config.json", text, len);
  if (!s) s = qx_copy_aux_files(g, opt, d);
  if (!s) {
    qc_pth_write_options po = {"model_state_dict", false};
    s = qc_pth_write_in(d, "model_state_dict.pth", names, tensors, (size_t)t.n, &po);
  }
  if (!s) {
    s = qc_atomic_dir_commit(d);
    d = NULL;
  }
  if (!s && opt->report) {
    opt->report->tensors += t.n;
    for (int32_t i = 0; i < t.n; i++) opt->report->bytes += qc_tensor_nbytes(&t.t[i]);
  }
  qc_atomic_dir_abort(d);
  free(text);
  free(order);
  free(names);
  free(tensors);
  qx_tensors_free(&t);
  qc_arena_free(&ar);
  if (s) return qc_status_wrap(s, "%s", dir);
  return QC_OK;
}
