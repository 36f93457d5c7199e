/* quarc generate — greedy decoding.
 *
 *   quarc generate MODEL --prompt TEXT -n N [--tokenizer PATH] [--no-cache] [--ignore-eos]
 *                  [--threads N]
 *
 * The prompt is tokenized with the model's special tokens (BOS where the tokenizer adds
 * one), run once, and then one token at a time is appended: the argmax of the last
 * position's logits, fed back with the KV cache (Hugging Face directories and GGUF files
 * are built with past_key_values/present outputs; an ONNX graph is used with its cache if
 * it has one). --no-cache reruns the whole sequence each step instead (a check of the
 * cache). Generation stops after N tokens or at the end-of-sequence token. The prompt and
 * the continuation go to stdout as they are produced; timings to stderr.
 */
#include "quarc/lm.h"
#include "quarc/models.h"
#include "quarc/tokenizer.h"
#include "tools/cli.h"

#include <stdlib.h>
#include <string.h>

static int run_generate(int argc, char **argv);
const cli_command cli_cmd_generate = {
    "generate", "greedy text generation with a KV cache",
    "quarc generate MODEL --prompt TEXT -n N [--tokenizer PATH] [--no-cache] [--ignore-eos]\n"
    "               [--threads N]\n"
    "  MODEL: a Hugging Face directory, a .gguf file, or an .onnx file (with --tokenizer)",
    run_generate};

static int64_t argmax_last(const qc_tensor *logits) {
  int64_t seq = logits->dims[1], V = logits->dims[2];
  const float *row = (const float *)qc_tensor_data(logits) + (seq - 1) * V;
  int64_t best = 0;
  for (int64_t j = 1; j < V; j++)
    if (row[j] > row[best]) best = j;
  return best;
}

/* Print the part of the decoded continuation not printed yet, holding back a trailing
 * U+FFFD (an incomplete UTF-8 sequence that the next token may finish). */
static qc_status emit(const qc_tokenizer *tok, const int32_t *ids, size_t n, size_t *printed) {
  char *text;
  size_t len;
  QC_RETURN_IF_ERROR(qc_tokenizer_decode(tok, ids, n, true, &text, &len));
  size_t upto = len;
  if (upto >= 3 && !memcmp(text + upto - 3, "\xEF\xBF\xBD", 3)) upto -= 3;
  if (upto > *printed) {
    fwrite(text + *printed, 1, upto - *printed, stdout);
    fflush(stdout);
    *printed = upto;
  }
  free(text);
  return QC_OK;
}

static int run_generate(int argc, char **argv) {
  const char *model = NULL, *prompt = NULL, *tok_path = NULL;
  long long n_new = -1;
  bool no_cache = false, ignore_eos = false;
  int threads = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    char *end = NULL;
    if (!strcmp(a, "--prompt") && i + 1 < argc) prompt = argv[++i];
    else if (!strcmp(a, "--tokenizer") && i + 1 < argc) tok_path = argv[++i];
    else if ((!strcmp(a, "-n") || !strcmp(a, "--n-tokens")) && i + 1 < argc) {
      n_new = strtoll(argv[++i], &end, 10);
      if (*end || n_new < 0) return cli_usage_error(&cli_cmd_generate, "-n must be a non-negative integer");
    } else if (!strcmp(a, "--no-cache")) no_cache = true;
    else if (!strcmp(a, "--ignore-eos")) ignore_eos = true;
    else if (!strcmp(a, "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (a[0] == '-' && a[1]) return cli_usage_error(&cli_cmd_generate, "unknown option '%s'", a);
    else if (!model) model = a;
    else return cli_usage_error(&cli_cmd_generate, "unexpected argument '%s'", a);
  }
  if (!model) return cli_usage_error(&cli_cmd_generate, "no model given");
  if (!prompt) return cli_usage_error(&cli_cmd_generate, "no prompt given (--prompt TEXT)");
  if (n_new < 0) return cli_usage_error(&cli_cmd_generate, "no token count given (-n N)");
  qc_tokenizer *tok;
  qc_status s = qc_model_tokenizer(tok_path ? tok_path : model, &tok);
  if (s) return cli_fail(s);
  int32_t *pids = NULL;
  size_t np = 0;
  s = qc_tokenizer_encode(tok, prompt, strlen(prompt), true, &pids, &np);
  if (!s && np == 0) s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "the prompt has no tokens");
  if (s) {
    free(pids);
    qc_tokenizer_free(tok);
    return cli_fail(s);
  }
  qc_build_options bo = {.kv_cache = !no_cache, .max_seq = 0};
  qc_graph *g = NULL;
  qc_lm *lm = NULL;
  s = qc_model_open(model, &bo, &g);
  qc_interp_options io = {.n_threads = threads};
  if (!s) s = qc_lm_create(g, &io, &lm);
  size_t total = np + (size_t)n_new;
  int64_t *seq = malloc(sizeof(int64_t) * (total ? total : 1));
  int32_t *gen = malloc(sizeof(int32_t) * (size_t)(n_new ? n_new : 1));
  if (!s && (!seq || !gen)) s = qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory");
  bool cache = !s && !no_cache && qc_lm_has_cache(lm);
  size_t n = np, n_gen = 0, printed = 0;
  for (size_t i = 0; !s && i < np; i++) seq[i] = pids[i];
  fputs(prompt, stdout);
  fflush(stdout);
  double t0 = cli_now(), t_prompt = 0;
  int32_t eos = qc_tokenizer_eos(tok);
  while (!s && n_gen < (size_t)n_new) {
    qc_tensor logits;
    if (cache && n_gen > 0) s = qc_lm_run(lm, 1, 1, &seq[n - 1], true, &logits);
    else s = qc_lm_run(lm, 1, (int64_t)n, seq, false, &logits);
    if (s) break;
    int64_t next = argmax_last(&logits);
    qc_tensor_release(&logits);
    if (n_gen == 0) t_prompt = cli_now() - t0;
    if (!ignore_eos && next == eos) break;
    seq[n++] = next;
    gen[n_gen++] = (int32_t)next;
    s = emit(tok, gen, n_gen, &printed);
  }
  double el = cli_now() - t0;
  fputc('\n', stdout);
  fflush(stdout);
  if (!s)
    fprintf(stderr, "prompt: %zu tokens in %.2f s; generated %zu tokens in %.2f s (%.2f tokens/s)%s\n",
            np, t_prompt, n_gen, el - t_prompt,
            n_gen > 1 ? (double)(n_gen - 1) / (el - t_prompt) : 0.0, cache ? "" : " without a KV cache");
  free(seq);
  free(gen);
  free(pids);
  qc_lm_destroy(lm);
  qc_graph_destroy(g);
  qc_tokenizer_free(tok);
  return s ? cli_fail(s) : 0;
}
