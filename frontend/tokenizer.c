/*
 * Tokenizers with Hugging Face `tokenizers` semantics.
 *
 * Encoding runs the same pipeline as `tokenizers`: split out added (special) tokens,
 * normalize each remaining segment, pre-tokenize it into pieces, run the model (BPE,
 * WordPiece, or score-based SentencePiece merging for GGUF "llama" vocabularies) on each
 * piece, then apply the post-processor's template. Supported components:
 *   normalizers:    BertNormalizer, Lowercase, NFD, NFC, StripAccents, Strip, Prepend,
 *                   Replace (string or regex), Sequence
 *   pre-tokenizers: ByteLevel, Split (regex or string, every behavior), Digits, Metaspace,
 *                   BertPreTokenizer, Whitespace, WhitespaceSplit, Punctuation, Sequence
 *   models:         BPE (merges, byte_fallback, ignore_merges, fuse_unk,
 *                   continuing_subword_prefix, end_of_word_suffix), WordPiece
 *   post-processors: TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel,
 *                   Sequence
 *   decoders:       ByteLevel, WordPiece, Metaspace, Replace, ByteFallback, Fuse, Strip,
 *                   BPEDecoder, Sequence
 * Anything else is rejected at load time with the component named.
 */
#include "quarc/tokenizer.h"

#include "frontend/regex.h"
#include "frontend/unicode.h"
#include "ir/bytes.h"
#include "ir/internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* ---- small growable buffers ---------------------------------------------------------------- */

static void sb_cp(qc_bytes *b, uint32_t cp) {
  char u[4];
  qc_bytes_put(b, u, (size_t)qc_utf8_put(cp, u));
}

typedef struct ivec {
  int32_t *v;
  size_t n, cap;
  bool oom;
} ivec;

static void iv_push(ivec *a, int32_t x) {
  if (a->oom) return;
  if (a->n == a->cap) {
    size_t nc = a->cap ? a->cap * 2 : 64;
    int32_t *q = realloc(a->v, nc * sizeof *q);
    if (!q) {
      a->oom = true;
      return;
    }
    a->v = q;
    a->cap = nc;
  }
  a->v[a->n++] = x;
}

/* A list of string pieces (owned). */
typedef struct pieces {
  char **s;
  size_t *len;
  size_t n, cap;
  bool oom;
} pieces;

static void pc_push(pieces *p, const char *s, size_t n) {
  if (p->oom) return;
  if (p->n == p->cap) {
    size_t nc = p->cap ? p->cap * 2 : 16;
    char **a = realloc(p->s, nc * sizeof *a);
    size_t *l = a ? realloc(p->len, nc * sizeof *l) : NULL;
    if (a) p->s = a;
    if (!a || !l) {
      p->oom = true;
      return;
    }
    p->len = l;
    p->cap = nc;
  }
  char *c = malloc(n + 1);
  if (!c) {
    p->oom = true;
    return;
  }
  memcpy(c, s, n);
  c[n] = 0;
  p->s[p->n] = c;
  p->len[p->n++] = n;
}

static void pc_free(pieces *p) {
  for (size_t i = 0; i < p->n; i++) free(p->s[i]);
  free(p->s);
  free(p->len);
  memset(p, 0, sizeof *p);
}

/* ---- u64 -> (rank, id) map for merges ----------------------------------------------------- */

typedef struct merge_map {
  uint64_t *keys; /* 0 = empty; key = (a+1)<<32 | (b+1) */
  int32_t *rank, *id;
  size_t cap, n;
} merge_map;

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

static bool mm_put(merge_map *m, int32_t a, int32_t b, int32_t rank, int32_t id) {
  if ((m->n + 1) * 2 > m->cap) {
    size_t nc = m->cap ? m->cap * 2 : 1024;
    uint64_t *k = calloc(nc, sizeof *k);
    int32_t *r = malloc(nc * sizeof *r), *d = malloc(nc * sizeof *d);
    if (!k || !r || !d) {
      free(k);
      free(r);
      free(d);
      return false;
    }
    for (size_t i = 0; i < m->cap; i++) {
      if (!m->keys[i]) continue;
      size_t j = mix64(m->keys[i]) & (nc - 1);
      while (k[j]) j = (j + 1) & (nc - 1);
      k[j] = m->keys[i];
      r[j] = m->rank[i];
      d[j] = m->id[i];
    }
    free(m->keys);
    free(m->rank);
    free(m->id);
    m->keys = k;
    m->rank = r;
    m->id = d;
    m->cap = nc;
  }
  uint64_t key = ((uint64_t)(uint32_t)(a + 1) << 32) | (uint32_t)(b + 1);
  size_t j = mix64(key) & (m->cap - 1);
  while (m->keys[j] && m->keys[j] != key) j = (j + 1) & (m->cap - 1);
  if (m->keys[j]) return true; /* first occurrence wins (lowest rank) */
  m->keys[j] = key;
  m->rank[j] = rank;
  m->id[j] = id;
  m->n++;
  return true;
}

static bool mm_get(const merge_map *m, int32_t a, int32_t b, int32_t *rank, int32_t *id) {
  if (!m->cap) return false;
  uint64_t key = ((uint64_t)(uint32_t)(a + 1) << 32) | (uint32_t)(b + 1);
  size_t j = mix64(key) & (m->cap - 1);
  while (m->keys[j]) {
    if (m->keys[j] == key) {
      *rank = m->rank[j];
      *id = m->id[j];
      return true;
    }
    j = (j + 1) & (m->cap - 1);
  }
  return false;
}

/* ---- components --------------------------------------------------------------------------- */

typedef enum {
  NORM_BERT, NORM_LOWER, NORM_NFD, NORM_NFC, NORM_STRIP_ACCENTS, NORM_STRIP, NORM_PREPEND,
  NORM_REPLACE
} norm_kind;

typedef struct norm {
  norm_kind kind;
  bool clean_text, chinese, strip_accents, lowercase; /* BERT */
  bool left, right;                                   /* Strip */
  char *str;                                          /* Prepend / Replace content */
  char *pattern;                                      /* Replace: literal pattern */
  qc_regex *rx;                                       /* Replace: regex pattern */
} norm;

typedef enum {
  PRE_BYTELEVEL, PRE_SPLIT, PRE_DIGITS, PRE_METASPACE, PRE_BERT, PRE_WHITESPACE,
  PRE_WHITESPACE_SPLIT, PRE_PUNCT
} pre_kind;

typedef enum { BEH_ISOLATED, BEH_REMOVED, BEH_PREV, BEH_NEXT, BEH_CONTIGUOUS } behavior;

typedef struct pre {
  pre_kind kind;
  bool add_prefix_space, use_regex; /* ByteLevel */
  qc_regex *rx;                     /* Split/ByteLevel/Whitespace */
  char *literal;                    /* Split with a String pattern */
  behavior beh;
  bool invert;
  bool individual_digits;
  uint32_t replacement;             /* Metaspace */
  int prepend_scheme;               /* 0 always, 1 first, 2 never */
  bool split;
} pre;

typedef enum { DEC_BYTELEVEL, DEC_WORDPIECE, DEC_METASPACE, DEC_REPLACE, DEC_BYTEFALLBACK,
               DEC_FUSE, DEC_STRIP, DEC_BPE } dec_kind;

typedef struct dec {
  dec_kind kind;
  char *a, *b;          /* Replace pattern/content; WordPiece prefix; BPE suffix */
  bool cleanup;
  uint32_t replacement; /* Metaspace */
  int prepend_scheme;
  int strip_left, strip_right;
} dec;

typedef struct added_tok {
  char *content;
  size_t len;
  int32_t id;
  bool special, lstrip, rstrip;
} added_tok;

typedef enum { MODEL_BPE, MODEL_WORDPIECE, MODEL_SPM } model_kind;

struct qc_tokenizer {
  model_kind model;
  int32_t n_vocab;
  char **tok;
  int32_t *tok_len;
  qc_strmap map;
  /* BPE */
  merge_map merges;
  bool byte_fallback, ignore_merges, fuse_unk;
  char *cont_prefix, *eow_suffix;
  int32_t unk;
  /* SPM */
  float *scores;
  /* WordPiece */
  int32_t max_chars;
  /* pipeline */
  norm *norms;
  int n_norms;
  pre *pres;
  int n_pres;
  dec *decs;
  int n_decs;
  added_tok *added;
  int n_added;
  bool *is_special; /* per id */
  /* post-processor: template single = prefix ids, $A, suffix ids */
  int32_t *post_pre, *post_suf;
  int n_post_pre, n_post_suf;
  int32_t bos, eos, pad;
  bool spm_add_space_prefix;
  bool byte_level; /* vocabulary is in byte-level (GPT-2) alphabet */
};

/* Byte-level alphabet (GPT-2): printable bytes map to themselves, others to 256+k. */
static uint32_t byte_to_cp[256];
static int16_t cp_to_byte[512];
static void byte_level_init(void) {
  static bool done;
  if (done) return;
  int k = 0;
  for (int b = 0; b < 256; b++) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    byte_to_cp[b] = printable ? (uint32_t)b : (uint32_t)(256 + k++);
  }
  for (int i = 0; i < 512; i++) cp_to_byte[i] = -1;
  for (int b = 0; b < 256; b++) cp_to_byte[byte_to_cp[b]] = (int16_t)b;
  done = true;
}

int32_t qc_tokenizer_vocab_size(const qc_tokenizer *t) { return t->n_vocab; }
const char *qc_tokenizer_token(const qc_tokenizer *t, int32_t id) {
  return id >= 0 && id < t->n_vocab ? t->tok[id] : NULL;
}
int32_t qc_tokenizer_find(const qc_tokenizer *t, const char *token) {
  return qc_strmap_get(&t->map, token);
}
int32_t qc_tokenizer_bos(const qc_tokenizer *t) { return t->bos; }
int32_t qc_tokenizer_eos(const qc_tokenizer *t) { return t->eos; }
int32_t qc_tokenizer_pad(const qc_tokenizer *t) { return t->pad; }

void qc_tokenizer_free(qc_tokenizer *t) {
  if (!t) return;
  for (int32_t i = 0; i < t->n_vocab; i++) free(t->tok[i]);
  free(t->tok);
  free(t->tok_len);
  qc_strmap_free(&t->map);
  free(t->merges.keys);
  free(t->merges.rank);
  free(t->merges.id);
  free(t->cont_prefix);
  free(t->eow_suffix);
  free(t->scores);
  for (int i = 0; i < t->n_norms; i++) {
    free(t->norms[i].str);
    free(t->norms[i].pattern);
    qc_regex_free(t->norms[i].rx);
  }
  free(t->norms);
  for (int i = 0; i < t->n_pres; i++) {
    qc_regex_free(t->pres[i].rx);
    free(t->pres[i].literal);
  }
  free(t->pres);
  for (int i = 0; i < t->n_decs; i++) {
    free(t->decs[i].a);
    free(t->decs[i].b);
  }
  free(t->decs);
  for (int i = 0; i < t->n_added; i++) free(t->added[i].content);
  free(t->added);
  free(t->is_special);
  free(t->post_pre);
  free(t->post_suf);
  free(t);
}

static qc_tokenizer *tok_new(void) {
  qc_tokenizer *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  qc_strmap_init(&t->map, qc_allocator_default());
  t->unk = t->bos = t->eos = t->pad = -1;
  t->max_chars = 100;
  byte_level_init();
  return t;
}

/* Set the vocabulary size and allocate per-id arrays. */
static qc_status vocab_init(qc_tokenizer *t, int32_t n) {
  t->n_vocab = n;
  t->tok = calloc((size_t)n + 1, sizeof *t->tok);
  t->tok_len = calloc((size_t)n + 1, sizeof *t->tok_len);
  t->is_special = calloc((size_t)n + 1, sizeof *t->is_special);
  if (!t->tok || !t->tok_len || !t->is_special) return QC_OOM();
  return QC_OK;
}

static qc_status vocab_set(qc_tokenizer *t, const char *ctx, int32_t id, const char *s, size_t n) {
  if (id < 0 || id >= t->n_vocab)
    return qc_status_new(QC_CODE_PARSE, "%s: token id %d out of range", ctx, id);
  if (t->tok[id]) {
    /* Re-set (an added token over a vocab entry): drop the old string's map entry first,
     * the map keys point at the strings. */
    if (qc_strmap_get(&t->map, t->tok[id]) == id) qc_strmap_del(&t->map, t->tok[id]);
    free(t->tok[id]);
  }
  t->tok[id] = malloc(n + 1);
  if (!t->tok[id]) return QC_OOM();
  memcpy(t->tok[id], s, n);
  t->tok[id][n] = 0;
  t->tok_len[id] = (int32_t)n;
  if (qc_strmap_get(&t->map, t->tok[id]) < 0 && !qc_strmap_put(&t->map, t->tok[id], id))
    return QC_OOM();
  return QC_OK;
}

/* Fill ids that no entry named (holes in a vocab) with placeholder tokens. */
static qc_status vocab_fill_holes(qc_tokenizer *t) {
  for (int32_t i = 0; i < t->n_vocab; i++)
    if (!t->tok[i]) {
      t->tok[i] = strdup("");
      if (!t->tok[i]) return QC_OOM();
    }
  return QC_OK;
}

/* ---- normalization ------------------------------------------------------------------------ */

static bool is_cjk(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* NFD of a whole string with canonical reordering of combining marks. */
static void nfd_string(const char *s, size_t n, qc_bytes *out, bool drop_mn) {
  uint32_t buf[64];
  int nb = 0;
  size_t i = 0;
  while (i < n || nb) {
    uint32_t d[4];
    int nd = 0;
    if (i < n) nd = qc_uc_nfd(qc_utf8_next(s, n, &i), d);
    for (int k = 0; k < nd; k++) {
      if (qc_uc_ccc(d[k]) == 0 || nb >= 63) {
        /* flush the run, sorted by combining class (stable) */
        for (int a = 1; a < nb; a++)
          for (int b = a; b > 0 && qc_uc_ccc(buf[b - 1]) > qc_uc_ccc(buf[b]) && qc_uc_ccc(buf[b]); b--) {
            uint32_t tmp = buf[b];
            buf[b] = buf[b - 1];
            buf[b - 1] = tmp;
          }
        for (int a = 0; a < nb; a++)
          if (!(drop_mn && qc_uc_is(buf[a], QC_UC_MN))) sb_cp(out, buf[a]);
        nb = 0;
      }
      buf[nb++] = d[k];
    }
    if (i >= n && nd == 0) {
      for (int a = 1; a < nb; a++)
        for (int b = a; b > 0 && qc_uc_ccc(buf[b - 1]) > qc_uc_ccc(buf[b]) && qc_uc_ccc(buf[b]); b--) {
          uint32_t tmp = buf[b];
          buf[b] = buf[b - 1];
          buf[b - 1] = tmp;
        }
      for (int a = 0; a < nb; a++)
        if (!(drop_mn && qc_uc_is(buf[a], QC_UC_MN))) sb_cp(out, buf[a]);
      nb = 0;
    }
  }
}

/* NFC: NFD, then canonical composition. */
static void nfc_string(const char *s, size_t n, qc_bytes *out) {
  qc_bytes d = {0};
  nfd_string(s, n, &d, false);
  size_t i = 0, cnt = 0;
  uint32_t *cps = malloc(sizeof *cps * (d.n + 1));
  if (!cps || d.oom) {
    out->oom = true;
    free(cps);
    free(d.p);
    return;
  }
  while (i < d.n) cps[cnt++] = qc_utf8_next(d.p, d.n, &i);
  size_t starter = SIZE_MAX, w = 0;
  int last_ccc = -1;
  for (size_t k = 0; k < cnt; k++) {
    uint32_t c = cps[k];
    int ccc = qc_uc_ccc(c);
    if (starter != SIZE_MAX && (last_ccc < ccc || (last_ccc == 0 && w == starter + 1))) {
      uint32_t comp = qc_uc_compose(cps[starter], c);
      if (comp && (last_ccc < ccc || last_ccc <= 0)) {
        cps[starter] = comp;
        continue;
      }
    }
    if (ccc == 0) {
      starter = w;
      last_ccc = 0;
    } else {
      last_ccc = ccc;
    }
    cps[w++] = c;
    if (ccc == 0) last_ccc = 0;
  }
  for (size_t k = 0; k < w; k++) sb_cp(out, cps[k]);
  free(cps);
  free(d.p);
}

static void normalize_one(const norm *nm, const char *s, size_t n, qc_bytes *out) {
  switch (nm->kind) {
  case NORM_BERT: {
    qc_bytes tmp = {0};
    for (size_t i = 0; i < n;) {
      uint32_t c = qc_utf8_next(s, n, &i);
      if (nm->clean_text) {
        if (c == 0 || c == 0xfffd) continue;
        bool ws = c == '\t' || c == '\n' || c == '\r' || qc_uc_is(c, QC_UC_ZS);
        if (!ws && qc_uc_is(c, QC_UC_C)) continue;
        if (ws) c = ' ';
      }
      if (nm->chinese && is_cjk(c)) {
        sb_cp(&tmp, ' ');
        sb_cp(&tmp, c);
        sb_cp(&tmp, ' ');
        continue;
      }
      sb_cp(&tmp, c);
    }
    qc_bytes tmp2 = {0};
    const char *cur = tmp.p ? tmp.p : "";
    size_t cn = tmp.n;
    if (nm->strip_accents) {
      nfd_string(cur, cn, &tmp2, true);
      cur = tmp2.p ? tmp2.p : "";
      cn = tmp2.n;
    }
    if (nm->lowercase) {
      for (size_t i = 0; i < cn;) {
        uint32_t l[3];
        int k = qc_uc_lower(qc_utf8_next(cur, cn, &i), l);
        for (int j = 0; j < k; j++) sb_cp(out, l[j]);
      }
    } else {
      qc_bytes_put(out, cur, cn);
    }
    if (tmp.oom || tmp2.oom) out->oom = true;
    free(tmp.p);
    free(tmp2.p);
    return;
  }
  case NORM_LOWER:
    for (size_t i = 0; i < n;) {
      uint32_t l[3];
      int k = qc_uc_lower(qc_utf8_next(s, n, &i), l);
      for (int j = 0; j < k; j++) sb_cp(out, l[j]);
    }
    return;
  case NORM_NFD: nfd_string(s, n, out, false); return;
  case NORM_NFC: nfc_string(s, n, out); return;
  case NORM_STRIP_ACCENTS:
    for (size_t i = 0; i < n;) {
      uint32_t c = qc_utf8_next(s, n, &i);
      if (!qc_uc_is(c, QC_UC_MN)) sb_cp(out, c);
    }
    return;
  case NORM_STRIP: {
    size_t a = 0, b = n;
    if (nm->left)
      while (a < b) {
        size_t j = a;
        if (!qc_uc_is_space(qc_utf8_next(s, n, &j))) break;
        a = j;
      }
    if (nm->right)
      while (b > a) {
        size_t j = b - 1;
        while (j > a && ((unsigned char)s[j] & 0xc0) == 0x80) j--;
        size_t k = j;
        if (!qc_uc_is_space(qc_utf8_next(s, n, &k))) break;
        b = j;
      }
    qc_bytes_put(out, s + a, b - a);
    return;
  }
  case NORM_PREPEND:
    if (n) qc_bytes_put(out, nm->str, strlen(nm->str));
    qc_bytes_put(out, s, n);
    return;
  case NORM_REPLACE: {
    if (nm->pattern) {
      size_t pl = strlen(nm->pattern);
      for (size_t i = 0; i < n;) {
        if (pl && i + pl <= n && memcmp(s + i, nm->pattern, pl) == 0) {
          qc_bytes_put(out, nm->str, strlen(nm->str));
          i += pl;
        } else {
          qc_bytes_put(out, s + i, 1);
          i++;
        }
      }
      return;
    }
    /* regex replace over code points */
    size_t cnt = 0;
    uint32_t *cps = malloc(sizeof *cps * (n + 1));
    size_t *off = malloc(sizeof *off * (n + 1));
    if (!cps || !off) {
      out->oom = true;
      free(cps);
      free(off);
      return;
    }
    for (size_t i = 0; i < n;) {
      off[cnt] = i;
      cps[cnt++] = qc_utf8_next(s, n, &i);
    }
    off[cnt] = n;
    size_t pos = 0, ms, me;
    while (pos <= cnt && qc_regex_search(nm->rx, cps, cnt, pos, &ms, &me)) {
      qc_bytes_put(out, s + off[pos], off[ms] - off[pos]);
      qc_bytes_put(out, nm->str, strlen(nm->str));
      pos = me > ms ? me : ms + 1;
      if (me == ms && ms < cnt) qc_bytes_put(out, s + off[ms], off[ms + 1] - off[ms]);
    }
    if (pos < cnt) qc_bytes_put(out, s + off[pos], n - off[pos]);
    free(cps);
    free(off);
    return;
  }
  }
}

static qc_status normalize(const qc_tokenizer *t, const char *s, size_t n, qc_bytes *out) {
  qc_bytes cur = {0};
  qc_bytes_put(&cur, s, n);
  for (int i = 0; i < t->n_norms; i++) {
    qc_bytes next = {0};
    normalize_one(&t->norms[i], cur.p ? cur.p : "", cur.n, &next);
    if (!next.p) qc_bytes_put(&next, "", 0);
    free(cur.p);
    cur = next;
    if (cur.oom) break;
  }
  if (cur.oom) {
    free(cur.p);
    return QC_OOM();
  }
  *out = cur;
  if (!out->p) qc_bytes_put(out, "", 0);
  return QC_OK;
}

/* ---- pre-tokenization -------------------------------------------------------------------- */

/* Split one piece by a predicate/regex into sub-pieces following `beh`. The splits are
 * given as a list of [start,end) byte ranges of the matches. */
static void split_apply(const char *s, size_t n, const size_t *ms, const size_t *me, size_t nm,
                        behavior beh, bool invert, pieces *out) {
  /* Build alternating segments: (gap, match, gap, match, ..., gap) */
  if (invert) {
    /* The matches are the kept pieces, gaps are the "delimiters". Emulate by swapping. */
    size_t *gs = malloc(sizeof *gs * (nm + 1)), *ge = malloc(sizeof *ge * (nm + 1));
    if (!gs || !ge) {
      out->oom = true;
      free(gs);
      free(ge);
      return;
    }
    size_t ng = 0, prev = 0;
    for (size_t i = 0; i <= nm; i++) {
      size_t a = i < nm ? ms[i] : n;
      if (a > prev) {
        gs[ng] = prev;
        ge[ng++] = a;
      }
      if (i < nm) prev = me[i];
    }
    split_apply(s, n, gs, ge, ng, beh, false, out);
    free(gs);
    free(ge);
    return;
  }
  size_t prev = 0;
  char *pending = NULL; /* for MergedWithNext: a delimiter waiting for its next piece */
  size_t pend_len = 0;
  qc_bytes acc = {0};
  bool have_acc = false;
  for (size_t i = 0; i <= nm; i++) {
    size_t gs = prev, ge = i < nm ? ms[i] : n;
    if (ge > gs || i == nm) {
      if (ge > gs) {
        switch (beh) {
        case BEH_NEXT:
          if (pending) {
            qc_bytes b = {0};
            qc_bytes_put(&b, pending, pend_len);
            qc_bytes_put(&b, s + gs, ge - gs);
            pc_push(out, b.p, b.n);
            free(b.p);
            pending = NULL;
          } else pc_push(out, s + gs, ge - gs);
          break;
        case BEH_CONTIGUOUS:
          if (have_acc) {
            pc_push(out, acc.p, acc.n);
            acc.n = 0;
            have_acc = false;
          }
          pc_push(out, s + gs, ge - gs);
          break;
        default: pc_push(out, s + gs, ge - gs); break;
        }
      }
    }
    if (i == nm) break;
    size_t a = ms[i], b = me[i];
    if (b > a) {
      switch (beh) {
      case BEH_ISOLATED: pc_push(out, s + a, b - a); break;
      case BEH_REMOVED: break;
      case BEH_PREV:
        if (out->n && ms[i] == (i ? me[i - 1] : 0) && i > 0 && a == prev && ge == gs) {
          /* previous piece was a delimiter too: merge with it */
        }
        if (out->n && a == prev && gs < ge) {
          qc_bytes bb = {0};
          qc_bytes_put(&bb, out->s[out->n - 1], out->len[out->n - 1]);
          qc_bytes_put(&bb, s + a, b - a);
          free(out->s[out->n - 1]);
          out->n--;
          pc_push(out, bb.p, bb.n);
          free(bb.p);
        } else pc_push(out, s + a, b - a);
        break;
      case BEH_NEXT:
        if (pending) pc_push(out, pending, pend_len);
        pending = (char *)s + a;
        pend_len = b - a;
        break;
      case BEH_CONTIGUOUS:
        qc_bytes_put(&acc, s + a, b - a);
        have_acc = true;
        break;
      }
    }
    prev = b;
  }
  if (pending) pc_push(out, pending, pend_len);
  if (have_acc) pc_push(out, acc.p, acc.n);
  free(acc.p);
}

/* Regex split of a UTF-8 piece. */
static void regex_split(const qc_regex *rx, const char *s, size_t n, behavior beh, bool invert,
                        pieces *out) {
  uint32_t *cps = malloc(sizeof *cps * (n + 1));
  size_t *off = malloc(sizeof *off * (n + 1));
  size_t *ms = malloc(sizeof *ms * (n + 1)), *me = malloc(sizeof *me * (n + 1));
  if (!cps || !off || !ms || !me) {
    out->oom = true;
    goto done;
  }
  size_t cnt = 0;
  for (size_t i = 0; i < n;) {
    off[cnt] = i;
    cps[cnt++] = qc_utf8_next(s, n, &i);
  }
  off[cnt] = n;
  size_t nmatch = 0, pos = 0, a, b;
  while (pos <= cnt && qc_regex_search(rx, cps, cnt, pos, &a, &b)) {
    if (b == a) { /* empty matches split nothing */
      pos = a + 1;
      continue;
    }
    ms[nmatch] = off[a];
    me[nmatch++] = off[b];
    pos = b;
  }
  split_apply(s, n, ms, me, nmatch, beh, invert, out);
done:
  free(cps);
  free(off);
  free(ms);
  free(me);
}

static bool is_bert_punct(uint32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126))
    return true;
  return qc_uc_is(c, QC_UC_P);
}

/* Split by a code-point predicate: each matching char its own delimiter. */
static void char_split(const char *s, size_t n, bool (*pred)(uint32_t), behavior beh, pieces *out,
                       bool each_char) {
  size_t *ms = malloc(sizeof *ms * (n + 1)), *me = malloc(sizeof *me * (n + 1));
  if (!ms || !me) {
    out->oom = true;
    free(ms);
    free(me);
    return;
  }
  size_t nm = 0;
  for (size_t i = 0; i < n;) {
    size_t st = i;
    uint32_t c = qc_utf8_next(s, n, &i);
    if (!pred(c)) continue;
    if (!each_char && nm && me[nm - 1] == st) {
      me[nm - 1] = i;
      continue;
    }
    ms[nm] = st;
    me[nm++] = i;
  }
  split_apply(s, n, ms, me, nm, beh, false, out);
  free(ms);
  free(me);
}

static bool pred_space(uint32_t c) { return qc_uc_is_space(c); }
static bool pred_digit(uint32_t c) { return qc_uc_is(c, QC_UC_N); }

static void pretok_one(const pre *p, const char *s, size_t n, bool first_segment, pieces *out) {
  switch (p->kind) {
  case PRE_BYTELEVEL: {
    qc_bytes in = {0};
    if (p->add_prefix_space && n && s[0] != ' ') qc_bytes_put(&in, " ", 1);
    qc_bytes_put(&in, s, n);
    pieces parts = {0};
    if (p->use_regex) regex_split(p->rx, in.p ? in.p : "", in.n, BEH_ISOLATED, false, &parts);
    else pc_push(&parts, in.p ? in.p : "", in.n);
    for (size_t k = 0; k < parts.n; k++) {
      qc_bytes m = {0};
      for (size_t j = 0; j < parts.len[k]; j++) sb_cp(&m, byte_to_cp[(unsigned char)parts.s[k][j]]);
      pc_push(out, m.p ? m.p : "", m.n);
      free(m.p);
    }
    if (parts.oom) out->oom = true;
    pc_free(&parts);
    free(in.p);
    return;
  }
  case PRE_SPLIT:
    if (p->rx) regex_split(p->rx, s, n, p->beh, p->invert, out);
    else {
      size_t pl = strlen(p->literal);
      size_t *ms = malloc(sizeof *ms * (n + 1)), *me = malloc(sizeof *me * (n + 1)), nm = 0;
      if (!ms || !me) {
        out->oom = true;
        free(ms);
        free(me);
        return;
      }
      for (size_t i = 0; pl && i + pl <= n;) {
        if (memcmp(s + i, p->literal, pl) == 0) {
          ms[nm] = i;
          me[nm++] = i + pl;
          i += pl;
        } else i++;
      }
      split_apply(s, n, ms, me, nm, p->beh, p->invert, out);
      free(ms);
      free(me);
    }
    return;
  case PRE_DIGITS: char_split(s, n, pred_digit, BEH_ISOLATED, out, p->individual_digits); return;
  case PRE_METASPACE: {
    qc_bytes m = {0};
    char rep[4];
    int rl = qc_utf8_put(p->replacement, rep);
    /* As `tokenizers` does: replace spaces first, then prepend unless the result already
     * starts with the replacement. */
    bool prepend = p->prepend_scheme == 0 || (p->prepend_scheme == 1 && first_segment);
    bool starts = (n >= (size_t)rl && memcmp(s, rep, (size_t)rl) == 0) || (n && s[0] == ' ');
    if (prepend && !starts) qc_bytes_put(&m, rep, (size_t)rl);
    for (size_t i = 0; i < n; i++) {
      if (s[i] == ' ') qc_bytes_put(&m, rep, (size_t)rl);
      else qc_bytes_put(&m, s + i, 1);
    }
    if (!p->split) {
      pc_push(out, m.p ? m.p : "", m.n);
    } else {
      size_t *ms = malloc(sizeof *ms * (m.n + 1)), *me = malloc(sizeof *me * (m.n + 1)), nm = 0;
      if (!ms || !me) out->oom = true;
      else {
        for (size_t i = 0; i + (size_t)rl <= m.n; i++)
          if (memcmp(m.p + i, rep, (size_t)rl) == 0) {
            ms[nm] = i;
            me[nm++] = i + (size_t)rl;
            i += (size_t)rl - 1;
          }
        split_apply(m.p ? m.p : "", m.n, ms, me, nm, BEH_NEXT, false, out);
      }
      free(ms);
      free(me);
    }
    free(m.p);
    return;
  }
  case PRE_BERT: {
    pieces ws = {0};
    char_split(s, n, pred_space, BEH_REMOVED, &ws, false);
    for (size_t k = 0; k < ws.n; k++) {
      size_t *ms = malloc(sizeof *ms * (ws.len[k] + 1)), *me = malloc(sizeof *me * (ws.len[k] + 1));
      if (!ms || !me) {
        out->oom = true;
        free(ms);
        free(me);
        continue;
      }
      size_t nm = 0;
      for (size_t i = 0; i < ws.len[k];) {
        size_t st = i;
        if (is_bert_punct(qc_utf8_next(ws.s[k], ws.len[k], &i))) {
          ms[nm] = st;
          me[nm++] = i;
        }
      }
      split_apply(ws.s[k], ws.len[k], ms, me, nm, BEH_ISOLATED, false, out);
      free(ms);
      free(me);
    }
    if (ws.oom) out->oom = true;
    pc_free(&ws);
    return;
  }
  case PRE_WHITESPACE: regex_split(p->rx, s, n, BEH_ISOLATED, true, out); return;
  case PRE_WHITESPACE_SPLIT: char_split(s, n, pred_space, BEH_REMOVED, out, false); return;
  case PRE_PUNCT: {
    size_t *ms = malloc(sizeof *ms * (n + 1)), *me = malloc(sizeof *me * (n + 1)), nm = 0;
    if (!ms || !me) {
      out->oom = true;
      free(ms);
      free(me);
      return;
    }
    for (size_t i = 0; i < n;) {
      size_t st = i;
      if (is_bert_punct(qc_utf8_next(s, n, &i))) {
        ms[nm] = st;
        me[nm++] = i;
      }
    }
    split_apply(s, n, ms, me, nm, p->beh, false, out);
    free(ms);
    free(me);
    return;
  }
  }
}

/* ---- models -------------------------------------------------------------------------------- */

typedef struct sym {
  int32_t id;
  int32_t prev, next;
  size_t start, len; /* byte span in the piece (SPM) */
} sym;

typedef struct hent {
  int32_t rank; /* BPE: rank (lower first). SPM: -score scaled is not exact; we keep both */
  float score;
  int32_t pos, right;
  int32_t a, b; /* ids (BPE) or lengths (SPM) at push time */
  int32_t merged;
} hent;

typedef struct heap {
  hent *v;
  size_t n, cap;
  bool spm;
} heap;

static bool hless(const heap *h, const hent *x, const hent *y) {
  if (h->spm) {
    if (x->score != y->score) return x->score > y->score;
    return x->pos < y->pos;
  }
  if (x->rank != y->rank) return x->rank < y->rank;
  return x->pos < y->pos;
}

static bool hpush(heap *h, hent e) {
  if (h->n == h->cap) {
    size_t nc = h->cap ? h->cap * 2 : 64;
    hent *q = realloc(h->v, nc * sizeof *q);
    if (!q) return false;
    h->v = q;
    h->cap = nc;
  }
  size_t i = h->n++;
  h->v[i] = e;
  while (i && hless(h, &h->v[i], &h->v[(i - 1) / 2])) {
    hent t = h->v[i];
    h->v[i] = h->v[(i - 1) / 2];
    h->v[(i - 1) / 2] = t;
    i = (i - 1) / 2;
  }
  return true;
}

static hent hpop(heap *h) {
  hent top = h->v[0];
  h->v[0] = h->v[--h->n];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < h->n && hless(h, &h->v[l], &h->v[m])) m = l;
    if (r < h->n && hless(h, &h->v[r], &h->v[m])) m = r;
    if (m == i) break;
    hent t = h->v[i];
    h->v[i] = h->v[m];
    h->v[m] = t;
    i = m;
  }
  return top;
}

static void bpe_push_pair(const qc_tokenizer *t, heap *h, sym *sy, int32_t i) {
  if (i < 0 || sy[i].next < 0) return;
  int32_t j = sy[i].next, rank, merged;
  if (mm_get(&t->merges, sy[i].id, sy[j].id, &rank, &merged)) {
    hent e = {rank, 0, i, j, sy[i].id, sy[j].id, merged};
    if (!hpush(h, e)) h->cap = SIZE_MAX; /* marks OOM */
  }
}

/* Tokenize one piece with BPE into ids. */
static qc_status bpe_piece(const qc_tokenizer *t, const char *s, size_t n, ivec *out) {
  if (t->ignore_merges) {
    int32_t id = qc_strmap_get(&t->map, s);
    if (id >= 0) {
      iv_push(out, id);
      return QC_OK;
    }
  }
  sym *sy = malloc(sizeof *sy * (n + 1) * 4);
  if (!sy) return QC_OOM();
  int32_t ns = 0;
  char tmp[64];
  for (size_t i = 0; i < n;) {
    size_t st = i;
    qc_utf8_next(s, n, &i);
    size_t cl = i - st;
    size_t pl = 0;
    if (t->cont_prefix && st > 0) {
      pl = strlen(t->cont_prefix);
      if (pl + cl >= sizeof tmp) pl = 0;
      else memcpy(tmp, t->cont_prefix, pl);
    }
    memcpy(tmp + pl, s + st, cl);
    size_t tl = pl + cl;
    if (t->eow_suffix && i == n) {
      size_t sl = strlen(t->eow_suffix);
      if (tl + sl < sizeof tmp) {
        memcpy(tmp + tl, t->eow_suffix, sl);
        tl += sl;
      }
    }
    tmp[tl] = 0;
    int32_t id = qc_strmap_get(&t->map, tmp);
    if (id >= 0) {
      sy[ns] = (sym){id, -1, -1, st, cl}, ns++;
    } else if (t->byte_fallback) {
      bool all = true;
      for (size_t b = st; b < i; b++) {
        char bt[8];
        snprintf(bt, sizeof bt, "<0x%02X>", (unsigned char)s[b]);
        if (qc_strmap_get(&t->map, bt) < 0) all = false;
      }
      if (all)
        for (size_t b = st; b < i; b++) {
          char bt[8];
          snprintf(bt, sizeof bt, "<0x%02X>", (unsigned char)s[b]);
          sy[ns] = (sym){qc_strmap_get(&t->map, bt), -1, -1, b, 1}, ns++;
        }
      else if (t->unk >= 0) sy[ns] = (sym){t->unk, -1, -1, st, cl}, ns++;
    } else if (t->unk >= 0) {
      if (t->fuse_unk && ns && sy[ns - 1].id == t->unk) continue;
      sy[ns] = (sym){t->unk, -1, -1, st, cl}, ns++;
    }
  }
  for (int32_t i = 0; i < ns; i++) {
    sy[i].prev = i - 1;
    sy[i].next = i + 1 < ns ? i + 1 : -1;
  }
  heap h = {0};
  for (int32_t i = 0; i + 1 < ns; i++) bpe_push_pair(t, &h, sy, i);
  while (h.n && h.cap != SIZE_MAX) {
    hent e = hpop(&h);
    int32_t i = e.pos, j = e.right;
    if (sy[i].id != e.a || sy[i].next != j || j < 0 || sy[j].id != e.b) continue;
    sy[i].id = e.merged;
    sy[i].next = sy[j].next;
    if (sy[j].next >= 0) sy[sy[j].next].prev = i;
    sy[j].id = -1;
    bpe_push_pair(t, &h, sy, sy[i].prev);
    bpe_push_pair(t, &h, sy, i);
  }
  bool oom = h.cap == SIZE_MAX;
  free(h.v);
  if (!oom)
    for (int32_t i = ns ? 0 : -1; i >= 0; i = sy[i].next) iv_push(out, sy[i].id);
  free(sy);
  return oom ? QC_OOM() : QC_OK;
}

/* WordPiece: greedy longest match from the left. */
static qc_status wordpiece_piece(const qc_tokenizer *t, const char *s, size_t n, ivec *out) {
  size_t nchars = 0;
  for (size_t i = 0; i < n;) {
    qc_utf8_next(s, n, &i);
    nchars++;
  }
  if ((int64_t)nchars > t->max_chars) {
    iv_push(out, t->unk);
    return QC_OK;
  }
  size_t mark = out->n;
  const char *pre = t->cont_prefix ? t->cont_prefix : "##";
  size_t pl = strlen(pre);
  char *buf = malloc(n + pl + 1);
  if (!buf) return QC_OOM();
  size_t start = 0;
  while (start < n) {
    size_t end = n;
    int32_t found = -1;
    while (end > start) {
      size_t off = 0;
      if (start > 0) {
        memcpy(buf, pre, pl);
        off = pl;
      }
      memcpy(buf + off, s + start, end - start);
      buf[off + end - start] = 0;
      found = qc_strmap_get(&t->map, buf);
      if (found >= 0) break;
      /* step back one UTF-8 char */
      end--;
      while (end > start && ((unsigned char)s[end] & 0xc0) == 0x80) end--;
    }
    if (found < 0) {
      out->n = mark;
      iv_push(out, t->unk);
      free(buf);
      return QC_OK;
    }
    iv_push(out, found);
    start = end;
  }
  free(buf);
  return QC_OK;
}

/* SentencePiece-style merging by score (GGUF "llama" vocabularies). */
static qc_status spm_piece(const qc_tokenizer *t, const char *s, size_t n, ivec *out) {
  sym *sy = malloc(sizeof *sy * (n + 1));
  if (!sy) return QC_OOM();
  int32_t ns = 0;
  for (size_t i = 0; i < n;) {
    size_t st = i;
    qc_utf8_next(s, n, &i);
    sy[ns] = (sym){0, ns - 1, -1, st, i - st};
    ns++;
  }
  for (int32_t i = 0; i < ns; i++) sy[i].next = i + 1 < ns ? i + 1 : -1;
  heap h = {0};
  h.spm = true;
  char *tmp = malloc(n + 1);
  if (!tmp) {
    free(sy);
    return QC_OOM();
  }
#define SPM_TRY(i)                                                                                 \
  do {                                                                                             \
    int32_t a_ = (i);                                                                              \
    if (a_ >= 0 && sy[a_].next >= 0) {                                                            \
      int32_t b_ = sy[a_].next;                                                                    \
      size_t L = sy[a_].len + sy[b_].len;                                                          \
      memcpy(tmp, s + sy[a_].start, L);                                                            \
      tmp[L] = 0;                                                                                  \
      int32_t id_ = qc_strmap_get(&t->map, tmp);                                                   \
      if (id_ >= 0) {                                                                              \
        hent e_ = {0, t->scores ? t->scores[id_] : 0.0f, a_, b_, (int32_t)sy[a_].len,              \
                   (int32_t)sy[b_].len, id_};                                                      \
        if (!hpush(&h, e_)) h.cap = SIZE_MAX;                                                      \
      }                                                                                            \
    }                                                                                              \
  } while (0)
  for (int32_t i = 0; i + 1 < ns; i++) SPM_TRY(i);
  while (h.n && h.cap != SIZE_MAX) {
    hent e = hpop(&h);
    int32_t i = e.pos, j = e.right;
    if (sy[i].len == 0 || sy[i].next != j || (int32_t)sy[i].len != e.a || (int32_t)sy[j].len != e.b)
      continue;
    sy[i].len += sy[j].len;
    sy[i].next = sy[j].next;
    if (sy[j].next >= 0) sy[sy[j].next].prev = i;
    sy[j].len = 0;
    SPM_TRY(sy[i].prev);
    SPM_TRY(i);
  }
#undef SPM_TRY
  bool oom = h.cap == SIZE_MAX;
  free(h.v);
  for (int32_t i = ns ? 0 : -1; i >= 0 && !oom; i = sy[i].next) {
    memcpy(tmp, s + sy[i].start, sy[i].len);
    tmp[sy[i].len] = 0;
    int32_t id = qc_strmap_get(&t->map, tmp);
    if (id >= 0) {
      iv_push(out, id);
      continue;
    }
    for (size_t b = 0; b < sy[i].len; b++) {
      char bt[8];
      snprintf(bt, sizeof bt, "<0x%02X>", (unsigned char)s[sy[i].start + b]);
      int32_t bid = qc_strmap_get(&t->map, bt);
      iv_push(out, bid >= 0 ? bid : t->unk);
    }
  }
  free(tmp);
  free(sy);
  return oom ? QC_OOM() : QC_OK;
}

/* ---- encode ----------------------------------------------------------------------------- */

static qc_status encode_segment(const qc_tokenizer *t, const char *s, size_t n, bool first,
                                ivec *out) {
  if (t->model == MODEL_SPM) {
    /* llama.cpp's SPM preprocessing: optional leading space, spaces -> U+2581 */
    qc_bytes m = {0};
    if (t->spm_add_space_prefix && first) qc_bytes_put(&m, "\xe2\x96\x81", 3);
    for (size_t i = 0; i < n; i++) {
      if (s[i] == ' ') qc_bytes_put(&m, "\xe2\x96\x81", 3);
      else qc_bytes_put(&m, s + i, 1);
    }
    qc_status st = m.oom ? QC_OOM() : spm_piece(t, m.p ? m.p : "", m.n, out);
    free(m.p);
    return st;
  }
  qc_bytes norm = {0};
  QC_RETURN_IF_ERROR(normalize(t, s, n, &norm));
  pieces cur = {0};
  pc_push(&cur, norm.p, norm.n);
  free(norm.p);
  for (int k = 0; k < t->n_pres && !cur.oom; k++) {
    pieces next = {0};
    for (size_t i = 0; i < cur.n; i++) pretok_one(&t->pres[k], cur.s[i], cur.len[i], first, &next);
    pc_free(&cur);
    cur = next;
  }
  qc_status st = cur.oom ? QC_OOM() : QC_OK;
  for (size_t i = 0; i < cur.n && !st; i++) {
    if (!cur.len[i]) continue;
    st = t->model == MODEL_WORDPIECE ? wordpiece_piece(t, cur.s[i], cur.len[i], out)
                                     : bpe_piece(t, cur.s[i], cur.len[i], out);
  }
  pc_free(&cur);
  return st;
}

static bool is_ws_byte(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

qc_status qc_tokenizer_encode(const qc_tokenizer *t, const char *text, size_t len,
                              bool add_special, int32_t **ids, size_t *n) {
  *ids = NULL;
  *n = 0;
  ivec out = {0};
  if (add_special)
    for (int i = 0; i < t->n_post_pre; i++) iv_push(&out, t->post_pre[i]);
  size_t seg = 0, i = 0;
  bool first = true;
  qc_status st = QC_OK;
  while (i <= len && !st) {
    /* find an added token starting at i (longest) */
    int best = -1;
    if (i < len)
      for (int k = 0; k < t->n_added; k++) {
        const added_tok *a = &t->added[k];
        if (a->len && a->len <= len - i && memcmp(text + i, a->content, a->len) == 0 &&
            (best < 0 || a->len > t->added[best].len))
          best = k;
      }
    if (best < 0 && i < len) {
      i++;
      continue;
    }
    size_t seg_end = i;
    if (best >= 0 && t->added[best].lstrip)
      while (seg_end > seg && is_ws_byte(text[seg_end - 1])) seg_end--;
    if (seg_end > seg) st = encode_segment(t, text + seg, seg_end - seg, first, &out);
    first = false;
    if (best < 0) break;
    iv_push(&out, t->added[best].id);
    i += t->added[best].len;
    if (t->added[best].rstrip)
      while (i < len && is_ws_byte(text[i])) i++;
    seg = i;
  }
  if (!st && add_special)
    for (int k = 0; k < t->n_post_suf; k++) iv_push(&out, t->post_suf[k]);
  if (!st && out.oom) st = QC_OOM();
  if (st) {
    free(out.v);
    return st;
  }
  *ids = out.v ? out.v : malloc(sizeof(int32_t));
  *n = out.n;
  return *ids ? QC_OK : QC_OOM();
}

/* ---- decode ------------------------------------------------------------------------------ */

static int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

qc_status qc_tokenizer_decode(const qc_tokenizer *t, const int32_t *ids, size_t n,
                              bool skip_special, char **text, size_t *len) {
  *text = NULL;
  pieces toks = {0};
  for (size_t i = 0; i < n; i++) {
    if (ids[i] < 0 || ids[i] >= t->n_vocab)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "decode: token id %d out of range", ids[i]);
    if (skip_special && t->is_special[ids[i]]) continue;
    pc_push(&toks, t->tok[ids[i]], (size_t)t->tok_len[ids[i]]);
  }
  if (t->model == MODEL_SPM && !t->n_decs) {
    /* GGUF llama vocab: U+2581 -> space, <0xXX> -> byte, drop the leading space */
    qc_bytes o = {0};
    for (size_t k = 0; k < toks.n; k++) {
      const char *s = toks.s[k];
      size_t l = toks.len[k];
      if (l == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x' && s[5] == '>' && hexval(s[3]) >= 0 &&
          hexval(s[4]) >= 0) {
        char b = (char)(hexval(s[3]) * 16 + hexval(s[4]));
        qc_bytes_put(&o, &b, 1);
        continue;
      }
      for (size_t j = 0; j < l; j++) {
        if (j + 3 <= l && memcmp(s + j, "\xe2\x96\x81", 3) == 0) {
          qc_bytes_put(&o, " ", 1);
          j += 2;
        } else qc_bytes_put(&o, s + j, 1);
      }
    }
    pc_free(&toks);
    size_t off = (t->spm_add_space_prefix && o.n && o.p[0] == ' ') ? 1 : 0;
    if (!o.p) qc_bytes_put(&o, "", 0);
    if (o.oom) {
      free(o.p);
      return QC_OOM();
    }
    memmove(o.p, o.p + off, o.n - off + 1);
    *text = o.p;
    *len = o.n - off;
    return QC_OK;
  }
  for (int d = 0; d < t->n_decs && !toks.oom; d++) {
    const dec *dc = &t->decs[d];
    pieces next = {0};
    switch (dc->kind) {
    case DEC_BYTELEVEL:
      for (size_t k = 0; k < toks.n; k++) {
        qc_bytes b = {0};
        for (size_t j = 0; j < toks.len[k];) {
          uint32_t c = qc_utf8_next(toks.s[k], toks.len[k], &j);
          if (c < 512 && cp_to_byte[c] >= 0) {
            char ch = (char)cp_to_byte[c];
            qc_bytes_put(&b, &ch, 1);
          } else sb_cp(&b, c);
        }
        pc_push(&next, b.p ? b.p : "", b.n);
        free(b.p);
      }
      break;
    case DEC_WORDPIECE:
      for (size_t k = 0; k < toks.n; k++) {
        size_t pl = strlen(dc->a);
        qc_bytes b = {0};
        if (toks.len[k] >= pl && memcmp(toks.s[k], dc->a, pl) == 0) qc_bytes_put(&b, toks.s[k] + pl, toks.len[k] - pl);
        else {
          if (k) qc_bytes_put(&b, " ", 1);
          qc_bytes_put(&b, toks.s[k], toks.len[k]);
        }
        if (dc->cleanup && b.p) {
          static const char *const pairs[][2] = {{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","},
                                                 {" ' ", "'"}, {" n't", "n't"}, {" 'm", "'m"},
                                                 {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
          for (size_t q = 0; q < sizeof pairs / sizeof pairs[0]; q++) {
            size_t fl = strlen(pairs[q][0]), tl = strlen(pairs[q][1]);
            char *hit;
            while ((hit = strstr(b.p, pairs[q][0]))) {
              memmove(hit + tl, hit + fl, strlen(hit + fl) + 1);
              memcpy(hit, pairs[q][1], tl);
              b.n -= fl - tl;
            }
          }
        }
        pc_push(&next, b.p ? b.p : "", b.n);
        free(b.p);
      }
      break;
    case DEC_METASPACE:
      for (size_t k = 0; k < toks.n; k++) {
        qc_bytes b = {0};
        char rep[4];
        int rl = qc_utf8_put(dc->replacement, rep);
        for (size_t j = 0; j < toks.len[k];) {
          if (j + (size_t)rl <= toks.len[k] && memcmp(toks.s[k] + j, rep, (size_t)rl) == 0) {
            if (!(k == 0 && j == 0 && dc->prepend_scheme != 2)) qc_bytes_put(&b, " ", 1);
            j += (size_t)rl;
          } else {
            qc_bytes_put(&b, toks.s[k] + j, 1);
            j++;
          }
        }
        pc_push(&next, b.p ? b.p : "", b.n);
        free(b.p);
      }
      break;
    case DEC_REPLACE:
      for (size_t k = 0; k < toks.n; k++) {
        qc_bytes b = {0};
        size_t pl = strlen(dc->a);
        for (size_t j = 0; j < toks.len[k];) {
          if (pl && j + pl <= toks.len[k] && memcmp(toks.s[k] + j, dc->a, pl) == 0) {
            qc_bytes_put(&b, dc->b, strlen(dc->b));
            j += pl;
          } else qc_bytes_put(&b, toks.s[k] + j++, 1);
        }
        pc_push(&next, b.p ? b.p : "", b.n);
        free(b.p);
      }
      break;
    case DEC_BYTEFALLBACK: {
      qc_bytes bytes = {0};
      for (size_t k = 0; k <= toks.n; k++) {
        const char *s = k < toks.n ? toks.s[k] : NULL;
        bool is_byte = s && toks.len[k] == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x' &&
                       s[5] == '>' && hexval(s[3]) >= 0 && hexval(s[4]) >= 0;
        if (is_byte) {
          char b = (char)(hexval(s[3]) * 16 + hexval(s[4]));
          qc_bytes_put(&bytes, &b, 1);
          continue;
        }
        if (bytes.n) {
          /* valid UTF-8 passes through; each invalid byte becomes U+FFFD */
          qc_bytes v = {0};
          for (size_t j = 0; j < bytes.n;) {
            size_t st = j;
            uint32_t c = qc_utf8_next(bytes.p, bytes.n, &j);
            if (c == 0xfffd && !(j - st == 3 && memcmp(bytes.p + st, "\xef\xbf\xbd", 3) == 0))
              qc_bytes_put(&v, "\xef\xbf\xbd", 3);
            else qc_bytes_put(&v, bytes.p + st, j - st);
          }
          pc_push(&next, v.p ? v.p : "", v.n);
          free(v.p);
          bytes.n = 0;
        }
        if (s) pc_push(&next, s, toks.len[k]);
      }
      free(bytes.p);
      break;
    }
    case DEC_FUSE: {
      qc_bytes b = {0};
      for (size_t k = 0; k < toks.n; k++) qc_bytes_put(&b, toks.s[k], toks.len[k]);
      pc_push(&next, b.p ? b.p : "", b.n);
      free(b.p);
      break;
    }
    case DEC_STRIP:
      for (size_t k = 0; k < toks.n; k++) {
        size_t a = 0, l = toks.len[k];
        for (int q = 0; q < dc->strip_left && a < l && toks.s[k][a] == ' '; q++) a++;
        for (int q = 0; q < dc->strip_right && l > a && toks.s[k][l - 1] == ' '; q++) l--;
        pc_push(&next, toks.s[k] + a, l - a);
      }
      break;
    case DEC_BPE:
      for (size_t k = 0; k < toks.n; k++) {
        qc_bytes b = {0};
        size_t sl = strlen(dc->a);
        if (sl && toks.len[k] >= sl && memcmp(toks.s[k] + toks.len[k] - sl, dc->a, sl) == 0) {
          qc_bytes_put(&b, toks.s[k], toks.len[k] - sl);
          if (k + 1 < toks.n) qc_bytes_put(&b, " ", 1);
        } else qc_bytes_put(&b, toks.s[k], toks.len[k]);
        pc_push(&next, b.p ? b.p : "", b.n);
        free(b.p);
      }
      break;
    }
    pc_free(&toks);
    toks = next;
  }
  qc_bytes o = {0};
  for (size_t k = 0; k < toks.n; k++) qc_bytes_put(&o, toks.s[k], toks.len[k]);
  if (!o.p) qc_bytes_put(&o, "", 0);
  bool oom = toks.oom || o.oom;
  pc_free(&toks);
  if (oom) {
    free(o.p);
    return QC_OOM();
  }
  *text = o.p;
  *len = o.n;
  return QC_OK;
}

/* ---- loading tokenizer.json --------------------------------------------------------------- */

#define JERR(...) qc_status_new(QC_CODE_PARSE, __VA_ARGS__)

static const char *jstr(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}
static bool jbool(const cJSON *o, const char *k, bool dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
  return dflt;
}

static const char *GPT2_PATTERN =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static qc_status parse_pattern(const cJSON *pat, const char *ctx, qc_regex **rx, char **lit) {
  *rx = NULL;
  *lit = NULL;
  const char *r = jstr(pat, "Regex"), *s = jstr(pat, "String");
  if (r) {
    qc_status st = qc_regex_compile(r, rx);
    return st ? qc_status_wrap(st, "%s", ctx) : QC_OK;
  }
  if (s) {
    *lit = strdup(s);
    return *lit ? QC_OK : QC_OOM();
  }
  return JERR("%s: pattern must have \"Regex\" or \"String\"", ctx);
}

static behavior parse_behavior(const char *b) {
  if (!b) return BEH_ISOLATED;
  if (!strcmp(b, "Removed")) return BEH_REMOVED;
  if (!strcmp(b, "MergedWithPrevious")) return BEH_PREV;
  if (!strcmp(b, "MergedWithNext")) return BEH_NEXT;
  if (!strcmp(b, "Contiguous")) return BEH_CONTIGUOUS;
  return BEH_ISOLATED;
}

static int parse_prepend_scheme(const cJSON *o) {
  const char *s = jstr(o, "prepend_scheme");
  if (s) return !strcmp(s, "first") ? 1 : !strcmp(s, "never") ? 2 : 0;
  return jbool(o, "add_prefix_space", true) ? 0 : 2;
}

static uint32_t first_cp(const char *s) {
  size_t i = 0;
  return s && *s ? qc_utf8_next(s, strlen(s), &i) : 0x2581;
}

static qc_status add_norm(qc_tokenizer *t, const cJSON *o, const char *ctx) {
  if (!o || cJSON_IsNull(o)) return QC_OK;
  const char *type = jstr(o, "type");
  if (!type) return JERR("%s: normalizer without a type", ctx);
  if (!strcmp(type, "Sequence")) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "normalizers"), *e;
    cJSON_ArrayForEach(e, a) QC_RETURN_IF_ERROR(add_norm(t, e, ctx));
    return QC_OK;
  }
  norm nm;
  memset(&nm, 0, sizeof nm);
  if (!strcmp(type, "BertNormalizer")) {
    nm.kind = NORM_BERT;
    nm.clean_text = jbool(o, "clean_text", true);
    nm.chinese = jbool(o, "handle_chinese_chars", true);
    nm.lowercase = jbool(o, "lowercase", true);
    const cJSON *sa = cJSON_GetObjectItemCaseSensitive(o, "strip_accents");
    nm.strip_accents = cJSON_IsBool(sa) ? cJSON_IsTrue(sa) : nm.lowercase;
  } else if (!strcmp(type, "Lowercase")) nm.kind = NORM_LOWER;
  else if (!strcmp(type, "NFD")) nm.kind = NORM_NFD;
  else if (!strcmp(type, "NFC")) nm.kind = NORM_NFC;
  else if (!strcmp(type, "StripAccents")) nm.kind = NORM_STRIP_ACCENTS;
  else if (!strcmp(type, "Strip")) {
    nm.kind = NORM_STRIP;
    nm.left = jbool(o, "strip_left", true);
    nm.right = jbool(o, "strip_right", true);
  } else if (!strcmp(type, "Prepend")) {
    nm.kind = NORM_PREPEND;
    nm.str = strdup(jstr(o, "prepend") ? jstr(o, "prepend") : "");
    if (!nm.str) return QC_OOM();
  } else if (!strcmp(type, "Replace")) {
    nm.kind = NORM_REPLACE;
    QC_RETURN_IF_ERROR(parse_pattern(cJSON_GetObjectItemCaseSensitive(o, "pattern"), ctx, &nm.rx, &nm.pattern));
    nm.str = strdup(jstr(o, "content") ? jstr(o, "content") : "");
    if (!nm.str) return QC_OOM();
  } else {
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: unsupported normalizer '%s'", ctx, type);
  }
  norm *a = realloc(t->norms, sizeof *a * (size_t)(t->n_norms + 1));
  if (!a) return QC_OOM();
  t->norms = a;
  t->norms[t->n_norms++] = nm;
  return QC_OK;
}

static qc_status add_pre(qc_tokenizer *t, const cJSON *o, const char *ctx) {
  if (!o || cJSON_IsNull(o)) return QC_OK;
  const char *type = jstr(o, "type");
  if (!type) return JERR("%s: pre_tokenizer without a type", ctx);
  if (!strcmp(type, "Sequence")) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "pretokenizers"), *e;
    cJSON_ArrayForEach(e, a) QC_RETURN_IF_ERROR(add_pre(t, e, ctx));
    return QC_OK;
  }
  pre p;
  memset(&p, 0, sizeof p);
  if (!strcmp(type, "ByteLevel")) {
    p.kind = PRE_BYTELEVEL;
    p.add_prefix_space = jbool(o, "add_prefix_space", true);
    p.use_regex = jbool(o, "use_regex", true);
    if (p.use_regex) QC_RETURN_IF_ERROR(qc_regex_compile(GPT2_PATTERN, &p.rx));
    t->byte_level = true;
  } else if (!strcmp(type, "Split")) {
    p.kind = PRE_SPLIT;
    QC_RETURN_IF_ERROR(parse_pattern(cJSON_GetObjectItemCaseSensitive(o, "pattern"), ctx, &p.rx, &p.literal));
    p.beh = parse_behavior(jstr(o, "behavior"));
    p.invert = jbool(o, "invert", false);
  } else if (!strcmp(type, "Digits")) {
    p.kind = PRE_DIGITS;
    p.individual_digits = jbool(o, "individual_digits", false);
  } else if (!strcmp(type, "Metaspace")) {
    p.kind = PRE_METASPACE;
    p.replacement = first_cp(jstr(o, "replacement"));
    p.prepend_scheme = parse_prepend_scheme(o);
    p.split = jbool(o, "split", true);
  } else if (!strcmp(type, "BertPreTokenizer")) p.kind = PRE_BERT;
  else if (!strcmp(type, "Whitespace")) {
    p.kind = PRE_WHITESPACE;
    QC_RETURN_IF_ERROR(qc_regex_compile("\\w+|[^\\w\\s]+", &p.rx));
  } else if (!strcmp(type, "WhitespaceSplit")) p.kind = PRE_WHITESPACE_SPLIT;
  else if (!strcmp(type, "Punctuation")) {
    p.kind = PRE_PUNCT;
    p.beh = parse_behavior(jstr(o, "behavior"));
  } else {
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: unsupported pre_tokenizer '%s'", ctx, type);
  }
  pre *a = realloc(t->pres, sizeof *a * (size_t)(t->n_pres + 1));
  if (!a) {
    qc_regex_free(p.rx);
    return QC_OOM();
  }
  t->pres = a;
  t->pres[t->n_pres++] = p;
  return QC_OK;
}

static qc_status add_dec(qc_tokenizer *t, const cJSON *o, const char *ctx) {
  if (!o || cJSON_IsNull(o)) return QC_OK;
  const char *type = jstr(o, "type");
  if (!type) return JERR("%s: decoder without a type", ctx);
  if (!strcmp(type, "Sequence")) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "decoders"), *e;
    cJSON_ArrayForEach(e, a) QC_RETURN_IF_ERROR(add_dec(t, e, ctx));
    return QC_OK;
  }
  dec d;
  memset(&d, 0, sizeof d);
  if (!strcmp(type, "ByteLevel")) d.kind = DEC_BYTELEVEL;
  else if (!strcmp(type, "WordPiece")) {
    d.kind = DEC_WORDPIECE;
    d.a = strdup(jstr(o, "prefix") ? jstr(o, "prefix") : "##");
    d.cleanup = jbool(o, "cleanup", true);
  } else if (!strcmp(type, "Metaspace")) {
    d.kind = DEC_METASPACE;
    d.replacement = first_cp(jstr(o, "replacement"));
    d.prepend_scheme = parse_prepend_scheme(o);
  } else if (!strcmp(type, "Replace")) {
    d.kind = DEC_REPLACE;
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(o, "pattern");
    if (!jstr(pat, "String")) return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: Replace decoder needs a String pattern", ctx);
    d.a = strdup(jstr(pat, "String"));
    d.b = strdup(jstr(o, "content") ? jstr(o, "content") : "");
  } else if (!strcmp(type, "ByteFallback")) d.kind = DEC_BYTEFALLBACK;
  else if (!strcmp(type, "Fuse")) d.kind = DEC_FUSE;
  else if (!strcmp(type, "Strip")) {
    d.kind = DEC_STRIP;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "start"), *e = cJSON_GetObjectItemCaseSensitive(o, "stop");
    d.strip_left = cJSON_IsNumber(s) ? s->valueint : 0;
    d.strip_right = cJSON_IsNumber(e) ? e->valueint : 0;
  } else if (!strcmp(type, "BPEDecoder")) {
    d.kind = DEC_BPE;
    d.a = strdup(jstr(o, "suffix") ? jstr(o, "suffix") : "</w>");
  } else {
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: unsupported decoder '%s'", ctx, type);
  }
  dec *a = realloc(t->decs, sizeof *a * (size_t)(t->n_decs + 1));
  if (!a) return QC_OOM();
  t->decs = a;
  t->decs[t->n_decs++] = d;
  return QC_OK;
}

static qc_status push_id(int32_t **arr, int *n, int32_t id) {
  int32_t *a = realloc(*arr, sizeof *a * (size_t)(*n + 1));
  if (!a) return QC_OOM();
  a[(*n)++] = id;
  *arr = a;
  return QC_OK;
}

static qc_status special_id(const qc_tokenizer *t, const cJSON *tok, const char *ctx, int32_t *id) {
  /* ["[CLS]", 101] or a name looked up in the vocabulary */
  if (cJSON_IsArray(tok) && cJSON_GetArraySize(tok) == 2 && cJSON_IsNumber(cJSON_GetArrayItem(tok, 1))) {
    *id = (int32_t)cJSON_GetArrayItem(tok, 1)->valuedouble;
    return QC_OK;
  }
  const char *s = cJSON_IsString(tok) ? tok->valuestring : NULL;
  if (s) {
    *id = qc_strmap_get(&t->map, s);
    if (*id >= 0) return QC_OK;
  }
  return JERR("%s: post_processor names an unknown special token", ctx);
}

static qc_status add_post(qc_tokenizer *t, const cJSON *o, const cJSON *root, const char *ctx) {
  if (!o || cJSON_IsNull(o)) return QC_OK;
  const char *type = jstr(o, "type");
  if (!type) return JERR("%s: post_processor without a type", ctx);
  if (!strcmp(type, "Sequence")) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "processors"), *e;
    cJSON_ArrayForEach(e, a) QC_RETURN_IF_ERROR(add_post(t, e, root, ctx));
    return QC_OK;
  }
  if (!strcmp(type, "ByteLevel")) return QC_OK;
  if (!strcmp(type, "BertProcessing") || !strcmp(type, "RobertaProcessing")) {
    int32_t cls, sep;
    QC_RETURN_IF_ERROR(special_id(t, cJSON_GetObjectItemCaseSensitive(o, "cls"), ctx, &cls));
    QC_RETURN_IF_ERROR(special_id(t, cJSON_GetObjectItemCaseSensitive(o, "sep"), ctx, &sep));
    QC_RETURN_IF_ERROR(push_id(&t->post_pre, &t->n_post_pre, cls));
    return push_id(&t->post_suf, &t->n_post_suf, sep);
  }
  if (!strcmp(type, "TemplateProcessing")) {
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(o, "single"), *e;
    const cJSON *specials = cJSON_GetObjectItemCaseSensitive(o, "special_tokens");
    bool seen_seq = false;
    cJSON_ArrayForEach(e, single) {
      if (cJSON_GetObjectItemCaseSensitive(e, "Sequence")) {
        seen_seq = true;
        continue;
      }
      const cJSON *sp = cJSON_GetObjectItemCaseSensitive(e, "SpecialToken");
      const char *name = jstr(sp, "id");
      if (!name) return JERR("%s: TemplateProcessing entry without SpecialToken.id", ctx);
      const cJSON *def = cJSON_GetObjectItemCaseSensitive(specials, name);
      const cJSON *ids = cJSON_GetObjectItemCaseSensitive(def, "ids"), *x;
      int32_t id = -1;
      bool any = false;
      cJSON_ArrayForEach(x, ids) {
        id = (int32_t)x->valuedouble;
        any = true;
        QC_RETURN_IF_ERROR(seen_seq ? push_id(&t->post_suf, &t->n_post_suf, id)
                                    : push_id(&t->post_pre, &t->n_post_pre, id));
      }
      if (!any) {
        id = qc_strmap_get(&t->map, name);
        if (id < 0) return JERR("%s: template special token '%s' is not in the vocabulary", ctx, name);
        QC_RETURN_IF_ERROR(seen_seq ? push_id(&t->post_suf, &t->n_post_suf, id)
                                    : push_id(&t->post_pre, &t->n_post_pre, id));
      }
    }
    return QC_OK;
  }
  return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: unsupported post_processor '%s'", ctx, type);
}

static qc_status load_json(qc_tokenizer *t, const cJSON *root, const char *ctx) {
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
  if (!cJSON_IsObject(model)) return JERR("%s: no \"model\" object", ctx);
  const char *mtype = jstr(model, "type");
  const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
  if (!mtype) mtype = cJSON_GetObjectItemCaseSensitive(model, "merges") ? "BPE" : "WordPiece";
  if (!strcmp(mtype, "BPE")) t->model = MODEL_BPE;
  else if (!strcmp(mtype, "WordPiece")) t->model = MODEL_WORDPIECE;
  else return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: unsupported model type '%s'", ctx, mtype);
  if (!cJSON_IsObject(vocab)) return JERR("%s: model.vocab must be an object", ctx);
  /* Size: max id over the vocab and the added tokens. */
  int32_t maxid = -1;
  const cJSON *e;
  cJSON_ArrayForEach(e, vocab) {
    if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 1e8)
      return JERR("%s: model.vocab['%s'] is not a valid id", ctx, e->string);
    if ((int32_t)e->valuedouble > maxid) maxid = (int32_t)e->valuedouble;
  }
  const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
  cJSON_ArrayForEach(e, added) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
    if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble > 1e8)
      return JERR("%s: added_tokens entry without a valid id", ctx);
    if ((int32_t)id->valuedouble > maxid) maxid = (int32_t)id->valuedouble;
  }
  QC_RETURN_IF_ERROR(vocab_init(t, maxid + 1));
  cJSON_ArrayForEach(e, vocab)
      QC_RETURN_IF_ERROR(vocab_set(t, ctx, (int32_t)e->valuedouble, e->string, strlen(e->string)));
  cJSON_ArrayForEach(e, added) {
    const char *content = jstr(e, "content");
    if (!content) return JERR("%s: added_tokens entry without content", ctx);
    int32_t id = (int32_t)cJSON_GetObjectItemCaseSensitive(e, "id")->valuedouble;
    QC_RETURN_IF_ERROR(vocab_set(t, ctx, id, content, strlen(content)));
    added_tok a = {strdup(content), strlen(content), id, jbool(e, "special", false),
                   jbool(e, "lstrip", false), jbool(e, "rstrip", false)};
    if (!a.content) return QC_OOM();
    added_tok *arr = realloc(t->added, sizeof *arr * (size_t)(t->n_added + 1));
    if (!arr) {
      free(a.content);
      return QC_OOM();
    }
    t->added = arr;
    t->added[t->n_added++] = a;
    if (a.special) t->is_special[id] = true;
  }
  QC_RETURN_IF_ERROR(vocab_fill_holes(t));
  const char *unk = jstr(model, "unk_token");
  if (unk) t->unk = qc_strmap_get(&t->map, unk);
  if (t->model == MODEL_WORDPIECE) {
    const char *p = jstr(model, "continuing_subword_prefix");
    t->cont_prefix = strdup(p ? p : "##");
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(model, "max_input_chars_per_word");
    if (cJSON_IsNumber(mx)) t->max_chars = (int32_t)mx->valuedouble;
    if (t->unk < 0) return JERR("%s: WordPiece model needs an unk_token in the vocabulary", ctx);
  } else {
    t->byte_fallback = jbool(model, "byte_fallback", false);
    t->ignore_merges = jbool(model, "ignore_merges", false);
    t->fuse_unk = jbool(model, "fuse_unk", false);
    const char *p = jstr(model, "continuing_subword_prefix");
    if (p && *p) t->cont_prefix = strdup(p);
    const char *sfx = jstr(model, "end_of_word_suffix");
    if (sfx && *sfx) t->eow_suffix = strdup(sfx);
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    int32_t rank = 0;
    cJSON_ArrayForEach(e, merges) {
      const char *a = NULL, *b = NULL;
      char *copy = NULL;
      if (cJSON_IsString(e)) {
        copy = strdup(e->valuestring);
        if (!copy) return QC_OOM();
        char *sp = strchr(copy, ' ');
        if (!sp) {
          free(copy);
          return JERR("%s: merge %d '%s' is not \"a b\"", ctx, rank, e->valuestring);
        }
        *sp = 0;
        a = copy;
        b = sp + 1;
      } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2) {
        a = cJSON_GetArrayItem(e, 0)->valuestring;
        b = cJSON_GetArrayItem(e, 1)->valuestring;
      }
      if (!a || !b) {
        free(copy);
        return JERR("%s: merge %d is malformed", ctx, rank);
      }
      int32_t ia = qc_strmap_get(&t->map, a), ib = qc_strmap_get(&t->map, b);
      size_t la = strlen(a), lb = strlen(b);
      char *ab = malloc(la + lb + 1);
      if (!ab) {
        free(copy);
        return QC_OOM();
      }
      memcpy(ab, a, la);
      memcpy(ab + la, b, lb + 1);
      /* a merge result drops a continuing prefix on its right part */
      int32_t iab = qc_strmap_get(&t->map, ab);
      if (iab < 0 && t->cont_prefix && !strncmp(b, t->cont_prefix, strlen(t->cont_prefix))) {
        memcpy(ab + la, b + strlen(t->cont_prefix), lb - strlen(t->cont_prefix) + 1);
        iab = qc_strmap_get(&t->map, ab);
      }
      if (ia < 0 || ib < 0 || iab < 0) {
        qc_status s = JERR("%s: merge %d '%s %s' refers to tokens missing from the vocabulary", ctx, rank, a, b);
        free(ab);
        free(copy);
        return s;
      }
      free(ab);
      free(copy);
      if (!mm_put(&t->merges, ia, ib, rank, iab)) return QC_OOM();
      rank++;
    }
  }
  QC_RETURN_IF_ERROR(add_norm(t, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), ctx));
  QC_RETURN_IF_ERROR(add_pre(t, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), ctx));
  QC_RETURN_IF_ERROR(add_dec(t, cJSON_GetObjectItemCaseSensitive(root, "decoder"), ctx));
  QC_RETURN_IF_ERROR(add_post(t, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), root, ctx));
  /* BOS/EOS guesses for generation: the template's first special token is BOS. */
  if (t->n_post_pre) t->bos = t->post_pre[0];
  return QC_OK;
}

qc_status qc_tokenizer_from_json(const char *json, size_t len, const char *name,
                                 qc_tokenizer **out) {
  *out = NULL;
  cJSON *root = cJSON_ParseWithLength(json, len);
  if (!root) return qc_status_new(QC_CODE_PARSE, "%s: not valid JSON", name);
  qc_tokenizer *t = tok_new();
  if (!t) {
    cJSON_Delete(root);
    return QC_OOM();
  }
  qc_status s = load_json(t, root, name);
  cJSON_Delete(root);
  if (s) {
    qc_tokenizer_free(t);
    return s;
  }
  *out = t;
  return QC_OK;
}

qc_status qc_tokenizer_load(const char *path, qc_tokenizer **out) {
  *out = NULL;
  char full[4096];
  struct stat st;
  if (stat(path, &st) != 0)
    return qc_status_new(QC_CODE_NOT_FOUND, "%s: %s", path, strerror(errno));
  if (S_ISDIR(st.st_mode)) snprintf(full, sizeof full, "%s/tokenizer.json", path);
  else snprintf(full, sizeof full, "%s", path);
  char *buf;
  size_t n;
  QC_RETURN_IF_ERROR(qc_read_file(full, &buf, &n));
  qc_status s = qc_tokenizer_from_json(buf, n, full, out);
  free(buf);
  return s;
}

/* ---- GGUF-style vocabularies ------------------------------------------------------------- */

/* Pre-tokenizer regexes by tokenizer.ggml.pre name (the pattern sequences llama.cpp and the
 * matching tokenizer.json files use). */
static const char *LLAMA3_PATTERN =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char *QWEN2_PATTERN =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static qc_status push_pre(qc_tokenizer *t, pre p) {
  pre *a = realloc(t->pres, sizeof *a * (size_t)(t->n_pres + 1));
  if (!a) {
    qc_regex_free(p.rx);
    return QC_OOM();
  }
  t->pres = a;
  t->pres[t->n_pres++] = p;
  return QC_OK;
}

qc_status qc_tokenizer_from_vocab(const qc_tokenizer_vocab *v, qc_tokenizer **out) {
  *out = NULL;
  qc_tokenizer *t = tok_new();
  if (!t) return QC_OOM();
  qc_status s = QC_OK;
  const char *model = v->model ? v->model : "gpt2";
  if (!strcmp(model, "gpt2")) t->model = MODEL_BPE;
  else if (!strcmp(model, "llama")) t->model = MODEL_SPM;
  else if (!strcmp(model, "bert")) t->model = MODEL_WORDPIECE;
  else s = qc_status_new(QC_CODE_UNIMPLEMENTED, "tokenizer model '%s' is not supported", model);
  if (!s) s = vocab_init(t, v->n_tokens);
  for (int32_t i = 0; !s && i < v->n_tokens; i++)
    s = vocab_set(t, "vocabulary", i, v->tokens[i], strlen(v->tokens[i]));
  if (!s && v->scores) {
    t->scores = malloc(sizeof(float) * (size_t)v->n_tokens);
    if (!t->scores) s = QC_OOM();
    else memcpy(t->scores, v->scores, sizeof(float) * (size_t)v->n_tokens);
  }
  for (int32_t i = 0; !s && v->token_types && i < v->n_tokens; i++) {
    /* control and user-defined tokens are matched as added tokens in the raw text */
    if (v->token_types[i] == 3 || v->token_types[i] == 4) {
      t->is_special[i] = v->token_types[i] == 3;
      if (!*v->tokens[i]) continue;
      added_tok a = {strdup(v->tokens[i]), strlen(v->tokens[i]), i, v->token_types[i] == 3, false, false};
      added_tok *arr = a.content ? realloc(t->added, sizeof *arr * (size_t)(t->n_added + 1)) : NULL;
      if (!arr) {
        free(a.content);
        s = QC_OOM();
        break;
      }
      t->added = arr;
      t->added[t->n_added++] = a;
    }
  }
  for (int32_t r = 0; !s && t->model == MODEL_BPE && r < v->n_merges; r++) {
    const char *m = v->merges[r];
    const char *sp = strchr(m, ' ');
    if (!sp) {
      s = qc_status_new(QC_CODE_PARSE, "merge %d '%s' is not \"a b\"", r, m);
      break;
    }
    char *a = strndup(m, (size_t)(sp - m));
    size_t la = (size_t)(sp - m), lb = strlen(sp + 1);
    char *ab = malloc(la + lb + 1);
    if (!a || !ab) {
      free(a);
      free(ab);
      s = QC_OOM();
      break;
    }
    memcpy(ab, m, la);
    memcpy(ab + la, sp + 1, lb + 1);
    int32_t ia = qc_strmap_get(&t->map, a), ib = qc_strmap_get(&t->map, sp + 1),
            iab = qc_strmap_get(&t->map, ab);
    free(a);
    free(ab);
    if (ia < 0 || ib < 0 || iab < 0)
      s = qc_status_new(QC_CODE_PARSE, "merge %d '%s' refers to tokens missing from the vocabulary", r, m);
    else if (!mm_put(&t->merges, ia, ib, r, iab)) s = QC_OOM();
  }
  if (!s && t->model == MODEL_BPE) {
    const char *pre_name = v->pre ? v->pre : "default";
    pre p;
    memset(&p, 0, sizeof p);
    t->byte_level = true;
    if (!strcmp(pre_name, "smollm")) {
      /* tokenizer.json: Sequence[Digits(individual), ByteLevel(no prefix space)] */
      p.kind = PRE_DIGITS;
      p.individual_digits = true;
      s = push_pre(t, p);
      memset(&p, 0, sizeof p);
      if (!s) s = qc_regex_compile(GPT2_PATTERN, &p.rx);
      p.kind = PRE_BYTELEVEL;
      p.use_regex = true;
      if (!s) s = push_pre(t, p);
    } else if (!strcmp(pre_name, "llama-bpe") || !strcmp(pre_name, "llama3") ||
               !strcmp(pre_name, "qwen2")) {
      p.kind = PRE_SPLIT;
      p.beh = BEH_ISOLATED;
      s = qc_regex_compile(!strcmp(pre_name, "qwen2") ? QWEN2_PATTERN : LLAMA3_PATTERN, &p.rx);
      if (!s) s = push_pre(t, p);
      memset(&p, 0, sizeof p);
      p.kind = PRE_BYTELEVEL;
      p.use_regex = false;
      if (!s) s = push_pre(t, p);
      if (strcmp(pre_name, "qwen2")) t->ignore_merges = true;
    } else if (!strcmp(pre_name, "gpt-2") || !strcmp(pre_name, "default") || !*pre_name) {
      s = qc_regex_compile(GPT2_PATTERN, &p.rx);
      p.kind = PRE_BYTELEVEL;
      p.use_regex = true;
      if (!s) s = push_pre(t, p);
    } else {
      s = qc_status_new(QC_CODE_UNIMPLEMENTED, "tokenizer pre-tokenizer '%s' is not supported "
                                               "(known: smollm, llama-bpe, qwen2, gpt-2)", pre_name);
    }
    if (!s) {
      dec d = {DEC_BYTELEVEL, NULL, NULL, false, 0, 0, 0, 0};
      dec *arr = malloc(sizeof *arr);
      if (!arr) s = QC_OOM();
      else {
        arr[0] = d;
        t->decs = arr;
        t->n_decs = 1;
      }
    }
  }
  if (!s && t->model == MODEL_SPM) {
    t->spm_add_space_prefix = v->add_space_prefix;
    t->unk = v->unk;
  }
  t->bos = v->bos;
  t->eos = v->eos;
  t->pad = v->pad;
  if (!s && v->add_bos && v->bos >= 0) s = push_id(&t->post_pre, &t->n_post_pre, v->bos);
  if (!s && v->add_eos && v->eos >= 0) s = push_id(&t->post_suf, &t->n_post_suf, v->eos);
  if (s) {
    qc_tokenizer_free(t);
    return s;
  }
  *out = t;
  return QC_OK;
}
