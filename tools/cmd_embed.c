/* quarc embed — sentence embeddings.
 *
 *   quarc embed MODEL --text FILE -o OUT.npy [--tokenizer PATH] [--batch 32]
 *               [--max-seq-len N] [--threads N]
 *
 * One sentence per line (a final newline ends the last line; empty lines are sentences
 * too). Each is tokenized as the model's tokenizer does with its special tokens ([CLS] ...
 * [SEP] for BERT) and truncated to the model's max_seq_length (sentence_bert_config.json,
 * else 512; --max-seq-len overrides) keeping the special tokens, as sentence-transformers
 * truncates. Sentences are run in batches of similar length, padded, with attention_mask
 * marking the real tokens. The embedding is the graph's sentence_embedding output (mean
 * pooling over the mask, then L2 normalization, as sentence-transformers computes it); a
 * graph without one (an ONNX export of the bare encoder) has its first output
 * [batch, seq, hidden] pooled and normalized the same way here. OUT.npy gets f32
 * [sentences, hidden], in input order, written only once everything succeeded.
 */
#include "quarc/lm.h"
#include "quarc/models.h"
#include "quarc/tensor_io.h"
#include "quarc/tokenizer.h"
#include "tools/cli.h"
#include "quarc/io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int run_embed(int argc, char **argv);
const cli_command cli_cmd_embed = {
    "embed", "sentence embeddings (mean pooling, normalized) to .npy",
    "quarc embed MODEL --text FILE -o OUT.npy [--tokenizer PATH] [--batch 32]\n"
    "            [--max-seq-len N] [--threads N]\n"
    "  MODEL: a Hugging Face directory (sentence-transformers), or an .onnx file (with\n"
    "  --tokenizer); one sentence per line of FILE",
    run_embed};

typedef struct sent {
  int64_t *ids;
  int64_t n;
  size_t index;
} sent;

static int by_len(const void *a, const void *b) {
  const sent *x = a, *y = b;
  if (x->n != y->n) return x->n < y->n ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

/* Tokenize with special tokens, truncating the content so that the whole fits max_len. The
 * special tokens are found as what the special encoding adds around the plain one. */
static qc_status encode(const qc_tokenizer *tok, const char *s, size_t len, int64_t max_len, sent *out) {
  int32_t *plain = NULL, *full = NULL;
  size_t np = 0, nf = 0;
  QC_RETURN_IF_ERROR(qc_tokenizer_encode(tok, s, len, false, &plain, &np));
  qc_status st = qc_tokenizer_encode(tok, s, len, true, &full, &nf);
  if (st) {
    free(plain);
    return st;
  }
  size_t pre = 0, n_sp = nf >= np ? nf - np : 0;
  for (size_t p = 0; p <= n_sp; p++) {
    if (!memcmp(full + p, plain, np * sizeof *plain)) {
      pre = p;
      break;
    }
  }
  size_t keep = np;
  if ((int64_t)(n_sp + keep) > max_len) keep = max_len > (int64_t)n_sp ? (size_t)max_len - n_sp : 0;
  out->n = (int64_t)(n_sp + keep);
  out->ids = malloc(sizeof(int64_t) * (size_t)(out->n ? out->n : 1));
  if (!out->ids) st = qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory");
  else {
    size_t o = 0;
    for (size_t i = 0; i < pre; i++) out->ids[o++] = full[i];
    for (size_t i = 0; i < keep; i++) out->ids[o++] = plain[i];
    for (size_t i = pre + np; i < nf; i++) out->ids[o++] = full[i];
  }
  free(plain);
  free(full);
  return st;
}

enum { IN_IDS, IN_MASK, IN_TYPES, IN_POS };

static int run_embed(int argc, char **argv) {
  const char *model = NULL, *text = NULL, *tok_path = NULL, *out_path = NULL;
  long long batch = 32, max_len = 0;
  int threads = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    char *end = NULL;
    if (!strcmp(a, "--text") && i + 1 < argc) text = argv[++i];
    else if (!strcmp(a, "--tokenizer") && i + 1 < argc) tok_path = argv[++i];
    else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && i + 1 < argc) out_path = argv[++i];
    else if (!strcmp(a, "--batch") && i + 1 < argc) {
      batch = strtoll(argv[++i], &end, 10);
      if (*end || batch < 1) return cli_usage_error(&cli_cmd_embed, "--batch must be a positive integer");
    } else if (!strcmp(a, "--max-seq-len") && i + 1 < argc) {
      max_len = strtoll(argv[++i], &end, 10);
      if (*end || max_len < 1) return cli_usage_error(&cli_cmd_embed, "--max-seq-len must be a positive integer");
    } else if (!strcmp(a, "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (a[0] == '-' && a[1]) return cli_usage_error(&cli_cmd_embed, "unknown option '%s'", a);
    else if (!model) model = a;
    else return cli_usage_error(&cli_cmd_embed, "unexpected argument '%s'", a);
  }
  if (!model) return cli_usage_error(&cli_cmd_embed, "no model given");
  if (!text) return cli_usage_error(&cli_cmd_embed, "no text given (--text FILE)");
  if (!out_path) return cli_usage_error(&cli_cmd_embed, "no output given (-o OUT.npy)");
  char *buf = NULL;
  size_t len = 0;
  qc_status s = qc_read_file(text, &buf, &len);
  if (s) return cli_fail(s);
  qc_tokenizer *tok = NULL;
  qc_graph *g = NULL;
  qc_interp *it = NULL;
  sent *sents = NULL;
  size_t n_sent = 0;
  float *emb = NULL;
  int64_t hidden = -1;
  int32_t n_in = 0, n_out = 0, out_slot = 0;
  int *role = NULL;
  bool pooled = false;
  s = qc_model_tokenizer(tok_path ? tok_path : model, &tok);
  if (!s) s = qc_model_open(model, NULL, &g);
  if (!s && !max_len) {
    const char *m = qc_graph_meta(g, "quarc.max_seq_length");
    max_len = m ? atoll(m) : 512;
    if (max_len < 2) max_len = 512;
  }
  /* Inputs by name; the embedding output. */
  if (!s) {
    n_in = qc_graph_num_inputs(g);
    n_out = qc_graph_num_outputs(g);
    role = calloc((size_t)(n_in ? n_in : 1), sizeof *role);
    if (!role) s = qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory");
    bool have_ids = false;
    for (int32_t i = 0; i < n_in && !s; i++) {
      const qc_value *v = qc_graph_value(g, qc_graph_input(g, i));
      if (!strcmp(v->name, "input_ids")) role[i] = IN_IDS, have_ids = true;
      else if (!strcmp(v->name, "attention_mask")) role[i] = IN_MASK;
      else if (!strcmp(v->name, "token_type_ids")) role[i] = IN_TYPES;
      else if (!strcmp(v->name, "position_ids")) role[i] = IN_POS;
      else s = qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: input '%s' is not one an encoder takes "
                             "(input_ids, attention_mask, token_type_ids, position_ids)", model, v->name);
      if (!s && v->type.dtype != QC_I64 && v->type.dtype != QC_I32)
        s = qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: input '%s' must be i64 or i32", model, v->name);
    }
    if (!s && !have_ids) s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: no input 'input_ids'", model);
    for (int32_t o = 0; o < n_out && !s; o++)
      if (!strcmp(qc_graph_value(g, qc_graph_output(g, o))->name, "sentence_embedding")) {
        out_slot = o;
        pooled = true;
      }
    if (!s && !pooled && !strcmp(qc_graph_value(g, qc_graph_output(g, 0))->name, "logits"))
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT,
                        "%s: a language model (its output is 'logits'), not a sentence encoder", model);
  }
  qc_interp_options io = {.n_threads = threads};
  if (!s) s = qc_interp_create(g, &io, &it);
  /* Sentences. */
  if (!s) {
    size_t cap = 0;
    for (size_t p = 0; p < len && !s;) {
      const char *nl = memchr(buf + p, '\n', len - p);
      size_t e = nl ? (size_t)(nl - buf) : len, l = e - p;
      if (l && buf[p + l - 1] == '\r') l--;
      if (n_sent == cap) {
        cap = cap ? 2 * cap : 256;
        sent *a = realloc(sents, sizeof *a * cap);
        if (!a) {
          s = qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory");
          break;
        }
        sents = a;
      }
      memset(&sents[n_sent], 0, sizeof sents[n_sent]);
      sents[n_sent].index = n_sent;
      s = encode(tok, buf + p, l, max_len, &sents[n_sent]);
      n_sent++;
      if (s) s = qc_status_wrap(s, "%s: line %zu", text, n_sent);
      p = e + 1;
    }
    if (!s && n_sent == 0) s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: no sentences", text);
  }
  sent *order = NULL;
  if (!s) {
    order = malloc(sizeof *order * n_sent);
    if (!order) s = qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory");
    else {
      memcpy(order, sents, sizeof *order * n_sent);
      qsort(order, n_sent, sizeof *order, by_len);
    }
  }
  double t0 = cli_now();
  for (size_t b0 = 0; b0 < n_sent && !s; b0 += (size_t)batch) {
    size_t nb = n_sent - b0 < (size_t)batch ? n_sent - b0 : (size_t)batch;
    int64_t S = 1;
    for (size_t j = 0; j < nb; j++) S = order[b0 + j].n > S ? order[b0 + j].n : S;
    qc_rvalue *in = calloc((size_t)(n_in ? n_in : 1), sizeof *in);
    qc_rvalue *out = calloc((size_t)n_out, sizeof *out);
    if (!in || !out) s = qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory");
    int32_t pad = qc_tokenizer_pad(tok) >= 0 ? qc_tokenizer_pad(tok) : 0;
    for (int32_t i = 0; i < n_in && !s; i++) {
      qc_dtype dt = qc_graph_value(g, qc_graph_input(g, i))->type.dtype;
      qc_tensor t;
      s = qc_tensor_alloc(&t, NULL, dt, 2, (int64_t[]){(int64_t)nb, S});
      if (s) break;
      void *p = qc_tensor_data(&t);
      for (size_t j = 0; j < nb; j++)
        for (int64_t c = 0; c < S; c++) {
          const sent *x = &order[b0 + j];
          int64_t v = 0;
          switch (role[i]) {
          case IN_IDS: v = c < x->n ? x->ids[c] : pad; break;
          case IN_MASK: v = c < x->n; break;
          case IN_TYPES: v = 0; break;
          case IN_POS: v = c; break;
          }
          if (dt == QC_I64) ((int64_t *)p)[j * (size_t)S + (size_t)c] = v;
          else ((int32_t *)p)[j * (size_t)S + (size_t)c] = (int32_t)v;
        }
      in[i] = qc_rvalue_tensor(&t);
      qc_tensor_release(&t);
    }
    if (!s) s = qc_interp_run(it, n_in, in, out_slot + 1, out);
    const qc_tensor *y = !s && out[out_slot].kind == QC_RV_TENSOR ? &out[out_slot].t : NULL;
    if (!s && (!y || y->dtype != QC_F32 || y->rank != (pooled ? 2 : 3) || y->dims[0] != (int64_t)nb ||
               (!pooled && y->dims[1] != S)))
      s = qc_status_new(QC_CODE_RUNTIME, "%s: output '%s' is not f32 [batch%s, hidden]", model,
                        qc_graph_value(g, qc_graph_output(g, out_slot))->name, pooled ? "" : ", seq");
    if (!s) {
      int64_t H = y->dims[y->rank - 1];
      if (hidden < 0) {
        hidden = H;
        emb = calloc(n_sent * (size_t)H, sizeof *emb);
        if (!emb) s = qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory");
      }
      const float *yd = qc_tensor_data(y);
      for (size_t j = 0; j < nb && !s; j++) {
        float *e = emb + order[b0 + j].index * (size_t)H;
        if (pooled) {
          memcpy(e, yd + j * (size_t)H, sizeof(float) * (size_t)H);
          continue;
        }
        /* mean over the real tokens, then L2 normalize (sentence-transformers) */
        int64_t cnt = order[b0 + j].n;
        for (int64_t c = 0; c < cnt; c++)
          for (int64_t h = 0; h < H; h++) e[h] += yd[(j * (size_t)S + (size_t)c) * (size_t)H + (size_t)h];
        double nrm = 0;
        for (int64_t h = 0; h < H; h++) {
          e[h] /= (float)(cnt > 0 ? cnt : 1);
          nrm += (double)e[h] * e[h];
        }
        float inv = (float)(1.0 / fmax(sqrt(nrm), 1e-12));
        for (int64_t h = 0; h < H; h++) e[h] *= inv;
      }
    }
    for (int32_t i = 0; in && i < n_in; i++) qc_rvalue_release(&in[i]);
    for (int32_t o = 0; out && o <= out_slot; o++) qc_rvalue_release(&out[o]);
    free(in);
    free(out);
    if (!s) cli_progress("embed", (int64_t)(b0 + nb), (int64_t)n_sent, "");
  }
  if (!s) {
    qc_tensor t;
    s = qc_tensor_alloc(&t, NULL, QC_F32, 2, (int64_t[]){(int64_t)n_sent, hidden});
    if (!s) {
      memcpy(qc_tensor_data(&t), emb, sizeof(float) * n_sent * (size_t)hidden);
      s = qc_tensor_write_npy(out_path, &t);
      qc_tensor_release(&t);
    }
    if (!s)
      fprintf(stderr, "%zu sentences, %lld-dim embeddings in %.2f s -> %s\n", n_sent, (long long)hidden,
              cli_now() - t0, out_path);
  }
  for (size_t i = 0; i < n_sent; i++) free(sents[i].ids);
  free(sents);
  free(order);
  free(emb);
  free(role);
  free(buf);
  qc_interp_destroy(it);
  qc_graph_destroy(g);
  qc_tokenizer_free(tok);
  return s ? cli_fail(s) : 0;
}
