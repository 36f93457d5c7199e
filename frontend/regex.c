/* Backtracking regex over code points (see regex.h for the supported syntax). The
 * pattern compiles to a small AST; matching walks it with explicit continuations so
 * that alternation and quantifiers backtrack in leftmost-first (Perl/Oniguruma) order. */
#include "frontend/regex.h"
#include "frontend/unicode.h"

#include <stdlib.h>
#include <string.h>

typedef enum { N_CHAR, N_CLASS, N_ANY, N_SEQ, N_ALT, N_REPEAT, N_LOOK, N_BOL, N_EOL } nkind;

/* A class item: a code point range or a predicate (category/space/digit/word). */
typedef enum { CI_RANGE, CI_CAT, CI_SPACE, CI_DIGIT, CI_WORD } cikind;
typedef struct citem {
  cikind kind;
  bool neg;       /* \P{..}, \S, \D, \W */
  uint32_t lo, hi;
  int cat;        /* qc_uc_class, or -1 for Lu, -2 Ll */
} citem;

typedef struct node node;
struct node {
  nkind kind;
  bool icase;
  uint32_t cp;             /* N_CHAR */
  citem *items;            /* N_CLASS */
  int n_items;
  bool negate;             /* N_CLASS */
  node **kids;             /* N_SEQ, N_ALT */
  int n_kids;
  node *sub;               /* N_REPEAT, N_LOOK */
  int min, max;            /* N_REPEAT (max -1 = inf) */
  bool greedy;
  bool neg_look;           /* N_LOOK */
};

struct qc_regex {
  node *root;
  node **all;              /* every node, for freeing */
  int n_all, cap_all;
};

typedef struct parser {
  qc_regex *r;
  const uint32_t *p;
  size_t n, i;
  const char *src;
  qc_status err;
} parser;

static node *new_node(parser *ps, nkind k) {
  qc_regex *r = ps->r;
  if (r->n_all == r->cap_all) {
    int nc = r->cap_all ? r->cap_all * 2 : 32;
    node **a = realloc(r->all, sizeof *a * (size_t)nc);
    if (!a) return NULL;
    r->all = a;
    r->cap_all = nc;
  }
  node *n = calloc(1, sizeof *n);
  if (!n) return NULL;
  n->kind = k;
  r->all[r->n_all++] = n;
  return n;
}

static bool add_kid(node *n, node *k) {
  node **a = realloc(n->kids, sizeof *a * (size_t)(n->n_kids + 1));
  if (!a) return false;
  a[n->n_kids++] = k;
  n->kids = a;
  return true;
}

static bool add_item(node *n, citem it) {
  citem *a = realloc(n->items, sizeof *a * (size_t)(n->n_items + 1));
  if (!a) return false;
  a[n->n_items++] = it;
  n->items = a;
  return true;
}

static void fail(parser *ps, const char *what) {
  if (!ps->err)
    ps->err = qc_status_new(QC_CODE_PARSE, "regex /%s/: %s at character %zu", ps->src, what, ps->i);
}

static bool at_end(parser *ps) { return ps->i >= ps->n; }
static uint32_t peek(parser *ps) { return at_end(ps) ? 0 : ps->p[ps->i]; }

static node *parse_alt(parser *ps, bool icase);

/* \p{Name} → category item. */
static bool parse_prop(parser *ps, bool neg, citem *it) {
  if (peek(ps) != '{') {
    fail(ps, "expected '{' after \\p");
    return false;
  }
  ps->i++;
  char name[16];
  int k = 0;
  while (!at_end(ps) && peek(ps) != '}' && k < 15) name[k++] = (char)ps->p[ps->i++];
  name[k] = 0;
  if (peek(ps) != '}') {
    fail(ps, "unterminated \\p{...}");
    return false;
  }
  ps->i++;
  it->kind = CI_CAT;
  it->neg = neg;
  if (!strcmp(name, "L") || !strcmp(name, "Letter")) it->cat = QC_UC_L;
  else if (!strcmp(name, "N") || !strcmp(name, "Number")) it->cat = QC_UC_N;
  else if (!strcmp(name, "P") || !strcmp(name, "Punctuation")) it->cat = QC_UC_P;
  else if (!strcmp(name, "S") || !strcmp(name, "Symbol")) it->cat = QC_UC_S;
  else if (!strcmp(name, "M") || !strcmp(name, "Mark")) it->cat = QC_UC_M;
  else if (!strcmp(name, "Mn")) it->cat = QC_UC_MN;
  else if (!strcmp(name, "Lu")) it->cat = -1;
  else if (!strcmp(name, "Ll")) it->cat = -2;
  else {
    fail(ps, "unsupported \\p{} property");
    return false;
  }
  return true;
}

/* An escape after '\'. Returns 1 with *cp set for a literal, 2 with *it set for a class
 * item, 0 on error. */
static int parse_escape(parser *ps, uint32_t *cp, citem *it) {
  if (at_end(ps)) {
    fail(ps, "trailing backslash");
    return 0;
  }
  uint32_t c = ps->p[ps->i++];
  memset(it, 0, sizeof *it);
  switch (c) {
  case 's': it->kind = CI_SPACE; return 2;
  case 'S': it->kind = CI_SPACE; it->neg = true; return 2;
  case 'd': it->kind = CI_DIGIT; return 2;
  case 'D': it->kind = CI_DIGIT; it->neg = true; return 2;
  case 'w': it->kind = CI_WORD; return 2;
  case 'W': it->kind = CI_WORD; it->neg = true; return 2;
  case 'p': return parse_prop(ps, false, it) ? 2 : 0;
  case 'P': return parse_prop(ps, true, it) ? 2 : 0;
  case 'r': *cp = '\r'; return 1;
  case 'n': *cp = '\n'; return 1;
  case 't': *cp = '\t'; return 1;
  case 'f': *cp = '\f'; return 1;
  case 'v': *cp = '\v'; return 1;
  case '0': *cp = 0; return 1;
  case 'x': {
    uint32_t v = 0;
    int k = 0;
    bool brace = peek(ps) == '{';
    if (brace) ps->i++;
    while (!at_end(ps) && k < (brace ? 6 : 2)) {
      uint32_t h = peek(ps);
      int d = h >= '0' && h <= '9' ? (int)(h - '0') : (h | 32) >= 'a' && (h | 32) <= 'f' ? (int)((h | 32) - 'a' + 10) : -1;
      if (d < 0) break;
      v = v * 16 + (uint32_t)d;
      ps->i++;
      k++;
    }
    if (brace) {
      if (peek(ps) != '}') {
        fail(ps, "bad \\x{...}");
        return 0;
      }
      ps->i++;
    }
    if (!k) {
      fail(ps, "bad \\x escape");
      return 0;
    }
    *cp = v;
    return 1;
  }
  default:
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      fail(ps, "unsupported escape");
      return 0;
    }
    *cp = c;
    return 1;
  }
}

static node *parse_class(parser *ps, bool icase) {
  node *n = new_node(ps, N_CLASS);
  if (!n) return NULL;
  n->icase = icase;
  if (peek(ps) == '^') {
    n->negate = true;
    ps->i++;
  }
  bool first = true;
  while (!at_end(ps) && (peek(ps) != ']' || first)) {
    first = false;
    uint32_t c = ps->p[ps->i++];
    citem it;
    memset(&it, 0, sizeof it);
    uint32_t lo = c;
    if (c == '\\') {
      int r = parse_escape(ps, &lo, &it);
      if (!r) return NULL;
      if (r == 2) {
        if (!add_item(n, it)) return NULL;
        continue;
      }
    }
    uint32_t hi = lo;
    if (peek(ps) == '-' && ps->i + 1 < ps->n && ps->p[ps->i + 1] != ']') {
      ps->i++;
      hi = ps->p[ps->i++];
      if (hi == '\\') {
        citem dummy;
        if (parse_escape(ps, &hi, &dummy) != 1) {
          fail(ps, "bad range end");
          return NULL;
        }
      }
      if (hi < lo) {
        fail(ps, "reversed range");
        return NULL;
      }
    }
    it.kind = CI_RANGE;
    it.lo = lo;
    it.hi = hi;
    if (!add_item(n, it)) return NULL;
  }
  if (peek(ps) != ']') {
    fail(ps, "unterminated character class");
    return NULL;
  }
  ps->i++;
  return n;
}

static node *parse_atom(parser *ps, bool icase) {
  uint32_t c = ps->p[ps->i++];
  switch (c) {
  case '(': {
    bool ic = icase;
    node *n = NULL;
    if (peek(ps) == '?') {
      ps->i++;
      uint32_t t = peek(ps);
      if (t == ':') {
        ps->i++;
      } else if (t == '=' || t == '!') {
        ps->i++;
        n = new_node(ps, N_LOOK);
        if (!n) return NULL;
        n->neg_look = t == '!';
        n->sub = parse_alt(ps, ic);
        if (!n->sub) return NULL;
        if (peek(ps) != ')') {
          fail(ps, "expected ')'");
          return NULL;
        }
        ps->i++;
        return n;
      } else if (t == 'i') {
        ps->i++;
        if (peek(ps) != ':') {
          fail(ps, "only (?i:...) flag groups are supported");
          return NULL;
        }
        ps->i++;
        ic = true;
      } else {
        fail(ps, "unsupported group syntax");
        return NULL;
      }
    }
    n = parse_alt(ps, ic);
    if (!n) return NULL;
    if (peek(ps) != ')') {
      fail(ps, "expected ')'");
      return NULL;
    }
    ps->i++;
    return n;
  }
  case '[': return parse_class(ps, icase);
  case '.': return new_node(ps, N_ANY);
  case '^': return new_node(ps, N_BOL);
  case '$': return new_node(ps, N_EOL);
  case '\\': {
    citem it;
    uint32_t cp = 0;
    int r = parse_escape(ps, &cp, &it);
    if (!r) return NULL;
    if (r == 2) {
      node *n = new_node(ps, N_CLASS);
      if (!n || !add_item(n, it)) return NULL;
      n->icase = icase;
      return n;
    }
    c = cp;
  }
  /* fallthrough */
  default: {
    if (c == ')' || c == '|' || c == '*' || c == '+' || c == '?') {
      ps->i--;
      fail(ps, "unexpected metacharacter");
      return NULL;
    }
    node *n = new_node(ps, N_CHAR);
    if (!n) return NULL;
    n->cp = c;
    n->icase = icase;
    return n;
  }
  }
}

static bool parse_int(parser *ps, int *v) {
  if (at_end(ps) || peek(ps) < '0' || peek(ps) > '9') return false;
  long x = 0;
  while (!at_end(ps) && peek(ps) >= '0' && peek(ps) <= '9') {
    x = x * 10 + (long)(peek(ps) - '0');
    if (x > 100000) return false;
    ps->i++;
  }
  *v = (int)x;
  return true;
}

static node *parse_seq(parser *ps, bool icase) {
  node *seq = new_node(ps, N_SEQ);
  if (!seq) return NULL;
  while (!at_end(ps) && peek(ps) != '|' && peek(ps) != ')') {
    node *a = parse_atom(ps, icase);
    if (!a) return NULL;
    for (;;) {
      uint32_t q = peek(ps);
      int mn, mx;
      if (q == '*') mn = 0, mx = -1;
      else if (q == '+') mn = 1, mx = -1;
      else if (q == '?') mn = 0, mx = 1;
      else if (q == '{') {
        size_t save = ps->i;
        ps->i++;
        if (!parse_int(ps, &mn)) {
          ps->i = save;
          break;
        }
        mx = mn;
        if (peek(ps) == ',') {
          ps->i++;
          mx = -1;
          if (peek(ps) != '}' && !parse_int(ps, &mx)) {
            fail(ps, "bad {m,n} quantifier");
            return NULL;
          }
        }
        if (peek(ps) != '}' || (mx >= 0 && mx < mn)) {
          fail(ps, "bad {m,n} quantifier");
          return NULL;
        }
        ps->i--; /* the common ++ below consumes '}' */
      } else break;
      ps->i++;
      node *r = new_node(ps, N_REPEAT);
      if (!r) return NULL;
      r->sub = a;
      r->min = mn;
      r->max = mx;
      r->greedy = true;
      if (peek(ps) == '?') {
        r->greedy = false;
        ps->i++;
      } else if (peek(ps) == '+') {
        fail(ps, "possessive quantifiers are not supported");
        return NULL;
      }
      a = r;
    }
    if (!add_kid(seq, a)) return NULL;
  }
  return seq;
}

static node *parse_alt(parser *ps, bool icase) {
  node *first = parse_seq(ps, icase);
  if (!first) return NULL;
  if (peek(ps) != '|') return first;
  node *alt = new_node(ps, N_ALT);
  if (!alt || !add_kid(alt, first)) return NULL;
  while (peek(ps) == '|') {
    ps->i++;
    node *s = parse_seq(ps, icase);
    if (!s || !add_kid(alt, s)) return NULL;
  }
  return alt;
}

void qc_regex_free(qc_regex *r) {
  if (!r) return;
  for (int i = 0; i < r->n_all; i++) {
    free(r->all[i]->kids);
    free(r->all[i]->items);
    free(r->all[i]);
  }
  free(r->all);
  free(r);
}

qc_status qc_regex_compile(const char *pattern, qc_regex **out) {
  *out = NULL;
  size_t len = strlen(pattern), n = 0;
  uint32_t *cps = malloc(sizeof *cps * (len + 1));
  qc_regex *r = calloc(1, sizeof *r);
  if (!cps || !r) {
    free(cps);
    free(r);
    return qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory");
  }
  for (size_t i = 0; i < len;) cps[n++] = qc_utf8_next(pattern, len, &i);
  parser ps = {r, cps, n, 0, pattern, QC_OK};
  r->root = parse_alt(&ps, false);
  if (!ps.err && !r->root) ps.err = qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory");
  if (!ps.err && !at_end(&ps)) fail(&ps, "unbalanced ')'");
  free(cps);
  if (ps.err) {
    qc_regex_free(r);
    return ps.err;
  }
  *out = r;
  return QC_OK;
}

/* ---- matching ------------------------------------------------------------------------------ */

static uint32_t fold(uint32_t c) {
  uint32_t l[3];
  return qc_uc_lower(c, l) == 1 ? l[0] : c;
}

static bool item_has(const citem *it, uint32_t c, bool icase) {
  bool r;
  switch (it->kind) {
  case CI_RANGE:
    r = c >= it->lo && c <= it->hi;
    if (!r && icase) {
      uint32_t f = fold(c);
      r = (f >= it->lo && f <= it->hi);
      if (!r && f >= 'a' && f <= 'z') r = (f - 32 >= it->lo && f - 32 <= it->hi);
    }
    return r;
  case CI_CAT:
    if (it->cat == -1) {
      uint32_t l[3];
      r = qc_uc_is(c, QC_UC_L) && (qc_uc_lower(c, l) != 1 || l[0] != c);
    } else if (it->cat == -2) {
      uint32_t l[3];
      r = qc_uc_is(c, QC_UC_L) && qc_uc_lower(c, l) == 1 && l[0] == c;
    } else r = qc_uc_is(c, (qc_uc_class)it->cat);
    break;
  case CI_SPACE: r = qc_uc_is_space(c); break;
  case CI_DIGIT: r = qc_uc_is(c, QC_UC_N); break;
  case CI_WORD: r = c == '_' || qc_uc_is(c, QC_UC_L) || qc_uc_is(c, QC_UC_N) || qc_uc_is(c, QC_UC_M); break;
  default: r = false;
  }
  return it->neg ? !r : r;
}

static bool class_has(const node *n, uint32_t c) {
  bool in = false;
  for (int i = 0; i < n->n_items && !in; i++) in = item_has(&n->items[i], c, n->icase);
  return n->negate ? !in : in;
}

typedef struct cont cont;
struct cont {
  const node *n;   /* node to match next (NULL: end of continuation chain) */
  int idx;         /* N_SEQ: index of the next kid; N_REPEAT: iterations done */
  size_t last;     /* N_REPEAT: position where the last iteration started */
  const cont *next;
};

typedef struct mstate {
  const uint32_t *t;
  size_t n;
  size_t end;
  long budget;     /* steps left: guards against pathological patterns */
} mstate;

static bool m_node(mstate *s, const node *n, size_t pos, const cont *k);

static bool m_cont(mstate *s, size_t pos, const cont *k) {
  if (--s->budget < 0) return false;
  if (!k) {
    s->end = pos;
    return true;
  }
  const node *n = k->n;
  if (n->kind == N_SEQ) {
    if (k->idx >= n->n_kids) return m_cont(s, pos, k->next);
    cont nk = {n, k->idx + 1, 0, k->next};
    return m_node(s, n->kids[k->idx], pos, &nk);
  }
  /* N_REPEAT after an iteration: k->idx iterations done. */
  int done = k->idx;
  bool progressed = pos != k->last;
  bool can_more = (n->max < 0 || done < n->max) && (progressed || done < n->min);
  cont more = {n, done + 1, pos, k->next};
  if (done < n->min) return m_node(s, n->sub, pos, &more);
  if (n->greedy) {
    if (can_more && progressed && m_node(s, n->sub, pos, &more)) return true;
    return m_cont(s, pos, k->next);
  }
  if (m_cont(s, pos, k->next)) return true;
  return can_more && progressed && m_node(s, n->sub, pos, &more);
}

static bool m_node(mstate *s, const node *n, size_t pos, const cont *k) {
  if (--s->budget < 0) return false;
  switch (n->kind) {
  case N_CHAR:
    if (pos >= s->n) return false;
    if (s->t[pos] != n->cp && !(n->icase && fold(s->t[pos]) == fold(n->cp))) return false;
    return m_cont(s, pos + 1, k);
  case N_CLASS:
    if (pos >= s->n || !class_has(n, s->t[pos])) return false;
    return m_cont(s, pos + 1, k);
  case N_ANY:
    if (pos >= s->n || s->t[pos] == '\n') return false;
    return m_cont(s, pos + 1, k);
  case N_BOL: return pos == 0 && m_cont(s, pos, k);
  case N_EOL: return pos == s->n && m_cont(s, pos, k);
  case N_SEQ: {
    cont c = {n, 0, 0, k};
    return m_cont(s, pos, &c);
  }
  case N_ALT:
    for (int i = 0; i < n->n_kids; i++)
      if (m_node(s, n->kids[i], pos, k)) return true;
    return false;
  case N_REPEAT: {
    cont c = {n, 0, (size_t)-1, k};
    return m_cont(s, pos, &c);
  }
  case N_LOOK: {
    mstate sub = *s;
    bool found = m_node(&sub, n->sub, pos, NULL);
    s->budget = sub.budget;
    if (found == n->neg_look) return false;
    return m_cont(s, pos, k);
  }
  }
  return false;
}

bool qc_regex_search(const qc_regex *r, const uint32_t *text, size_t n, size_t start,
                     size_t *mstart, size_t *mend) {
  for (size_t p = start; p <= n; p++) {
    mstate s = {text, n, 0, 1000000};
    if (m_node(&s, r->root, p, NULL)) {
      *mstart = p;
      *mend = s.end;
      return true;
    }
  }
  return false;
}
