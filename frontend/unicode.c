/* Unicode lookups over the generated tables, and UTF-8 coding. */
#include "frontend/unicode.h"

static bool in_ranges(const qc_uc_ranges *r, uint32_t cp) {
  size_t lo = 0, hi = r->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (cp < r->r[mid][0]) hi = mid;
    else if (cp > r->r[mid][1]) lo = mid + 1;
    else return true;
  }
  return false;
}

bool qc_uc_is(uint32_t cp, qc_uc_class c) {
  if (cp < 0x80) {
    /* ASCII fast path. */
    switch (c) {
    case QC_UC_L: return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    case QC_UC_N: return cp >= '0' && cp <= '9';
    case QC_UC_C: return cp < 0x20 || cp == 0x7f;
    case QC_UC_ZS: return cp == ' ';
    case QC_UC_M:
    case QC_UC_MN: return false;
    default: break;
    }
  }
  return in_ranges(&QC_UC_CLASSES[c], cp);
}

bool qc_uc_is_space(uint32_t cp) {
  return (cp >= 0x9 && cp <= 0xd) || cp == 0x20 || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
         cp == 0x205f || cp == 0x3000;
}

uint32_t qc_utf8_next(const char *str, size_t n, size_t *i) {
  const unsigned char *s = (const unsigned char *)str;
  size_t p = *i;
  unsigned c = s[p];
  if (c < 0x80) {
    *i = p + 1;
    return c;
  }
  int len = c >= 0xf0 && c < 0xf8 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
  if (len == 0 || p + (size_t)len > n) {
    *i = p + 1;
    return 0xfffd;
  }
  uint32_t cp = c & (0xff >> (len + 1));
  for (int k = 1; k < len; k++) {
    if ((s[p + k] & 0xc0) != 0x80) {
      *i = p + 1;
      return 0xfffd;
    }
    cp = (cp << 6) | (s[p + k] & 0x3f);
  }
  static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    *i = p + 1;
    return 0xfffd;
  }
  *i = p + (size_t)len;
  return cp;
}

int qc_utf8_put(uint32_t cp, char *o) {
  unsigned char *out = (unsigned char *)o;
  if (cp < 0x80) {
    out[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (unsigned char)(0xc0 | (cp >> 6));
    out[1] = (unsigned char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (unsigned char)(0xe0 | (cp >> 12));
    out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (unsigned char)(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (unsigned char)(0xf0 | (cp >> 18));
  out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
  out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
  out[3] = (unsigned char)(0x80 | (cp & 0x3f));
  return 4;
}

int qc_uc_lower(uint32_t cp, uint32_t out[3]) {
  if (cp < 0x80) {
    out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    return 1;
  }
  size_t lo = 0, hi = QC_UC_NLOWER;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (QC_UC_LOWER[mid].cp < cp) lo = mid + 1;
    else hi = mid;
  }
  if (lo < QC_UC_NLOWER && QC_UC_LOWER[lo].cp == cp) {
    int n = 0;
    for (int k = 0; k < 3 && QC_UC_LOWER[lo].to[k]; k++) out[n++] = QC_UC_LOWER[lo].to[k];
    return n;
  }
  out[0] = cp;
  return 1;
}

int qc_uc_nfd(uint32_t cp, uint32_t out[4]) {
  if (cp >= 0xac00 && cp <= 0xd7a3) { /* Hangul syllables */
    uint32_t s = cp - 0xac00, l = 0x1100 + s / 588, v = 0x1161 + (s % 588) / 28,
             t = 0x11a7 + s % 28;
    out[0] = l;
    out[1] = v;
    if (t == 0x11a7) return 2;
    out[2] = t;
    return 3;
  }
  if (cp < 0xc0) {
    out[0] = cp;
    return 1;
  }
  size_t lo = 0, hi = QC_UC_NNFD;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (QC_UC_NFD[mid].cp < cp) lo = mid + 1;
    else hi = mid;
  }
  if (lo < QC_UC_NNFD && QC_UC_NFD[lo].cp == cp) {
    int n = 0;
    for (int k = 0; k < 4 && QC_UC_NFD[lo].to[k]; k++) out[n++] = QC_UC_NFD[lo].to[k];
    return n;
  }
  out[0] = cp;
  return 1;
}

uint8_t qc_uc_ccc(uint32_t cp) {
  if (cp < 0x300) return 0;
  size_t lo = 0, hi = QC_UC_NCCC;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (cp < QC_UC_CCC[mid].lo) hi = mid;
    else if (cp > QC_UC_CCC[mid].hi) lo = mid + 1;
    else return QC_UC_CCC[mid].ccc;
  }
  return 0;
}

uint32_t qc_uc_compose(uint32_t a, uint32_t b) {
  /* Hangul LV and LVT. */
  if (a >= 0x1100 && a < 0x1113 && b >= 0x1161 && b < 0x1176)
    return 0xac00 + ((a - 0x1100) * 21 + (b - 0x1161)) * 28;
  if (a >= 0xac00 && a <= 0xd7a3 && (a - 0xac00) % 28 == 0 && b > 0x11a7 && b < 0x11c3)
    return a + (b - 0x11a7);
  size_t lo = 0, hi = QC_UC_NCOMP;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    const qc_uc_comp *c = &QC_UC_COMP[mid];
    if (c->a < a || (c->a == a && c->b < b)) lo = mid + 1;
    else hi = mid;
  }
  if (lo < QC_UC_NCOMP && QC_UC_COMP[lo].a == a && QC_UC_COMP[lo].b == b) return QC_UC_COMP[lo].c;
  return 0;
}
