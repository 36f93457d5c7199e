/* quarc eval — evaluate a model.
 *
 *   quarc eval ppl MODEL --text FILE [--seq-len 2048] [--tokenizer PATH] [--max-windows N]
 *                  [--threads N]
 *
 * Perplexity in the usual convention: the whole text is tokenized without BOS and cut into
 * non-overlapping windows of seq-len tokens (a last partial window is dropped, as
 * llama.cpp's perplexity drops it); each window is one forward pass from an empty context,
 * and the NLL of its tokens 1 .. seq-len-1 given their prefixes (log-softmax in double)
 * is averaged over all windows. ppl = exp(mean NLL). llama.cpp's `perplexity` scores only
 * the second half of each window (and puts BOS first where the model adds one); this
 * command scores every position, as Hugging Face's perplexity guide does with stride =
 * seq-len. A progress bar goes to stderr; the last line on stdout is `ppl: <value>`.
 * --save-tokens FILE.npy writes the scored tokens (i64 [windows, seq-len]) for evaluating
 * the same windows with another tool (tools/bench/bench_ppl.py feeds them to llama.cpp).
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
#include <time.h>

static int run_eval(int argc, char **argv);
const cli_command cli_cmd_eval = {
    "eval", "evaluate a language model (perplexity)",
    "quarc eval ppl MODEL --text FILE [--seq-len 2048] [--tokenizer PATH] [--max-windows N]\n"
    "               [--threads N] [--save-tokens FILE.npy]\n"
    "  MODEL: a Hugging Face directory, a .gguf file, or an .onnx file (with --tokenizer)",
    run_eval};

double cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress(const char *what, int64_t done, int64_t total, const char *extra) {
  int width = 30, fill = total ? (int)(width * done / total) : width;
  fprintf(stderr, "\r%s [", what);
  for (int i = 0; i < width; i++) fputc(i < fill ? '=' : i == fill ? '>' : ' ', stderr);
  fprintf(stderr, "] %lld/%lld %s", (long long)done, (long long)total, extra ? extra : "");
  if (done == total) fputc('\n', stderr);
  fflush(stderr);
}

static int run_ppl(int argc, char **argv) {
  const char *model = NULL, *text = NULL, *tok_path = NULL, *save = NULL;
  long long seq_len = 2048, max_windows = -1;
  int threads = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    char *end = NULL;
    if (!strcmp(a, "--text") && i + 1 < argc) text = argv[++i];
    else if (!strcmp(a, "--tokenizer") && i + 1 < argc) tok_path = argv[++i];
    else if (!strcmp(a, "--save-tokens") && i + 1 < argc) save = argv[++i];
    else if (!strcmp(a, "--seq-len") && i + 1 < argc) {
      seq_len = strtoll(argv[++i], &end, 10);
      if (*end || seq_len < 2) return cli_usage_error(&cli_cmd_eval, "--seq-len must be an integer >= 2");
    } else if (!strcmp(a, "--max-windows") && i + 1 < argc) {
      max_windows = strtoll(argv[++i], &end, 10);
      if (*end || max_windows < 1) return cli_usage_error(&cli_cmd_eval, "--max-windows must be a positive integer");
    } else if (!strcmp(a, "--threads") && i + 1 < argc) {
      threads = atoi(argv[++i]);
    } else if (a[0] == '-' && a[1]) {
      return cli_usage_error(&cli_cmd_eval, "unknown option '%s'", a);
    } else if (!model) {
      model = a;
    } else {
      return cli_usage_error(&cli_cmd_eval, "unexpected argument '%s'", a);
    }
  }
  if (!model) return cli_usage_error(&cli_cmd_eval, "no model given");
  if (!text) return cli_usage_error(&cli_cmd_eval, "no text given (--text FILE)");
  char *buf;
  size_t len;
  qc_status s = qc_read_file(text, &buf, &len);
  if (s) return cli_fail(s);
  qc_tokenizer *tok;
  s = qc_model_tokenizer(tok_path ? tok_path : model, &tok);
  if (s) {
    free(buf);
    return cli_fail(s);
  }
  int32_t *ids32 = NULL;
  size_t n_tok = 0;
  s = qc_tokenizer_encode(tok, buf, len, false, &ids32, &n_tok);
  qc_tokenizer_free(tok);
  free(buf);
  if (s) return cli_fail(qc_status_wrap(s, "%s: tokenizing", text));
  long long n_win = (long long)n_tok / seq_len;
  if (max_windows > 0 && n_win > max_windows) n_win = max_windows;
  if (n_win < 1) {
    free(ids32);
    return cli_fail(qc_status_new(QC_CODE_INVALID_ARGUMENT,
                                  "%s: %zu tokens, fewer than one window of %lld (--seq-len)", text,
                                  n_tok, seq_len));
  }
  if (save) {
    qc_tensor t;
    s = qc_tensor_alloc(&t, NULL, QC_I64, 2, (int64_t[]){n_win, seq_len});
    if (!s) {
      int64_t *d = qc_tensor_data(&t);
      for (long long i = 0; i < n_win * seq_len; i++) d[i] = ids32[i];
      s = qc_tensor_write_npy(save, &t);
      qc_tensor_release(&t);
    }
    if (s) {
      free(ids32);
      return cli_fail(s);
    }
  }
  qc_build_options bo = {.kv_cache = false, .max_seq = seq_len};
  qc_graph *g;
  s = qc_model_open(model, &bo, &g);
  if (s) {
    free(ids32);
    return cli_fail(s);
  }
  qc_interp_options io = {.n_threads = threads};
  qc_lm *lm;
  s = qc_lm_create(g, &io, &lm);
  int64_t *win = malloc(sizeof(int64_t) * (size_t)seq_len);
  if (!s && !win) s = qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory");
  double nll = 0, t0 = cli_now();
  int64_t scored = 0;
  fprintf(stderr, "%s: %zu tokens, %lld windows of %lld\n", text, n_tok, n_win, seq_len);
  for (long long w = 0; w < n_win && !s; w++) {
    for (long long i = 0; i < seq_len; i++) win[i] = ids32[w * seq_len + i];
    qc_tensor logits;
    s = qc_lm_run(lm, 1, seq_len, win, false, &logits);
    double part = 0;
    if (!s) s = qc_lm_nll(lm, &logits, win, seq_len, &part);
    qc_tensor_release(&logits);
    if (s) break;
    nll += part;
    scored += seq_len - 1;
    char extra[96];
    double el = cli_now() - t0;
    snprintf(extra, sizeof extra, "ppl %.4f, %.1f tok/s", exp(nll / (double)scored),
             (double)((w + 1) * seq_len) / el);
    cli_progress("ppl", w + 1, n_win, extra);
  }
  free(win);
  free(ids32);
  qc_lm_destroy(lm);
  qc_graph_destroy(g);
  if (s) return cli_fail(s);
  double el = cli_now() - t0;
  fprintf(stderr, "%lld tokens scored in %.2f s (%.1f tokens/s evaluated)\n", (long long)scored, el,
          (double)(n_win * seq_len) / el);
  printf("ppl: %.6f\n", exp(nll / (double)scored));
  return 0;
}

static int run_eval(int argc, char **argv) {
  if (argc < 2) return cli_usage_error(&cli_cmd_eval, "no metric given (known: ppl)");
  if (!strcmp(argv[1], "ppl")) return run_ppl(argc - 1, argv + 1);
  return cli_usage_error(&cli_cmd_eval, "unknown metric '%s' (known: ppl)", argv[1]);
}
