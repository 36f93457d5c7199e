/* tokenize_tool — one line of text per sequence, tokenized by quarc, written as .npy.
 *
 *   tokenize_tool TOKENIZER TEXT_FILE MAX_LEN IDS.npy LENGTHS.npy
 *
 * Each line of TEXT_FILE (without its newline) is encoded with the tokenizer's special
 * tokens. A sequence longer than MAX_LEN is cut to MAX_LEN keeping its last token, which
 * is what HF's truncation gives for a BERT template ([CLS] ... [SEP]). IDS.npy is i64
 * [lines, longest] padded with the tokenizer's pad id (0 if it has none); LENGTHS.npy is
 * i64 [lines].
 */
#include "quarc/quarc.h"
#include "quarc/tensor_io.h"
#include "quarc/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(qc_status s) {
  fprintf(stderr, "tokenize_tool: %s\n", qc_status_message(s));
  qc_status_free(s);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: tokenize_tool TOKENIZER TEXT_FILE MAX_LEN IDS.npy LENGTHS.npy\n");
    return 2;
  }
  long max_len = strtol(argv[3], NULL, 10);
  if (max_len < 2) {
    fprintf(stderr, "tokenize_tool: MAX_LEN must be at least 2\n");
    return 2;
  }
  qc_tokenizer *tok;
  qc_status s = qc_tokenizer_load(argv[1], &tok);
  if (s) return fail(s);
  FILE *f = fopen(argv[2], "rb");
  if (!f) {
    fprintf(stderr, "tokenize_tool: %s: cannot open\n", argv[2]);
    qc_tokenizer_free(tok);
    return 1;
  }
  int64_t n = 0, cap = 0, longest = 0;
  int32_t **seqs = NULL;
  size_t *lens = NULL;
  char *line = NULL;
  size_t line_cap = 0;
  ssize_t got;
  while (!s && (got = getline(&line, &line_cap, f)) >= 0) {
    if (got > 0 && line[got - 1] == '\n') line[--got] = 0;
    if (n == cap) {
      cap = cap ? 2 * cap : 256;
      int32_t **ns = realloc(seqs, sizeof *ns * (size_t)cap);
      size_t *nl = realloc(lens, sizeof *nl * (size_t)cap);
      if (ns) seqs = ns;
      if (nl) lens = nl;
      if (!ns || !nl) {
        s = qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory");
        break;
      }
    }
    s = qc_tokenizer_encode(tok, line, (size_t)got, true, &seqs[n], &lens[n]);
    if (s) break;
    if (lens[n] > (size_t)max_len) {
      seqs[n][max_len - 1] = seqs[n][lens[n] - 1];
      lens[n] = (size_t)max_len;
    }
    if ((int64_t)lens[n] > longest) longest = (int64_t)lens[n];
    n++;
  }
  free(line);
  fclose(f);
  int32_t pad = qc_tokenizer_pad(tok);
  qc_tensor ids, lengths;
  memset(&ids, 0, sizeof ids);
  memset(&lengths, 0, sizeof lengths);
  if (!s) s = qc_tensor_alloc(&ids, NULL, QC_I64, 2, (int64_t[]){n, longest});
  if (!s) s = qc_tensor_alloc(&lengths, NULL, QC_I64, 1, (int64_t[]){n});
  if (!s) {
    int64_t *d = qc_tensor_data(&ids), *l = qc_tensor_data(&lengths);
    for (int64_t i = 0; i < n; i++) {
      l[i] = (int64_t)lens[i];
      for (int64_t j = 0; j < longest; j++)
        d[i * longest + j] = j < l[i] ? seqs[i][j] : (pad >= 0 ? pad : 0);
    }
    s = qc_tensor_write_npy(argv[4], &ids);
    if (!s) s = qc_tensor_write_npy(argv[5], &lengths);
  }
  qc_tensor_release(&ids);
  qc_tensor_release(&lengths);
  for (int64_t i = 0; i < n; i++) free(seqs[i]);
  free(seqs);
  free(lens);
  qc_tokenizer_free(tok);
  return s ? fail(s) : 0;
}
