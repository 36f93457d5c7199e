/* The arena, the string map and array growth used throughout libquarc. */
#include "internal.h"

#include <stdio.h>

bool qc_grow(const qc_allocator *a, void **arr, int32_t *cap, int32_t need, size_t elem) {
  if (need <= *cap) return true;
  int64_t ncap = *cap ? (int64_t)*cap * 2 : 8;
  while (ncap < need) ncap *= 2;
  if (ncap > INT32_MAX) ncap = INT32_MAX;
  if (ncap < need || (size_t)ncap > SIZE_MAX / elem) return false;
  void *p = qc_realloc(a, *arr, (size_t)*cap * elem, (size_t)ncap * elem);
  if (!p) return false;
  memset((char *)p + (size_t)*cap * elem, 0, (size_t)(ncap - *cap) * elem);
  *arr = p;
  *cap = (int32_t)ncap;
  return true;
}

/* ---- arena ------------------------------------------------------------------------------------ */

struct qc_arena_chunk {
  qc_arena_chunk *next;
  size_t size;
  _Alignas(16) unsigned char data[];
};

#define ARENA_CHUNK 16384

void qc_arena_init(qc_arena *ar, const qc_allocator *a) {
  ar->a = a;
  ar->head = NULL;
  ar->used_in_head = 0;
}

void qc_arena_free(qc_arena *ar) {
  qc_arena_chunk *c = ar->head;
  while (c) {
    qc_arena_chunk *n = c->next;
    qc_free(ar->a, c, sizeof *c + c->size);
    c = n;
  }
  ar->head = NULL;
  ar->used_in_head = 0;
}

void *qc_arena_alloc(qc_arena *ar, size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (n == 0) n = 16;
  if (!ar->head || ar->used_in_head + n > ar->head->size) {
    size_t size = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;
    if (size > SIZE_MAX - sizeof(qc_arena_chunk)) return NULL;
    qc_arena_chunk *c = qc_alloc(ar->a, sizeof *c + size);
    if (!c) return NULL;
    c->size = size;
    if (size != ARENA_CHUNK && ar->head) {
      /* A big block: put it behind the head so the head's free space stays usable. */
      c->next = ar->head->next;
      ar->head->next = c;
      memset(c->data, 0, n);
      return c->data;
    }
    c->next = ar->head;
    ar->head = c;
    ar->used_in_head = 0;
  }
  void *p = ar->head->data + ar->used_in_head;
  ar->used_in_head += n;
  memset(p, 0, n);
  return p;
}

char *qc_arena_memdup0(qc_arena *ar, const void *p, size_t n) {
  if (n == SIZE_MAX) return NULL;
  char *s = qc_arena_alloc(ar, n + 1);
  if (!s) return NULL;
  if (n) memcpy(s, p, n);
  s[n] = 0;
  return s;
}

char *qc_arena_strdup(qc_arena *ar, const char *s) {
  return qc_arena_memdup0(ar, s ? s : "", s ? strlen(s) : 0);
}

char *qc_arena_printf(qc_arena *ar, const char *fmt, ...) {
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *s = n < 0 ? NULL : qc_arena_alloc(ar, (size_t)n + 1);
  if (s) vsnprintf(s, (size_t)n + 1, fmt, ap2);
  va_end(ap2);
  return s;
}

/* ---- string map --------------------------------------------------------------------------------- */

uint64_t qc_hash_bytes(const void *p, size_t n, uint64_t h) {
  const unsigned char *s = p;
  h ^= 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= s[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

static uint64_t str_hash(const char *s) { return qc_hash_bytes(s, strlen(s), 0); }

void qc_strmap_init(qc_strmap *m, const qc_allocator *a) {
  memset(m, 0, sizeof *m);
  m->a = a;
}

void qc_strmap_free(qc_strmap *m) {
  qc_free(m->a, m->keys, (size_t)m->cap * sizeof *m->keys);
  qc_free(m->a, m->vals, (size_t)m->cap * sizeof *m->vals);
  m->keys = NULL;
  m->vals = NULL;
  m->cap = m->count = 0;
}

void qc_strmap_clear(qc_strmap *m) {
  if (m->cap) memset(m->keys, 0, (size_t)m->cap * sizeof *m->keys);
  m->count = 0;
}

int32_t qc_strmap_get(const qc_strmap *m, const char *key) {
  if (!m->cap) return -1;
  uint32_t mask = (uint32_t)m->cap - 1;
  for (uint32_t i = (uint32_t)str_hash(key) & mask;; i = (i + 1) & mask) {
    if (!m->keys[i]) return -1;
    if (m->keys[i] != (const char *)1 && strcmp(m->keys[i], key) == 0) return m->vals[i];
  }
}

static bool strmap_rehash(qc_strmap *m, int32_t ncap) {
  const char **keys = qc_calloc(m->a, (size_t)ncap, sizeof *keys);
  int32_t *vals = qc_calloc(m->a, (size_t)ncap, sizeof *vals);
  if (!keys || !vals) {
    qc_free(m->a, keys, (size_t)ncap * sizeof *keys);
    qc_free(m->a, vals, (size_t)ncap * sizeof *vals);
    return false;
  }
  uint32_t mask = (uint32_t)ncap - 1;
  int32_t count = 0;
  for (int32_t j = 0; j < m->cap; j++) {
    const char *k = m->keys[j];
    if (!k || k == (const char *)1) continue;
    uint32_t i = (uint32_t)str_hash(k) & mask;
    while (keys[i]) i = (i + 1) & mask;
    keys[i] = k;
    vals[i] = m->vals[j];
    count++;
  }
  qc_strmap_free(m);
  m->keys = keys;
  m->vals = vals;
  m->cap = ncap;
  m->count = count;
  return true;
}

bool qc_strmap_put(qc_strmap *m, const char *key, int32_t val) {
  if ((int64_t)(m->count + 1) * 4 >= (int64_t)m->cap * 3) {
    if (!strmap_rehash(m, m->cap ? m->cap * 2 : 16)) return false;
  }
  uint32_t mask = (uint32_t)m->cap - 1;
  int32_t tomb = -1;
  for (uint32_t i = (uint32_t)str_hash(key) & mask;; i = (i + 1) & mask) {
    if (!m->keys[i]) {
      uint32_t at = tomb >= 0 ? (uint32_t)tomb : i;
      m->keys[at] = key;
      m->vals[at] = val;
      m->count++;
      return true;
    }
    if (m->keys[i] == (const char *)1) {
      if (tomb < 0) tomb = (int32_t)i;
      continue;
    }
    if (strcmp(m->keys[i], key) == 0) {
      m->keys[i] = key;
      m->vals[i] = val;
      return true;
    }
  }
}

void qc_strmap_del(qc_strmap *m, const char *key) {
  if (!m->cap) return;
  uint32_t mask = (uint32_t)m->cap - 1;
  for (uint32_t i = (uint32_t)str_hash(key) & mask;; i = (i + 1) & mask) {
    if (!m->keys[i]) return;
    if (m->keys[i] != (const char *)1 && strcmp(m->keys[i], key) == 0) {
      m->keys[i] = (const char *)1; /* tombstone; count stays to keep the load factor honest */
      return;
    }
  }
}
