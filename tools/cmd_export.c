/* quarc export IN -o OUT [--format F] ... — write a model in a deployment format.
 * (quarc import, tools/cmd_import.c, shares the code.)
 *
 * Both load IN as any command does (qc_model_load: .qir, .onnx, a Hugging Face directory,
 * quantized or not) and write it with qc_export_model; the format comes from --format or
 * from OUT (.onnx, .gguf, .qir, else a directory in Quark's safetensors layout). Output is
 * atomic: an error, or a killed process, leaves nothing at OUT. What the export did (tensors,
 * bytes, tensors requantized for GGUF) is reported on stderr. */
#include "tools/cli.h"

#include "quarc/export.h"

#include <stdlib.h>
#include <string.h>


#define GGUF_TYPES "f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q6_k, mxfp4"

/* A GGUF tensor type by its ggml name ("Q4_K", "f16", ...): one of GGUF_TYPES. */
static bool parse_gguf_type(const char *s, qc_dtype *out) {
  static const struct {
    const char *name;
    qc_dtype dt;
  } T[] = {{"f32", QC_F32},   {"f16", QC_F16},   {"bf16", QC_BF16}, {"q8_0", QC_Q8_0},
           {"q4_0", QC_Q4_0}, {"q4_1", QC_Q4_1}, {"q5_0", QC_Q5_0}, {"q5_1", QC_Q5_1},
           {"q4_k", QC_Q4_K}, {"q6_k", QC_Q6_K}, {"mxfp4", QC_GGML_MXFP4}};
  char low[16];
  size_t n = strlen(s);
  if (n >= sizeof low) return false;
  for (size_t i = 0; i <= n; i++) low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
  for (size_t i = 0; i < sizeof T / sizeof *T; i++)
    if (!strcmp(low, T[i].name)) {
      *out = T[i].dt;
      return true;
    }
  return false;
}

int cli_export_option(const cli_command *cmd, int argc, char **argv, int *i, qc_export_format *fmt,
                      qc_export_options *o, int *rc) {
  bool missing = false;
  const char *v;
  *rc = 0;
  if ((v = cli_opt_value(argc, argv, i, "--format", &missing))) {
    if (!qc_export_format_parse(v, fmt)) *rc = cli_usage_error(cmd, "unknown format '%s'", v);
  } else if ((v = cli_opt_value(argc, argv, i, "--weight-format", &missing))) o->weight_format = v;
  else if ((v = cli_opt_value(argc, argv, i, "--pack-method", &missing))) o->pack_method = v;
  else if ((v = cli_opt_value(argc, argv, i, "--max-shard-size", &missing))) {
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (*end || !x) *rc = cli_usage_error(cmd, "--max-shard-size takes a positive byte count");
    o->max_shard_size = x;
  } else if ((v = cli_opt_value(argc, argv, i, "--source", &missing))) o->source_dir = v;
  else if ((v = cli_opt_value(argc, argv, i, "--gguf-type", &missing))) {
    if (!parse_gguf_type(v, &o->gguf_type)) *rc = cli_usage_error(cmd, "unknown GGUF type '%s' (known: " GGUF_TYPES ")", v);
  } else if ((v = cli_opt_value(argc, argv, i, "--gguf-requant-type", &missing))) {
    if (!parse_gguf_type(v, &o->gguf_requant_type)) *rc = cli_usage_error(cmd, "unknown GGUF type '%s' (known: " GGUF_TYPES ")", v);
  } else if ((v = cli_opt_value(argc, argv, i, "--gguf-embed-type", &missing))) {
    if (!parse_gguf_type(v, &o->gguf_embed_type)) *rc = cli_usage_error(cmd, "unknown GGUF type '%s' (known: " GGUF_TYPES ")", v);
  } else if ((v = cli_opt_value(argc, argv, i, "--name", &missing))) o->gguf_name = v;
  else if (!strcmp(argv[*i], "--force")) o->replace = true;
  else if (missing) *rc = cli_usage_error(cmd, "%s needs a value", argv[*i]);
  else return 0;
  return 1;
}

void cli_export_report(const cli_command *cmd, const char *in, const qc_graph *g, const char *out,
                       qc_export_format fmt, const qc_export_report *r) {
  const char *ck = qc_graph_meta(g, "quarc.checkpoint");
  fprintf(stderr, "quarc %s: %s%s%s%s -> %s [%s]: %lld tensors, %llu bytes", cmd->name, in,
          ck ? " [" : "", ck ? ck : "", ck ? "]" : "", out, qc_export_format_name(fmt),
          (long long)r->tensors, (unsigned long long)r->bytes);
  if (r->quantized || r->requantized)
    fprintf(stderr, "; %lld quantized as they were, %lld requantized", (long long)r->quantized,
            (long long)r->requantized);
  fprintf(stderr, "\n");
  if (r->notes) fputs(r->notes, stderr);
}

int cli_export_run(const cli_command *cmd, int argc, char **argv, bool import) {
  const char *in = NULL, *out = NULL;
  qc_export_format fmt = QC_EXPORT_AUTO;
  qc_export_options o = qc_export_options_default();
  bool quiet = false;
  for (int i = 1; i < argc; i++) {
    bool missing = false;
    const char *v;
    int rc;
    if (cli_export_option(cmd, argc, argv, &i, &fmt, &o, &rc)) {
      if (rc) return rc;
    } else if ((v = cli_opt_value(argc, argv, &i, "-o", &missing))) out = v;
    else if (!strcmp(argv[i], "--quiet")) quiet = true;
    else if (missing) return cli_usage_error(cmd, "%s needs a value", argv[i]);
    else if (argv[i][0] == '-' && argv[i][1]) return cli_usage_error(cmd, "unknown option '%s'", argv[i]);
    else if (!in) in = argv[i];
    else return cli_usage_error(cmd, "unexpected argument '%s'", argv[i]);
  }
  if (!in || !out) return cli_usage_error(cmd, "needs an input and -o OUT");
  qc_graph *g;
  qc_status s = qc_model_load(in, import ? QC_FORMAT_HF : QC_FORMAT_AUTO, &g);
  if (s) return cli_fail(s);
  qc_export_report r = {0};
  o.report = &r;
  if (fmt == QC_EXPORT_AUTO) fmt = qc_export_format_for_path(out);
  s = qc_export_model(g, out, fmt, &o);
  if (!s && !quiet) cli_export_report(cmd, in, g, out, fmt, &r);
  qc_export_report_free(&r);
  qc_graph_destroy(g);
  return s ? cli_fail(s) : 0;
}

static int run_export(int argc, char **argv) { return cli_export_run(&cli_cmd_export, argc, argv, false); }

const cli_command cli_cmd_export = {"export", "write a model as HF safetensors (Quark layout), "
                                              "Quark native, AWQ, fp8, GGUF, ONNX or .qir",
                                    "quarc export IN -o OUT " CLI_EXPORT_OPTIONS, run_export};
